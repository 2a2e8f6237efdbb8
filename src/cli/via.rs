//! `ranat check --via SERVER [--code CODE]`: the live pre-session check
//! ([`crate::flow::live`]), its progress on stderr.

use super::connecting::Connecting;
use super::probe::{self, ProbeArgs};
use super::ui::Ui;
use crate::flow::{self, Live, LiveError, LiveOptions};
use crate::io::resolve::ServerSpec;
use crate::proto::session::InviteCode;

/// Runs the live check; `None` if the probe was interrupted.
pub async fn run(
    via: &str,
    code: Option<InviteCode>,
    probe_args: ProbeArgs,
    ui: Ui,
) -> anyhow::Result<Option<Live>> {
    let rendezvous: ServerSpec = via
        .parse()
        .map_err(|e| anyhow::anyhow!("--via {via}: {e}"))?;
    let options = LiveOptions {
        rendezvous,
        code,
        name: display_name(),
        probe: probe_args.options(),
    };
    let mut progress = probe::Progress::new(ui, probe_args.json);
    let join_hint = |code: &str| format!("ranat check --via {via} --code {code}");
    let mut connecting = Connecting {
        command: "ranat check",
        progress: &mut progress,
        join_hint: &join_hint,
    };
    let show = |event| connecting.show_live(event);
    match flow::live(options, probe::interrupted(), show).await {
        Err(LiveError::Lookup { reason, .. }) => anyhow::bail!("--via {via}: {reason}"),
        other => Ok(other?),
    }
}

/// The name the other side is shown: the user and the host, as far as the
/// environment tells them.
pub(super) fn display_name() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "someone".into());
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    match host.trim() {
        "" => user,
        host => format!("{user}@{host}"),
    }
}
