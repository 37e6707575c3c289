//! Deciding a rotation: which key is replaced, which key (if any) is removed to make room and why,
//! what happens to the old key, and whether the user must agree first.
//!
//! [`decide`] is a pure function of what the shell learned (the caller's identity, the user's key
//! list, the files) and the options: the same inputs always give the same [`Decision`]. `plan`
//! prints it; `rotate` executes it with [`crate::rotation::Rotation`].

use std::fmt;

use compact_str::CompactString;
use indexmap::IndexMap;
use serde::Serialize;

use crate::error::ErrorKind;
use crate::key::{AccessKeyId, KeyMeta, KeyStatus, UserName};
use crate::profile::{Candidate, Holder};
use crate::time::{Span, Timestamp};

/// IAM's quota of access keys per user.
pub const KEYS_PER_USER: usize = 2;

/// The options that shape a decision (`rotate` and `plan` share them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `--delete ID`: the key to remove when both slots are taken.
    pub delete: Option<AccessKeyId>,
    /// `--keep-old`: deactivate the replaced key instead of deleting it.
    pub keep_old: bool,
    /// `--older-than`: rotate only keys at least this old.
    pub older_than: Option<Span>,
    /// `--yes`: accept the policy's proposal without asking.
    pub yes: bool,
    /// `--verify-timeout`: how long the new key may take to work.
    pub verify_timeout: Span,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            delete: None,
            keep_old: false,
            older_than: None,
            yes: false,
            verify_timeout: Span::from_secs(120),
        }
    }
}

/// Who signs: an IAM user, as `sts:GetCallerIdentity` names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Identity {
    /// The 12-digit account.
    pub account: CompactString,
    /// The user's ARN, `arn:aws:iam::123456789012:user/path/name`.
    pub arn: String,
    /// The user name: the ARN's last path element.
    pub user_name: UserName,
}

/// Why an ARN is not an IAM user's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the credentials belong to {arn}, which is not an IAM user: only IAM users have access keys to rotate"
)]
pub struct NotAUser {
    /// The ARN that `sts:GetCallerIdentity` answered.
    pub arn: String,
}

impl Identity {
    /// Reads an IAM user's ARN (`arn:PARTITION:iam::ACCOUNT:user/PATH/NAME`).
    pub fn from_arn(arn: &str) -> Result<Self, NotAUser> {
        let not_a_user = || NotAUser {
            arn: arn.to_owned(),
        };
        // Six fields; the resource (the last) may hold more colons.
        let fields: Vec<&str> = arn.splitn(6, ':').collect();
        let [prefix, _partition, service, region, account, resource] = fields[..] else {
            return Err(not_a_user());
        };
        if prefix != "arn" || service != "iam" || !region.is_empty() || account.is_empty() {
            return Err(not_a_user());
        }
        // `user/PATH/NAME`: the name is the last path element.
        let name = resource
            .strip_prefix("user/")
            .and_then(|path| path.rsplit('/').next())
            .filter(|name| !name.is_empty())
            .ok_or_else(not_a_user)?;
        Ok(Self {
            account: CompactString::new(account),
            arn: arn.to_owned(),
            user_name: UserName::new(name),
        })
    }

    /// Whether `arn` names the same user in the same account.
    pub fn is_same_user(&self, arn: &str) -> bool {
        Identity::from_arn(arn)
            .is_ok_and(|o| o.account == self.account && o.user_name == self.user_name)
    }
}

/// Whose key a rotation replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The key that these profiles use (the usual case).
    Profiles(Candidate),
    /// `--user-name`: another user's key, with the caller's credentials; no file changes.
    User(UserName),
}

/// What happens to the replaced key once the new one works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum OldKeyAction {
    /// Deleted (the default).
    Delete,
    /// Deactivated (`--keep-old`): a later run removes it first.
    Deactivate,
    /// Left active (admin mode's default).
    Keep,
}

/// Why a key is proposed for removal to make room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RemovalReason {
    /// `--delete` named it.
    NamedByDelete,
    /// It is inactive and no profile holds it.
    InactiveAndUnused,
    /// It is active, no profile holds it, and it is the oldest such key.
    ActiveAndUnused,
}

impl fmt::Display for RemovalReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NamedByDelete => "named by --delete",
            Self::InactiveAndUnused => "inactive, and no profile uses it",
            Self::ActiveAndUnused => "active, but no profile in the files uses it",
        })
    }
}

/// The key removed before the new one is created (both slots were taken).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Removal {
    /// The key.
    pub access_key_id: AccessKeyId,
    /// Its status.
    pub status: KeyStatus,
    /// When it was created.
    pub create_date: Timestamp,
    /// When it last signed a request, where known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used: Option<Timestamp>,
    /// Why this one.
    pub reason: RemovalReason,
    /// Profiles that hold it (non-empty only when `--delete` named it).
    pub held_by: Vec<String>,
    /// True when the user must agree first (no `--yes`, no `--delete`): a prompt on a terminal,
    /// otherwise exit 252.
    pub needs_confirmation: bool,
}

/// The key being replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OldKey {
    /// The key.
    pub access_key_id: AccessKeyId,
    /// Its status.
    pub status: KeyStatus,
    /// When it was created.
    pub create_date: Timestamp,
    /// How old it is.
    pub age: Span,
    /// What happens to it.
    pub action: OldKeyAction,
}

/// A decided rotation: what `plan` prints and `rotate` executes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Plan {
    /// The profiles whose key is replaced (empty in admin mode).
    pub profiles: Vec<CompactString>,
    /// Whose key: the IAM user.
    pub user_name: UserName,
    /// The user's account.
    pub account: CompactString,
    /// True with `--user-name`: the key is printed, no file changes.
    pub admin: bool,
    /// The key replaced (`None` only in admin mode for a user with no key).
    pub old_key: Option<OldKey>,
    /// The key removed first to make room, if both slots are taken.
    pub make_room: Option<Removal>,
    /// The sections that will hold the new key.
    pub files: Vec<Holder>,
    /// How long the new key may take to work.
    pub verify_timeout: Span,
}

/// One of the two keys, as the removal question shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuestionKey {
    /// The key.
    pub access_key_id: AccessKeyId,
    /// Its status.
    pub status: KeyStatus,
    /// When it was created.
    pub create_date: Timestamp,
    /// When it last signed a request: `None` until asked (or when the asking failed),
    /// `Some(None)` when never.
    pub last_used: Option<Option<Timestamp>>,
    /// The profiles, in either file, that hold it.
    pub profiles: Vec<String>,
    /// What it is to this run: the key replaced, or why the policy proposes it.
    pub role: String,
}

/// The question a plan that removes a key asks at a terminal first: the user, the key being
/// replaced, and the key proposed for removal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Question {
    /// Whose keys.
    pub user_name: UserName,
    /// The key replaced (if any), then the key proposed.
    pub keys: Vec<QuestionKey>,
    /// The key proposed for removal.
    pub proposed: AccessKeyId,
    /// When it is asked: ages are told from it.
    pub now: Timestamp,
}

impl Question {
    /// The question for `plan`, before the last-use times are known; `None` when the plan
    /// removes nothing.
    pub fn new(plan: &Plan, now: Timestamp) -> Option<Self> {
        let r = plan.make_room.as_ref()?;
        let mut keys = Vec::new();
        if let Some(old) = &plan.old_key {
            // The profiles of the run, then any other section that holds the same key.
            let mut profiles: Vec<String> = plan.profiles.iter().map(|p| p.to_string()).collect();
            for h in &plan.files {
                if let Some(p) = &h.profile
                    && !profiles.iter().any(|q| q == p.as_str())
                {
                    profiles.push(p.to_string());
                }
            }
            keys.push(QuestionKey {
                access_key_id: old.access_key_id.clone(),
                status: old.status,
                create_date: old.create_date,
                last_used: None,
                profiles,
                role: "the key being replaced".to_owned(),
            });
        }
        keys.push(QuestionKey {
            access_key_id: r.access_key_id.clone(),
            status: r.status,
            create_date: r.create_date,
            last_used: r.last_used.map(Some),
            profiles: r.held_by.clone(),
            role: format!("proposed for removal: {}", r.reason),
        });
        Some(Self {
            user_name: plan.user_name.clone(),
            keys,
            proposed: r.access_key_id.clone(),
            now,
        })
    }

    /// The question's text, up to `[y/N] `.
    pub fn text(&self) -> String {
        let mut out = format!(
            "User {} already has two access keys, as many as IAM allows; one must go to make room for the new one:\n",
            self.user_name
        );
        for k in &self.keys {
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
                k.access_key_id,
                k.status.as_str(),
                age(self.now.since(k.create_date)),
                k.role
            ));
        }
        out.push_str(&format!(
            "Delete {} to make room for the new key? [y/N] ",
            self.proposed
        ));
        out
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

/// Why a rotation is not done this run, although nothing is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Skip {
    /// The profiles concerned.
    pub profiles: Vec<CompactString>,
    /// The key left alone.
    pub access_key_id: Option<AccessKeyId>,
    /// Its age.
    pub age: Span,
    /// The `--older-than` threshold it is under.
    pub older_than: Span,
}

/// The outcome of [`decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Rotate as planned (after confirmation if [`Removal::needs_confirmation`]).
    Rotate(Plan),
    /// Not due under `--older-than`.
    Skip(Skip),
    /// No safe rotation without a different command line or files.
    Refuse(PlanError),
}

/// Why no safe plan exists. [`PlanError::exit_status`] says how the shell exits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// Both slots are taken and the only removable key is held by a profile.
    #[error(
        "user {user} already has {KEYS_PER_USER} access keys and {key} is used by profile {}: to remove it anyway, add --delete {key}",
        held_by.join(", ")
    )]
    KeyHeldElsewhere {
        /// The user.
        user: UserName,
        /// The key that could make room.
        key: AccessKeyId,
        /// Profiles that hold it.
        held_by: Vec<String>,
    },
    /// `--delete` names a key the user does not have.
    #[error(
        "--delete {key}: user {user} has no such access key (see `aws-rotate-keys list-access-keys`)"
    )]
    DeleteNotFound {
        /// The user.
        user: UserName,
        /// The key named.
        key: AccessKeyId,
    },
    /// `--delete` names the key being replaced while its slot is needed.
    #[error(
        "--delete {key}: that is the key being rotated; it is removed only after its replacement works. Name the other key, or drop --delete"
    )]
    DeleteInUse {
        /// The key named.
        key: AccessKeyId,
    },
    /// `--delete` and `--keep-old` name opposite fates for the old key.
    #[error(
        "--delete {key} and --keep-old contradict each other for the key being rotated: choose one"
    )]
    DeleteAndKeepOld {
        /// The key named.
        key: AccessKeyId,
    },
    /// `--delete` names a key that is neither needed for room nor the key replaced.
    #[error(
        "--delete {key}: user {user} has a free key slot and {key} is not the key being rotated; drop --delete"
    )]
    DeleteNotNeeded {
        /// The user.
        user: UserName,
        /// The key named.
        key: AccessKeyId,
    },
    /// Admin mode would deactivate a key that a profile in the files holds.
    #[error(
        "key {key} is used by profile {}: rotate it with --profile so that the files get the new key, or name it with --delete to remove it anyway",
        held_by.join(", ")
    )]
    AdminKeyHeld {
        /// The key.
        key: AccessKeyId,
        /// Profiles that hold it.
        held_by: Vec<String>,
    },
    /// The profile's key is not one of the user's keys.
    #[error(
        "key {key} of profile {profile} is not one of user {user}'s access keys; the files may be out of date"
    )]
    KeyNotListed {
        /// The profile.
        profile: String,
        /// The key.
        key: AccessKeyId,
        /// The user.
        user: UserName,
    },
    /// More keys than IAM allows (a non-AWS server): nothing is removed blindly.
    #[error(
        "user {user} has {count} access keys, more than IAM's {KEYS_PER_USER}; remove keys with --delete first"
    )]
    TooManyKeys {
        /// The user.
        user: UserName,
        /// How many.
        count: usize,
    },
}

impl PlanError {
    /// How a run this error stops ends: [`ErrorKind::Usage`] where another command line would
    /// do, [`ErrorKind::Config`] where the files or the account must change.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::KeyHeldElsewhere { .. }
            | Self::DeleteNotFound { .. }
            | Self::DeleteInUse { .. }
            | Self::DeleteAndKeepOld { .. }
            | Self::DeleteNotNeeded { .. }
            | Self::AdminKeyHeld { .. }
            | Self::TooManyKeys { .. } => ErrorKind::Usage,
            Self::KeyNotListed { .. } => ErrorKind::Config,
        }
    }
}

/// Keys held by profiles in the files: each key id with every place that holds it (from
/// [`crate::profile::AwsFiles::held_keys`]), keys and places in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeldKeys(IndexMap<AccessKeyId, Vec<Holder>, foldhash::fast::RandomState>);

impl HeldKeys {
    /// Notes that `holder` holds key `id`.
    pub fn add(&mut self, id: AccessKeyId, holder: Holder) {
        self.0.entry(id).or_default().push(holder);
    }

    /// How many keys are held.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when the files hold no key.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every place that holds key `id` (`None` when none does).
    pub fn get(&self, id: &AccessKeyId) -> Option<&[Holder]> {
        self.0.get(id).map(Vec::as_slice)
    }

    /// True when some place holds key `id`.
    pub fn contains_key(&self, id: &AccessKeyId) -> bool {
        self.0.contains_key(id)
    }

    /// Each key with its holders, in the order first given.
    pub fn iter(&self) -> impl Iterator<Item = (&AccessKeyId, &[Holder])> {
        self.0.iter().map(|(id, holders)| (id, holders.as_slice()))
    }

    /// Each key, in the order first given.
    pub fn keys(&self) -> impl Iterator<Item = &AccessKeyId> {
        self.0.keys()
    }
}

impl FromIterator<(AccessKeyId, Holder)> for HeldKeys {
    fn from_iter<I: IntoIterator<Item = (AccessKeyId, Holder)>>(pairs: I) -> Self {
        let mut held = Self::default();
        for (id, holder) in pairs {
            held.add(id, holder);
        }
        held
    }
}

fn holder_names(held: &HeldKeys, id: &AccessKeyId) -> Vec<String> {
    let mut names: Vec<String> = held
        .get(id)
        .map(|hs| {
            hs.iter()
                .map(|h| {
                    h.profile
                        .as_ref()
                        .map_or_else(|| format!("[{}]", h.section), |p| p.as_str().to_owned())
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names.dedup();
    names
}

/// Decides one rotation.
///
/// `identity` is the user whose key is replaced (in admin mode: built from the target user name
/// and the caller's account), `keys` that user's `ListAccessKeys`, `held` every key in the files.
pub fn decide(
    target: &Target,
    identity: &Identity,
    keys: &[KeyMeta],
    held: &HeldKeys,
    options: &Options,
    now: Timestamp,
) -> Decision {
    match decide_inner(target, identity, keys, held, options, now) {
        Ok(d) => d,
        Err(e) => Decision::Refuse(e),
    }
}

fn decide_inner(
    target: &Target,
    identity: &Identity,
    keys: &[KeyMeta],
    held: &HeldKeys,
    options: &Options,
    now: Timestamp,
) -> Result<Decision, PlanError> {
    let user = &identity.user_name;
    let unique = unique_keys(keys);
    let keys = unique.as_slice();
    let find = |id: &AccessKeyId| keys.iter().find(|k| &k.access_key_id == id);
    if let Some(d) = &options.delete
        && find(d).is_none()
    {
        return Err(PlanError::DeleteNotFound {
            user: user.clone(),
            key: d.clone(),
        });
    }
    if keys.len() > KEYS_PER_USER {
        return Err(PlanError::TooManyKeys {
            user: user.clone(),
            count: keys.len(),
        });
    }
    let full = keys.len() >= KEYS_PER_USER;

    let (profiles, in_use, files) = match target {
        Target::Profiles(c) => {
            let Some(meta) = find(&c.access_key_id) else {
                return Err(PlanError::KeyNotListed {
                    profile: c
                        .profiles
                        .first()
                        .map(|p| p.as_str().to_owned())
                        .unwrap_or_default(),
                    key: c.access_key_id.clone(),
                    user: user.clone(),
                });
            };
            // Every section that holds the key gets the new one.
            let files = held
                .get(&c.access_key_id)
                .map(<[_]>::to_vec)
                .unwrap_or_default();
            (c.profiles.clone(), Some(meta), files)
        }
        Target::User(_) => (Vec::new(), None, Vec::new()),
    };
    let admin = matches!(target, Target::User(_));

    // Not due: nothing else matters, so that a daily cron run does not stop over a decision it
    // does not need yet.
    if let Some(skip) = not_due(keys, in_use, options, now) {
        return Ok(Decision::Skip(Skip { profiles, ..skip }));
    }

    // Make room: at most one key, never the one in use.
    let make_room = if full {
        Some(choose_removal(user, keys, in_use, held, options)?)
    } else {
        None
    };

    // The old key: the one in use; in admin mode, the user's remaining key after making room.
    let old = match in_use {
        Some(k) => Some(k),
        None => keys
            .iter()
            .filter(|k| {
                make_room
                    .as_ref()
                    .is_none_or(|r| r.access_key_id != k.access_key_id)
            })
            .max_by_key(|k| (k.create_date, k.access_key_id.clone())),
    };
    let old_key = old
        .map(|k| old_key(k, admin, held, options, now))
        .transpose()?;
    if !full
        && let Some(d) = &options.delete
        && old_key.as_ref().is_none_or(|o| &o.access_key_id != d)
    {
        // Room is not needed and the named key is not the one replaced: refuse rather
        // than delete a key the user may still rely on for another reason.
        return Err(PlanError::DeleteNotNeeded {
            user: user.clone(),
            key: d.clone(),
        });
    }

    Ok(Decision::Rotate(Plan {
        profiles,
        user_name: user.clone(),
        account: identity.account.clone(),
        admin,
        old_key,
        make_room,
        files,
        verify_timeout: options.verify_timeout,
    }))
}

/// The keys as listed, a key listed twice (never by IAM; possible from a broken server) counted
/// once.
fn unique_keys(keys: &[KeyMeta]) -> Vec<KeyMeta> {
    let mut unique: Vec<KeyMeta> = Vec::with_capacity(keys.len());
    for k in keys {
        if !unique.iter().any(|u| u.access_key_id == k.access_key_id) {
            unique.push(k.clone());
        }
    }
    unique
}

/// With `--older-than`, the skip when the key in use is younger (its `profiles` left empty). In
/// admin mode the user's newest key tells when they last rotated.
fn not_due(
    keys: &[KeyMeta],
    in_use: Option<&KeyMeta>,
    options: &Options,
    now: Timestamp,
) -> Option<Skip> {
    let older_than = options.older_than?;
    let k = in_use.or_else(|| {
        keys.iter()
            .max_by_key(|k| (k.create_date, k.access_key_id.clone()))
    })?;
    let age = now.since(k.create_date);
    (age < older_than).then(|| Skip {
        profiles: Vec::new(),
        access_key_id: Some(k.access_key_id.clone()),
        age,
        older_than,
    })
}

/// `pickup`, and `rotate` with a delivery waiting: the plan that puts the delivered key where
/// the candidate's key stands (every section that holds it), with no removal to make room (the
/// delivered key took the second slot), and retires the old key as `rotate` would (deleted,
/// or deactivated with `--keep-old`). `None` when the user's keys do not list the candidate's.
pub fn install(
    candidate: &Candidate,
    identity: &Identity,
    keys: &[KeyMeta],
    held: &HeldKeys,
    options: &Options,
    now: Timestamp,
) -> Option<Plan> {
    let k = keys
        .iter()
        .find(|k| k.access_key_id == candidate.access_key_id)?;
    let files = held
        .get(&candidate.access_key_id)
        .map(<[_]>::to_vec)
        .unwrap_or_default();
    Some(Plan {
        profiles: candidate.profiles.clone(),
        user_name: identity.user_name.clone(),
        account: identity.account.clone(),
        admin: false,
        old_key: Some(OldKey {
            access_key_id: k.access_key_id.clone(),
            status: k.status,
            create_date: k.create_date,
            age: now.since(k.create_date),
            action: if options.keep_old {
                OldKeyAction::Deactivate
            } else {
                OldKeyAction::Delete
            },
        }),
        make_room: None,
        files,
        verify_timeout: options.verify_timeout,
    })
}

/// The key to remove when both slots are taken: the one `--delete` names, else the oldest
/// unused one (inactive first); never the key in use, never a key another profile holds.
fn choose_removal(
    user: &UserName,
    keys: &[KeyMeta],
    in_use: Option<&KeyMeta>,
    held: &HeldKeys,
    options: &Options,
) -> Result<Removal, PlanError> {
    let not_in_use = |k: &&KeyMeta| in_use.is_none_or(|u| u.access_key_id != k.access_key_id);
    if let Some(d) = &options.delete {
        if in_use.is_some_and(|k| &k.access_key_id == d) {
            return Err(PlanError::DeleteInUse { key: d.clone() });
        }
        return match keys.iter().find(|k| &k.access_key_id == d) {
            Some(meta) => Ok(removal(
                meta,
                RemovalReason::NamedByDelete,
                holder_names(held, d),
                false,
            )),
            None => Err(PlanError::DeleteNotFound {
                user: user.clone(),
                key: d.clone(),
            }),
        };
    }
    let free = keys
        .iter()
        .filter(not_in_use)
        .filter(|k| !held.contains_key(&k.access_key_id))
        .min_by_key(|k| {
            (
                k.status == KeyStatus::Active,
                k.create_date,
                k.access_key_id.clone(),
            )
        });
    if let Some(k) = free {
        let reason = if k.status == KeyStatus::Active {
            RemovalReason::ActiveAndUnused
        } else {
            RemovalReason::InactiveAndUnused
        };
        return Ok(removal(k, reason, Vec::new(), !options.yes));
    }
    match keys.iter().find(not_in_use) {
        Some(other) => Err(PlanError::KeyHeldElsewhere {
            user: user.clone(),
            key: other.access_key_id.clone(),
            held_by: holder_names(held, &other.access_key_id),
        }),
        // Unreachable with distinct ids (deduplicated by the caller); refuse, never panic.
        None => Err(PlanError::TooManyKeys {
            user: user.clone(),
            count: keys.len(),
        }),
    }
}

/// What becomes of the key being replaced.
fn old_key(
    k: &KeyMeta,
    admin: bool,
    held: &HeldKeys,
    options: &Options,
    now: Timestamp,
) -> Result<OldKey, PlanError> {
    let named = options.delete.as_ref() == Some(&k.access_key_id);
    if named && options.keep_old {
        return Err(PlanError::DeleteAndKeepOld {
            key: k.access_key_id.clone(),
        });
    }
    let action = if options.keep_old {
        OldKeyAction::Deactivate
    } else if admin && !named {
        OldKeyAction::Keep
    } else {
        OldKeyAction::Delete
    };
    if admin && action != OldKeyAction::Keep && !named && held.contains_key(&k.access_key_id) {
        // Admin mode writes no file: retiring a key that a profile holds would break it.
        return Err(PlanError::AdminKeyHeld {
            key: k.access_key_id.clone(),
            held_by: holder_names(held, &k.access_key_id),
        });
    }
    Ok(OldKey {
        access_key_id: k.access_key_id.clone(),
        status: k.status,
        create_date: k.create_date,
        age: now.since(k.create_date),
        action,
    })
}

fn removal(
    k: &KeyMeta,
    reason: RemovalReason,
    held_by: Vec<String>,
    needs_confirmation: bool,
) -> Removal {
    Removal {
        access_key_id: k.access_key_id.clone(),
        status: k.status,
        create_date: k.create_date,
        last_used: k.last_used,
        reason,
        held_by,
        needs_confirmation,
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
