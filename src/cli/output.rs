//! What the commands print: results on stdout in the chosen `--output` format after
//! `--query`, rendered by the core exactly as the `aws` CLI renders them, through the pager on a
//! terminal, with timestamps in the `cli_timestamp_format`; errors and hints on stderr.

use std::io::{IsTerminal as _, Write as _};
use std::sync::Arc;

use anyhow::Result;
use serde_json::{Map, Value, json};

use aws_rotate_keys::ini::CompactString;
use aws_rotate_keys::key::{AccessKeyId, KeyMeta, SecretAccessKey, UserName};
use aws_rotate_keys::profile::Holder;
use aws_rotate_keys::render::{self, OutputFormat, Query, Style};
use aws_rotate_keys::rotation::Status;
use aws_rotate_keys::session::{TaskOutcome, TaskResult};
use aws_rotate_keys::time::{Span, Timestamp};

use super::aws::{DateField, WireDates};
use super::files::Paths;
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
                // An error is the `aws` CLI's sentence, as in every other result.
                if let Some(e) = &rep.error {
                    o.insert(
                        "Error".into(),
                        json!(failure_text(
                            e.operation.as_deref().unwrap_or_default(),
                            &e.failure
                        )),
                    );
                }
                for (k, val) in std::mem::take(o) {
                    let status = k == "Status";
                    if !val.is_null() && val != json!([]) {
                        m.insert(k, val);
                    }
                    if status {
                        // Every result names its key the same way: the key the profiles held.
                        m.insert("AccessKeyId".into(), json!(r.access_key_id));
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
            // Ages in whole days, as `status` shows them (a span to the millisecond reads badly).
            if let (Some(old), Some(Value::Object(o))) = (&p.old_key, m.get_mut("OldKey")) {
                o.remove("Age");
                o.insert("AgeDays".into(), json!(old.age.whole_days()));
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
            m.insert("AgeDays".into(), json!(s.age.whole_days()));
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
            m.insert("AccessKeyId".into(), json!(r.access_key_id));
            m.insert("Error".into(), json!(e.to_string()));
        }
    }
    Value::Object(m)
}

/// The document `rotate` (or, with `plan`, `plan`) prints, and the title of its table: one
/// object per result, under `Rotations` (`Plans`).
pub(crate) fn results_document(
    plan: bool,
    results: &[TaskResult],
    renderer: &Renderer,
) -> (&'static str, Value) {
    let (title, key) = if plan {
        ("Plan", "Plans")
    } else {
        ("Rotate", "Rotations")
    };
    let rows: Vec<Value> = results.iter().map(|r| result_value(r, renderer)).collect();
    (title, json!({ key: rows }))
}

/// What the IAM calls of `status` answered for one key (the same for every profile that holds it).
#[derive(Debug, Clone, Default)]
pub(crate) struct KeyAnswers {
    /// The IAM user that `GetCallerIdentity` named, when it named one.
    pub(crate) user: Option<UserName>,
    /// The key's entry in `ListAccessKeys`, when it was listed.
    pub(crate) key: Option<KeyMeta>,
    /// `GetAccessKeyLastUsed`'s answer, when it was asked (`Some(None)`: never used).
    pub(crate) last_used: Option<Option<Timestamp>>,
    /// The error that stopped the calls, as printed.
    pub(crate) error: Option<String>,
}

/// The `status` rows of one key: one per profile in `profiles`, with the files where that
/// profile's own section holds the key. `Due` only with `--older-than`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn status_rows(
    profiles: &[CompactString],
    holders: &[Holder],
    access_key_id: &AccessKeyId,
    answers: &KeyAnswers,
    paths: &Paths,
    now: Timestamp,
    older_than: Option<Span>,
    renderer: &Renderer,
) -> Vec<Value> {
    let mut key = Map::new();
    if let Some(user) = &answers.user {
        key.insert("UserName".into(), json!(user.as_str()));
    }
    if let Some(k) = &answers.key {
        let age = now.since(k.create_date);
        key.insert("Status".into(), json!(k.status.as_str()));
        key.insert(
            "CreateDate".into(),
            json!(renderer.date(
                access_key_id,
                DateField::Created,
                k.create_date.to_iso8601()
            )),
        );
        key.insert("AgeDays".into(), json!(age.whole_days()));
        if let Some(t) = older_than {
            key.insert("Due".into(), json!(age >= t));
        }
    }
    if let Some(last) = &answers.last_used {
        let last = last.map(|t| renderer.date(access_key_id, DateField::LastUsed, t.to_iso8601()));
        key.insert("LastUsed".into(), json!(last));
    }
    if let Some(e) = &answers.error {
        key.insert("Error".into(), json!(e));
    }
    let mut rows = Vec::new();
    for p in profiles.iter().map(CompactString::as_str) {
        // The files where this profile's own section holds the key.
        let mut in_files: Vec<String> = Vec::new();
        for h in holders.iter().filter(|h| h.profile.as_deref() == Some(p)) {
            let path = paths.of(h.file).display().to_string();
            if !in_files.contains(&path) {
                in_files.push(path);
            }
        }
        let mut row = Map::new();
        row.insert("Profile".into(), json!(p));
        row.insert("AccessKeyId".into(), json!(access_key_id.as_str()));
        row.insert("Files".into(), json!(in_files));
        row.extend(key.clone());
        let order = [
            "Profile",
            "UserName",
            "AccessKeyId",
            "Status",
            "CreateDate",
            "AgeDays",
            "LastUsed",
            "Files",
            "Due",
            "Error",
        ];
        let row: Map<String, Value> = order
            .iter()
            .filter_map(|k| row.get(*k).map(|v| ((*k).to_owned(), v.clone())))
            .collect();
        rows.push(Value::Object(row));
    }
    rows
}

/// The document `status` prints, and the title of its table.
pub(crate) fn status_document(rows: Vec<Value>) -> (&'static str, Value) {
    ("Status", json!({ "Profiles": rows }))
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

/// Snapshots of what `rotate`, `plan` and `status` print, in every format: the documents are
/// built by the functions the commands call, from fixed results (no AWS, no clock).
#[cfg(test)]
mod tests {
    use aws_rotate_keys::ini::FileKind;
    use aws_rotate_keys::key::KeyStatus;
    use aws_rotate_keys::plan::{
        NotAUser, OldKey, OldKeyAction, Plan, Removal, RemovalReason, Skip,
    };
    use aws_rotate_keys::rotation::{Failure, FailureClass, Report, ReportError};

    use super::*;

    /// The formats that print something (`off` prints nothing).
    const FORMATS: [OutputFormat; 5] = [
        OutputFormat::Json,
        OutputFormat::Text,
        OutputFormat::Table,
        OutputFormat::Yaml,
        OutputFormat::YamlStream,
    ];

    /// As `Renderer::new` makes it when stdout is not a terminal: 80 columns, no pager.
    fn renderer(format: OutputFormat) -> Renderer {
        Renderer {
            format,
            query: None,
            width: 80,
            pager: None,
            timestamps: TimestampFormat::Iso8601,
            wire: Arc::new(WireDates::default()),
        }
    }

    fn id(s: &str) -> AccessKeyId {
        AccessKeyId::new(s).expect("a valid key id")
    }

    fn at(iso: &str) -> Timestamp {
        Timestamp::parse_iso8601(iso).expect("a valid timestamp")
    }

    fn holder(file: FileKind, section: &str, profile: &str, line: usize) -> Holder {
        Holder {
            file,
            section: section.into(),
            profile: Some(profile.into()),
            line,
        }
    }

    fn paths() -> Paths {
        Paths {
            config: "/home/alice/.aws/config".into(),
            credentials: "/home/alice/.aws/credentials".into(),
        }
    }

    /// Replacing the key of `work`, whose user has a second key that makes room.
    fn plan(needs_confirmation: bool) -> Plan {
        Plan {
            profiles: vec!["work".into()],
            user_name: UserName::new("bob"),
            account: "123456789012".into(),
            admin: false,
            old_key: Some(OldKey {
                access_key_id: id("AKIAEXAMPLE000000003"),
                status: KeyStatus::Active,
                create_date: at("2024-01-10T09:00:00Z"),
                age: Span::from_secs(143 * 86_400),
                action: OldKeyAction::Delete,
            }),
            make_room: Some(Removal {
                access_key_id: id("AKIAEXAMPLE000000004"),
                status: KeyStatus::Inactive,
                create_date: at("2023-11-02T14:30:00Z"),
                last_used: Some(at("2023-12-24T08:15:00Z")),
                reason: RemovalReason::InactiveAndUnused,
                held_by: Vec::new(),
                needs_confirmation,
            }),
            files: vec![holder(FileKind::Credentials, "work", "work", 5)],
            verify_timeout: Span::from_secs(120),
        }
    }

    fn skipped() -> TaskResult {
        TaskResult {
            profiles: vec!["ci".into()],
            access_key_id: Some(id("AKIAEXAMPLE000000005")),
            outcome: TaskOutcome::Skipped(Skip {
                profiles: vec!["ci".into()],
                access_key_id: Some(id("AKIAEXAMPLE000000005")),
                age: Span::from_secs(12 * 86_400 + 3600),
                older_than: Span::from_secs(90 * 86_400),
            }),
        }
    }

    fn rotate_results() -> Vec<TaskResult> {
        let rotated = Report {
            profiles: vec!["default".into(), "shared".into()],
            user_name: UserName::new("alice"),
            status: Status::Rotated,
            resumed: false,
            old_access_key_id: Some(id("AKIAEXAMPLE000000001")),
            old_key_action: Some(OldKeyAction::Delete),
            new_access_key_id: Some(id("AKIAEXAMPLE000000011")),
            removed_to_make_room: Some(id("AKIAEXAMPLE000000002")),
            orphans_removed: Vec::new(),
            files_updated: vec![FileKind::Credentials, FileKind::Config],
            verify_attempts: 4,
            propagation_wait: Some(Span::from_millis(4250)),
            error: None,
            left_to_do: Vec::new(),
        };
        let rolled_back = Report {
            profiles: vec!["legacy".into()],
            user_name: UserName::new("carol"),
            status: Status::RolledBack,
            resumed: false,
            old_access_key_id: Some(id("AKIAEXAMPLE000000006")),
            old_key_action: None,
            new_access_key_id: Some(id("AKIAEXAMPLE000000016")),
            removed_to_make_room: None,
            orphans_removed: Vec::new(),
            files_updated: Vec::new(),
            verify_attempts: 1187,
            propagation_wait: None,
            error: Some(ReportError {
                operation: Some("GetCallerIdentity".into()),
                failure: Failure::new(
                    FailureClass::NotAuthenticated,
                    Some("InvalidClientTokenId"),
                    "The security token included in the request is invalid.",
                ),
            }),
            left_to_do: Vec::new(),
        };
        vec![
            TaskResult {
                profiles: rotated.profiles.clone(),
                access_key_id: rotated.old_access_key_id.clone(),
                outcome: TaskOutcome::Rotation(rotated),
            },
            TaskResult {
                profiles: rolled_back.profiles.clone(),
                access_key_id: rolled_back.old_access_key_id.clone(),
                outcome: TaskOutcome::Rotation(rolled_back),
            },
            skipped(),
            TaskResult {
                profiles: vec!["work".into()],
                access_key_id: Some(id("AKIAEXAMPLE000000003")),
                outcome: TaskOutcome::NeedsConfirmation(plan(true)),
            },
        ]
    }

    fn plan_results() -> Vec<TaskResult> {
        vec![
            TaskResult {
                profiles: vec!["work".into()],
                access_key_id: Some(id("AKIAEXAMPLE000000003")),
                outcome: TaskOutcome::Planned(plan(false)),
            },
            skipped(),
        ]
    }

    /// `status --older-than 90d` over four keys: one shared by two profiles (due), one never
    /// used (not due), one whose user may not list keys, one that is not an IAM user's.
    fn status_rows_of_four_keys() -> Vec<Value> {
        let r = renderer(OutputFormat::Json);
        let now = at("2024-06-01T12:00:00Z");
        let older_than = Some(Span::from_secs(90 * 86_400));
        let shared = id("AKIAEXAMPLE000000001");
        let fresh = id("AKIAEXAMPLE000000005");
        let denied = id("AKIAEXAMPLE000000007");
        let root = id("AKIAEXAMPLE000000008");
        let mut rows = Vec::new();
        rows.extend(status_rows(
            &["default".into(), "shared".into()],
            &[
                holder(FileKind::Credentials, "default", "default", 2),
                holder(FileKind::Config, "default", "default", 3),
                holder(FileKind::Config, "profile shared", "shared", 9),
            ],
            &shared,
            &KeyAnswers {
                user: Some(UserName::new("alice")),
                key: Some(KeyMeta {
                    access_key_id: shared.clone(),
                    status: KeyStatus::Active,
                    create_date: at("2024-01-15T10:20:30Z"),
                    last_used: None,
                }),
                last_used: Some(Some(at("2024-05-31T23:59:00Z"))),
                error: None,
            },
            &paths(),
            now,
            older_than,
            &r,
        ));
        rows.extend(status_rows(
            &["ci".into()],
            &[holder(FileKind::Credentials, "ci", "ci", 11)],
            &fresh,
            &KeyAnswers {
                user: Some(UserName::new("ci-bot")),
                key: Some(KeyMeta {
                    access_key_id: fresh.clone(),
                    status: KeyStatus::Active,
                    create_date: at("2024-05-20T11:00:00Z"),
                    last_used: None,
                }),
                last_used: Some(None),
                error: None,
            },
            &paths(),
            now,
            older_than,
            &r,
        ));
        rows.extend(status_rows(
            &["audit".into()],
            &[holder(FileKind::Credentials, "audit", "audit", 15)],
            &denied,
            &KeyAnswers {
                user: Some(UserName::new("auditor")),
                key: None,
                last_used: None,
                error: Some(aws_error(
                    Some("ListAccessKeys"),
                    Some("AccessDenied"),
                    "User: arn:aws:iam::123456789012:user/auditor is not authorized to perform: iam:ListAccessKeys on resource: user auditor",
                )),
            },
            &paths(),
            now,
            older_than,
            &r,
        ));
        let not_a_user = NotAUser {
            arn: "arn:aws:iam::123456789012:root".into(),
        };
        rows.extend(status_rows(
            &["root".into()],
            &[holder(FileKind::Config, "profile root", "root", 20)],
            &root,
            &KeyAnswers {
                error: Some(not_a_user.to_string()),
                ..KeyAnswers::default()
            },
            &paths(),
            now,
            older_than,
            &r,
        ));
        rows
    }

    #[test]
    fn rotate_results_in_every_format() {
        for f in FORMATS {
            let r = renderer(f);
            let (title, doc) = results_document(false, &rotate_results(), &r);
            let text = r.render(title, &doc).expect("renders");
            insta::assert_snapshot!(format!("rotate_results.{f}"), text);
        }
    }

    #[test]
    fn plan_results_in_every_format() {
        for f in FORMATS {
            let r = renderer(f);
            let (title, doc) = results_document(true, &plan_results(), &r);
            let text = r.render(title, &doc).expect("renders");
            insta::assert_snapshot!(format!("plan_results.{f}"), text);
        }
    }

    #[test]
    fn status_results_in_every_format() {
        for f in FORMATS {
            let r = renderer(f);
            let (title, doc) = status_document(status_rows_of_four_keys());
            let text = r.render(title, &doc).expect("renders");
            insta::assert_snapshot!(format!("status_results.{f}"), text);
        }
    }
}
