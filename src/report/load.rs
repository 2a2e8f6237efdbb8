//! Reading a probe report back from a file (`ranat check`): a wrong schema
//! version, a truncated or hand-edited file or an unknown enum value gives
//! an error that names the file and the field.

use std::path::{Path, PathBuf};

use super::model::{ProbeReport, SCHEMA_VERSION};

/// The oldest report layout still read: version 3 only added fields
/// (`first_hop`, `unresolved`) that a version 2 report is read without, and
/// verdicts it never carries.
const OLDEST_READABLE: u32 = 2;

/// Larger than any report ranat writes by far; a bigger file is not one.
const MAX_REPORT_BYTES: u64 = 1 << 20;

/// Why a report file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {size} bytes is too large for a probe report (at most {MAX_REPORT_BYTES})")]
    TooLarge { path: PathBuf, size: u64 },
    #[error("{path}: not JSON ({0}); is this the output of `ranat probe --json`?", .source)]
    NotJson {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path}: no `schema_version` field: not a ranat probe report")]
    NoSchema { path: PathBuf },
    #[error(
        "{path}: schema_version {found}, but this ranat reads schema_version \
         {OLDEST_READABLE} to {SCHEMA_VERSION}; probe again with this version"
    )]
    Schema { path: PathBuf, found: String },
    #[error("{path}: field `{field}`: {message}")]
    Field {
        path: PathBuf,
        field: String,
        message: String,
    },
}

/// Reads and checks the report in `path`.
pub fn load(path: &Path) -> Result<ProbeReport, LoadError> {
    let owned = || path.to_path_buf();
    let file = std::fs::File::open(path).map_err(|source| LoadError::Read {
        path: owned(),
        source,
    })?;
    let size = file
        .metadata()
        .map_err(|source| LoadError::Read {
            path: owned(),
            source,
        })?
        .len();
    if size > MAX_REPORT_BYTES {
        return Err(LoadError::TooLarge {
            path: owned(),
            size,
        });
    }
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: owned(),
        source,
    })?;
    parse(&text, path)
}

/// Checks and decodes report text that came from `path`.
pub fn parse(text: &str, path: &Path) -> Result<ProbeReport, LoadError> {
    let owned = || path.to_path_buf();
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|source| LoadError::NotJson {
            path: owned(),
            source,
        })?;
    let version = match value.get("schema_version") {
        None => return Err(LoadError::NoSchema { path: owned() }),
        Some(v) => match v.as_u64() {
            Some(n) if (u64::from(OLDEST_READABLE)..=u64::from(SCHEMA_VERSION)).contains(&n) => n,
            _ => {
                return Err(LoadError::Schema {
                    path: owned(),
                    found: v.to_string(),
                });
            }
        },
    };
    let report: ProbeReport =
        serde_path_to_error::deserialize(&value).map_err(|e| LoadError::Field {
            path: owned(),
            field: e.path().to_string(),
            message: e.into_inner().to_string(),
        })?;
    // serde takes a missing optional field for "not measured" and skips
    // unknown ones; in a report either means the file was edited, so the
    // file must have exactly the fields ranat writes.
    let mut written = serde_json::to_value(&report).map_err(|e| LoadError::Field {
        path: owned(),
        field: ".".into(),
        message: e.to_string(),
    })?;
    if version < 3 {
        // Version 3 added these; a version 2 report is read without them.
        if let Some(fields) = written.as_object_mut() {
            fields.remove("first_hop");
        }
        for family in ["ipv4", "ipv6"] {
            if let Some(fields) = written.get_mut(family).and_then(|f| f.as_object_mut()) {
                fields.remove("unresolved");
            }
        }
    }
    match same_fields(&written, &value, String::new()) {
        Some((field, message)) => Err(LoadError::Field {
            path: owned(),
            field,
            message,
        }),
        None => Ok(report),
    }
}

/// The first field that `found` lacks or has beyond `expected`, with its
/// path (`ipv4.servers[0].rtt_ms`).
fn same_fields(
    expected: &serde_json::Value,
    found: &serde_json::Value,
    at: String,
) -> Option<(String, String)> {
    use serde_json::Value;
    let join = |key: &str| {
        if at.is_empty() {
            key.to_string()
        } else {
            format!("{at}.{key}")
        }
    };
    match (expected, found) {
        (Value::Object(e), Value::Object(f)) => {
            if let Some(key) = e.keys().find(|k| !f.contains_key(*k)) {
                return Some((join(key), "missing".into()));
            }
            if let Some(key) = f.keys().find(|k| !e.contains_key(*k)) {
                return Some((join(key), "not a field of a probe report".into()));
            }
            e.iter()
                .find_map(|(key, value)| same_fields(value, &f[key], join(key)))
        }
        (Value::Array(e), Value::Array(f)) => e
            .iter()
            .zip(f)
            .enumerate()
            .find_map(|(i, (e, f))| same_fields(e, f, format!("{at}[{i}]"))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing;

    fn sample() -> String {
        let report = testing::report(
            testing::classified(crate::proto::nat::ClassicNatType::PortRestrictedCone),
            testing::no_ipv6(),
        );
        serde_json::to_string_pretty(&report).unwrap()
    }

    fn err(text: &str) -> String {
        parse(text, Path::new("peer.json")).unwrap_err().to_string()
    }

    #[test]
    fn a_report_reads_back_as_written() {
        let text = sample();
        let report = parse(&text, Path::new("me.json")).unwrap();
        assert_eq!(serde_json::to_string_pretty(&report).unwrap(), text);
    }

    #[test]
    fn another_schema_version_is_named() {
        let text = sample().replace(
            &format!("\"schema_version\": {SCHEMA_VERSION}"),
            "\"schema_version\": 1",
        );
        let e = err(&text);
        assert!(e.starts_with("peer.json: schema_version 1"), "{e}");
        assert!(err("{\"ipv4\": {}}").contains("no `schema_version`"));
    }

    #[test]
    fn a_version_2_report_without_the_first_hop_is_still_read() {
        let mut value: serde_json::Value = serde_json::from_str(&sample()).unwrap();
        value["schema_version"] = 2.into();
        value.as_object_mut().unwrap().remove("first_hop");
        for family in ["ipv4", "ipv6"] {
            value[family].as_object_mut().unwrap().remove("unresolved");
        }
        let report = parse(&value.to_string(), Path::new("old.json")).unwrap();
        assert_eq!(report.first_hop, crate::report::FirstHop::NotTried);
        assert!(report.ipv4.unresolved.is_empty());
        let e = err(&sample().replace(
            &format!("\"schema_version\": {SCHEMA_VERSION}"),
            &format!("\"schema_version\": {}", SCHEMA_VERSION + 1),
        ));
        assert!(e.contains("reads schema_version 2 to 3"), "{e}");
    }

    #[test]
    fn an_unknown_enum_value_names_the_field() {
        let text = sample().replacen(
            "\"classic\": \"port_restricted_cone\"",
            "\"classic\": \"very_friendly\"",
            1,
        );
        let e = err(&text);
        assert!(e.starts_with("peer.json: field `ipv4.classic`"), "{e}");
        assert!(e.contains("very_friendly"), "{e}");
    }

    #[test]
    fn a_missing_field_and_a_truncated_file_are_clear() {
        let text = sample().replacen("\"hairpinning\": true,", "", 1);
        let e = err(&text);
        assert_eq!(e, "peer.json: field `ipv4.hairpinning`: missing");
        let text = sample().replacen(
            "\"hairpinning\": true,",
            "\"hairpinning\": true, \"extra\": 1,",
            1,
        );
        let e = err(&text);
        assert!(e.starts_with("peer.json: field `ipv4.extra`"), "{e}");
        let text = sample().replacen("\"hairpinning\": true,", "\"hairpinning\": \"yes\",", 1);
        let e = err(&text);
        assert!(e.starts_with("peer.json: field `ipv4.hairpinning`"), "{e}");
        let text = sample();
        let e = err(&text[..text.len() / 2]);
        assert!(e.starts_with("peer.json: not JSON"), "{e}");
    }

    #[test]
    fn a_missing_or_huge_file_is_refused_without_reading_it_all() {
        let dir = std::env::temp_dir().join(format!("ranat-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("missing.json");
        assert!(matches!(load(&missing), Err(LoadError::Read { .. })));
        let huge = dir.join("huge.json");
        let file = std::fs::File::create(&huge).unwrap();
        file.set_len(MAX_REPORT_BYTES + 1).unwrap();
        assert!(matches!(load(&huge), Err(LoadError::TooLarge { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
