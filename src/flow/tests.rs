//! Tests of the flows that need no network but loopback: event order, the
//! options that skip checks, the order of the two sides in a check, the
//! live punch's result, and a whole live check between two in-process
//! sides through an in-process `ranat serve`.
//!
//! Addresses: these tests use 127.0.90.0/24.

use std::future::pending;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::*;
use crate::io::resolve::ServerSpec;
use crate::predict::{NatProfile, PunchExpectation, predict, synthetic_report};
use crate::proto::punch::{Candidate, CandidateKind, Path, PunchFailure, PunchOutcome};
use crate::proto::rendezvous::{PunchVerdict, Role};
use crate::report::{FamilyStatus, TeredoReportState};

fn lo(host: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 90, host))
}

fn spec(addr: SocketAddr) -> ServerSpec {
    ServerSpec {
        host: addr.ip().to_string(),
        port: Some(addr.port()),
    }
}

/// IPv4 only, no port mapping, no Teredo: nothing leaves loopback.
fn offline(servers: Vec<ServerSpec>) -> ProbeOptions {
    ProbeOptions {
        servers,
        families: Families::Ipv4Only,
        hairpin: true,
        timeout: Duration::from_secs(10),
        portmap: false,
        gateway: None,
        teredo: TeredoChoice::Skip,
        lifetime: None,
        tcp: false,
    }
}

/// Runs `probe` and returns its report and events.
async fn probe_recording(
    options: &ProbeOptions,
    interrupt: impl std::future::Future<Output = ()>,
) -> (Option<crate::report::ProbeReport>, Vec<ProbeEvent>) {
    let mut events = Vec::new();
    let report = probe(options, interrupt, |e| events.push(e)).await;
    (report, events)
}

#[tokio::test]
async fn a_probe_without_servers_resolves_nothing_and_measures_nothing() {
    let (report, events) = probe_recording(&offline(Vec::new()), pending()).await;
    let report = report.expect("not interrupted");
    assert_eq!(
        events,
        [
            ProbeEvent::Resolving {
                servers: Vec::new()
            },
            ProbeEvent::Probing {
                servers: Vec::new()
            },
            ProbeEvent::Measured,
        ]
    );
    assert_eq!(report.ipv4.status, FamilyStatus::NoServer);
    assert_eq!(report.ipv6.notes, ["not probed (-4)"]);
    assert_eq!(
        report.port_mapping.upnp.detail,
        "not checked (--no-portmap)"
    );
    assert_eq!(report.teredo.state, TeredoReportState::Skipped);
    assert_eq!(report.teredo.notes, ["not checked (--no-teredo)"]);
}

/// `-6` leaves out everything that runs over IPv4, even when port mapping
/// and Teredo are asked for (at loopback addresses, should that break).
#[tokio::test]
async fn ipv6_only_skips_ipv4_port_mapping_and_teredo() {
    let options = ProbeOptions {
        families: Families::Ipv6Only,
        portmap: true,
        gateway: Some(Ipv4Addr::new(127, 0, 90, 9)),
        teredo: TeredoChoice::Server("127.0.90.9".into()),
        ..offline(Vec::new())
    };
    let (report, _) = probe_recording(&options, pending()).await;
    let report = report.expect("not interrupted");
    assert_eq!(report.ipv4.notes, ["not probed (-6)"]);
    assert_eq!(report.ipv6.status, FamilyStatus::NoServer);
    assert_eq!(report.port_mapping.upnp.detail, "not checked (-6)");
    assert_eq!(report.port_mapping.pcp.detail, "not checked (-6)");
    assert_eq!(
        report.teredo.notes,
        ["not checked (-6): Teredo runs over IPv4"]
    );
}

/// An interruption while a server keeps the probe waiting ends it at
/// once, with no report and no `Measured`.
#[tokio::test]
async fn an_interrupted_probe_stops_without_a_report() {
    let silent = tokio::net::UdpSocket::bind((lo(1), 0))
        .await
        .expect("bind a silent server");
    let server = silent.local_addr().expect("addr");
    let (probing, interrupt) = tokio::sync::oneshot::channel::<()>();
    let mut probing = Some(probing);
    let mut events = Vec::new();
    let started = std::time::Instant::now();
    let report = probe(
        &offline(vec![spec(server)]),
        async {
            let _ = interrupt.await;
        },
        |e| {
            if matches!(e, ProbeEvent::Probing { .. })
                && let Some(probing) = probing.take()
            {
                let _ = probing.send(());
            }
            events.push(e);
        },
    )
    .await;
    assert!(report.is_none());
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        events,
        [
            ProbeEvent::Resolving {
                servers: vec![spec(server)]
            },
            ProbeEvent::Probing {
                servers: vec![server]
            },
            ProbeEvent::Interrupted,
        ]
    );
}

fn named(name: &str, profile: NatProfile, last: u8) -> NamedReport {
    NamedReport {
        name: name.to_string(),
        report: synthetic_report(profile, Ipv4Addr::new(192, 0, 2, last)),
    }
}

/// The two sides are not interchangeable (Windows Remote Assistance's
/// novice offers): this machine is the novice.
#[test]
fn compare_takes_this_machine_as_the_novice() {
    let me = named("me.json", NatProfile::FullCone, 1);
    let peer = named("peer.json", NatProfile::SymmetricRandom, 2);
    let as_novice = predict(&me.report, &peer.report);
    let as_helper = predict(&peer.report, &me.report);
    assert_ne!(as_novice, as_helper, "the fixture must tell the order");
    let checked = compare(me.clone(), peer.clone());
    assert_eq!(checked.prediction, as_novice);
    assert_eq!((checked.me, checked.peer), (me, peer));
}

#[tokio::test]
async fn probe_and_compare_names_the_measured_side_this_machine() {
    let peer = named("peer.json", NatProfile::SymmetricRandom, 2);
    let mut events = Vec::new();
    let checked = probe_and_compare(peer.clone(), &offline(Vec::new()), pending(), |e| {
        events.push(e)
    })
    .await
    .expect("not interrupted");
    assert_eq!(checked.me.name, THIS_MACHINE);
    assert_eq!(checked.me.report.ipv4.status, FamilyStatus::NoServer);
    assert_eq!(checked.peer, peer);
    assert_eq!(
        checked.prediction,
        predict(&checked.me.report, &peer.report)
    );
    assert_eq!(events.last(), Some(&ProbeEvent::Measured));
}

/// Each side of a live check passes its own report first; the prediction
/// is always the novice's report against the helper's.
#[test]
fn both_sides_of_a_live_check_predict_with_the_novice_first() {
    let novice = named("novice", NatProfile::FullCone, 1).report;
    let helper = named("helper", NatProfile::SymmetricRandom, 2).report;
    let expected = predict(&novice, &helper);
    assert_ne!(
        expected,
        predict(&helper, &novice),
        "the fixture must tell the order"
    );
    assert_eq!(predict_for(Role::Novice, &novice, &helper), expected);
    assert_eq!(predict_for(Role::Helper, &helper, &novice), expected);
}

fn candidate(last: u8, port: u16, kind: CandidateKind) -> Candidate {
    Candidate {
        address: SocketAddr::new(lo(last), port),
        kind,
    }
}

#[test]
fn a_connected_punch_reports_its_path_and_agrees_with_connects() {
    let local = vec![candidate(1, 4000, CandidateKind::Host)];
    let peer = vec![candidate(2, 5000, CandidateKind::ServerReflexive)];
    let path = Path {
        socket: crate::proto::machine::SocketId(0),
        local: Some(SocketAddr::new(lo(1), 4000)),
        remote: SocketAddr::new(lo(2), 5000),
        kind: CandidateKind::ServerReflexive,
        rtt: Duration::from_micros(1500),
        after: Duration::from_millis(40),
    };
    let punch = live_punch(
        PunchExpectation::Connects,
        PunchOutcome::Connected(path),
        local.clone(),
        peer.clone(),
        Some("ignored when connected".into()),
        PunchVerdict {
            connected: true,
            relayed: None,
        },
    );
    assert_eq!(
        punch,
        LivePunch {
            expected: PunchExpectation::Connects,
            connected: true,
            peer_connected: true,
            agrees: Some(true),
            local_candidates: local.clone(),
            peer_candidates: peer.clone(),
            path: Some(PathReport {
                local: Some(SocketAddr::new(lo(1), 4000)),
                remote: SocketAddr::new(lo(2), 5000),
                remote_kind: "server-reflexive".into(),
                rtt_ms: 1.5,
                after_ms: 40.0,
            }),
            checks_sent: None,
            checks_heard: None,
            detail: "connected: a check to 127.0.90.2:5000 (server-reflexive) was answered \
                     from there after 40 ms (round trip 1.5 ms)"
                .into(),
        }
    );
    let unexpected = live_punch(
        PunchExpectation::Fails,
        PunchOutcome::Connected(Path {
            socket: crate::proto::machine::SocketId(0),
            local: None,
            remote: SocketAddr::new(lo(2), 5000),
            kind: CandidateKind::PeerReflexive,
            rtt: Duration::ZERO,
            after: Duration::ZERO,
        }),
        local,
        peer,
        None,
        PunchVerdict {
            connected: true,
            relayed: None,
        },
    );
    assert_eq!(unexpected.agrees, Some(false));
}

#[test]
fn a_failed_punch_says_whether_the_peer_got_in_and_why_gathering_fell_short() {
    let failure = |heard| {
        PunchOutcome::Failed(PunchFailure {
            checks_sent: 12,
            checks_heard: heard,
            ..PunchFailure::default()
        })
    };
    let heard = live_punch(
        PunchExpectation::Fails,
        failure(3),
        Vec::new(),
        Vec::new(),
        Some("no server-reflexive candidate".into()),
        PunchVerdict {
            connected: false,
            relayed: None,
        },
    );
    assert!(!heard.connected);
    assert_eq!(heard.agrees, Some(true));
    assert_eq!(heard.path, None);
    assert_eq!((heard.checks_sent, heard.checks_heard), (Some(12), Some(3)));
    // A likely punch (a predicted port) that fails is not as predicted.
    let spoilt = live_punch(
        PunchExpectation::Likely,
        failure(0),
        Vec::new(),
        Vec::new(),
        None,
        PunchVerdict {
            connected: false,
            relayed: None,
        },
    );
    assert_eq!(spoilt.agrees, Some(false));
    assert_eq!(
        heard.detail,
        "no path: 12 checks sent, 3 of the peer's heard; the peer's checks got in, but no \
         answer of ours came back from where it was sent (no server-reflexive candidate)"
    );
    let silent = live_punch(
        PunchExpectation::Unknown,
        failure(0),
        Vec::new(),
        Vec::new(),
        None,
        PunchVerdict {
            connected: false,
            relayed: None,
        },
    );
    assert_eq!(silent.agrees, None);
    assert_eq!(
        silent.detail,
        "no path: 12 checks sent, 0 of the peer's heard; none of the peer's checks got in"
    );
}

/// Without a port, the rendezvous is at port 3480; when it cannot be
/// reached, nothing has happened yet.
#[tokio::test]
async fn a_live_check_without_a_rendezvous_fails_before_any_event() {
    let options = LiveOptions {
        rendezvous: ServerSpec {
            host: lo(3).to_string(),
            port: None,
        },
        code: None,
        name: "help desk".into(),
        probe: offline(Vec::new()),
    };
    let mut events = Vec::new();
    let result = live(options, pending(), |e| events.push(e)).await;
    match result {
        Err(LiveError::Rendezvous(crate::io::rendezvous::RendezvousClientError::Connect {
            server,
            ..
        })) => assert_eq!(server, SocketAddr::new(lo(3), RENDEZVOUS_PORT)),
        other => panic!("expected a connection error, got {other:?}"),
    }
    assert!(events.is_empty(), "{events:?}");
}

/// An event with the addresses left out, to compare sequences.
fn shape(event: &LiveEvent) -> String {
    match event {
        LiveEvent::CodeAllocated { .. } => "code allocated".into(),
        LiveEvent::RoomMade { .. } => "room made".into(),
        LiveEvent::PeerJoined => "peer joined".into(),
        LiveEvent::AttemptFailed { attempts_left } => format!("attempt failed {attempts_left}"),
        LiveEvent::Joined { .. } => "joined".into(),
        LiveEvent::Confirmed { peer_name } => format!("confirmed {peer_name}"),
        LiveEvent::Probe(ProbeEvent::Resolving { .. }) => "resolving".into(),
        LiveEvent::Probe(ProbeEvent::Probing { servers }) => format!("probing {servers:?}"),
        LiveEvent::Probe(e) => format!("{e:?}"),
        LiveEvent::Predicted { expected } => format!("predicted {expected:?}"),
        LiveEvent::Punching => "punching".into(),
    }
}

/// `--lifetime` against an in-process `ranat serve` on loopback, where no
/// NAT ever forgets: every wait up to the bound is alive, the events name
/// the round, and only the family probed gets a lifetime.
#[tokio::test]
async fn the_lifetime_is_measured_after_discovery_against_the_server_that_answered() {
    let stun = SocketAddr::new(lo(20), 3478);
    let config =
        crate::proto::stun::ResponderConfig::new(stun, Some(SocketAddr::new(lo(21), 3479)))
            .expect("config");
    let stun_server = crate::io::serve::bind(config, None)
        .await
        .expect("bind STUN");
    tokio::spawn(stun_server.run(pending()));
    let options = ProbeOptions {
        lifetime: Some(Duration::from_secs(1)),
        ..offline(vec![spec(stun)])
    };
    let (report, events) = tokio::time::timeout(
        Duration::from_secs(30),
        probe_recording(&options, pending()),
    )
    .await
    .expect("the probe ends");
    let report = report.expect("not interrupted");
    let lifetime = report.ipv4.binding_lifetime.expect("measured");
    assert_eq!(lifetime.status, crate::report::LifetimeStatus::Longer);
    assert!(lifetime.alive_s.is_some_and(|a| a >= 1.0), "{lifetime:?}");
    assert_eq!(lifetime.server, Some(stun.to_string()));
    assert_eq!(report.ipv6.binding_lifetime, None);
    let measuring = events
        .iter()
        .position(|e| matches!(e, ProbeEvent::MeasuringLifetime { .. }))
        .expect("announced");
    assert_eq!(
        events[measuring],
        ProbeEvent::MeasuringLifetime {
            servers: vec![(crate::report::Family::Ipv4, stun)],
            bound: Duration::from_secs(1),
        }
    );
    assert!(matches!(
        &events[measuring + 1],
        ProbeEvent::Lifetime {
            family: crate::report::Family::Ipv4,
            event: crate::proto::nat::LifetimeEvent::Round { round: 1, .. },
        }
    ));
    assert_eq!(events.last(), Some(&ProbeEvent::Measured));
}

/// The whole live check on loopback: a STUN server and a rendezvous in
/// this process, the helper's side creating the room and the novice's
/// joining it with the code from the helper's event; both probe the
/// rendezvous's STUN service, and the punch opens as predicted.
#[tokio::test]
async fn two_sides_meet_probe_and_punch_through_a_rendezvous() {
    let stun = SocketAddr::new(lo(10), crate::io::resolve::DEFAULT_PORT);
    let config =
        crate::proto::stun::ResponderConfig::new(stun, Some(SocketAddr::new(lo(11), 3479)))
            .expect("config");
    let stun_server = crate::io::serve::bind(config, None)
        .await
        .expect("bind STUN");
    let rendezvous = crate::io::rendezvous::bind(
        SocketAddr::new(lo(10), 0),
        crate::proto::rendezvous::RendezvousConfig::default(),
    )
    .await
    .expect("bind the rendezvous");
    let rendezvous_spec = spec(rendezvous.local_addr());
    tokio::spawn(stun_server.run(pending()));
    tokio::spawn(rendezvous.run(pending()));

    let (code_tx, code_rx) = tokio::sync::oneshot::channel();
    let mut code_tx = Some(code_tx);
    let mut helper_events = Vec::new();
    let helper = live(
        LiveOptions {
            rendezvous: rendezvous_spec.clone(),
            code: None,
            name: "help desk".into(),
            probe: offline(Vec::new()),
        },
        pending(),
        |e| {
            if let LiveEvent::CodeAllocated { code, .. } = &e
                && let Some(tx) = code_tx.take()
            {
                let _ = tx.send(*code);
            }
            helper_events.push(e);
        },
    );
    let mut novice_events = Vec::new();
    let novice = async {
        let code = code_rx.await.expect("the helper's code");
        let options = LiveOptions {
            rendezvous: rendezvous_spec.clone(),
            code: Some(code),
            name: "novice".into(),
            probe: offline(Vec::new()),
        };
        (
            code,
            live(options, pending(), |e| novice_events.push(e)).await,
        )
    };
    let run = async { tokio::join!(helper, novice) };
    let (helper, (code, novice)) = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("the live check ends");
    let helper = helper
        .expect("the helper's check")
        .expect("not interrupted");
    let novice = novice
        .expect("the novice's check")
        .expect("not interrupted");

    assert_eq!((helper.role, novice.role), (Role::Helper, Role::Novice));
    assert_eq!(helper.prediction, novice.prediction, "both predict alike");
    for side in [&helper, &novice] {
        assert_eq!(side.punch.expected, PunchExpectation::Connects);
        assert!(side.punch.connected, "{}", side.punch.detail);
        assert_eq!(side.punch.agrees, Some(true));
    }
    match helper_events.first() {
        Some(LiveEvent::CodeAllocated {
            code: allocated,
            expires_in,
        }) => {
            assert_eq!(*allocated, code);
            assert!(*expires_in > Duration::from_secs(590), "{expires_in:?}");
            assert!(*expires_in <= Duration::from_secs(600), "{expires_in:?}");
        }
        other => panic!("the helper's first event: {other:?}"),
    }
    assert_eq!(
        novice_events.first(),
        Some(&LiveEvent::Joined { room: code.room })
    );
    let probed = format!("probing {:?}", [stun]);
    let after_meeting = [
        "resolving",
        &probed,
        "Measured",
        "predicted Connects",
        "punching",
    ];
    let helper_shapes: Vec<String> = helper_events.iter().map(shape).collect();
    let novice_shapes: Vec<String> = novice_events.iter().map(shape).collect();
    assert_eq!(
        helper_shapes[..3],
        ["code allocated", "peer joined", "confirmed novice"]
    );
    assert_eq!(helper_shapes[3..], after_meeting);
    assert_eq!(novice_shapes[..2], ["joined", "confirmed help desk"]);
    assert_eq!(novice_shapes[2..], after_meeting);
}
