//! Tests of the prediction: each method's rules against hand-written
//! tables and the simulator, the birthday maths against closed forms, the
//! headlines and the matrix.

use std::net::Ipv4Addr;

use crate::proto::nat::{FilteringBehavior, MappingBehavior, PortAllocation, PortAllocationKind};
use crate::report::ProbeReport;

use super::*;

mod birthday;
mod headline;
mod methods;
mod punch;
mod teredo;

pub(super) const NOVICE_IP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 7);
pub(super) const HELPER_IP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 9);

pub(super) fn novice(p: NatProfile) -> ProbeReport {
    synthetic_report(p, NOVICE_IP)
}

pub(super) fn helper(p: NatProfile) -> ProbeReport {
    synthetic_report(p, HELPER_IP)
}

/// The verdict on one method.
pub(super) fn verdict(p: &Prediction, m: Method) -> &MethodVerdict {
    p.methods
        .iter()
        .find(|v| v.method == m)
        .expect("every method has a verdict")
}

pub(super) fn feasibility(n: &ProbeReport, h: &ProbeReport, m: Method) -> Feasibility {
    verdict(&predict(n, h), m).feasibility
}

/// A port-restricted report with its IPv4 behaviour and allocation replaced.
pub(super) fn behaving(
    base: ProbeReport,
    mapping: Option<MappingBehavior>,
    filtering: Option<FilteringBehavior>,
    allocation: Option<PortAllocationKind>,
) -> ProbeReport {
    let mut r = base;
    r.ipv4.mapping = mapping;
    r.ipv4.filtering = filtering;
    r.ipv4.port_allocation = allocation.map(|kind| PortAllocation {
        kind,
        delta: (kind == PortAllocationKind::Sequential).then_some(1),
    });
    r
}

pub(super) const BEHAVIOURS: [(MappingBehavior, FilteringBehavior); 9] = {
    use FilteringBehavior as F;
    use MappingBehavior as M;
    [
        (M::EndpointIndependent, F::EndpointIndependent),
        (M::EndpointIndependent, F::AddressDependent),
        (M::EndpointIndependent, F::AddressAndPortDependent),
        (M::AddressDependent, F::EndpointIndependent),
        (M::AddressDependent, F::AddressDependent),
        (M::AddressDependent, F::AddressAndPortDependent),
        (M::AddressAndPortDependent, F::EndpointIndependent),
        (M::AddressAndPortDependent, F::AddressDependent),
        (M::AddressAndPortDependent, F::AddressAndPortDependent),
    ]
};

#[test]
fn every_method_has_one_verdict_in_order() {
    let p = predict(
        &novice(NatProfile::FullCone),
        &helper(NatProfile::SymmetricRandom),
    );
    let methods: Vec<Method> = p.methods.iter().map(|v| v.method).collect();
    assert_eq!(methods, Method::ALL.to_vec());
    assert!(p.methods.iter().all(|v| !v.reason.is_empty()));
}

#[test]
fn the_prediction_serialises_in_snake_case_and_back() {
    let p = predict(
        &novice(NatProfile::PortRestrictedCone),
        &helper(NatProfile::SymmetricRandom),
    );
    let json = serde_json::to_string(&p).expect("serialises");
    for name in [
        "\"same_lan\"",
        "\"public_ipv4\"",
        "\"port_mapping\"",
        "\"ipv6\"",
        "\"hole_punching\"",
        "\"port_prediction\"",
        "\"birthday_punching\"",
        "\"teredo_rfc4380\"",
        "\"teredo_rfc6081\"",
        "\"relay\"",
        "\"windows_remote_assistance\"",
        "\"success_probability\"",
        "\"likely\"",
        "\"fails\"",
    ] {
        assert!(json.contains(name), "{name} missing from {json}");
    }
    let back: Prediction = serde_json::from_str(&json).expect("parses");
    // Floats may differ in the last bit through JSON text.
    assert_eq!(back.windows_remote_assistance, p.windows_remote_assistance);
    assert_eq!(back.ranat, p.ranat);
    for (a, b) in back.methods.iter().zip(&p.methods) {
        assert_eq!(
            (a.method, a.feasibility, &a.reason),
            (b.method, b.feasibility, &b.reason)
        );
        let near = |x: Option<f64>, y: Option<f64>| match (x, y) {
            (Some(x), Some(y)) => (x - y).abs() < 1e-12,
            (x, y) => x == y,
        };
        assert!(near(a.success_probability, b.success_probability));
        assert!(near(a.expected_seconds, b.expected_seconds));
    }
}
