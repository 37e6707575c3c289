//! Questions at a terminal: agreeing to a removal, and an MFA code. Only ever on a terminal;
//! without one the driver declines and the run stops with exit 252 and the flag to add.

use std::io::{BufRead as _, Write as _};

use aws_rotate_keys::plan::Plan;
use aws_rotate_keys::rotation::Outcome;

/// Shows both keys and proposes the policy's choice; yes only on an explicit `y`.
pub(crate) fn confirm(plan: &Plan) -> Outcome {
    let Some(r) = &plan.make_room else {
        return Outcome::Done;
    };
    let mut e = std::io::stderr();
    let _ = writeln!(e, "User {} already has two access keys:", plan.user_name);
    if let Some(old) = &plan.old_key {
        let _ = writeln!(
            e,
            "  {}  {:<8}  {:>5} days old  in use by {}: it is the key being replaced",
            old.access_key_id,
            old.status.as_str(),
            old.age.whole_days(),
            if plan.profiles.is_empty() {
                "-".to_owned()
            } else {
                plan.profiles.join(", ")
            }
        );
    }
    let age = plan.old_key.as_ref().map_or(0, |o| {
        let created = o.create_date.as_millis() - i64::try_from(o.age.as_millis()).unwrap_or(0);
        u64::try_from((created - r.create_date.as_millis()).max(0) / 86_400_000).unwrap_or(0)
            + o.age.whole_days()
    });
    let last_used = r
        .last_used
        .map_or_else(|| "unknown".to_owned(), |t| t.to_iso8601());
    let _ = writeln!(
        e,
        "  {}  {:<8}  {:>5} days old  last used {last_used}: {}",
        r.access_key_id,
        r.status.as_str(),
        age,
        r.reason
    );
    let _ = write!(
        e,
        "Delete {} to make room for the new key? [y/N] ",
        r.access_key_id
    );
    let _ = e.flush();
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(_) if matches!(line.trim(), "y" | "Y" | "yes" | "YES" | "Yes") => Outcome::Done,
        _ => Outcome::Declined,
    }
}

/// Asks for an MFA code.
pub(crate) fn token_code(serial: &str) -> anyhow::Result<String> {
    let mut e = std::io::stderr();
    let _ = write!(e, "MFA code for {serial}: ");
    let _ = e.flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let code = line.trim().to_owned();
    if code.is_empty() {
        anyhow::bail!("no MFA code given; pass --token-code CODE");
    }
    Ok(code)
}
