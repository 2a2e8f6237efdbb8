//! The JSON Schemas in `schemas/`: `ranat schema` prints exactly them, and
//! they reject documents ranat would never write (so the validation every
//! test's `Output::json` runs is not a formality).

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::json;

#[test]
fn ranat_schema_prints_the_shipped_schemas() {
    for name in ["probe", "check", "matrix", "ticket", "trial"] {
        let out = run(
            Command::new(RANAT).args(["schema", name]),
            Duration::from_secs(10),
        );
        assert_eq!(out.code, Some(0), "{out}");
        let shipped = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("schemas")
                .join(format!("{name}.schema.json")),
        )
        .expect("the shipped schema");
        assert_eq!(out.stdout, shipped, "ranat schema {name}");
    }
}

#[test]
fn the_matrix_validates_and_a_broken_one_does_not() {
    let out = run(
        Command::new(RANAT).args(["matrix", "--json"]),
        Duration::from_secs(10),
    );
    let mut matrix = out.json();
    matrix[0]["novice"] = json!("no_such_profile");
    let broken = std::panic::catch_unwind(|| assert_matches_schema(&matrix));
    assert!(broken.is_err(), "a profile no NAT has passed the schema");
}

/// A real probe report (`ranat probe -4 --json` against `ranat serve` on
/// loopback), kept as a fuzz seed.
const PROBE_REPORT: &str = include_str!("../fuzz/seeds/report_json/loopback-probe.json");

#[test]
fn a_real_probe_report_validates() {
    let report: serde_json::Value = serde_json::from_str(PROBE_REPORT).expect("JSON");
    assert_matches_schema(&report);
}

#[test]
#[should_panic(expected = "does not match")]
fn a_probe_report_with_an_unknown_verdict_is_rejected() {
    let mut report: serde_json::Value = serde_json::from_str(PROBE_REPORT).expect("JSON");
    report["verdict"] = json!("everything_is_fine");
    assert_matches_schema(&report);
}
