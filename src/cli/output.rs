//! What `rotate` and `plan` print: results on stdout as the `aws` CLI prints JSON (keys in
//! PascalCase, indented by four spaces), errors and hints on stderr.

use std::io::Write as _;

use anyhow::Result;
use serde::Serialize;
use serde_json::{Map, Value, json};

use aws_rotate_keys::key::{AccessKeyId, SecretAccessKey, UserName};
use aws_rotate_keys::rotation::Status;
use aws_rotate_keys::session::{TaskOutcome, TaskResult};
use aws_rotate_keys::time::Timestamp;

/// JSON as `aws` prints it: four-space indent, a final newline.
pub(crate) fn to_json(v: &impl Serialize) -> Result<String> {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    v.serialize(&mut ser)?;
    out.push(b'\n');
    Ok(String::from_utf8(out)?)
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

/// Admin mode: the new key, in the shape of `aws iam create-access-key`, printed (and flushed)
/// before the journal that holds the only other copy of the secret goes.
pub(crate) fn print_created_key(
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
            "CreateDate": created.to_iso8601(),
        }
    });
    let mut out = std::io::stdout().lock();
    out.write_all(to_json(&v)?.as_bytes())?;
    out.flush()?;
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

/// One result as an object of the `rotate`/`plan` output.
pub(crate) fn result_value(r: &TaskResult) -> Value {
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
            m.insert(
                "Error".into(),
                json!(aws_error(
                    Some(operation),
                    failure.code.as_deref(),
                    &failure.message
                )),
            );
        }
        TaskOutcome::NotAUser(e) => {
            m.insert("Status".into(), json!("Refused"));
            m.insert("Error".into(), json!(e.to_string()));
        }
    }
    Value::Object(m)
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
