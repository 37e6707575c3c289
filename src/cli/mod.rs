//! The shell: reads the command line, runs the command, and exits with the `aws` CLI's statuses
//! (see [`error`]). Each command is a file of [`commands`]; the settings they share are
//! [`settings`]'s, the requests [`aws`]'s, the files [`files`]'s, and the loop that carries out
//! the core's session [`driver`]'s.
#![allow(clippy::disallowed_methods)] // the shell reads the environment and the clock

mod args;
mod aws;
mod commands;
mod driver;
mod error;
mod files;
mod no_verify;
mod output;
mod pager;
mod prompt;
mod proxy;
mod settings;
mod tls;

use std::io::IsTerminal as _;
use std::process::ExitCode;

use clap::Parser as _;

use aws_rotate_keys::session::Mode;

use args::{Cli, Command};
use error::{CliError, ErrorKind};

/// Whether warnings are coloured, set once the command line is read.
static COLOUR: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

pub(crate) fn warn(what: std::fmt::Arguments<'_>) {
    if *COLOUR.get_or_init(|| false) {
        eprintln!("\x1b[33maws-rotate-keys: warning:\x1b[0m {what}");
    } else {
        eprintln!("aws-rotate-keys: warning: {what}");
    }
}

pub(crate) fn main() -> ExitCode {
    commands::completion::answer_if_asked();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            let ending = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    None
                }
                _ => Some(ErrorKind::Usage),
            };
            return error::exit_code(ending);
        }
    };
    let _ = COLOUR.set(settings::colour(&cli.global));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            error::report(&CliError::other(format!("cannot start: {e}")));
            return error::exit_code(Some(ErrorKind::Other));
        }
    };
    let ending = runtime.block_on(async {
        tokio::select! {
            r = run(&cli) => r,
            _ = tokio::signal::ctrl_c() => Err(CliError::new(
                ErrorKind::Interrupted,
                "interrupted; run the same command again to finish or undo an interrupted rotation",
            )),
        }
    });
    // A question may still be waiting for a line on stdin (Ctrl-C came first): do not wait for it,
    // but give the terminal its echo back if an MFA prompt had turned it off.
    runtime.shutdown_background();
    prompt::restore_terminal();
    match ending {
        Ok(ending) => error::exit_code(ending),
        Err(e) => {
            if e.kind == ErrorKind::Interrupted && std::io::stderr().is_terminal() {
                // Off the line of the question or the progress that ^C interrupted.
                eprintln!();
            }
            error::report(&e);
            error::exit_code(Some(e.kind))
        }
    }
}

/// Runs the command; `Ok` with how the run ends when it ran to its end (some keys may have
/// failed: their kind), `Err` when it stopped.
async fn run(cli: &Cli) -> Result<Option<ErrorKind>, CliError> {
    let top = &cli.rotate;
    match &cli.command {
        None => commands::rotate::run(&cli.global, top, Mode::Rotate).await,
        Some(Command::Rotate(r)) => {
            commands::rotate::run(&cli.global, &r.or(top), Mode::Rotate).await
        }
        Some(Command::Plan(r)) => commands::rotate::run(&cli.global, &r.or(top), Mode::Plan).await,
        Some(Command::ListAccessKeys(a)) => {
            commands::list_access_keys::run(&cli.global, a, top.token_code.clone()).await
        }
        Some(Command::Status(a)) => {
            commands::status::run(&cli.global, a, top.token_code.clone()).await
        }
        Some(Command::Fleet(f)) => commands::fleet::run(&cli.global, f, top).await,
        Some(Command::Completion(a)) => commands::completion::run(a),
        Some(Command::Man) => commands::man::run(),
        Some(Command::InstallAlias) => commands::install_alias::run(),
        Some(Command::Pickup(a)) => commands::pickup::run(&cli.global, a, top).await,
    }
}
