//! `completion SHELL`, and tab completion itself. The script a shell sources (`aws-rotate-keys completion SHELL`, committed
//! under `completions/`) is small: at each <Tab> it runs `COMPLETE=SHELL aws-rotate-keys -- WORDS`,
//! and the binary answers from its own command line (clap_complete's dynamic engine), so that
//! subcommands, options and their values are never out of date, and `--profile`/`-p` complete
//! to the profile names in the user's own files.

use std::ffi::OsStr;

use anyhow::{Context, Result, anyhow};
use clap::{Args, CommandFactory};
use clap_complete::engine::CompletionCandidate;
use clap_complete::env::Shells;

use aws_rotate_keys::ini::{Document, FileKind};

use crate::cli::args::{Cli, Shell};
use crate::cli::error::ErrorKind;
use crate::cli::{error::CliError, files, output};

/// `completion SHELL`.
#[derive(Debug, Args)]
pub(crate) struct CompletionArgs {
    /// The shell.
    #[arg(value_enum)]
    pub(crate) shell: Shell,
}

/// Prints the registration script for the shell.
pub(crate) fn run(args: &CompletionArgs) -> Result<Option<ErrorKind>, CliError> {
    output::print(&script(args.shell)?)?;
    Ok(None)
}

/// The variable that turns a run into a completion request.
const VAR: &str = "COMPLETE";
const BIN: &str = "aws-rotate-keys";

/// Answers a completion request and exits, when the shell's script made this run one (the
/// variable is set); otherwise returns at once. Must run before anything is printed.
pub(crate) fn answer_if_asked() {
    clap_complete::CompleteEnv::with_factory(Cli::command)
        .var(VAR)
        .bin(BIN)
        .completer(BIN)
        .complete();
}

/// The registration script for `shell`.
pub(crate) fn script(shell: Shell) -> Result<String> {
    let name = match shell {
        Shell::Bash => "bash",
        Shell::Zsh => "zsh",
        Shell::Fish => "fish",
        Shell::Powershell => "powershell",
        Shell::Elvish => "elvish",
    };
    let shells = Shells::builtins();
    let completer = shells
        .completer(name)
        .ok_or_else(|| anyhow!("no completion support for {name}"))?;
    let mut out = Vec::new();
    completer
        .write_registration(VAR, BIN, BIN, BIN, &mut out)
        .context("writing the completion script")?;
    String::from_utf8(out).context("the completion script is not UTF-8")
}

/// The profile names of the user's files that start with what is typed. A file that is missing
/// or does not parse adds nothing: completion must never fail loudly.
pub(crate) fn profiles(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(prefix) = current.to_str() else {
        return Vec::new();
    };
    let Ok(paths) = files::Paths::from_env() else {
        return Vec::new();
    };
    let mut names: Vec<String> = Vec::new();
    for (kind, path) in [
        (FileKind::Credentials, &paths.credentials),
        (FileKind::Config, &paths.config),
    ] {
        let Ok(text) = files::read(path) else {
            continue;
        };
        let Ok(doc) = Document::parse(kind, &text) else {
            continue;
        };
        for name in doc.profile_names() {
            if name.starts_with(prefix) && !names.iter().any(|n| n == name) {
                names.push(name.to_owned());
            }
        }
    }
    names.into_iter().map(CompletionCandidate::new).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::disallowed_methods)]

    use super::*;

    /// The committed scripts under `completions/` are what `completion SHELL` prints. After a
    /// change: `scripts/gen-docs`.
    #[test]
    fn the_committed_scripts_are_fresh() {
        for (shell, file) in [
            (Shell::Bash, "aws-rotate-keys.bash"),
            (Shell::Zsh, "_aws-rotate-keys"),
            (Shell::Fish, "aws-rotate-keys.fish"),
            (Shell::Powershell, "_aws-rotate-keys.ps1"),
            (Shell::Elvish, "aws-rotate-keys.elv"),
        ] {
            let path = format!("{}/completions/{file}", env!("CARGO_MANIFEST_DIR"));
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            let script = script(shell).expect("a script");
            assert!(committed == script, "{path} is stale: run scripts/gen-docs");
        }
    }
}
