//! The pager, as the `aws` CLI v2 pages its output: a command's result, printed on a terminal,
//! goes through the pager that the first of these names: `--no-cli-pager` (none), `AWS_PAGER`,
//! the profile's `cli_pager`, `PAGER`, else `less -R` (awscli's `default_pager`). A source that is
//! set but empty means no pager: it does not fall through to the next one, as botocore's
//! `ChainProvider` stops at the first value that is not `None`. `LESS=FRX` is set for the pager
//! when `LESS` is not in the environment at all (awscli's `OutputStreamFactory`).
//!
//! Never when stdout is not a terminal: a pager that waits for a key blocks a run from cron, a
//! known bug of a peer (rhyeal/aws-rotate-iam-keys#50). Only results come here; prompts, progress,
//! warnings and errors go to stderr, straight to the terminal.
//!
//! The command runs through `/bin/sh -c`, as git runs its pager, so that a value such as
//! `less -S` or `tee out.json | less` works. (awscli itself splits the value with `shlex` and
//! runs it without a shell: every value it accepts means the same here.) On Windows it runs
//! through `cmd /C`, and the default is `more`, as in awscli there.

use std::io::Write as _;
use std::process::{Command, Stdio};

/// Where the pager's command came from, for the message when it cannot be started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    AwsPager,
    CliPager,
    Pager,
    Default,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Source::AwsPager => "AWS_PAGER",
            Source::CliPager => "the profile's cli_pager",
            Source::Pager => "PAGER",
            Source::Default => "the default pager",
        })
    }
}

/// The pager to run, when stdout is a terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pager {
    /// A shell command line, which reads the text on its stdin.
    pub(crate) command: String,
    pub(crate) source: Source,
}

/// awscli's `default_pager`.
#[cfg(not(windows))]
pub(crate) const DEFAULT: &str = "less -R";
#[cfg(windows)]
pub(crate) const DEFAULT: &str = "more";

/// The shell that runs the pager's command line, and its option for "run this line".
#[cfg(not(windows))]
const SHELL: [&str; 2] = ["/bin/sh", "-c"];
#[cfg(windows)]
const SHELL: [&str; 2] = ["cmd", "/C"];

/// awscli's `default_less_flags`: quit at once when the text fits on one screen (F), pass
/// colours through (R), leave the text on the screen when it ends (X).
const LESS_FLAGS: &str = "FRX";

/// The pager the settings name, or `None` for no pager. Each source is given as found: `None`
/// when unset, `Some("")` when set to nothing (which means no pager).
pub(crate) fn choose(
    no_cli_pager: bool,
    aws_pager: Option<String>,
    cli_pager: Option<String>,
    pager: Option<String>,
) -> Option<Pager> {
    if no_cli_pager {
        return None;
    }
    let (command, source) = match (aws_pager, cli_pager, pager) {
        (Some(v), _, _) => (v, Source::AwsPager),
        (None, Some(v), _) => (v, Source::CliPager),
        (None, None, Some(v)) => (v, Source::Pager),
        (None, None, None) => (DEFAULT.to_owned(), Source::Default),
    };
    let command = command.trim().to_owned();
    (!command.is_empty()).then_some(Pager { command, source })
}

/// Why the text did not reach the pager.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The pager never ran: the shell could not be started, or it found no such command
    /// (status 127) or could not execute it (126). Nothing was shown.
    NotStarted(String),
    /// Writing to it or waiting for it failed otherwise.
    Io(std::io::Error),
}

impl Pager {
    /// Runs the pager with `text` on its stdin and waits until it exits. A pager that quits
    /// before reading everything (the user pressed `q`) is not an error: the rest of the text
    /// is dropped, as a broken pipe to a pager is in awscli. `less_is_set`: whether `LESS` is
    /// in the environment (then it is left as it is).
    pub(crate) fn show(&self, text: &str, less_is_set: bool) -> Result<(), Failure> {
        let [shell, run] = SHELL;
        let mut cmd = Command::new(shell);
        cmd.arg(run).arg(&self.command).stdin(Stdio::piped());
        if !less_is_set {
            cmd.env("LESS", LESS_FLAGS);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| Failure::NotStarted(format!("{shell}: {e}")))?;
        let written = match child.stdin.take() {
            // Dropped at the end of the block: the pager sees the end of its input.
            Some(mut stdin) => stdin
                .write_all(text.as_bytes())
                .and_then(|()| stdin.flush()),
            None => Ok(()),
        };
        let status = child.wait().map_err(Failure::Io)?;
        match status.code() {
            // cmd's status for a command it does not know.
            Some(9009) if cfg!(windows) => {
                return Err(Failure::NotStarted(
                    "cmd found no such command (exit status 9009)".to_owned(),
                ));
            }
            Some(127) => {
                return Err(Failure::NotStarted(
                    "the shell found no such command (exit status 127)".to_owned(),
                ));
            }
            Some(126) => {
                return Err(Failure::NotStarted(
                    "the shell could not execute it (exit status 126)".to_owned(),
                ));
            }
            // Any other status is the pager's own business (awscli ignores it too).
            _ => {}
        }
        match written {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Failure::Io(e)),
            _ => Ok(()),
        }
    }

    /// What the user reads when the pager could not be started, and what to do about it.
    pub(crate) fn not_started(&self, why: &str) -> String {
        format!(
            "the pager `{}` (from {}) could not be started: {why}; the output above was printed without it. \
             Set AWS_PAGER=\"\" or pass --no-cli-pager to print without a pager, or set AWS_PAGER to a pager that is installed",
            self.command, self.source
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::disallowed_methods, clippy::unwrap_used)]

    use super::*;

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    fn pager(command: &str, source: Source) -> Option<Pager> {
        Some(Pager {
            command: command.to_owned(),
            source,
        })
    }

    #[test]
    fn the_chain_takes_the_first_source_that_is_set() {
        assert_eq!(
            choose(false, s("a"), s("b"), s("c")),
            pager("a", Source::AwsPager)
        );
        assert_eq!(
            choose(false, None, s("b"), s("c")),
            pager("b", Source::CliPager)
        );
        assert_eq!(choose(false, None, None, s("c")), pager("c", Source::Pager));
        assert_eq!(
            choose(false, None, None, None),
            pager(DEFAULT, Source::Default)
        );
    }

    #[test]
    fn empty_means_no_pager_and_does_not_fall_through() {
        assert_eq!(choose(false, s(""), s("b"), s("c")), None);
        assert_eq!(choose(false, None, s(""), s("c")), None);
        assert_eq!(choose(false, None, None, s("  ")), None);
        assert_eq!(choose(true, s("a"), s("b"), s("c")), None);
        assert_eq!(choose(true, None, None, None), None);
    }

    #[cfg(unix)]
    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "aws-rotate-keys-pager-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[cfg(unix)] // the commands are POSIX shell
    #[test]
    fn the_text_reaches_the_pager_through_the_shell_with_less_flags() {
        let dir = scratch("reaches");
        let out = dir.join("out");
        let p = Pager {
            command: format!(
                "cat > '{}'; printf %s \"${{LESS-unset}}\" > '{}.less'",
                out.display(),
                out.display()
            ),
            source: Source::AwsPager,
        };
        p.show("hello\nworld\n", false).unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "hello\nworld\n");
        assert_eq!(
            std::fs::read_to_string(dir.join("out.less")).unwrap(),
            "FRX"
        );
        // LESS already in the environment: not touched (the pager inherits the test's own).
        p.show("x", true).unwrap();
        let less = std::fs::read_to_string(dir.join("out.less")).unwrap();
        let inherited = std::env::var("LESS").unwrap_or_else(|_| "unset".to_owned());
        assert_eq!(less, inherited);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[cfg(unix)] // the commands are POSIX shell
    #[test]
    fn a_pager_that_quits_early_is_not_an_error() {
        // Far more than a pipe holds: the writes meet a closed pipe.
        let text = "line of output\n".repeat(200_000);
        for command in ["head -c 1 >/dev/null", "true", "exec 0<&-; sleep 0.1"] {
            let p = Pager {
                command: command.to_owned(),
                source: Source::Pager,
            };
            assert!(p.show(&text, true).is_ok(), "{command}");
        }
    }

    #[cfg(unix)] // the commands are POSIX shell
    #[test]
    fn a_missing_pager_is_reported_as_not_started() {
        let p = Pager {
            command: "aws-rotate-keys-no-such-pager --flag 2>/dev/null".to_owned(),
            source: Source::CliPager,
        };
        match p.show("text\n", true) {
            Err(Failure::NotStarted(why)) => {
                assert!(why.contains("127"), "{why}");
                let message = p.not_started(&why);
                assert!(
                    message.contains("the profile's cli_pager")
                        && message.contains("AWS_PAGER=\"\"")
                        && message.contains("--no-cli-pager"),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
