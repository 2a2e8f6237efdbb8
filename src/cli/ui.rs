//! What every command shares about how it talks: colour (`--color`,
//! `NO_COLOR`), `--quiet` and `--verbose`.

use std::ffi::OsStr;
use std::io::IsTerminal;

use clap::{Args, ValueEnum};

/// When to colour the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ColorChoice {
    /// When stdout is a terminal and `NO_COLOR` is not set to a non-empty value.
    #[default]
    Auto,
    /// Always, even into a pipe or with `NO_COLOR` set.
    Always,
    /// Never.
    Never,
}

/// The options every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Colour the tables: auto (when stdout is a terminal and NO_COLOR is
    /// not set), always or never.
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "WHEN",
        default_value_t = ColorChoice::Auto
    )]
    color: ColorChoice,
    /// Print only the verdict or the result: no progress, no steps on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Print more detail: each step on stderr, each server's notes.
    #[arg(short, long, global = true)]
    verbose: bool,
}

/// How a command prints, settled once from [`GlobalArgs`] and the
/// environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ui {
    /// Colour stdout with ANSI escapes.
    pub color: bool,
    /// Only the essential output.
    pub quiet: bool,
    /// More detail.
    pub verbose: bool,
}

impl Ui {
    /// The settings of `args` for this process's stdout and environment.
    pub fn from_env(args: &GlobalArgs) -> Self {
        let no_color = std::env::var_os("NO_COLOR");
        Self {
            color: wants_color(
                args.color,
                std::io::stdout().is_terminal(),
                no_color.as_deref(),
            ),
            quiet: args.quiet,
            verbose: args.verbose,
        }
    }
}

/// Whether to colour, by `--color` and the no-color.org convention: a
/// non-empty `NO_COLOR` turns colour off unless `--color always` asks for it.
fn wants_color(choice: ColorChoice, terminal: bool, no_color: Option<&OsStr>) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => terminal && no_color.is_none_or(OsStr::is_empty),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_turns_auto_colour_off_but_not_always() {
        let set = Some(OsStr::new("1"));
        let empty = Some(OsStr::new(""));
        assert!(wants_color(ColorChoice::Auto, true, None));
        assert!(wants_color(ColorChoice::Auto, true, empty));
        assert!(!wants_color(ColorChoice::Auto, true, set));
        assert!(!wants_color(ColorChoice::Auto, false, None));
        assert!(wants_color(ColorChoice::Always, false, set));
        assert!(!wants_color(ColorChoice::Never, true, None));
    }
}
