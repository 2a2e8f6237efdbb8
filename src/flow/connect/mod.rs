//! The session's connection, made for real: both sides meet at the
//! rendezvous and prove the code to each other (a PAKE; each side's
//! introduction names the certificate it will prove), probe, exchange
//! sealed reports and predict; then gather their candidates while
//! allocating on the help desk's TURN relay (RFC 8656; over TCP from a
//! network that blocks UDP), map the punch's socket on the gateway where
//! the probe found port mapping working (PCP, NAT-PMP or UPnP IGD; the
//! mapping's removal waits in the caller's [`UndoLog`]), exchange the
//! candidates, punch, and tell each other how the punch ended. When both
//! punches connected, QUIC runs over the proven path; otherwise, or when
//! that handshake fails, over the two relayed addresses.
//!
//! `ranat trial` measures the channel this opens; `ranat invite` and
//! `ranat assist` run the session over it.

mod channel;
mod path;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::time::{Duration, Instant};

use super::live::{self, LiveError, LiveEvent, LivePunch};
use super::probe::{self, Families, ProbeOptions};
use crate::io::interfaces;
use crate::io::portmap::{self, SessionGateway, SessionMapping};
use crate::io::punch;
use crate::io::punch::Punched;
use crate::io::quic::relayed::{self, Relayed, RelayedError};
use crate::io::quic::{Identity, QuicError};
use crate::io::rendezvous::{Introduction, RendezvousClientError};
use crate::io::resolve::ServerSpec;
use crate::io::undo::UndoLog;
use crate::predict::{Prediction, PunchExpectation, plain_punch_plan};
use crate::proto::punch::{Candidate, CandidateKind, Punch, PunchFailure};
use crate::proto::relay::client::RelayTransport;
use crate::proto::relay::credentials::Credentials;
use crate::proto::rendezvous::{Meeting, PunchVerdict, RelayGrant, Role};
use crate::report::{ProbeReport, Verdict};
use channel::DirectPath;
pub use channel::{Channel, Opened};
pub use path::{PathInfo, PathOutcome, Phases, RelayInfo};
use stun_types::attribute::ErrorCode;
use tokio::task::{JoinError, JoinHandle};

/// How long the checks run where the prediction expects no direct path.
const EXPECTED_FAILURE_DEADLINE: Duration = Duration::from_millis(1600);

/// How long the relay may take to allocate.
const ALLOCATION_WAIT: Duration = Duration::from_secs(5);

/// The lease asked for the punch socket's port mapping: longer than the
/// connection takes to set up, so it needs no renewal there, and short
/// enough that a mapping a killed run could not remove expires soon. A
/// session that outlives it goes on over the path QUIC keeps alive.
const MAPPING_LEASE: Duration = Duration::from_secs(300);

/// Where to meet the other side, how to probe, and which paths to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectOptions {
    /// The rendezvous, `HOST[:PORT]` (port 3480 by default).
    pub rendezvous: ServerSpec,
    /// How to meet the other side: make a room or join one, keyed by a
    /// spoken code or an invitation file's password.
    pub meeting: Meeting,
    pub name: String,
    pub probe: ProbeOptions,
    /// Take no direct path: send only the relayed candidate and skip the
    /// punch, so that the channel goes through the relay (to check the
    /// help desk's relay end to end).
    pub relay_only: bool,
}

/// The connection's progress, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnectEvent {
    /// The steps it shares with the live check: the meeting, the probe,
    /// the prediction.
    Live(LiveEvent),
    /// This side's relayed address on the help desk's relay, or why it
    /// has none.
    Relay(Result<SocketAddr, String>),
    /// The punch's socket mapped on this side's gateway (where the probe
    /// found a port-mapping method working), or why it was not.
    Mapped(Result<SessionMapping, String>),
    /// Candidates gathered, to be sent.
    Gathered { candidates: usize },
    /// Both punches ended.
    Punched {
        connected: bool,
        peer_connected: bool,
    },
    /// The channel is up over this path.
    Channel(PathInfo),
}

/// Why the connection could not be tried to its end (a failure to
/// connect is not one: it is [`Opened::Failed`]).
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(transparent)]
    Live(#[from] LiveError),
    #[error("could not make this session's key: {0}")]
    Identity(QuicError),
    #[error(
        "the other side named no certificate for the session's channel (ranat {version}; upgrade it)"
    )]
    NoCertificate { version: String },
}

impl From<RendezvousClientError> for ConnectError {
    fn from(e: RendezvousClientError) -> Self {
        ConnectError::Live(LiveError::Rendezvous(e))
    }
}

/// What the connection found on its way, and the channel it opened.
pub struct Connection {
    pub role: Role,
    pub peer_name: String,
    pub me: ProbeReport,
    pub peer: ProbeReport,
    pub prediction: Prediction,
    pub punch: LivePunch,
    pub phases: Phases,
    pub opened: Opened,
}

/// Connects to the other side. `interrupt` cuts it short, the probe (which
/// undoes its own test mappings) or any later step, and then the result is
/// `None`; every step after the probe is bounded by its own timeout. What
/// the connection changes on the gateway goes into `undo`, for the caller
/// to run when the session ends, however it ends.
pub async fn connect(
    options: ConnectOptions,
    interrupt: impl Future<Output = ()>,
    undo: &UndoLog,
    mut on_event: impl FnMut(ConnectEvent),
) -> Result<Option<Connection>, ConnectError> {
    let server = live::rendezvous_address(&options.rendezvous).await?;
    let portmap_allowed = options.probe.portmap;
    let ipv6_allowed = options.probe.families != Families::Ipv4Only && !options.relay_only;
    let (stun, probe_options) = live::probe_with_rendezvous(server, options.probe);
    let identity = Identity::generate().map_err(ConnectError::Identity)?;
    let intro = Introduction {
        certificate: Some(identity.fingerprint()),
        ..Introduction::new(&options.name)
    };
    let mut live_event = |e| on_event(ConnectEvent::Live(e));
    let met = live::meet(server, options.meeting, intro, &mut live_event).await?;
    let (mut client, role) = (met.client, met.role);
    let peer_fingerprint = met.peer.certificate.ok_or(ConnectError::NoCertificate {
        version: met.peer.version.clone(),
    })?;
    let mut phases = Phases {
        rendezvous_ms: ms(met.rendezvous),
        pake_ms: ms(met.pake),
        ..Phases::default()
    };

    let mut interrupt = pin!(interrupt);
    let probing = Instant::now();
    let Some(me) = probe::probe(&probe_options, interrupt.as_mut(), |e| {
        on_event(ConnectEvent::Live(LiveEvent::Probe(e)))
    })
    .await
    else {
        return Ok(None);
    };
    phases.probe_ms = ms(probing.elapsed());
    let connecting = async {
        // The allocation starts now, over TCP from a network the probe
        // found blocking UDP: after the probe, whose port-allocation test
        // it would disturb, and with its first request out before the
        // gathering starts, so that on a sequential NAT its mapping does
        // not take the port the punch guesses (RFC 5128 §3.5); the rest of
        // it runs beside the reports' exchange and the gathering, so that
        // it is there by the time the candidates go.
        let transport = if me.verdict == Verdict::UdpBlocked {
            RelayTransport::Tcp
        } else {
            RelayTransport::Udp
        };
        let mut allocation = allocate(client.relay_grant(), transport).await;

        // The gathering runs beside the reports' exchange: without birthday
        // probing the punch's plan rests on this side's report alone.
        let connecting = Instant::now();
        let credentials = client
            .local_credentials()
            .ok_or(RendezvousClientError::Closed)?;
        let mut config = plain_punch_plan(&me).config(credentials.clone(), Some(stun));
        // No linger: once connected, the punched socket goes on answering
        // the peer's checks under the session (`channel::DirectPath`).
        config.timing.linger = Duration::ZERO;
        // This host's IPv6 addresses (a Teredo interface's among them) are
        // candidates too, checked from a socket of their own: Remote
        // Assistance tries IPv6 and Teredo beside IPv4, and so does ranat
        // (unless told IPv4 only, `-4`).
        let ipv6 = if ipv6_allowed {
            interfaces::advertised_ipv6()
        } else {
            Vec::new()
        };
        config.ipv6 = !ipv6.is_empty();
        let punches_ipv6 = config.ipv6;
        let machine = Punch::new(config, rand::random());
        let (peer, gathered) = tokio::join!(live::exchange_reports(&mut client, &me), async {
            Ok(punch::gather(machine).await?.with_ipv6(ipv6))
        });
        let peer = peer?;
        let mut gathered = gathered.map_err(LiveError::Bind)?;
        let prediction = live::predict_for(role, &me, &peer);
        let expected = if punches_ipv6 {
            prediction.session_punch_expectation()
        } else {
            prediction.punch_expectation()
        };
        // Where no direct path is expected the punch still runs, to prove
        // the prediction, but the session waits for it less: a path that
        // opens at all opens within a few of the checks' rounds (100, 200,
        // 400, 800 ms apart); both sides predict alike, so both cut alike.
        if expected == PunchExpectation::Fails {
            gathered.set_deadline(EXPECTED_FAILURE_DEADLINE);
        }
        on_event(ConnectEvent::Live(LiveEvent::Predicted { expected }));
        phases.reports_ms = ms(connecting.elapsed());

        let gathering = Instant::now();
        let mut local_candidates = gathered.candidates();
        let note = gathered.note().map(str::to_string);
        let mut relay = None;
        if options.relay_only {
            local_candidates.clear();
        }
        // The punch's socket mapped on the gateway where the probe found a
        // method working: the mapping lets the peer's checks in whatever
        // this NAT's mapping and filtering (RFC 4787 §4, §5); its deletion
        // waits in `undo` for the trial's end.
        let gateway = SessionGateway::from_report(&me.port_mapping)
            .filter(|_| portmap_allowed && !options.relay_only);
        if let (Some(gateway), Some(local)) = (gateway, gathered.local_address()) {
            let mapped = portmap::map_session_port(gateway, local, MAPPING_LEASE, undo).await;
            if let Ok(mapping) = &mapped {
                local_candidates.push(Candidate {
                    address: mapping.external,
                    kind: CandidateKind::PortMapped,
                });
            }
            on_event(ConnectEvent::Mapped(mapped));
        }
        // Where no direct path is expected the candidates wait for the
        // relayed address; elsewhere they go without it, and it follows
        // with the punch's outcome, should the direct path not be taken.
        if options.relay_only || expected == PunchExpectation::Fails {
            let allocated = allocated((&mut allocation).await);
            on_event(ConnectEvent::Relay(relay_event(&allocated)));
            if let Ok(relay) = &allocated {
                local_candidates.push(Candidate {
                    address: relay.relayed_address(),
                    kind: CandidateKind::Relayed,
                });
            }
            relay = Some(allocated);
        }
        on_event(ConnectEvent::Gathered {
            candidates: local_candidates.len(),
        });
        let peer_side = client.exchange_candidates(local_candidates.clone()).await?;
        phases.candidates_ms = ms(gathering.elapsed());

        on_event(ConnectEvent::Live(LiveEvent::Punching));
        let checking = Instant::now();
        let direct: Vec<Candidate> = peer_side
            .candidates
            .iter()
            .filter(|c| c.kind != CandidateKind::Relayed)
            .copied()
            .collect();
        // Without a direct candidate on either side there is nothing to check.
        let skipped = if options.relay_only {
            Some("no direct path tried: --relay-only")
        } else if direct.is_empty() {
            Some("no direct path tried: the other side sent only its relayed address")
        } else {
            None
        };
        let peer_credentials = peer_side.credentials.clone();
        let punched = match skipped {
            Some(_) => Punched::Failed(PunchFailure::default()),
            None => gathered.punch(peer_side.credentials, &direct).await,
        };
        let outcome = punched.outcome();
        phases.checks_ms = ms(checking.elapsed());
        let (direct_path, why_not_direct) = match punched {
            Punched::Connected(winner) => {
                match DirectPath::new(winner, credentials, peer_credentials) {
                    Ok(path) => (Some(path), None),
                    Err(why) => (None, Some(why)),
                }
            }
            Punched::Failed(_) => (
                None,
                Some(
                    skipped
                        .unwrap_or("no direct path: the punch failed")
                        .to_string(),
                ),
            ),
        };
        // The direct handshake starts at once, beside the wait for the
        // allocation and the outcomes' exchange; it counts only if the other
        // side's punch connected too.
        let connected = direct_path.is_some();
        let handshaking = Instant::now();
        let attempt = direct_path
            .as_ref()
            .map(|path| Box::pin(channel::handshake(role, &identity, peer_fingerprint, path)));
        let outcomes = async {
            let (relay, relayed_later) = match relay {
                Some(relay) => (relay, None),
                None => {
                    let relay = allocated(allocation.await);
                    on_event(ConnectEvent::Relay(relay_event(&relay)));
                    let address = relay.as_ref().ok().map(Relayed::relayed_address);
                    (relay, address)
                }
            };
            let verdict = PunchVerdict {
                connected,
                relayed: relayed_later,
            };
            let peer_verdict = client.exchange_outcomes(verdict).await;
            (relay, verdict, peer_verdict)
        };
        let ((relay, verdict, peer_verdict), attempt) = channel::beside(outcomes, attempt).await;
        let peer_verdict = peer_verdict?;
        drop(client);
        on_event(ConnectEvent::Punched {
            connected: verdict.connected,
            peer_connected: peer_verdict.connected,
        });
        let peer_relayed = peer_side
            .candidates
            .iter()
            .find(|c| c.kind == CandidateKind::Relayed)
            .map(|c| c.address)
            .or(peer_verdict.relayed);
        let punch = live::live_punch(
            expected,
            outcome,
            local_candidates,
            peer_side.candidates,
            note,
            peer_verdict,
        );

        let handshake = match (attempt, peer_verdict.connected) {
            (Some(attempt), true) => Some(attempt.finish().await),
            _ => None,
        };
        let direct = match (direct_path, handshake) {
            (Some(path), Some(handshake)) => Ok((path, handshake)),
            _ => Err(why_not_direct.unwrap_or_else(|| {
                "this side's punch connected, the other side's did not".to_string()
            })),
        };
        let opened = channel::open(channel::Sides {
            role,
            me: &identity,
            peer: peer_fingerprint,
            direct,
            relay,
            peer_relayed,
        })
        .await;
        phases.quic_ms = ms(handshaking.elapsed());
        phases.connect_ms = ms(connecting.elapsed());
        Ok::<_, ConnectError>(Connection {
            role,
            peer_name: met.peer.name,
            me,
            peer,
            prediction,
            punch,
            phases,
            opened,
        })
    };
    tokio::select! {
        connection = connecting => connection.map(Some),
        () = interrupt => Ok(None),
    }
}

/// Allocates on the offered relay, or says why there is none.
/// Its first request is out when this returns (the mapping toward the
/// relay exists); the rest runs in a task.
async fn allocate(
    grant: Option<RelayGrant>,
    transport: RelayTransport,
) -> JoinHandle<Result<Relayed, String>> {
    let Some(grant) = grant else {
        return tokio::spawn(async { Err("the rendezvous offers no relay".to_string()) });
    };
    let address = grant.address;
    let credentials = Credentials {
        username: grant.username,
        password: grant.password,
    };
    let failed = move |e: RelayedError| format!("the relay {address}: {e}");
    match relayed::start(address, transport, credentials.clone(), ALLOCATION_WAIT).await {
        Ok(allocating) => tokio::spawn(async move {
            match allocating.finish().await {
                // RFC 8656 §7.3: another allocation holds this 5-tuple (a
                // NAT that gave this side an external port an earlier
                // client left an allocation on): a fresh client address
                // may succeed.
                Err(RelayedError::Refused(Some(ErrorCode::ALLOCATION_MISMATCH))) => {
                    relayed::allocate(address, transport, credentials, ALLOCATION_WAIT)
                        .await
                        .map_err(failed)
                }
                other => other.map_err(failed),
            }
        }),
        Err(e) => {
            let why = failed(e);
            tokio::spawn(async move { Err(why) })
        }
    }
}

/// The allocation task's result.
fn allocated(joined: Result<Result<Relayed, String>, JoinError>) -> Result<Relayed, String> {
    joined.unwrap_or_else(|e| Err(format!("the allocation stopped: {e}")))
}

fn relay_event(relay: &Result<Relayed, String>) -> Result<SocketAddr, String> {
    relay
        .as_ref()
        .map(Relayed::relayed_address)
        .map_err(Clone::clone)
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e4).round() / 10.0
}
