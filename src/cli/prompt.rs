//! Questions at a terminal: agreeing to a removal, and an MFA code. Only ever on a terminal;
//! without one the driver declines and the run stops with exit 252 and the flag to add.
//!
//! The questions block on stdin: the driver runs them on a blocking thread, so that Ctrl-C
//! still ends the run (exit 130) while one is asked.

use std::io::{BufRead as _, Write as _};

use aws_rotate_keys::key::{AccessKeyId, KeyStatus};
use aws_rotate_keys::plan::Plan;
use aws_rotate_keys::rotation::{Failure, FailureClass, Outcome};
use aws_rotate_keys::time::{Span, Timestamp};

/// One of the two keys, as the removal question shows it.
#[derive(Debug, Clone)]
pub(crate) struct KeyView {
    pub(crate) id: AccessKeyId,
    pub(crate) status: KeyStatus,
    pub(crate) create_date: Timestamp,
    /// `None`: unknown (GetAccessKeyLastUsed failed); `Some(None)`: never used.
    pub(crate) last_used: Option<Option<Timestamp>>,
    /// The profiles, in either file, that hold it.
    pub(crate) profiles: Vec<String>,
    /// What it is to this run: the key replaced, or why the policy proposes it.
    pub(crate) role: String,
}

/// What the removal question shows: the user, the key being replaced, and the key proposed.
#[derive(Debug, Clone)]
pub(crate) struct Question {
    pub(crate) user: String,
    pub(crate) keys: Vec<KeyView>,
    pub(crate) proposed: AccessKeyId,
    pub(crate) now: Timestamp,
}

impl Question {
    /// The question for `plan`, before the last-use times are known; `None` when the plan
    /// removes nothing.
    pub(crate) fn new(plan: &Plan, now: Timestamp) -> Option<Self> {
        let r = plan.make_room.as_ref()?;
        let mut keys = Vec::new();
        if let Some(old) = &plan.old_key {
            // The profiles of the run, then any other section that holds the same key.
            let mut profiles: Vec<String> = plan.profiles.iter().map(|p| p.to_string()).collect();
            for h in &plan.files {
                if let Some(p) = &h.profile {
                    if !profiles.iter().any(|q| q == p.as_str()) {
                        profiles.push(p.to_string());
                    }
                }
            }
            keys.push(KeyView {
                id: old.access_key_id.clone(),
                status: old.status,
                create_date: old.create_date,
                last_used: None,
                profiles,
                role: "the key being replaced".to_owned(),
            });
        }
        keys.push(KeyView {
            id: r.access_key_id.clone(),
            status: r.status,
            create_date: r.create_date,
            last_used: r.last_used.map(Some),
            profiles: r.held_by.clone(),
            role: format!("proposed for removal: {}", r.reason),
        });
        Some(Self {
            user: plan.user_name.to_string(),
            keys,
            proposed: r.access_key_id.clone(),
            now,
        })
    }
}

/// "12 s", "5 min", "3 h", "40 days": how old, in the largest whole unit.
fn age(span: Span) -> String {
    let s = span.as_millis() / 1000;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86_400 => format!("{} h", s / 3600),
        _ => format!("{} days", span.whole_days()),
    }
}

/// The question's text, up to `[y/N] `.
pub(crate) fn render(q: &Question) -> String {
    let mut out = format!(
        "User {} already has two access keys, as many as IAM allows; one must go to make room for the new one:\n",
        q.user
    );
    for k in &q.keys {
        let last = match k.last_used {
            None => "last use unknown".to_owned(),
            Some(None) => "never used".to_owned(),
            Some(Some(t)) => format!("last used {}", t.to_iso8601()),
        };
        let held = if k.profiles.is_empty() {
            "in no profile".to_owned()
        } else {
            format!("in profile {}", k.profiles.join(", "))
        };
        out.push_str(&format!(
            "  {}  {}, {} old, {last}\n      {held}: {}\n",
            k.id,
            k.status.as_str(),
            age(q.now.since(k.create_date)),
            k.role
        ));
    }
    out.push_str(&format!(
        "Delete {} to make room for the new key? [y/N] ",
        q.proposed
    ));
    out
}

/// Shows both keys and proposes the policy's choice; yes only on an explicit `y`.
pub(crate) fn confirm(q: &Question) -> Outcome {
    let mut e = std::io::stderr();
    let _ = e.write_all(render(q).as_bytes());
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
    let read = std::io::stdin().lock().read_line(&mut line);
    if hidden {
        restore_terminal();
        // The Enter that ended the line was not echoed either.
        let _ = writeln!(e);
    }
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

#[cfg(not(unix))]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_in_the_largest_whole_unit() {
        assert_eq!(age(Span::from_millis(999)), "0 s");
        assert_eq!(age(Span::from_secs(59)), "59 s");
        assert_eq!(age(Span::from_secs(60)), "1 min");
        assert_eq!(age(Span::from_secs(7199)), "1 h");
        assert_eq!(age(Span::from_secs(86_400 * 40 + 5)), "40 days");
    }
}
