//! What `fleet status`, `fleet plan` and `fleet rotate` print: `{"Users": [...]}`, one row per
//! user in user-name order, and the warnings about blocked users.

use serde::Serialize;

use crate::key::{AccessKeyId, KeyStatus, UserName};
use crate::output::{DateField, Document, Timestamps};
use crate::time::Timestamp;

use super::delivery::Marker;
use super::org::AccountResult;
use super::session::{FleetMode, UserResult};
use super::stage::{Act, Stage, Step};

/// The document.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FleetOutput {
    /// One row per user.
    pub users: Vec<UserRow>,
}

impl Document for FleetOutput {
    const TITLE: &'static str = "Fleet";
}

/// One user.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserRow {
    /// The user's account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The user (none in the row of an account whose run stopped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<UserName>,
    /// The stage as the run found it (`null` where a request failed before it could be told).
    pub stage: Option<Stage>,
    /// `plan` and `rotate`: what was (or would be) done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<Act>,
    /// The user's keys (as far as they were listed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub access_keys: Vec<KeyRow>,
    /// The key that is delivered (or was, by this run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered_access_key_id: Option<AccessKeyId>,
    /// The key it replaces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaces_access_key_id: Option<AccessKeyId>,
    /// When it was delivered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered_date: Option<String>,
    /// Whole days since the delivery (how long the owner has not picked it up, while
    /// `Delivered`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered_days: Option<u64>,
    /// Why the user is blocked, and what unblocks it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `--notify-from`: the mails sent to the owner by this run (`plan`: that it would send).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<&'static str>,
    /// `--notify-from`: why a mail that was owed is not sent (no address to send it to).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice_note: Option<String>,
    /// The error that stopped this user's run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One key of a user.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyRow {
    /// The key.
    pub access_key_id: AccessKeyId,
    /// Its status.
    pub status: KeyStatus,
    /// When it was created.
    pub create_date: String,
    /// Its age in whole days.
    pub age_days: u64,
    /// When it last signed a request (`null`: never), where IAM was asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_date: Option<Option<String>>,
}

/// The rows of an account's run: `account` is the run's, for a user whose ARN was not read.
pub fn fleet(
    results: &[UserResult],
    account: Option<&str>,
    mode: FleetMode,
    ts: &Timestamps,
    now: Timestamp,
) -> FleetOutput {
    let users = results
        .iter()
        .map(|r| {
            let account = r
                .facts
                .user
                .arn
                .split(':')
                .nth(4)
                .filter(|a| !a.is_empty())
                .or(account)
                .map(str::to_owned);
            let f = &r.facts;
            let access_keys = f
                .keys
                .iter()
                .flatten()
                .map(|k| KeyRow {
                    access_key_id: k.access_key_id.clone(),
                    status: k.status,
                    create_date: ts.show(&k.access_key_id, DateField::Created, k.create_date),
                    age_days: now.since(k.create_date).whole_days(),
                    last_used_date: f
                        .shown_last_use(k)
                        .map(|t| t.map(|t| ts.show(&k.access_key_id, DateField::LastUsed, t))),
                })
                .collect();
            let (delivered, replaces, date) = match &f.delivery {
                Some(Ok(Marker::Delivered {
                    access_key_id,
                    replaces,
                    delivered,
                    ..
                })) => (
                    Some(access_key_id.clone()),
                    Some(replaces.clone()),
                    Some(*delivered),
                ),
                Some(Ok(Marker::Pending { replaces, .. })) => (None, Some(replaces.clone()), None),
                _ => (None, None, None),
            };
            let delivered = r.new_key.clone().or(delivered);
            // A delivery made by this run: the key it replaces is its store step's.
            let replaces = replaces.or_else(|| {
                r.done.iter().find_map(|s| match s {
                    super::stage::Step::Store { replaces } => Some(replaces.clone()),
                    _ => None,
                })
            });
            UserRow {
                account,
                user_name: Some(f.user.user_name.clone()),
                stage: r.verdict.as_ref().map(|v| v.stage),
                action: match mode {
                    FleetMode::Status => None,
                    FleetMode::Plan | FleetMode::Rotate => {
                        Some(r.verdict.as_ref().map_or(Act::None, |v| v.act))
                    }
                },
                access_keys,
                delivered_access_key_id: delivered,
                replaces_access_key_id: replaces,
                delivered_date: date.map(Timestamp::to_iso8601),
                delivered_days: date.map(|d| now.since(d).whole_days()),
                reason: r.verdict.as_ref().and_then(|v| v.reason.clone()),
                notices: notices(r, mode),
                notice_note: match mode {
                    FleetMode::Status => None,
                    _ => r.verdict.as_ref().and_then(|v| v.notice.clone()),
                },
                error: r.error.as_ref().map(|(op, f)| f.text(*op)),
            }
        })
        .collect();
    FleetOutput { users }
}

/// The mails of a user's row: sent (`rotate`), or that would be (`plan`).
fn notices(r: &UserResult, mode: FleetMode) -> Vec<&'static str> {
    let steps = match mode {
        FleetMode::Status => return Vec::new(),
        FleetMode::Plan => r.verdict.as_ref().map_or(&[][..], |v| &v.steps[..]),
        FleetMode::Rotate => &r.done[..],
    };
    steps
        .iter()
        .filter_map(|s| match s {
            Step::Notify(e) => Some(e.name()),
            _ => None,
        })
        .collect()
}

/// The rows of an organization's run, in account order: an account whose run stopped gets a
/// row with its error (and no user name); every other row is a user's.
pub fn organization(
    accounts: &[AccountResult],
    mode: FleetMode,
    ts: &Timestamps,
    now: Timestamp,
) -> FleetOutput {
    let mut users = Vec::new();
    for a in accounts {
        if let Some(failure) = &a.failure {
            users.push(UserRow {
                account: Some(a.account_id.clone()),
                user_name: None,
                stage: None,
                action: None,
                access_keys: Vec::new(),
                delivered_access_key_id: None,
                replaces_access_key_id: None,
                delivered_date: None,
                delivered_days: None,
                reason: None,
                notices: Vec::new(),
                notice_note: None,
                error: Some(failure.message.clone()),
            });
        }
        users.extend(fleet(&a.users, Some(&a.account_id), mode, ts, now).users);
    }
    FleetOutput { users }
}

/// `--output table` of an organization's run: one table per account (a query sees the rows
/// as every other format does).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ByAccount {
    /// One group per account.
    pub accounts: Vec<AccountGroup>,
}

impl Document for ByAccount {
    const TITLE: &'static str = "Fleet";
}

/// An account's rows.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountGroup {
    /// The account.
    pub account: String,
    /// Its name in the organization.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Why its run stopped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Its users' rows (without the account).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<UserRow>,
}

/// The rows grouped by account, for a table.
pub fn by_account(
    accounts: &[AccountResult],
    mode: FleetMode,
    ts: &Timestamps,
    now: Timestamp,
) -> ByAccount {
    ByAccount {
        accounts: accounts
            .iter()
            .map(|a| AccountGroup {
                account: a.account_id.clone(),
                name: a.name.clone(),
                error: a.failure.as_ref().map(|f| f.message.clone()),
                users: fleet(&a.users, None, mode, ts, now)
                    .users
                    .into_iter()
                    .map(|mut u| {
                        u.account = None;
                        u
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// The warnings for stderr: each blocked user, with the reason and what unblocks it.
pub fn warnings(results: &[UserResult]) -> Vec<String> {
    results
        .iter()
        .filter_map(|r| {
            let v = r.verdict.as_ref()?;
            (v.stage == Stage::Blocked).then(|| {
                format!(
                    "user {} is blocked: {}",
                    r.facts.user.user_name,
                    v.reason.as_deref().unwrap_or("a decision is needed")
                )
            })
        })
        .collect()
}
