use super::*;
use crate::predict::predict;
use crate::proto::nat::ClassicNatType;
use crate::report::testing::{classified, no_ipv6, report, udp_blocked};
use crate::report::topology::{Topology, TopologyReport};

/// Nothing the page could fetch or run: no script, no link, no image or
/// frame source, no CSS import or url(); only the SVG namespace names a
/// URL.
fn assert_self_contained(html: &str) {
    for tag in html
        .split('<')
        .skip(1)
        .map(|t| t.split('>').next().unwrap_or(""))
    {
        let name = tag.split_whitespace().next().unwrap_or("");
        assert!(
            !["script", "link", "img", "iframe", "object", "embed"].contains(&name),
            "<{tag}> in the page"
        );
        for attribute in [" src=", " href=", " style=\"background:url", " on"] {
            assert!(!tag.contains(attribute), "<{tag}> in the page");
        }
    }
    assert!(!html.contains("@import") && !html.contains("url(http"));
    let urls = html.matches("http").count();
    assert_eq!(urls, html.matches("http://www.w3.org/2000/svg").count());
}

#[test]
fn the_probe_page_shows_the_verdict_the_path_and_the_details() {
    let mut r = report(classified(ClassicNatType::PortRestrictedCone), no_ipv6());
    r.topology = TopologyReport {
        finding: Topology::DoubleNat,
        evidence: vec!["the gateway's external address is private".into()],
    };
    let html = render_probe_html(&r);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_self_contained(&html);
    assert!(html.contains("class=\"verdict good\""), "{html}");
    assert!(html.contains(&escape(&crate::report::verdict_line(&r))));
    // The path: host, two NATs, the Internet, three arrows.
    assert_eq!(html.matches("class=\"box nat\"").count(), 2, "{html}");
    assert!(html.contains(">Second NAT<"));
    assert!(html.contains(">The Internet<"));
    assert!(html.contains("port-restricted cone NAT"));
    assert!(html.contains("the gateway&#39;s external address is private"));
}

#[test]
fn a_blocked_family_ends_its_path_and_the_verdict_turns_red() {
    let html = render_probe_html(&report(udp_blocked(), no_ipv6()));
    assert!(html.contains("class=\"verdict bad\""));
    assert!(html.contains("class=\"box gone\""));
    assert!(html.contains(">UDP blocked<"));
}

#[test]
fn text_from_the_network_is_escaped() {
    let mut family = classified(ClassicNatType::FullCone);
    family.notes = vec!["<img src=x onerror=alert(1)> & \"quoted\"".into()];
    family.servers[0].name = Some("<b>evil</b>".into());
    let html = render_probe_html(&report(family, no_ipv6()));
    assert_self_contained(&html);
    assert!(!html.contains("<img"));
    assert!(!html.contains("<b>evil"));
    assert!(html.contains("&lt;b&gt;evil&lt;/b&gt;"));
}

#[test]
fn the_check_page_colours_each_method_by_its_verdict() {
    let me = report(classified(ClassicNatType::Symmetric), no_ipv6());
    let peer = report(classified(ClassicNatType::Symmetric), no_ipv6());
    let prediction = predict(&me, &peer);
    let html = render_check_html(("me.json", &me), ("peer.json", &peer), &prediction, None);
    assert_self_contained(&html);
    assert_eq!(
        html.matches("<td class=\"cell ").count(),
        prediction.methods.len()
    );
    for verdict in &prediction.methods {
        assert!(html.contains(&escape(verdict.method.label())));
    }
    assert!(html.contains("Windows Remote Assistance: "));
    assert!(html.contains("class=\"cell bad\">fails<"), "{html}");
    let live = render_check_html(
        ("me", &me),
        ("peer", &peer),
        &prediction,
        Some(LiveOutcome {
            connected: false,
            words: "no check was answered",
        }),
    );
    assert!(live.contains("Live punch: did not connect"));
}

#[test]
fn a_family_whose_names_did_not_resolve_says_so() {
    use crate::report::Family;
    use crate::report::testing::{dns_silent, skipped};
    let html = render_probe_html(&report(
        dns_silent(Family::Ipv4, true),
        skipped("not probed (-4)"),
    ));
    assert_self_contained(&html);
    assert!(html.contains("class=\"verdict bad\""));
    assert!(
        html.contains("<strong>Names do not resolve</strong>"),
        "{html}"
    );
    assert!(html.contains(">DNS does not resolve<"), "{html}");
    assert!(
        html.contains("<li>stun.example.org: no address (DNS gave no answer to the A lookup)</li>"),
        "{html}"
    );
    assert!(!html.contains("Query {"));
    let html = render_probe_html(&report(
        dns_silent(Family::Ipv4, false),
        skipped("not probed (-4)"),
    ));
    assert!(html.contains("<strong>No network</strong>"), "{html}");
}
