//! Writes a session's log where Remote Assistance keeps its own: a
//! `Remote Assistance Logs` directory with one `YYYYMMDDHHMMSS.xml` per
//! session (session.md §1), here under ranat's data directory
//! (`dirs::data_dir()/ranat`, or `$RANAT_DATA_DIR`). After every entry the
//! file is rewritten whole, through a temporary file renamed over it, so
//! that it is a complete XML document whenever someone reads it, even
//! after a crash.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chrono::{Datelike, Timelike};

use crate::proto::session::{LocalTime, LogEntry, SessionLog};

/// The environment variable that overrides ranat's data directory.
pub const DATA_DIR_VAR: &str = "RANAT_DATA_DIR";

/// The logs' directory under the data directory, named as RA names its own.
pub const LOG_DIRECTORY: &str = "Remote Assistance Logs";

/// How many sessions may start in the same second (`…-2.xml`, `…-3.xml`,
/// …) before creating a log fails.
const MAX_SAME_SECOND: u32 = 100;

/// The current local time, to the second.
pub fn local_now() -> LocalTime {
    let now = chrono::Local::now();
    let small = |n: u32| u8::try_from(n).unwrap_or(u8::MAX);
    LocalTime {
        year: u16::try_from(now.year()).unwrap_or(0),
        month: small(now.month()),
        day: small(now.day()),
        hour: small(now.hour()),
        minute: small(now.minute()),
        second: small(now.second()),
    }
}

/// The logs' directory: `LOG_DIRECTORY` under `$RANAT_DATA_DIR` when it is
/// set and not empty, else under the user's data directory's `ranat`.
pub fn log_directory() -> io::Result<PathBuf> {
    log_directory_from(std::env::var_os(DATA_DIR_VAR))
}

/// [`log_directory`], with `data_dir` the value of `RANAT_DATA_DIR`.
fn log_directory_from(data_dir: Option<OsString>) -> io::Result<PathBuf> {
    let data_dir = match data_dir {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => dirs::data_dir()
            .map(|dir| dir.join("ranat"))
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!(
                        "this user has no data directory for the session logs: set {DATA_DIR_VAR}"
                    ),
                )
            })?,
    };
    Ok(data_dir.join(LOG_DIRECTORY))
}

/// A session's log file, kept complete after every entry.
#[derive(Debug)]
pub struct SessionLogFile {
    path: PathBuf,
    log: SessionLog,
}

impl SessionLogFile {
    /// Starts the log of a session that starts `now`, in
    /// [`log_directory`] (created if missing).
    pub fn create(now: LocalTime) -> io::Result<Self> {
        Self::create_in(&log_directory()?, now)
    }

    /// Starts a log in `directory` (created if missing), named
    /// `YYYYMMDDHHMMSS.xml` after `now`, or `YYYYMMDDHHMMSS-2.xml`, … when
    /// another session of the same second has the name. The file holds
    /// the empty log at once.
    pub fn create_in(directory: &Path, now: LocalTime) -> io::Result<Self> {
        create_private_dir(directory).map_err(|e| about(directory, e))?;
        let name = now.log_file_name();
        let stem = name.trim_end_matches(".xml");
        for n in 1..=MAX_SAME_SECOND {
            let path = match n {
                1 => directory.join(&name),
                n => directory.join(format!("{stem}-{n}.xml")),
            };
            let mut file = match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => file,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(about(&path, e)),
            };
            let log = SessionLog::new();
            file.write_all(log.to_xml().as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|e| about(&path, e))?;
            return Ok(Self { path, log });
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{}: {MAX_SAME_SECOND} session logs already start at {now}",
                directory.display()
            ),
        ))
    }

    /// Adds `entry` and rewrites the file. When writing fails, the entry
    /// stays in the log and goes to the file with the next one.
    pub fn record(&mut self, entry: LogEntry) -> io::Result<()> {
        self.log.record(entry);
        replace(&self.path, self.log.to_xml().as_bytes()).map_err(|e| about(&self.path, e))
    }

    /// Where the log is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The log so far.
    pub fn log(&self) -> &SessionLog {
        &self.log
    }
}

/// Replaces the file at `path` with `bytes` at once: written to a
/// temporary file beside it, flushed, then renamed over it.
fn replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let mut file = File::create(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&temporary, path)
}

/// Creates `directory` and its parents; on Unix, only the user may read
/// what it creates (the logs hold the chat).
fn create_private_dir(directory: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(directory)
}

/// `error`, saying which file it is about.
fn about(path: &Path, error: io::Error) -> io::Error {
    io::Error::new(error.kind(), format!("{}: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::rendezvous::Role;
    use crate::proto::session::LogEvent;

    /// A fresh directory for one test, as `RANAT_DATA_DIR` would name it.
    fn data_dir(test: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("ranat-session-log-{test}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn at(second: u8) -> LocalTime {
        LocalTime {
            year: 2024,
            month: 5,
            day: 1,
            hour: 21,
            minute: 3,
            second,
        }
    }

    /// The file is a complete document: a real parser reads it to the end.
    fn assert_complete(path: &Path) -> String {
        let text = fs::read_to_string(path).unwrap();
        xml::EventReader::new(text.as_bytes())
            .into_iter()
            .collect::<Result<Vec<_>, _>>()
            .unwrap_or_else(|e| panic!("{}: {e}\n{text}", path.display()));
        text
    }

    #[test]
    fn logs_go_under_ranat_data_dir_one_complete_file_per_session() {
        let data = data_dir("record");
        let directory = log_directory_from(Some(data.clone().into_os_string())).unwrap();
        assert_eq!(directory, data.join("Remote Assistance Logs"));

        let mut log = SessionLogFile::create_in(&directory, at(9)).unwrap();
        assert_eq!(log.path(), directory.join("20240501210309.xml"));
        assert!(assert_complete(log.path()).contains("<SESSION"));

        log.record(LogEntry {
            at: at(10),
            event: LogEvent::PeerConnected {
                name: "Help desk".into(),
            },
        })
        .unwrap();
        let text = assert_complete(log.path());
        assert!(text.contains(r#"<PEER_CONNECTED TIME="2024-05-01T21:03:10" NAME="Help desk"/>"#));
        log.record(LogEntry {
            at: at(11),
            event: LogEvent::Chat {
                from: Role::Novice,
                text: "thanks & bye".into(),
            },
        })
        .unwrap();
        let text = assert_complete(log.path());
        assert!(text.contains(">thanks &amp; bye</CHAT>"), "{text}");
        assert_eq!(log.log().entries().len(), 2);

        let names = |dir: &Path| {
            let mut names: Vec<String> = fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        };
        assert_eq!(
            names(&directory),
            ["20240501210309.xml"],
            "no temporary file"
        );

        // Two more sessions in the same second.
        let second = SessionLogFile::create_in(&directory, at(9)).unwrap();
        let third = SessionLogFile::create_in(&directory, at(9)).unwrap();
        assert_eq!(second.path(), directory.join("20240501210309-2.xml"));
        assert_eq!(third.path(), directory.join("20240501210309-3.xml"));
        assert_complete(second.path());
        fs::remove_dir_all(&data).unwrap();
    }

    #[test]
    fn an_unset_or_empty_override_means_the_users_data_directory() {
        for unset in [None, Some(OsString::new())] {
            match (log_directory_from(unset), dirs::data_dir()) {
                (Ok(directory), Some(data)) => {
                    assert_eq!(directory, data.join("ranat").join(LOG_DIRECTORY));
                }
                (Err(e), None) => assert!(e.to_string().contains(DATA_DIR_VAR), "{e}"),
                (got, data) => panic!("{got:?} with a data directory {data:?}"),
            }
        }
    }

    #[test]
    fn a_directory_that_cannot_be_made_is_a_clear_error() {
        let data = data_dir("blocked");
        fs::create_dir_all(&data).unwrap();
        let blocker = data.join("a file");
        fs::write(&blocker, b"in the way").unwrap();
        let err = SessionLogFile::create_in(&blocker.join(LOG_DIRECTORY), at(0)).unwrap_err();
        assert!(err.to_string().contains("a file"), "{err}");
        fs::remove_dir_all(&data).unwrap();
    }

    #[test]
    fn the_local_time_is_a_plausible_date() {
        let now = local_now();
        assert!(now.year >= 2024, "{now}");
        assert!(
            (1..=12).contains(&now.month) && (1..=31).contains(&now.day),
            "{now}"
        );
        assert!(now.hour < 24 && now.minute < 60 && now.second < 60, "{now}");
    }
}
