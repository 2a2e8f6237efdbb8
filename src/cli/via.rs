//! `ranat check --via SERVER [--code CODE]`: the live pre-session check
//! ([`crate::flow::live`]), its progress on stderr.

use super::probe::{self, ProbeArgs};
use crate::flow::{self, Live, LiveError, LiveEvent, LiveOptions};
use crate::io::resolve::ServerSpec;
use crate::proto::rendezvous::Code;

/// Runs the live check; `None` if the probe was interrupted.
pub async fn run(
    via: &str,
    code: Option<Code>,
    probe_args: ProbeArgs,
) -> anyhow::Result<Option<Live>> {
    let rendezvous: ServerSpec = via
        .parse()
        .map_err(|e| anyhow::anyhow!("--via {via}: {e}"))?;
    let options = LiveOptions {
        rendezvous,
        code,
        probe: probe_args.options(),
    };
    let mut progress = probe::Progress::new(probe_args.json);
    let show = |event| match event {
        LiveEvent::CodeAllocated { code, expires_in } => eprintln!(
            "ranat check: your code is {code} (valid {} min). On the other machine run:\n    ranat check --via {via} --code {code}",
            expires_in.as_secs() / 60,
        ),
        LiveEvent::PeerJoined => eprintln!("ranat check: the other side joined; probing"),
        LiveEvent::Joined { code } => eprintln!("ranat check: joined {code}; probing"),
        LiveEvent::Probe(event) => progress.show(event),
        LiveEvent::Predicted { .. } | LiveEvent::Punching => {}
    };
    match flow::live(options, probe::interrupted(), show).await {
        Err(LiveError::Lookup { reason, .. }) => anyhow::bail!("--via {via}: {reason}"),
        other => Ok(other?),
    }
}
