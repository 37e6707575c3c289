//! Questions at a terminal: agreeing to a removal (the core words it), and an MFA code. Only ever
//! on a terminal; without one the core asks nothing and the run stops with exit 252 and the flag
//! to add.
//!
//! The questions block on stdin: the driver runs them on a blocking thread, so that Ctrl-C
//! still ends the run (exit 130) while one is asked.

use std::io::{BufRead as _, Write as _};

use aws_rotate_keys::action::{Failure, FailureClass, Outcome};
use aws_rotate_keys::plan::Question;

/// Shows both keys and proposes the policy's choice; yes only on an explicit `y`.
pub(crate) fn confirm(q: &Question) -> Outcome {
    let mut e = std::io::stderr();
    let _ = e.write_all(q.text().as_bytes());
    let _ = e.flush();
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(_) if matches!(line.trim(), "y" | "Y" | "yes" | "YES" | "Yes") => Outcome::Done,
        _ => Outcome::Declined,
    }
}

/// `fleet rotate` without `--yes`: shows what the run would change (the core's summary, a line
/// per kind of change) and asks once; yes only on an explicit `y`.
pub(crate) fn confirm_plan(summary: &str) -> Outcome {
    let mut e = std::io::stderr();
    let _ = writeln!(e, "fleet rotate will change:");
    for line in summary.lines() {
        let _ = writeln!(e, "  {line}");
    }
    let _ = write!(e, "Go ahead? [y/N] ");
    let _ = e.flush();
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(_) if matches!(line.trim(), "y" | "Y" | "yes" | "YES" | "Yes") => Outcome::Done,
        _ => Outcome::Declined,
    }
}

/// Asks for an MFA code, typed unseen (as the aws CLI's `getpass` prompt takes it). Blocks until
/// a line is typed: run it on a blocking thread, so that Ctrl-C ends the run meanwhile (as
/// `confirm`); the run's end puts the terminal back ([`restore_terminal`]).
pub(crate) fn token_code(serial: &str) -> Result<String, Failure> {
    // The echo goes off before the prompt shows, as getpass does it: a code typed as soon as
    // the prompt appears (by a quick hand or an expect script) is never echoed.
    let hidden = hide_input();
    let mut e = std::io::stderr();
    let _ = write!(e, "MFA code for {serial}: ");
    let _ = e.flush();
    let mut line = String::new();
    let read = read_line(&mut line, hidden);
    read.map_err(|err| {
        Failure::new(
            FailureClass::Other,
            None,
            format!("the MFA code could not be read from the terminal: {err}"),
        )
    })?;
    let code = line.trim().to_owned();
    if code.is_empty() {
        return Err(Failure::new(
            FailureClass::Usage,
            None,
            format!(
                "no MFA code given for {serial}: type the code the device shows, or pass --token-code CODE"
            ),
        ));
    }
    Ok(code)
}

/// Reads a line typed unseen at the terminal (a key's passphrase); `None` if it cannot be read.
pub(crate) fn read_unseen() -> Option<zeroize::Zeroizing<String>> {
    let hidden = hide_input();
    let mut line = zeroize::Zeroizing::new(String::new());
    read_line(&mut line, hidden).ok().map(|()| line)
}

/// Reads a line of stdin into `line`; `hidden`: the echo was turned off for it (then it is
/// turned back on, and the Enter that was not echoed either is).
fn read_line(line: &mut String, hidden: bool) -> std::io::Result<()> {
    #[cfg(windows)]
    if hidden {
        // The console reads the line itself with its echo off, puts the echo back, and ends
        // the line on the screen.
        let mut typed = rpassword::read_password()?;
        line.push_str(&typed);
        zeroize::Zeroize::zeroize(&mut typed);
        return Ok(());
    }
    let read = std::io::stdin().lock().read_line(line);
    if hidden {
        restore_terminal();
        let _ = writeln!(std::io::stderr());
    }
    read.map(drop)
}

/// The terminal's settings from before the echo was turned off, while it is: to put back
/// however the run ends (Ctrl-C included, which does not wait for the line).
#[cfg(unix)]
static ECHOING: std::sync::Mutex<Option<rustix::termios::Termios>> = std::sync::Mutex::new(None);

/// Turns the echo of stdin's terminal off; whether it did (stdin is a terminal that echoed).
#[cfg(unix)]
fn hide_input() -> bool {
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
    let stdin = std::io::stdin();
    let Ok(before) = tcgetattr(&stdin) else {
        return false;
    };
    if !before.local_modes.contains(LocalModes::ECHO) {
        return false;
    }
    let mut quiet = before.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    let mut saved = ECHOING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if tcsetattr(&stdin, OptionalActions::Now, &quiet).is_err() {
        return false;
    }
    *saved = Some(before);
    true
}

/// On Windows the console turns its echo off for the one read ([`read_line`]), when stdin is
/// one.
#[cfg(windows)]
fn hide_input() -> bool {
    std::io::IsTerminal::is_terminal(&std::io::stdin())
}

#[cfg(not(any(unix, windows)))]
fn hide_input() -> bool {
    false
}

/// Puts back the terminal's echo if a prompt turned it off. Called when a prompt is answered
/// and when the run ends.
pub(crate) fn restore_terminal() {
    #[cfg(unix)]
    {
        let saved = ECHOING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(before) = saved {
            let _ = rustix::termios::tcsetattr(
                std::io::stdin(),
                rustix::termios::OptionalActions::Now,
                &before,
            );
        }
    }
}
