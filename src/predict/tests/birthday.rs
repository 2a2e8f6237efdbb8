//! Birthday punching: the maths against closed forms, and the verdicts.
//! The probability against the simulated NAT is `sim::nat`'s test.

use crate::proto::nat::{FilteringBehavior as F, MappingBehavior as M, PortAllocationKind as A};

use super::*;

fn close(a: f64, b: f64, tolerance: f64) -> bool {
    (a - b).abs() <= tolerance
}

#[test]
fn small_cases_by_hand() {
    // N = 4 ports, 1 open, 2 probes: C(3,2)/C(4,2) = 1/2 misses.
    assert!(close(success_probability(4, 1, 2, 1), 0.5, 1e-12));
    // T = 1 and T = 2 each with 1/4: E[T | T ≤ 2] = 1.5.
    assert!(close(expected_probes(4, 1, 2, 1).unwrap(), 1.5, 1e-12));
    // Two directions: S(1) = 3/4, S(2) = 1/2; P = 1 - 1/4;
    // E = (1·(1 - 9/16) + 2·(9/16 - 1/4)) / (3/4) = 17/12.
    assert!(close(success_probability(4, 1, 2, 2), 0.75, 1e-12));
    assert!(close(
        expected_probes(4, 1, 2, 2).unwrap(),
        17.0 / 12.0,
        1e-12
    ));
    // N = 10, 3 open, 3 probes: 1 - C(7,3)/C(10,3) = 1 - 35/120.
    assert!(close(
        success_probability(10, 3, 3, 1),
        1.0 - 35.0 / 120.0,
        1e-12
    ));
    // More probes than misses: certain.
    assert!(close(success_probability(10, 3, 8, 1), 1.0, 1e-12));
    // Nothing open, or no direction: impossible.
    assert_eq!(success_probability(10, 0, 5, 1), 0.0);
    assert_eq!(expected_probes(10, 0, 5, 1), None);
    assert_eq!(expected_probes(10, 3, 5, 0), None);
}

#[test]
fn unbounded_probing_takes_n_plus_one_over_k_plus_one() {
    // With every port probed if need be, the first hit is at (N+1)/(k+1).
    let (n, k) = (PORT_SPACE, OPEN_PORTS);
    assert!(close(success_probability(n, k, n - k + 1, 1), 1.0, 1e-12));
    let e = expected_probes(n, k, n - k + 1, 1).unwrap();
    let closed = f64::from(n + 1) / f64::from(k + 1);
    assert!(close(e, closed, 1e-6), "{e} vs {closed}");
}

#[test]
fn the_stated_budget() {
    // 1 - Π_{i<256} (64256 - i)/(64512 - i), computed independently (Python
    // fractions): 0.639374437; 1 - e^(-k·m/N) ≈ 0.6379 is a sanity bound.
    let one = super::super::birthday::estimate(1);
    assert!(
        close(one.success_probability, 0.639_374_437, 1e-8),
        "{}",
        one.success_probability
    );
    assert!(close(
        one.success_probability,
        1.0 - (-(256.0 * 256.0) / 64512.0_f64).exp(),
        0.005
    ));
    let two = super::super::birthday::estimate(2);
    let q = 1.0 - one.success_probability;
    assert!(close(two.success_probability, 1.0 - q * q, 1e-12));
    // Expected time: 2.56 s to open the mappings, then fewer than 256
    // probes at 100/s.
    let t = one.expected_seconds.unwrap();
    assert!(t > 2.56 && t < 5.12, "{t}");
    assert!(two.expected_seconds.unwrap() < t);
}

#[test]
fn birthday_punching_one_sided_two_sided_and_hard_hard() {
    use NatProfile::*;
    let one = super::super::birthday::estimate(1);
    let two = super::super::birthday::estimate(2);
    // Port-restricted cone ↔ random symmetric: one direction.
    let v = predict(&novice(PortRestrictedCone), &helper(SymmetricRandom));
    let b = verdict(&v, Method::BirthdayPunching);
    assert_eq!(b.feasibility, Feasibility::Likely, "{}", b.reason);
    assert_eq!(b.success_probability, Some(one.success_probability));
    assert_eq!(b.expected_seconds, one.expected_seconds);
    assert!(
        b.reason.contains("the helper opens 256 mappings"),
        "{}",
        b.reason
    );
    // Random ADM with address filtering on both sides: two directions (with
    // APDM, each answer would leave from yet another port).
    let adf = |r| {
        behaving(
            r,
            Some(M::AddressDependent),
            Some(F::AddressDependent),
            Some(A::Random),
        )
    };
    let v = predict(&adf(novice(SymmetricRandom)), &adf(helper(SymmetricRandom)));
    let b = verdict(&v, Method::BirthdayPunching);
    assert_eq!(
        b.success_probability,
        Some(two.success_probability),
        "{}",
        b.reason
    );
    // An ADM side answers from the mapping the probe hit, so a port-
    // restricted symmetric prober still gets the answer.
    let adm = behaving(
        novice(SymmetricRandom),
        Some(M::AddressDependent),
        Some(F::AddressDependent),
        Some(A::Random),
    );
    let v = predict(&adm, &helper(SymmetricRandom));
    let b = verdict(&v, Method::BirthdayPunching);
    assert_eq!(
        b.success_probability,
        Some(one.success_probability),
        "{}",
        b.reason
    );
    // Random symmetric with port-dependent filtering on both sides: hard ↔ hard.
    let v = predict(&novice(SymmetricRandom), &helper(SymmetricRandom));
    let b = verdict(&v, Method::BirthdayPunching);
    assert_eq!(b.feasibility, Feasibility::Fails);
    assert!(b.reason.contains("relay"), "{}", b.reason);
    assert_eq!(b.success_probability, None);
    // No random side: does not apply.
    let v = predict(&novice(PortRestrictedCone), &helper(SymmetricSequential));
    assert_eq!(
        verdict(&v, Method::BirthdayPunching).feasibility,
        Feasibility::Fails
    );
    // Not needed when plain punching works.
    let v = predict(&novice(FullCone), &helper(SymmetricRandom));
    assert_eq!(
        verdict(&v, Method::BirthdayPunching).feasibility,
        Feasibility::Works
    );
    // The random side's allocation not measured: unknown.
    let unmeasured = behaving(
        helper(SymmetricRandom),
        Some(M::AddressAndPortDependent),
        Some(F::AddressAndPortDependent),
        None,
    );
    assert_eq!(
        feasibility(
            &novice(PortRestrictedCone),
            &unmeasured,
            Method::BirthdayPunching
        ),
        Feasibility::Unknown
    );
}
