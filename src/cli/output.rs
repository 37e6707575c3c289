//! What the commands print: results on stdout in the chosen `--output` format after
//! `--query`, rendered by the core exactly as the `aws` CLI renders them, through the pager on a
//! terminal, with timestamps in the `cli_timestamp_format`; errors and hints on stderr.

use std::io::{IsTerminal as _, Write as _};
use std::sync::Arc;

use anyhow::Result;
use serde_json::{Map, Value, json};

use aws_rotate_keys::key::{AccessKeyId, SecretAccessKey, UserName};
use aws_rotate_keys::render::{self, OutputFormat, Query, Style};
use aws_rotate_keys::rotation::Status;
use aws_rotate_keys::session::{TaskOutcome, TaskResult};
use aws_rotate_keys::time::Timestamp;

use super::aws::{DateField, WireDates};
use super::pager::{self, Pager};

/// `cli_timestamp_format`: how the timestamps of IAM's answers are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimestampFormat {
    /// `2013-06-04T18:17:34+00:00`: Python's `isoformat()` in UTC (the `aws` v2 default).
    Iso8601,
    /// Exactly as IAM sent it.
    Wire,
}

impl TimestampFormat {
    /// The setting's value as the `aws` CLI v2 accepts it (`awscli/customizations/
    /// timestampformat.py`: `wire` or `iso8601`, nothing else).
    pub(crate) fn parse(value: &str) -> Option<Self> {
        match value {
            "iso8601" => Some(Self::Iso8601),
            "wire" => Some(Self::Wire),
            _ => None,
        }
    }
}

/// How results are printed: `--output`, `--query`, the width a table must fit, the pager, and
/// the timestamps.
#[derive(Debug, Clone)]
pub(crate) struct Renderer {
    pub(crate) format: OutputFormat,
    pub(crate) query: Option<Query>,
    /// The terminal's columns when stdout is a terminal, else 80 (awscli/table.py's
    /// `determine_terminal_width`, which asks stdout's terminal and falls back to 80).
    pub(crate) width: usize,
    /// The pager results go through: only when stdout is a terminal.
    pub(crate) pager: Option<Pager>,
    pub(crate) timestamps: TimestampFormat,
    /// The timestamps as IAM sent them, filled in by the calls that answer with them.
    pub(crate) wire: Arc<WireDates>,
}

impl Renderer {
    /// `pager`: the one the settings name; it is dropped when stdout is not a terminal.
    pub(crate) fn new(
        format: OutputFormat,
        query: Option<Query>,
        pager: Option<Pager>,
        timestamps: TimestampFormat,
    ) -> Self {
        let terminal = std::io::stdout().is_terminal();
        let width = if terminal {
            terminal_size::terminal_size_of(std::io::stdout()).map_or(80, |(w, _)| usize::from(w.0))
        } else {
            80
        };
        Renderer {
            format,
            query,
            width,
            pager: pager.filter(|_| terminal),
            timestamps,
            wire: Arc::new(WireDates::default()),
        }
    }

    /// A key's timestamp as `cli_timestamp_format` says: `iso8601` is the text given, `wire`
    /// the text IAM sent for it in this run. (The timestamps printed come from this run's
    /// answers, whose texts were kept: ListAccessKeys precedes every plan and status row,
    /// CreateAccessKey every new key. Were one missing all the same, its `iso8601` form is
    /// printed rather than nothing.)
    pub(crate) fn date(&self, id: &AccessKeyId, field: DateField, iso8601: String) -> String {
        match self.timestamps {
            TimestampFormat::Iso8601 => iso8601,
            TimestampFormat::Wire => self.wire.get(id, field).unwrap_or(iso8601),
        }
    }

    /// `value` after `--query`, in the chosen format; `title` is the operation name that titles
    /// a table. A query that fails on the value, or a shape the format cannot draw, is an error
    /// (exit 255, as the `aws` CLI).
    pub(crate) fn render(&self, title: &str, value: &Value) -> Result<String> {
        if self.format == OutputFormat::Off {
            return Ok(String::new());
        }
        let queried;
        let value = match &self.query {
            Some(q) => {
                queried = q
                    .apply(value)
                    .map_err(|e| super::exit(255, e.to_string()))?;
                &queried
            }
            None => value,
        };
        let style = Style {
            format: self.format,
            title,
            width: self.width,
        };
        render::render(value, style).map_err(|e| super::exit(255, e.to_string()))
    }

    /// Renders and prints: through the pager when there is one (stdout is a terminal). A pager
    /// that cannot be started is a configuration error (exit 253, as `aws` v2's
    /// `PagerErrorHandler`), after the text is printed without it: a result is never lost.
    pub(crate) fn emit(&self, title: &str, value: &Value) -> Result<()> {
        let text = self.render(title, value)?;
        let Some(p) = self.pager.as_ref().filter(|_| !text.is_empty()) else {
            return print(&text);
        };
        match p.show(&text, std::env::var_os("LESS").is_some()) {
            Ok(()) => Ok(()),
            Err(pager::Failure::NotStarted(why)) => {
                print(&text)?;
                Err(super::exit(253, p.not_started(&why)))
            }
            Err(pager::Failure::Io(e)) => Err(super::exit(
                255,
                format!(
                    "writing to the pager `{}` (from {}): {e}; pass --no-cli-pager to print without it",
                    p.command, p.source
                ),
            )),
        }
    }
}

/// Prints `text` on stdout; a closed pipe is not an error.
pub(crate) fn print(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Admin mode: the new key, in the shape of `aws iam create-access-key` (in the chosen format,
/// after `--query`), printed (and flushed) before the journal that holds the only other copy of
/// the secret goes. When the format or query leaves the secret out, stderr says so: it cannot be
/// read again.
///
/// Never through the pager: the rotation waits for it mid-way, and a pager that fails, or one
/// that clears the screen when it ends (`less` when `LESS` lacks `X`), would lose the only copy
/// of the secret once the journal is removed.
pub(crate) fn print_created_key(
    renderer: &Renderer,
    user: &UserName,
    id: &AccessKeyId,
    secret: &SecretAccessKey,
    created: Timestamp,
) -> Result<()> {
    let v = json!({
        "AccessKey": {
            "UserName": user.as_str(),
            "AccessKeyId": id.as_str(),
            "Status": "Active",
            "SecretAccessKey": secret.expose(),
            "CreateDate": renderer.date(id, DateField::Created, created.to_iso8601()),
        }
    });
    let text = renderer.render("CreateAccessKey", &v)?;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    if !text.contains(secret.expose()) {
        super::warn(format_args!(
            "the secret access key of {id} was not printed (--output {}{}); it cannot be read again: delete the key and make another if you need it",
            renderer.format,
            if renderer.query.is_some() {
                ", --query"
            } else {
                ""
            }
        ));
    }
    Ok(())
}

fn status_name(s: Status) -> &'static str {
    match s {
        Status::InProgress => "InProgress",
        Status::Rotated => "Rotated",
        Status::Incomplete => "Incomplete",
        Status::RolledBack => "RolledBack",
        Status::Failed => "Failed",
        Status::CleanedUp => "CleanedUp",
    }
}

/// One result as an object of the `rotate`/`plan` output; its timestamps (a plan's keys') as
/// `renderer` prints them.
pub(crate) fn result_value(r: &TaskResult, renderer: &Renderer) -> Value {
    let mut m = Map::new();
    m.insert("Profiles".into(), json!(r.profiles));
    match &r.outcome {
        TaskOutcome::Rotation(rep) => {
            let mut v = serde_json::to_value(rep).unwrap_or(Value::Null);
            if let Some(o) = v.as_object_mut() {
                o.insert("Status".into(), json!(status_name(rep.status)));
                for (k, val) in std::mem::take(o) {
                    if !val.is_null() && val != json!([]) {
                        m.insert(k, val);
                    }
                }
            }
        }
        TaskOutcome::Planned(p) => {
            m.insert("Status".into(), json!("Planned"));
            if let Ok(Value::Object(o)) = serde_json::to_value(p) {
                for (k, val) in o {
                    if !val.is_null() && k != "Profiles" {
                        m.insert(k, val);
                    }
                }
            }
            let mut dates = Vec::new();
            if let Some(old) = &p.old_key {
                dates.push((
                    "OldKey",
                    "CreateDate",
                    &old.access_key_id,
                    DateField::Created,
                ));
            }
            if let Some(rm) = &p.make_room {
                dates.push((
                    "MakeRoom",
                    "CreateDate",
                    &rm.access_key_id,
                    DateField::Created,
                ));
                dates.push((
                    "MakeRoom",
                    "LastUsed",
                    &rm.access_key_id,
                    DateField::LastUsed,
                ));
            }
            for (section, key, id, field) in dates {
                if let Some(Value::String(iso)) = m.get_mut(section).and_then(|s| s.get_mut(key)) {
                    *iso = renderer.date(id, field, std::mem::take(iso));
                }
            }
        }
        TaskOutcome::Skipped(s) => {
            m.insert("Status".into(), json!("Skipped"));
            m.insert("AccessKeyId".into(), json!(s.access_key_id));
            m.insert("Age".into(), json!(s.age.to_string()));
            m.insert("OlderThan".into(), json!(s.older_than.to_string()));
            m.insert(
                "Reason".into(),
                json!(format!(
                    "not due: the key is {} days old",
                    s.age.whole_days()
                )),
            );
        }
        TaskOutcome::Refused(e) => {
            m.insert("Status".into(), json!("Refused"));
            m.insert("AccessKeyId".into(), json!(r.access_key_id));
            m.insert("Error".into(), json!(e.to_string()));
        }
        TaskOutcome::NeedsConfirmation(p) => {
            m.insert("Status".into(), json!("NeedsConfirmation"));
            m.insert("AccessKeyId".into(), json!(r.access_key_id));
            if let Some(rm) = &p.make_room {
                m.insert("ProposedRemoval".into(), json!(rm.access_key_id));
            }
        }
        TaskOutcome::Failed { operation, failure } => {
            m.insert("Status".into(), json!("Failed"));
            m.insert("AccessKeyId".into(), json!(r.access_key_id));
            m.insert("Error".into(), json!(failure_text(operation, failure)));
        }
        TaskOutcome::NotAUser(e) => {
            m.insert("Status".into(), json!("Refused"));
            m.insert("Error".into(), json!(e.to_string()));
        }
    }
    Value::Object(m)
}

/// A failed request as `aws` prints it (see `aws_error`), named by its own operation where it has
/// one (an MFA session's GetSessionToken) rather than `operation`'s; a command line that lacks
/// what the request needs (no MFA code) by its message alone: nothing was sent.
pub(crate) fn failure_text(operation: &str, f: &aws_rotate_keys::rotation::Failure) -> String {
    if f.class == aws_rotate_keys::rotation::FailureClass::Usage {
        return f.message.clone();
    }
    aws_error(
        Some(f.operation.unwrap_or(operation)),
        f.code.as_deref(),
        &f.message,
    )
}

/// `An error occurred (CODE) when calling the OP operation: MESSAGE`, as `aws` prints a service's
/// error. A failure without a code never reached the service (a refused certificate, a lost
/// connection, a timeout): its message comes first, as `aws` prints those, then the operation.
pub(crate) fn aws_error(operation: Option<&str>, code: Option<&str>, message: &str) -> String {
    match (operation, code) {
        (Some(op), Some(code)) if !op.is_empty() && op != "ReadFiles" => {
            format!("An error occurred ({code}) when calling the {op} operation: {message}")
        }
        (Some(op), None) if !op.is_empty() && op != "ReadFiles" => {
            format!("{message} (when calling the {op} operation)")
        }
        _ => message.to_owned(),
    }
}
