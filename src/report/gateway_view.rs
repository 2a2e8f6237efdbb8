//! The gateway sections of the table: port mapping (UPnP, PCP, NAT-PMP)
//! and the NAT topology, each with its plain-language advice.

use comfy_table::{Cell, Color};

use super::layout::{RenderOptions, bullets, clean, new_table, wrap};
use super::portmap::{
    MappingStatus, PortControlReport, PortMappingReport, TestMapping, UpnpReport, Verification,
};
use super::topology::{Topology, TopologyReport};

/// The "Port mapping" section: one row per method, then the topology.
pub fn render_gateway(
    ports: &PortMappingReport,
    topology: &TopologyReport,
    options: &RenderOptions,
) -> String {
    let width = usize::from(options.width);
    if ports.upnp.status == MappingStatus::Skipped && ports.pcp.status == MappingStatus::Skipped {
        return wrap(
            &format!("Port mapping: not checked: {}", clean(&ports.upnp.detail)),
            width,
            "",
            "  ",
        ) + &render_topology(topology, options);
    }
    let mut out = match ports.gateway {
        Some(gw) => format!("Port mapping (gateway {gw})\n"),
        None => "Port mapping\n".to_string(),
    };
    let mut table = new_table(options);
    table.add_row(vec![
        Cell::new("UPnP IGD"),
        status_cell(ports.upnp.status, options.color),
        Cell::new(upnp_words(&ports.upnp)),
    ]);
    let pcp_name = ports.pcp.protocol.map_or("PCP / NAT-PMP", |p| p.name());
    table.add_row(vec![
        Cell::new(pcp_name),
        status_cell(ports.pcp.status, options.color),
        Cell::new(pcp_words(&ports.pcp)),
    ]);
    out.push_str(&table.to_string());
    out.push('\n');
    out + &render_topology(topology, options)
}

fn render_topology(topology: &TopologyReport, options: &RenderOptions) -> String {
    let width = usize::from(options.width);
    let mut out = wrap(
        &format!("NAT layers: {}", topology.finding.label()),
        width,
        "",
        "  ",
    );
    let evidence: Vec<String> = topology.evidence.iter().map(|e| clean(e)).collect();
    out.push_str(&bullets(&evidence, width));
    out
}

fn status_cell(status: MappingStatus, color: bool) -> Cell {
    let cell = Cell::new(status_words(status));
    if !color {
        return cell;
    }
    match status {
        MappingStatus::Works => cell.fg(Color::Green),
        MappingStatus::Unverified => cell.fg(Color::Yellow),
        MappingStatus::Unreachable | MappingStatus::Refused | MappingStatus::Failed => {
            cell.fg(Color::Red)
        }
        MappingStatus::NotFound | MappingStatus::Skipped => cell,
    }
}

pub fn status_words(status: MappingStatus) -> &'static str {
    match status {
        MappingStatus::Works => "works",
        MappingStatus::Unverified => "mapped, untested",
        MappingStatus::Unreachable => "mapped, unreachable",
        MappingStatus::Refused => "refused",
        MappingStatus::Failed => "failed",
        MappingStatus::NotFound => "not found",
        MappingStatus::Skipped => "not checked",
    }
}

fn upnp_words(upnp: &UpnpReport) -> String {
    let mut lines = Vec::new();
    if let Some(device) = &upnp.device {
        lines.push(format!("{} at {}", clean(&device.service), device.address));
    }
    if let Some(ip) = upnp.external_address {
        let status = upnp
            .connection_status
            .as_deref()
            .map(|s| format!(", {}", clean(s)))
            .unwrap_or_default();
        lines.push(format!("external address {ip}{status}"));
    }
    match &upnp.mapping {
        Some(m) => lines.extend(mapping_lines(m)),
        None => lines.push(clean(&upnp.detail)),
    }
    lines.join("\n")
}

fn pcp_words(pcp: &PortControlReport) -> String {
    let mut lines = Vec::new();
    if let Some(ip) = pcp.external_address {
        lines.push(format!("external address {ip}"));
    }
    match &pcp.mapping {
        Some(m) => lines.extend(mapping_lines(m)),
        None => lines.push(clean(&pcp.detail)),
    }
    lines.join("\n")
}

fn mapping_lines(m: &TestMapping) -> Vec<String> {
    let lease = if m.lease_seconds == 0 {
        "permanent lease".to_string()
    } else {
        format!("{} s lease", m.lease_seconds)
    };
    let mut lines = vec![format!("mapped {} → {} ({lease})", m.external, m.internal)];
    lines.push(match &m.verification {
        Verification::Reached { server, .. } => {
            format!("a packet from {server} came in through it")
        }
        Verification::NotReached { server } => {
            format!("a packet from {server} never came in through it")
        }
        Verification::ServerCannotTest { server, code } => format!(
            "not tested: {server} does not send to another port (RESPONSE-PORT{})",
            code.map(|c| format!(", error {c}")).unwrap_or_default()
        ),
        Verification::ServerSilent { server } => {
            format!("not tested: {server} never answered this host")
        }
        Verification::NoServer => "not tested: no IPv4 STUN server".to_string(),
    });
    lines.push(match (&m.deleted, &m.delete_error) {
        (true, _) => "removed".to_string(),
        (false, Some(e)) => format!("NOT removed: {}", clean(e)),
        (false, None) => "NOT removed".to_string(),
    });
    lines
}

/// What the port-mapping and topology results mean, and what to do.
pub fn gateway_advice(ports: &PortMappingReport, topology: &TopologyReport) -> Vec<String> {
    let mut advice = Vec::new();
    match ports.best() {
        Some((name, m)) if matches!(m.verification, Verification::Reached { .. }) => {
            advice.push(format!(
                "{name} works: a helper can reach you on {} through a mapping like the test one \
                 (Remote Assistance asks for its own the same way).",
                m.external
            ));
        }
        Some((name, m)) if matches!(m.verification, Verification::NotReached { .. }) => {
            advice.push(format!(
                "Your router accepts {name} mappings, but nothing from the Internet came \
                 through the test one: {}",
                match topology.finding {
                    Topology::DoubleNat | Topology::CarrierGradeNatLikely => {
                        "another NAT sits beyond your router, so its mappings lead nowhere."
                    }
                    _ => "a firewall beyond your router drops the packets.",
                }
            ));
        }
        Some((name, _)) => advice.push(format!(
            "{name} mappings can be made, but could not be tested from outside: run the probe \
             against a server that honours RESPONSE-PORT, such as `ranat serve`."
        )),
        None => {
            let refused = [ports.upnp.status, ports.pcp.status].contains(&MappingStatus::Refused);
            if refused {
                advice.push(
                    "Your router refuses port mappings: allow UPnP port mapping (or PCP / \
                     NAT-PMP) in its settings, or rely on hole punching, Teredo or a relay."
                        .into(),
                );
            } else if ports.upnp.status == MappingStatus::NotFound
                && ports.pcp.status == MappingStatus::NotFound
            {
                advice.push(
                    "No port-mapping service answered: UPnP is off or absent on your router. \
                     Turning it on gives Remote Assistance a way in without router settings."
                        .into(),
                );
            }
        }
    }
    match topology.finding {
        Topology::DoubleNat => advice.push(
            "Two NATs stand between you and the Internet: put the modem or the outer router \
             in bridge mode, or map the port on both."
                .into(),
        ),
        Topology::CarrierGradeNatLikely => advice.push(
            "Your Internet provider shares one public address among customers (carrier-grade \
             NAT): no setting on your router opens a way in. Use IPv6, hole punching or a \
             relay, or ask the provider for a public IPv4 address."
                .into(),
        ),
        _ => {}
    }
    advice
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::topology::assess;

    fn mapping(verification: Verification) -> TestMapping {
        TestMapping {
            internal: "10.0.1.2:41000".parse().unwrap(),
            external: "203.0.113.1:41000".parse().unwrap(),
            lease_seconds: 60,
            conflicts: 0,
            verification,
            deleted: true,
            delete_error: None,
        }
    }

    fn with_upnp(status: MappingStatus, m: Option<TestMapping>, ext: &str) -> PortMappingReport {
        let mut ports = PortMappingReport::skipped("x");
        ports.gateway = Some("10.0.1.1".parse().unwrap());
        ports.pcp.status = MappingStatus::NotFound;
        ports.pcp.detail = "nothing answered on 10.0.1.1:5351 within 2.0 s".into();
        ports.upnp = UpnpReport {
            status,
            external_address: Some(ext.parse().unwrap()),
            mapping: m,
            ..UpnpReport::skipped("refused (606)")
        };
        ports
    }

    #[test]
    fn a_working_mapping_names_the_endpoint_a_helper_can_use() {
        let server = "198.51.100.10:3478".parse().unwrap();
        let ports = with_upnp(
            MappingStatus::Works,
            Some(mapping(Verification::Reached {
                server,
                public: None,
            })),
            "203.0.113.1",
        );
        let topo = assess(Some("10.0.1.2:1"), Some("203.0.113.1:1"), &ports);
        let advice = gateway_advice(&ports, &topo);
        assert!(advice[0].contains("UPnP works") && advice[0].contains("203.0.113.1:41000"));
        let text = render_gateway(&ports, &topo, &RenderOptions::default());
        assert!(text.contains("gateway 10.0.1.1"), "{text}");
        assert!(text.contains("came in through"), "{text}");
        assert!(text.contains("NAT layers: one NAT"), "{text}");
    }

    #[test]
    fn an_unreachable_mapping_behind_a_private_wan_blames_the_second_nat() {
        let server = "198.51.100.10:3478".parse().unwrap();
        let ports = with_upnp(
            MappingStatus::Unreachable,
            Some(mapping(Verification::NotReached { server })),
            "192.168.1.10",
        );
        let topo = assess(Some("10.0.1.2:1"), Some("203.0.113.1:1"), &ports);
        let advice = gateway_advice(&ports, &topo).join(" ");
        assert!(advice.contains("another NAT sits beyond"), "{advice}");
        assert!(advice.contains("bridge mode"), "{advice}");
    }

    #[test]
    fn a_refusal_says_how_to_allow_mappings() {
        let ports = with_upnp(MappingStatus::Refused, None, "203.0.113.1");
        let topo = assess(Some("10.0.1.2:1"), Some("203.0.113.1:1"), &ports);
        let advice = gateway_advice(&ports, &topo).join(" ");
        assert!(advice.contains("refuses port mappings"), "{advice}");
        let text = render_gateway(&ports, &topo, &RenderOptions::default());
        assert!(text.contains("refused (606)"), "{text}");
    }
}
