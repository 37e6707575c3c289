//! What the commands print: the documents on stdout, as explicit types that serde turns into
//! the value [`crate::render`] draws in the chosen `--output` format (keys in PascalCase, in the
//! order the fields are declared), and the lines on stderr that say what went wrong and what to
//! do next. The shell only renders and prints them.

use std::collections::HashMap;

use compact_str::CompactString;
use serde::{Serialize, Serializer};

use crate::ini::FileKind;
use crate::key::{AccessKeyId, KeyMeta, KeyStatus, SecretAccessKey, UserName};
use crate::plan::{OldKeyAction, Plan, RemovalReason};
use crate::profile::Holder;
use crate::rotation::{Report, Status};
use crate::session::{KeyReport, TaskOutcome, TaskResult};
use crate::time::{Span, Timestamp};

/// A document of a command's output: its value, and the title `--output table` gives it (the
/// operation's name, as the `aws` CLI titles a table).
pub trait Document: Serialize {
    /// The table's title.
    const TITLE: &'static str;
}

/// `cli_timestamp_format`: how the timestamps of IAM's answers are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampFormat {
    /// `2013-06-04T18:17:34+00:00`: Python's `isoformat()` in UTC (the `aws` v2 default).
    Iso8601,
    /// Exactly as IAM sent it.
    Wire,
}

impl TimestampFormat {
    /// The setting's value as the `aws` CLI v2 accepts it (`awscli/customizations/
    /// timestampformat.py`: `wire` or `iso8601`, nothing else).
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "iso8601" => Some(Self::Iso8601),
            "wire" => Some(Self::Wire),
            _ => None,
        }
    }
}

/// Which timestamp of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DateField {
    /// `CreateDate` (ListAccessKeys, CreateAccessKey).
    Created,
    /// `LastUsedDate` (GetAccessKeyLastUsed).
    LastUsed,
}

/// How timestamps are printed: the format, and the texts IAM sent this run (which the shell
/// reads from the answers: the SDK keeps only the parsed time).
#[derive(Debug, Clone)]
pub struct Timestamps {
    /// `cli_timestamp_format`.
    pub format: TimestampFormat,
    /// Each key's timestamps as sent.
    pub wire: HashMap<(AccessKeyId, DateField), String>,
}

impl Timestamps {
    /// `iso8601`, with no texts as sent.
    pub fn iso8601() -> Self {
        Self {
            format: TimestampFormat::Iso8601,
            wire: HashMap::new(),
        }
    }

    /// A key's timestamp as `cli_timestamp_format` says. (`wire` prints the text IAM sent this
    /// run; were it missing all the same, the `iso8601` form is printed rather than nothing.)
    pub fn show(&self, key: &AccessKeyId, field: DateField, at: Timestamp) -> String {
        match self.format {
            TimestampFormat::Iso8601 => at.to_iso8601(),
            TimestampFormat::Wire => self
                .wire
                .get(&(key.clone(), field))
                .cloned()
                .unwrap_or_else(|| at.to_iso8601()),
        }
    }
}

/// Where the two files are, as the output names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePaths {
    /// The config file.
    pub config: String,
    /// The credentials file.
    pub credentials: String,
}

impl FilePaths {
    /// The path of one of the two.
    pub fn of(&self, file: FileKind) -> &str {
        match file {
            FileKind::Config => &self.config,
            FileKind::Credentials => &self.credentials,
        }
    }
}

/// What a run's output is built with.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// How timestamps are printed.
    pub timestamps: &'a Timestamps,
    /// Where the files are.
    pub paths: &'a FilePaths,
}

// ---- rotate and plan -------------------------------------------------------------------------

/// What `rotate` prints.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotateOutput {
    /// One row per rotation, resumed journal or key left alone.
    pub rotations: Vec<ResultRow>,
}

impl Document for RotateOutput {
    const TITLE: &'static str = "Rotate";
}

/// What `plan` prints.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PlanOutput {
    /// One row per key.
    pub plans: Vec<ResultRow>,
}

impl Document for PlanOutput {
    const TITLE: &'static str = "Plan";
}

/// `rotate`'s output.
pub fn rotate(results: &[TaskResult], ctx: Context<'_>) -> RotateOutput {
    RotateOutput {
        rotations: results.iter().map(|r| row(r, ctx)).collect(),
    }
}

/// `plan`'s output.
pub fn plan(results: &[TaskResult], ctx: Context<'_>) -> PlanOutput {
    PlanOutput {
        plans: results.iter().map(|r| row(r, ctx)).collect(),
    }
}

/// One result of `rotate` or `plan`.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum ResultRow {
    /// A rotation ran.
    Rotation(RotationRow),
    /// `plan`: what `rotate` would do.
    Planned(PlannedRow),
    /// Not due under `--older-than`.
    Skipped(SkippedRow),
    /// A removal needed the user's agreement, which was not given.
    NeedsConfirmation(ConfirmationRow),
    /// Refused, or failed before any change.
    Error(ErrorRow),
}

/// A rotation that ran (or a journal resumed).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotationRow {
    /// The profiles whose key it was.
    pub profiles: Vec<CompactString>,
    /// Whose key.
    pub user_name: UserName,
    /// `Rotated`, `Incomplete`, `RolledBack`, `Failed`, `CleanedUp`.
    pub status: &'static str,
    /// The key the profiles held.
    pub access_key_id: Option<AccessKeyId>,
    /// Whether an interrupted rotation was finished or undone.
    pub resumed: bool,
    /// The key replaced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_access_key_id: Option<AccessKeyId>,
    /// What was done to it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_key_action: Option<OldKeyAction>,
    /// The new key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_access_key_id: Option<AccessKeyId>,
    /// The key removed to make room.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed_to_make_room: Option<AccessKeyId>,
    /// Keys of interrupted creates that were deleted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub orphans_removed: Vec<AccessKeyId>,
    /// Each file that holds the new key now, with its profiles whose key was changed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files_updated: Vec<FileRow>,
    /// `GetCallerIdentity` calls made with the new key.
    pub verify_attempts: u32,
    /// From the first verification to the last needed success.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub propagation_wait: Option<Span>,
    /// What went wrong, as the `aws` CLI says it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What is left for the user to do.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub left_to_do: Vec<String>,
}

/// A file a rotation wrote, and its profiles whose key was changed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FileRow {
    /// The file's path.
    pub file: String,
    /// Its profiles.
    pub profiles: Vec<CompactString>,
}

/// What `plan` says `rotate` would do.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PlannedRow {
    /// The profiles whose key would be replaced.
    pub profiles: Vec<CompactString>,
    /// `Planned`.
    pub status: &'static str,
    /// Whose key.
    pub user_name: UserName,
    /// The user's account.
    pub account: CompactString,
    /// Admin mode (`--user-name`).
    pub admin: bool,
    /// The key replaced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_key: Option<OldKeyRow>,
    /// The key removed first to make room.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub make_room: Option<RemovalRow>,
    /// The sections that would hold the new key.
    pub files: Vec<Holder>,
    /// How long the new key may take to work.
    pub verify_timeout: Span,
}

/// The key a plan replaces.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OldKeyRow {
    /// The key.
    pub access_key_id: AccessKeyId,
    /// Its status.
    pub status: KeyStatus,
    /// When it was created.
    pub create_date: String,
    /// What happens to it.
    pub action: OldKeyAction,
    /// Its age in whole days.
    pub age_days: u64,
}

/// The key a plan removes to make room.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemovalRow {
    /// The key.
    pub access_key_id: AccessKeyId,
    /// Its status.
    pub status: KeyStatus,
    /// When it was created.
    pub create_date: String,
    /// When it last signed a request, where known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used: Option<String>,
    /// Why this one.
    pub reason: RemovalReason,
    /// Profiles that hold it.
    pub held_by: Vec<String>,
    /// Whether the user must agree first.
    pub needs_confirmation: bool,
}

/// A key left alone: not due under `--older-than`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SkippedRow {
    /// The profiles.
    pub profiles: Vec<CompactString>,
    /// `Skipped`.
    pub status: &'static str,
    /// The key.
    pub access_key_id: Option<AccessKeyId>,
    /// Its age in whole days.
    pub age_days: u64,
    /// The `--older-than` it is under.
    pub older_than: String,
    /// Why, in words.
    pub reason: String,
}

/// A rotation that needed the user's agreement to a removal.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConfirmationRow {
    /// The profiles.
    pub profiles: Vec<CompactString>,
    /// `NeedsConfirmation`.
    pub status: &'static str,
    /// The key the profiles hold.
    pub access_key_id: Option<AccessKeyId>,
    /// The key the policy proposed to remove.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proposed_removal: Option<AccessKeyId>,
}

/// A key that was not rotated because of an error or a refusal.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ErrorRow {
    /// The profiles.
    pub profiles: Vec<CompactString>,
    /// `Refused` or `Failed`.
    pub status: &'static str,
    /// The key the profiles hold.
    pub access_key_id: Option<AccessKeyId>,
    /// What went wrong.
    pub error: String,
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

fn row(r: &TaskResult, ctx: Context<'_>) -> ResultRow {
    let profiles = r.profiles.clone();
    let access_key_id = r.access_key_id.clone();
    let error = |status, error| {
        ResultRow::Error(ErrorRow {
            profiles: profiles.clone(),
            status,
            access_key_id: access_key_id.clone(),
            error,
        })
    };
    match &r.outcome {
        TaskOutcome::Rotation(rep) => ResultRow::Rotation(rotation_row(rep, r, ctx)),
        TaskOutcome::Planned(p) => ResultRow::Planned(planned_row(p, ctx)),
        TaskOutcome::Skipped(s) => ResultRow::Skipped(SkippedRow {
            profiles,
            status: "Skipped",
            access_key_id: s.access_key_id.clone(),
            age_days: s.age.whole_days(),
            older_than: s.older_than.to_string(),
            reason: format!("not due: the key is {} days old", s.age.whole_days()),
        }),
        TaskOutcome::NeedsConfirmation(p) => ResultRow::NeedsConfirmation(ConfirmationRow {
            profiles,
            status: "NeedsConfirmation",
            access_key_id,
            proposed_removal: p.make_room.as_ref().map(|m| m.access_key_id.clone()),
        }),
        TaskOutcome::Refused(e) => error("Refused", e.to_string()),
        TaskOutcome::NotAUser(e) => error("Refused", e.to_string()),
        TaskOutcome::Failed { operation, failure } => error("Failed", failure.text(*operation)),
        TaskOutcome::Status(k) => error(
            "Failed",
            k.error.as_ref().map(|e| e.text()).unwrap_or_default(),
        ),
        TaskOutcome::NoDelivery { user_name, .. } => error(
            "NoDelivery",
            format!("no delivery is waiting for user {user_name}"),
        ),
    }
}

fn rotation_row(rep: &Report, r: &TaskResult, ctx: Context<'_>) -> RotationRow {
    RotationRow {
        profiles: rep.profiles.clone(),
        user_name: rep.user_name.clone(),
        status: status_name(rep.status),
        // Every result names its key the same way: the key the profiles held.
        access_key_id: r.access_key_id.clone(),
        resumed: rep.resumed,
        old_access_key_id: rep.old_access_key_id.clone(),
        old_key_action: rep.old_key_action,
        new_access_key_id: rep.new_access_key_id.clone(),
        removed_to_make_room: rep.removed_to_make_room.clone(),
        orphans_removed: rep.orphans_removed.clone(),
        files_updated: rep
            .files_updated
            .iter()
            .map(|u| FileRow {
                file: ctx.paths.of(u.file).to_owned(),
                profiles: u.profiles.clone(),
            })
            .collect(),
        verify_attempts: rep.verify_attempts,
        propagation_wait: rep.propagation_wait,
        error: rep
            .error
            .as_ref()
            .map(|e| e.failure.text(e.operation.as_deref())),
        left_to_do: rep.left_to_do.clone(),
    }
}

fn planned_row(p: &Plan, ctx: Context<'_>) -> PlannedRow {
    let ts = ctx.timestamps;
    PlannedRow {
        profiles: p.profiles.clone(),
        status: "Planned",
        user_name: p.user_name.clone(),
        account: p.account.clone(),
        admin: p.admin,
        old_key: p.old_key.as_ref().map(|k| OldKeyRow {
            access_key_id: k.access_key_id.clone(),
            status: k.status,
            create_date: ts.show(&k.access_key_id, DateField::Created, k.create_date),
            action: k.action,
            // Ages in whole days, as `status` shows them (a span to the millisecond reads badly).
            age_days: k.age.whole_days(),
        }),
        make_room: p.make_room.as_ref().map(|m| RemovalRow {
            access_key_id: m.access_key_id.clone(),
            status: m.status,
            create_date: ts.show(&m.access_key_id, DateField::Created, m.create_date),
            last_used: m
                .last_used
                .map(|t| ts.show(&m.access_key_id, DateField::LastUsed, t)),
            reason: m.reason,
            held_by: m.held_by.clone(),
            needs_confirmation: m.needs_confirmation,
        }),
        files: p.files.clone(),
        verify_timeout: p.verify_timeout,
    }
}

// ---- status ----------------------------------------------------------------------------------

/// What `status` prints.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StatusOutput {
    /// One row per profile that holds static keys.
    pub profiles: Vec<StatusRow>,
}

impl Document for StatusOutput {
    const TITLE: &'static str = "Status";
}

/// One profile, as IAM sees its key.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StatusRow {
    /// The profile.
    pub profile: CompactString,
    /// The key's user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<UserName>,
    /// The key.
    pub access_key_id: Option<AccessKeyId>,
    /// Its status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<KeyStatus>,
    /// When it was created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub create_date: Option<String>,
    /// Its age in whole days.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age_days: Option<u64>,
    /// When it last signed a request (`null`: never), where IAM was asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used: Option<Option<String>>,
    /// The files where the profile's own section holds the key.
    pub files: Vec<String>,
    /// With `--older-than`: whether it is due.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due: Option<bool>,
    /// What stopped the questions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `status`'s output: one row per profile of each key, ages told from `now`, `Due` with
/// `--older-than`.
pub fn status(
    results: &[TaskResult],
    ctx: Context<'_>,
    now: Timestamp,
    older_than: Option<Span>,
) -> StatusOutput {
    let mut rows = Vec::new();
    for r in results {
        match &r.outcome {
            TaskOutcome::Status(k) => {
                rows.extend(status_rows(r, k, ctx, now, older_than));
            }
            other => {
                // A result of another kind (a file that could not be read again): its error.
                let error = row(
                    &TaskResult {
                        profiles: r.profiles.clone(),
                        access_key_id: r.access_key_id.clone(),
                        outcome: other.clone(),
                    },
                    ctx,
                );
                let error = match error {
                    ResultRow::Error(e) => Some(e.error),
                    _ => None,
                };
                for p in &r.profiles {
                    rows.push(StatusRow {
                        profile: p.clone(),
                        user_name: None,
                        access_key_id: r.access_key_id.clone(),
                        status: None,
                        create_date: None,
                        age_days: None,
                        last_used: None,
                        files: Vec::new(),
                        due: None,
                        error: error.clone(),
                    });
                }
            }
        }
    }
    StatusOutput { profiles: rows }
}

fn status_rows(
    r: &TaskResult,
    k: &KeyReport,
    ctx: Context<'_>,
    now: Timestamp,
    older_than: Option<Span>,
) -> Vec<StatusRow> {
    let ts = ctx.timestamps;
    let key: Option<&KeyMeta> = k.key.as_ref();
    let age = key.map(|m| now.since(m.create_date));
    r.profiles
        .iter()
        .map(|p| {
            let mut files: Vec<String> = Vec::new();
            for h in k.holders.iter().filter(|h| h.profile.as_ref() == Some(p)) {
                let path = ctx.paths.of(h.file).to_owned();
                if !files.contains(&path) {
                    files.push(path);
                }
            }
            StatusRow {
                profile: p.clone(),
                user_name: k.user_name.clone(),
                access_key_id: r.access_key_id.clone(),
                status: key.map(|m| m.status),
                create_date: key
                    .map(|m| ts.show(&m.access_key_id, DateField::Created, m.create_date)),
                age_days: age.map(Span::whole_days),
                last_used: k.last_used.map(|last| {
                    let id = r.access_key_id.as_ref();
                    last.zip(id)
                        .map(|(t, id)| ts.show(id, DateField::LastUsed, t))
                }),
                files,
                due: age.zip(older_than).map(|(age, t)| age >= t),
                error: k.error.as_ref().map(|e| e.text()),
            }
        })
        .collect()
}

// ---- list-access-keys and admin mode's new key -----------------------------------------------

/// What `list-access-keys` prints: `aws iam list-access-keys`'s document.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAccessKeysOutput {
    /// The keys.
    pub access_key_metadata: Vec<AccessKeyMetadata>,
}

impl Document for ListAccessKeysOutput {
    const TITLE: &'static str = "ListAccessKeys";
}

/// One key, in the members' order of IAM's model.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccessKeyMetadata {
    /// Whose key.
    pub user_name: UserName,
    /// The key.
    pub access_key_id: AccessKeyId,
    /// Its status.
    pub status: KeyStatus,
    /// When it was created.
    pub create_date: String,
}

/// `list-access-keys`'s output for a user's keys.
pub fn list_access_keys(
    user: &UserName,
    keys: &[KeyMeta],
    timestamps: &Timestamps,
) -> ListAccessKeysOutput {
    ListAccessKeysOutput {
        access_key_metadata: keys
            .iter()
            .map(|k| AccessKeyMetadata {
                user_name: user.clone(),
                access_key_id: k.access_key_id.clone(),
                status: k.status,
                create_date: timestamps.show(&k.access_key_id, DateField::Created, k.create_date),
            })
            .collect(),
    }
}

/// Admin mode's new key, in the shape of `aws iam create-access-key`'s answer: the one document
/// that shows a secret.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateAccessKeyOutput {
    /// The key.
    pub access_key: NewAccessKey,
}

impl Document for CreateAccessKeyOutput {
    const TITLE: &'static str = "CreateAccessKey";
}

/// A new key, secret included, in the members' order of IAM's model.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NewAccessKey {
    /// Whose key.
    pub user_name: UserName,
    /// The key.
    pub access_key_id: AccessKeyId,
    /// `Active`.
    pub status: KeyStatus,
    /// The secret, shown.
    #[serde(serialize_with = "expose")]
    pub secret_access_key: SecretAccessKey,
    /// When IAM created it.
    pub create_date: String,
}

fn expose<S: Serializer>(secret: &SecretAccessKey, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(secret.expose())
}

/// Admin mode's output for the new key.
pub fn created_key(
    user: &UserName,
    id: &AccessKeyId,
    secret: &SecretAccessKey,
    created: Timestamp,
    timestamps: &Timestamps,
) -> CreateAccessKeyOutput {
    CreateAccessKeyOutput {
        access_key: NewAccessKey {
            user_name: user.clone(),
            access_key_id: id.clone(),
            status: KeyStatus::Active,
            secret_access_key: secret.clone(),
            create_date: timestamps.show(id, DateField::Created, created),
        },
    }
}

// ---- stderr ----------------------------------------------------------------------------------

/// What went wrong with one result, and what to do next: the lines for stderr. `interactive`:
/// whether the run could ask at a terminal.
pub fn problems(r: &TaskResult, interactive: bool) -> Vec<String> {
    let who = if r.profiles.is_empty() {
        String::new()
    } else {
        format!("profile {}: ", r.profiles.join(", "))
    };
    let mut lines = Vec::new();
    match &r.outcome {
        TaskOutcome::Rotation(rep) => {
            if let Some(e) = &rep.error {
                lines.push(format!("{who}{}", e.failure.text(e.operation.as_deref())));
                let did = match rep.status {
                    Status::RolledBack => {
                        "the rotation was undone: the files hold the old key, which still works"
                    }
                    Status::Failed => "no new key was made; the files are unchanged",
                    Status::Incomplete => {
                        "the new key works and is in the files, but the old key is still there"
                    }
                    _ => "",
                };
                if !did.is_empty() {
                    lines.push(format!("{who}{did}"));
                }
            }
            for todo in &rep.left_to_do {
                lines.push(format!("{who}next: {todo}"));
            }
        }
        TaskOutcome::Refused(e) => lines.push(format!("{who}{e}")),
        TaskOutcome::NotAUser(e) => lines.push(format!("{who}{e}")),
        TaskOutcome::NeedsConfirmation(p) => {
            let rm = p
                .make_room
                .as_ref()
                .map(|m| format!("{} ({})", m.access_key_id, m.reason))
                .unwrap_or_default();
            lines.push(if interactive {
                format!(
                    "{who}not rotated: user {} has two keys and you did not agree to remove {rm}; nothing was changed. Add --yes to accept that removal without a question, or --delete ACCESS_KEY_ID to choose the key",
                    p.user_name
                )
            } else {
                format!(
                    "{who}user {} has two keys; removing {rm} needs your agreement: run on a terminal, or add --yes to accept, or --delete ACCESS_KEY_ID to choose",
                    p.user_name
                )
            });
        }
        TaskOutcome::Failed { operation, failure } => {
            lines.push(format!("{who}{}", failure.text(*operation)));
            lines.push(format!("{who}nothing was changed"));
        }
        TaskOutcome::Planned(_)
        | TaskOutcome::Skipped(_)
        | TaskOutcome::Status(_)
        | TaskOutcome::NoDelivery { .. } => {}
    }
    lines
}

// ---- pickup ----------------------------------------------------------------------------------

/// What `pickup` prints.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PickupOutput {
    /// One row per key of the selected profiles.
    pub pickups: Vec<PickupRow>,
}

impl Document for PickupOutput {
    const TITLE: &'static str = "Pickup";
}

/// One profile's key and what became of its delivery.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PickupRow {
    /// Every profile whose key was (or would have been) replaced.
    pub profiles: Vec<CompactString>,
    /// The user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<UserName>,
    /// The key the profiles held.
    pub old_access_key_id: Option<AccessKeyId>,
    /// The delivered key.
    pub new_access_key_id: Option<AccessKeyId>,
    /// `Installed`, `AlreadyInstalled`, `NoDelivery`, `RolledBack`, `Failed`.
    pub status: &'static str,
    /// What happened to the old key (`Delete`; absent where it was left for the
    /// administrator).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_key_action: Option<crate::plan::OldKeyAction>,
    /// The files written, each with its profiles.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files_updated: Vec<FileRow>,
    /// What went wrong, or was left for the administrator.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `pickup`'s output.
pub fn pickup(results: &[TaskResult], ctx: Context<'_>) -> PickupOutput {
    let pickups = results
        .iter()
        .map(|r| match &r.outcome {
            TaskOutcome::Rotation(rep) => {
                let row = rotation_row(rep, r, ctx);
                PickupRow {
                    profiles: row.profiles,
                    user_name: Some(row.user_name),
                    old_access_key_id: row.old_access_key_id,
                    new_access_key_id: row.new_access_key_id,
                    status: match rep.status {
                        Status::Rotated => "Installed",
                        other => status_name(other),
                    },
                    old_key_action: row.old_key_action,
                    files_updated: row.files_updated,
                    error: row.error,
                }
            }
            TaskOutcome::NoDelivery {
                user_name,
                installed,
            } => PickupRow {
                profiles: r.profiles.clone(),
                user_name: Some(user_name.clone()),
                old_access_key_id: r.access_key_id.clone(),
                new_access_key_id: installed.clone(),
                status: if installed.is_some() {
                    "AlreadyInstalled"
                } else {
                    "NoDelivery"
                },
                old_key_action: None,
                files_updated: Vec::new(),
                error: None,
            },
            _ => {
                let error = match row(r, ctx) {
                    ResultRow::Error(e) => Some(e.error),
                    _ => None,
                };
                PickupRow {
                    profiles: r.profiles.clone(),
                    user_name: None,
                    old_access_key_id: r.access_key_id.clone(),
                    new_access_key_id: None,
                    status: "Failed",
                    old_key_action: None,
                    files_updated: Vec::new(),
                    error,
                }
            }
        })
        .collect();
    PickupOutput { pickups }
}

/// Snapshots of what `rotate`, `plan` and `status` print, in every format: the documents built
/// from fixed results (no AWS, no clock), rendered as the shell renders them.
#[cfg(test)]
mod tests {
    use crate::action::{Failure, FailureClass};
    use crate::plan::{NotAUser, OldKey, Removal, Skip};
    use crate::render::{self, OutputFormat, Style};
    use crate::rotation::{FileUpdate, ReportError};
    use crate::session::KeyReportError;

    use super::*;

    /// The formats that print something (`off` prints nothing).
    const FORMATS: [OutputFormat; 5] = [
        OutputFormat::Json,
        OutputFormat::Text,
        OutputFormat::Table,
        OutputFormat::Yaml,
        OutputFormat::YamlStream,
    ];

    /// As the shell renders a document when stdout is not a terminal: 80 columns.
    fn rendered<D: Document>(document: &D, format: OutputFormat) -> String {
        let value = serde_json::to_value(document).expect("serializes");
        let style = Style {
            format,
            title: D::TITLE,
            width: 80,
        };
        render::render(&value, style).expect("renders")
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

    fn paths() -> FilePaths {
        FilePaths {
            config: "/home/alice/.aws/config".into(),
            credentials: "/home/alice/.aws/credentials".into(),
        }
    }

    /// Replacing the key of `work`, whose user has a second key that makes room.
    fn a_plan(needs_confirmation: bool) -> Plan {
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
        // `-p default`, whose key profile `shared` of the config file held too.
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
            files_updated: vec![
                FileUpdate {
                    file: FileKind::Credentials,
                    profiles: vec!["default".into()],
                },
                FileUpdate {
                    file: FileKind::Config,
                    profiles: vec!["default".into(), "shared".into()],
                },
            ],
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
                profiles: vec!["default".into()],
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
                outcome: TaskOutcome::NeedsConfirmation(a_plan(true)),
            },
        ]
    }

    fn plan_results() -> Vec<TaskResult> {
        vec![
            TaskResult {
                profiles: vec!["work".into()],
                access_key_id: Some(id("AKIAEXAMPLE000000003")),
                outcome: TaskOutcome::Planned(a_plan(false)),
            },
            skipped(),
        ]
    }

    /// `status --older-than 90d` over four keys: one shared by two profiles (due), one never
    /// used (not due), one whose user may not list keys, one that is not an IAM user's.
    fn status_results() -> Vec<TaskResult> {
        let shared = id("AKIAEXAMPLE000000001");
        let fresh = id("AKIAEXAMPLE000000005");
        vec![
            TaskResult {
                profiles: vec!["default".into(), "shared".into()],
                access_key_id: Some(shared.clone()),
                outcome: TaskOutcome::Status(KeyReport {
                    user_name: Some(UserName::new("alice")),
                    key: Some(KeyMeta {
                        access_key_id: shared,
                        status: KeyStatus::Active,
                        create_date: at("2024-01-15T10:20:30Z"),
                        last_used: None,
                    }),
                    last_used: Some(Some(at("2024-05-31T23:59:00Z"))),
                    holders: vec![
                        holder(FileKind::Credentials, "default", "default", 2),
                        holder(FileKind::Config, "default", "default", 3),
                        holder(FileKind::Config, "profile shared", "shared", 9),
                    ],
                    error: None,
                }),
            },
            TaskResult {
                profiles: vec!["ci".into()],
                access_key_id: Some(fresh.clone()),
                outcome: TaskOutcome::Status(KeyReport {
                    user_name: Some(UserName::new("ci-bot")),
                    key: Some(KeyMeta {
                        access_key_id: fresh,
                        status: KeyStatus::Active,
                        create_date: at("2024-05-20T11:00:00Z"),
                        last_used: None,
                    }),
                    last_used: Some(None),
                    holders: vec![holder(FileKind::Credentials, "ci", "ci", 11)],
                    error: None,
                }),
            },
            TaskResult {
                profiles: vec!["audit".into()],
                access_key_id: Some(id("AKIAEXAMPLE000000007")),
                outcome: TaskOutcome::Status(KeyReport {
                    user_name: Some(UserName::new("auditor")),
                    key: None,
                    last_used: None,
                    holders: vec![holder(FileKind::Credentials, "audit", "audit", 15)],
                    error: Some(KeyReportError::Failed {
                        operation: "ListAccessKeys",
                        failure: Failure::new(
                            FailureClass::AccessDenied,
                            Some("AccessDenied"),
                            "User: arn:aws:iam::123456789012:user/auditor is not authorized to perform: iam:ListAccessKeys on resource: user auditor",
                        ),
                    }),
                }),
            },
            TaskResult {
                profiles: vec!["root".into()],
                access_key_id: Some(id("AKIAEXAMPLE000000008")),
                outcome: TaskOutcome::Status(KeyReport {
                    user_name: None,
                    key: None,
                    last_used: None,
                    holders: vec![holder(FileKind::Config, "profile root", "root", 20)],
                    error: Some(KeyReportError::NotAUser(NotAUser {
                        arn: "arn:aws:iam::123456789012:root".into(),
                    })),
                }),
            },
        ]
    }

    fn context<'a>(timestamps: &'a Timestamps, paths: &'a FilePaths) -> Context<'a> {
        Context { timestamps, paths }
    }

    #[test]
    fn rotate_results_in_every_format() {
        let (ts, paths) = (Timestamps::iso8601(), paths());
        let document = rotate(&rotate_results(), context(&ts, &paths));
        for f in FORMATS {
            insta::assert_snapshot!(format!("rotate_results.{f}"), rendered(&document, f));
        }
    }

    #[test]
    fn plan_results_in_every_format() {
        let (ts, paths) = (Timestamps::iso8601(), paths());
        let document = plan(&plan_results(), context(&ts, &paths));
        for f in FORMATS {
            insta::assert_snapshot!(format!("plan_results.{f}"), rendered(&document, f));
        }
    }

    #[test]
    fn status_results_in_every_format() {
        let (ts, paths) = (Timestamps::iso8601(), paths());
        let document = status(
            &status_results(),
            context(&ts, &paths),
            at("2024-06-01T12:00:00Z"),
            Some(Span::from_secs(90 * 86_400)),
        );
        for f in FORMATS {
            insta::assert_snapshot!(format!("status_results.{f}"), rendered(&document, f));
        }
    }

    #[test]
    fn wire_timestamps_are_printed_as_iam_sent_them() {
        let mut ts = Timestamps::iso8601();
        let key = id("AKIAEXAMPLE000000003");
        ts.wire.insert(
            (key.clone(), DateField::Created),
            "2024-01-10T09:00:00.000Z".into(),
        );
        let paths = paths();
        let iso =
            serde_json::to_value(plan(&plan_results(), context(&ts, &paths))).expect("serializes");
        ts.format = TimestampFormat::Wire;
        let wire =
            serde_json::to_value(plan(&plan_results(), context(&ts, &paths))).expect("serializes");
        let date = |v: &serde_json::Value| v["Plans"][0]["OldKey"]["CreateDate"].clone();
        assert_eq!(date(&iso), "2024-01-10T09:00:00+00:00");
        assert_eq!(date(&wire), "2024-01-10T09:00:00.000Z");
        // A timestamp IAM did not send this run falls back to iso8601.
        let removal = |v: &serde_json::Value| v["Plans"][0]["MakeRoom"]["CreateDate"].clone();
        assert_eq!(removal(&wire), "2023-11-02T14:30:00+00:00");
    }

    #[test]
    fn the_new_key_document_shows_its_secret_and_no_other_does() {
        let secret =
            SecretAccessKey::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY").expect("valid");
        let document = created_key(
            &UserName::new("bob"),
            &id("AKIAEXAMPLE000000011"),
            &secret,
            at("2024-06-01T12:00:00Z"),
            &Timestamps::iso8601(),
        );
        let json = rendered(&document, OutputFormat::Json);
        assert!(json.contains(secret.expose()), "{json}");
        let (ts, paths) = (Timestamps::iso8601(), paths());
        for f in FORMATS {
            let text = rendered(&rotate(&rotate_results(), context(&ts, &paths)), f);
            assert!(!text.contains("wJalr"), "{text}");
        }
    }

    #[test]
    fn problems_say_what_went_wrong_and_what_to_do() {
        let lines: Vec<String> = rotate_results()
            .iter()
            .flat_map(|r| problems(r, false))
            .collect();
        assert_eq!(
            lines,
            [
                "profile legacy: An error occurred (InvalidClientTokenId) when calling the GetCallerIdentity operation: The security token included in the request is invalid.",
                "profile legacy: the rotation was undone: the files hold the old key, which still works",
                "profile work: user bob has two keys; removing AKIAEXAMPLE000000004 (inactive, and no profile uses it) needs your agreement: run on a terminal, or add --yes to accept, or --delete ACCESS_KEY_ID to choose",
            ]
        );
    }
}
