//! The novice's shell, running in a pseudo-terminal.

use std::io;
use std::process::ExitStatus;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The shell run when the novice names none and `$SHELL` is unset.
const FALLBACK_SHELL: &str = "/bin/sh";

/// What the child is told its terminal is: the `vt100` model understands
/// what xterm does.
const TERM: &str = "xterm-256color";

/// The `errno` a PTY's master side reads once every process holding the
/// other side has exited (EIO on Linux and the BSDs).
const EIO: i32 = 5;

/// A shell in a PTY, in three parts that a driver can use at once: its
/// output, its input, and the process.
pub struct Shell {
    /// What the shell writes to its terminal.
    pub output: ShellOutput,
    /// What the shell reads from its terminal, and the terminal's size.
    pub input: ShellInput,
    /// The shell's process.
    pub process: ShellProcess,
}

impl Shell {
    /// Starts `command` (a command line for `/bin/sh -c`, which the command
    /// replaces) or, with `None`, the user's `$SHELL` (else `/bin/sh`), in a
    /// new PTY of `rows` × `cols` whose `TERM` is `xterm-256color`. The shell
    /// is killed when the `Shell` is dropped.
    pub fn spawn(command: Option<&str>, rows: u16, cols: u16) -> io::Result<Shell> {
        let (pty, pts) = pty_process::open().map_err(io_error)?;
        pty.resize(pty_process::Size::new(rows, cols))
            .map_err(io_error)?;
        let program = match command {
            Some(command) => pty_process::Command::new(FALLBACK_SHELL)
                .arg("-c")
                .arg(format!("exec {command}")),
            None => pty_process::Command::new(
                std::env::var_os("SHELL")
                    .filter(|shell| !shell.is_empty())
                    .unwrap_or_else(|| FALLBACK_SHELL.into()),
            ),
        };
        let child = program
            .env("TERM", TERM)
            .env_remove("COLUMNS")
            .env_remove("LINES")
            .kill_on_drop(true)
            .spawn(pts)
            .map_err(io_error)?;
        let (output, input) = pty.into_split();
        Ok(Shell {
            output: ShellOutput(output),
            input: ShellInput(input),
            process: ShellProcess(child),
        })
    }
}

/// The shell's output side of the PTY.
pub struct ShellOutput(pty_process::OwnedReadPty);

impl ShellOutput {
    /// Reads what the shell wrote into `buf`; `Ok(0)` once the shell and
    /// every process it left on the terminal have exited.
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.0.read(buf).await {
            Err(error) if error.raw_os_error() == Some(EIO) => Ok(0),
            read => read,
        }
    }
}

/// The shell's input side of the PTY.
pub struct ShellInput(pty_process::OwnedWritePty);

impl ShellInput {
    /// Types `bytes` into the shell's terminal, as keys pressed would.
    pub async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.0.write_all(bytes).await?;
        self.0.flush().await
    }

    /// Tells the shell its terminal is now `rows` × `cols` (the shell gets
    /// SIGWINCH).
    pub fn resize(&self, rows: u16, cols: u16) -> io::Result<()> {
        self.0
            .resize(pty_process::Size::new(rows, cols))
            .map_err(io_error)
    }
}

/// The shell's process.
pub struct ShellProcess(tokio::process::Child);

impl ShellProcess {
    /// Waits for the shell to exit.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        self.0.wait().await
    }

    /// Kills the shell and waits for it to exit.
    pub async fn kill(&mut self) -> io::Result<()> {
        self.0.kill().await
    }
}

/// A PTY error as the I/O error it is.
fn io_error(error: pty_process::Error) -> io::Error {
    match error {
        pty_process::Error::Io(error) => error,
        other => io::Error::other(other),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Long enough for a loaded machine, short enough that a hang fails.
    const PATIENCE: Duration = Duration::from_secs(20);

    /// Reads the shell's output until `done` holds of all of it, or the
    /// shell's output ends.
    async fn read_until(output: &mut ShellOutput, done: impl Fn(&str) -> bool) -> String {
        let mut seen = Vec::new();
        let mut buf = [0; 1024];
        let reading = async {
            loop {
                let n = output.read(&mut buf).await.expect("the PTY reads");
                seen.extend_from_slice(&buf[..n]);
                if n == 0 || done(&String::from_utf8_lossy(&seen)) {
                    break;
                }
            }
        };
        tokio::time::timeout(PATIENCE, reading)
            .await
            .expect("the shell answered in time");
        String::from_utf8_lossy(&seen).into_owned()
    }

    #[tokio::test]
    async fn a_command_writes_to_its_terminal() {
        let mut shell = Shell::spawn(Some("/bin/sh -c 'printf hello'"), 24, 80).expect("spawns");
        let output = read_until(&mut shell.output, |_| false).await;
        assert_eq!(output, "hello");
        let status = tokio::time::timeout(PATIENCE, shell.process.wait())
            .await
            .expect("exits in time")
            .expect("waits");
        assert!(status.success());
    }

    #[tokio::test]
    async fn the_child_sees_an_xterm_of_the_size_given() {
        let mut shell = Shell::spawn(Some("sh -c 'printf \"%s \" \"$TERM\"; stty size'"), 33, 101)
            .expect("spawns");
        let output = read_until(&mut shell.output, |_| false).await;
        assert_eq!(output.trim_end(), "xterm-256color 33 101");
    }

    #[tokio::test]
    async fn an_interactive_shell_echoes_and_runs_what_is_typed() {
        let mut shell = Shell::spawn(Some("/bin/sh"), 24, 80).expect("spawns");
        shell.input.resize(30, 100).expect("resizes");
        shell.input.write(b"echo hi\r").await.expect("types");
        let output = read_until(&mut shell.output, |seen| {
            seen.matches("hi\r\n").count() >= 2
        })
        .await;
        assert!(
            output.contains("echo hi\r\n"),
            "the terminal echoed: {output:?}"
        );
        assert!(
            output.matches("hi\r\n").count() >= 2,
            "the shell ran it: {output:?}"
        );
        tokio::time::timeout(PATIENCE, shell.process.kill())
            .await
            .expect("dies in time")
            .expect("kills");
    }
}
