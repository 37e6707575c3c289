//! The simulated AWS of a fleet: IAM (users with ARNs, paths and tags, groups, access keys with
//! their last use, the credential report) and Secrets Manager (the delivery secrets, their
//! descriptions, values and resource policies), answering the fleet's [`Action`]s as AWS would,
//! signed by a [`Principal`].
//!
//! What it holds to, as AWS does:
//! - `GetAccountAuthorizationDetails`, `GetGroup` and `ListSecrets` answer in pages and may answer fewer items than
//!   asked, even none, with a marker to go on from. `ListSecrets` lags (`list_lag`); each
//!   listing answers all its pages from one view.
//! - The credential report is a snapshot: `GenerateCredentialReport` answers `STARTED`, then
//!   `INPROGRESS` until it is ready, then `COMPLETE`; a report stays for four hours and is
//!   handed out however the account changed since (a stale report), and it names no key ids.
//! - A key's last-used date is set whenever it signs a request that authenticates.
//! - An inactive key's requests fail as `InvalidClientTokenId`: its owner is locked out, and
//!   cannot even read its delivery.
//! - A secret's value is read only by the user its resource policy names, signed by an active
//!   key of that user; never by the administrator.
//! - `SendEmail` (SES, `--notify-from`) is the administrator's: each mail is kept in
//!   [`SimAws::mails`], with the user whose address (its `email` tag) it went to, so that the
//!   checker can tell who was told what, and how often (faults and crashes make it resend).

use std::collections::{BTreeMap, BTreeSet};

use crate::action::{Action, Failure, FailureClass, IamUser, Outcome, ReportState, SecretEntry};
use crate::fleet::report::{self, ReportKey, ReportRow};
use crate::key::{AccessKeyId, KeyMeta, KeyStatus, SecretAccessKey, Sensitive, UserName};
use crate::time::{Span, Timestamp};

/// How long IAM hands out the same credential report before it makes a new one.
pub const REPORT_LIFETIME: Span = Span::from_secs(4 * 3600);

/// An IAM user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetUser {
    /// The name.
    pub name: UserName,
    /// The path (`/`, or `/team/`), part of the ARN.
    pub path: String,
    /// The tags, in order.
    pub tags: Vec<(String, String)>,
}

/// An access key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetKey {
    /// Whose.
    pub user: UserName,
    /// The id.
    pub id: AccessKeyId,
    /// The secret.
    pub secret: String,
    /// Active or not.
    pub status: KeyStatus,
    /// When IAM created it.
    pub created: Timestamp,
    /// From when it authenticates (a new key takes a while to work everywhere).
    pub valid_from: Timestamp,
    /// When it last signed a request that authenticated.
    pub last_used: Option<Timestamp>,
    /// Since when it is inactive (`None` while active).
    pub inactive_since: Option<Timestamp>,
}

/// A secret of Secrets Manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimSecret {
    /// Its description.
    pub description: Option<String>,
    /// Its current value (`None`: created without one).
    pub value: Option<String>,
    /// Its resource policy.
    pub policy: Option<String>,
    /// The `ClientRequestToken`s of its versions, with the value each stored.
    pub versions: Vec<(String, String)>,
    /// When the current value was stored.
    pub stored: Option<Timestamp>,
}

/// A mail SES sent (`--notify-from`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimMail {
    /// When.
    pub at: Timestamp,
    /// The sender.
    pub from: String,
    /// The address.
    pub to: String,
    /// The subject.
    pub subject: String,
    /// The plain-text body.
    pub body: String,
    /// The user whose address it is (by [`SimAws::email_tag`]), if exactly one has it.
    pub user: Option<UserName>,
}

/// A credential report as IAM made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportSnapshot {
    /// When it was started.
    pub started: Timestamp,
    /// When it is ready.
    pub ready: Timestamp,
    /// Its rows, as they were when it was started (or as a test made them up).
    pub rows: Vec<ReportRow>,
}

/// Who signs a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// An IAM user's access key and its secret.
    Key(AccessKeyId, String),
    /// The administrators' role (credentials from SSO or an assumed role): no access key.
    Role,
}

/// What is compared to tell whether a run changed anything (promise 12): everything but the
/// credential report's cache and the ids still to be handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsState {
    users: BTreeMap<UserName, FleetUser>,
    keys: Vec<FleetKey>,
    groups: BTreeMap<String, Vec<UserName>>,
    secrets: BTreeMap<String, SimSecret>,
}

/// The simulated AWS account.
#[derive(Debug, Clone)]
pub struct SimAws {
    /// The account id.
    pub account: String,
    /// The IAM users.
    pub users: BTreeMap<UserName, FleetUser>,
    /// Every access key.
    pub keys: Vec<FleetKey>,
    /// The groups and their members.
    pub groups: BTreeMap<String, Vec<UserName>>,
    /// The secrets, by name.
    pub secrets: BTreeMap<String, SimSecret>,
    /// The current credential report, if one was made.
    pub report: Option<ReportSnapshot>,
    /// Users whose keys may manage every user, the keys and the secrets (the role always may).
    pub admins: BTreeSet<UserName>,
    /// How long a new key takes to work.
    pub propagation: Span,
    /// How many items a page holds when IAM or Secrets Manager gives a full page.
    pub page: usize,
    /// Pages are sometimes shorter than asked (even empty), as IAM's may be.
    pub short_pages: bool,
    /// How long a credential report takes to make.
    pub report_time: Span,
    /// How far behind `ListSecrets` may be (it is eventually consistent): it answers from a
    /// view of the secrets and their descriptions taken at most this long ago.
    pub list_lag: Span,
    list_view: Option<(Timestamp, Vec<SecretEntry>)>,
    /// Keys created through the API (or by an earlier run of the tool, in a generated world).
    pub created: BTreeSet<AccessKeyId>,
    /// Users whose own keys may not delete keys (their `pickup` leaves the old key for the
    /// administrator's next run).
    pub no_delete: BTreeSet<UserName>,
    /// Each user's IAM SSH public keys: (id, active, the key's line).
    pub ssh_keys: BTreeMap<UserName, Vec<(String, bool, String)>>,
    /// Every mail sent through SES, in order.
    pub mails: Vec<SimMail>,
    /// The user tag that holds an owner's address (to tell whose a mail is).
    pub email_tag: String,
    next_id: u64,
    rng: u64,
}

fn failure(class: FailureClass, code: &str, message: &str) -> Failure {
    Failure::new(class, Some(code), message)
}

fn no_such_entity(what: &str) -> Failure {
    failure(
        FailureClass::NotFound,
        "NoSuchEntity",
        &format!("The {what} cannot be found."),
    )
}

fn no_such_secret() -> Failure {
    failure(
        FailureClass::NotFound,
        "ResourceNotFoundException",
        "Secrets Manager can't find the specified secret.",
    )
}

/// The answer to an action that is no request to this service (files, prompts).
fn not_a_request() -> Failure {
    Failure::new(FailureClass::Other, None, "not a request to AWS")
}

fn denied(what: &str) -> Failure {
    failure(
        FailureClass::AccessDenied,
        "AccessDenied",
        &format!("not authorized to perform: {what}"),
    )
}

fn invalid_token() -> Failure {
    failure(
        FailureClass::NotAuthenticated,
        "InvalidClientTokenId",
        "The security token included in the request is invalid.",
    )
}

impl SimAws {
    /// An empty account.
    pub fn new(account: &str, seed: u64) -> Self {
        Self {
            account: account.to_owned(),
            users: BTreeMap::new(),
            keys: Vec::new(),
            groups: BTreeMap::new(),
            secrets: BTreeMap::new(),
            report: None,
            admins: BTreeSet::new(),
            propagation: Span::from_secs(8),
            page: 100,
            short_pages: false,
            report_time: Span::from_secs(5),
            list_lag: Span::ZERO,
            list_view: None,
            created: BTreeSet::new(),
            no_delete: BTreeSet::new(),
            ssh_keys: BTreeMap::new(),
            mails: Vec::new(),
            email_tag: "email".to_owned(),
            next_id: 1,
            rng: seed | 1,
        }
    }

    /// A random number (xorshift): the simulation's own, deterministic for a seed.
    pub fn rand(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    /// Adds a user.
    pub fn add_user(&mut self, name: &str, path: &str, tags: Vec<(String, String)>) {
        let name = UserName::new(name);
        self.users.insert(
            name.clone(),
            FleetUser {
                name,
                path: path.to_owned(),
                tags,
            },
        );
    }

    /// The ARN of `user` (`arn:aws:iam::ACCOUNT:user/PATH/NAME`).
    pub fn arn(&self, user: &UserName) -> String {
        let path = self.users.get(user).map_or("/", |u| u.path.as_str());
        format!("arn:aws:iam::{}:user{path}{user}", self.account)
    }

    /// The ARN that `GetCallerIdentity` answers for the administrators' role.
    pub fn role_arn(&self) -> String {
        format!(
            "arn:aws:sts::{}:assumed-role/FleetAdmin/aws-rotate-keys",
            self.account
        )
    }

    /// A fresh key id and secret.
    pub fn fresh(&mut self) -> (AccessKeyId, String) {
        let n = self.next_id;
        self.next_id += 1;
        let id = AccessKeyId::new(format!("AKIAFLEET{n:011}")).expect("generated ids are valid");
        let secret = format!("fleet/Secret+{n:04}x{:08x}", self.rand() as u32);
        (id, secret)
    }

    /// Adds a key that works already (a world's starting state), with a fresh id.
    pub fn add_key(
        &mut self,
        user: &str,
        status: KeyStatus,
        created: Timestamp,
        last_used: Option<Timestamp>,
    ) -> (AccessKeyId, String) {
        let (id, secret) = self.fresh();
        self.insert_key(user, id.clone(), &secret, status, created, last_used);
        (id, secret)
    }

    /// Adds a key that works already, with an id and secret of the caller's choosing.
    pub fn insert_key(
        &mut self,
        user: &str,
        id: AccessKeyId,
        secret: &str,
        status: KeyStatus,
        created: Timestamp,
        last_used: Option<Timestamp>,
    ) {
        let inactive = status != KeyStatus::Active;
        self.keys.push(FleetKey {
            user: UserName::new(user),
            id,
            secret: secret.to_owned(),
            status,
            created,
            valid_from: created,
            last_used,
            inactive_since: inactive.then_some(last_used.unwrap_or(created)),
        });
    }

    /// The key with this id.
    pub fn key(&self, id: &AccessKeyId) -> Option<&FleetKey> {
        self.keys.iter().find(|k| &k.id == id)
    }

    /// A user's keys, oldest first.
    pub fn keys_of(&self, user: &UserName) -> Vec<&FleetKey> {
        let mut keys: Vec<&FleetKey> = self.keys.iter().filter(|k| &k.user == user).collect();
        keys.sort_by_key(|k| (k.created, k.id.clone()));
        keys
    }

    /// What promise 12 compares, with `caller_key`'s last use left out (the administrator's
    /// own key signs every request of a run).
    pub fn state(&self, caller_key: Option<&AccessKeyId>) -> AwsState {
        let mut keys = self.keys.clone();
        for k in &mut keys {
            if Some(&k.id) == caller_key {
                k.last_used = None;
            }
        }
        AwsState {
            users: self.users.clone(),
            keys,
            groups: self.groups.clone(),
            secrets: self.secrets.clone(),
        }
    }

    /// The report's rows for the account as it is now.
    pub fn report_rows(&self) -> Vec<ReportRow> {
        self.users
            .keys()
            .map(|u| {
                let keys = self.keys_of(u);
                let slot = |i: usize| {
                    keys.get(i).map(|k| ReportKey {
                        active: k.status == KeyStatus::Active,
                        last_rotated: Some(k.created),
                        last_used: k.last_used,
                    })
                };
                ReportRow {
                    user: u.to_string(),
                    arn: self.arn(u),
                    keys: [slot(0), slot(1)],
                }
            })
            .collect()
    }

    /// Who signs with `who`, now: sets the key's last use. `Ok(None)`: the role.
    pub fn authenticate(
        &mut self,
        who: &Principal,
        now: Timestamp,
    ) -> Result<Option<UserName>, Failure> {
        let Principal::Key(id, secret) = who else {
            return Ok(None);
        };
        let k = self
            .keys
            .iter_mut()
            .find(|k| &k.id == id)
            .ok_or_else(invalid_token)?;
        if k.status != KeyStatus::Active || now < k.valid_from {
            return Err(invalid_token());
        }
        if &k.secret != secret {
            return Err(failure(
                FailureClass::NotAuthenticated,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            ));
        }
        k.last_used = Some(now);
        Ok(Some(k.user.clone()))
    }

    /// A page of `items` from `marker` (`m<index>`), and the next page's marker.
    fn page<T: Clone>(
        &mut self,
        items: &[T],
        marker: Option<&str>,
    ) -> Result<(Vec<T>, Option<String>), Failure> {
        let start = match marker {
            None => 0,
            Some(m) => m
                .strip_prefix('m')
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|&n| n <= items.len())
                .ok_or_else(|| {
                    failure(
                        FailureClass::Other,
                        "InvalidInput",
                        "Invalid Marker or NextToken.",
                    )
                })?,
        };
        let mut size = self.page.max(1);
        if self.short_pages && self.rand().is_multiple_of(3) {
            size = (self.rand() % (size as u64 + 1)) as usize;
        }
        let end = (start + size).min(items.len());
        let next = (end < items.len()).then(|| format!("m{end}"));
        Ok((items[start..end].to_vec(), next))
    }

    fn iam_user(&self, u: &UserName) -> IamUser {
        IamUser {
            user_name: u.clone(),
            arn: self.arn(u),
            tags: self
                .users
                .get(u)
                .map(|x| x.tags.clone())
                .unwrap_or_default(),
        }
    }

    /// The user an action is about (`None`: a listing, or no request).
    pub fn subject(&self, action: &Action) -> Option<UserName> {
        match action {
            Action::ListKeys { user_name }
            | Action::ListSshKeys { user_name }
            | Action::GetSshKey { user_name, .. }
            | Action::CreateKey { user_name }
            | Action::DeleteKey { user_name, .. }
            | Action::DeactivateKey { user_name, .. } => Some(user_name.clone()),
            Action::LastUsed { access_key_id } => self.key(access_key_id).map(|k| k.user.clone()),
            Action::CreateSecret { name, .. }
            | Action::PutSecretPolicy { name, .. }
            | Action::StoreSecret { name, .. }
            | Action::DescribeSecret { name, .. }
            | Action::DeleteSecret { name }
            | Action::GetSecretValue { name } => crate::fleet::delivery::user_of(name),
            Action::SendEmail { to, .. } => self.addressee(to),
            _ => None,
        }
    }

    /// The one user whose address (its [`SimAws::email_tag`] tag) is `to`.
    pub fn addressee(&self, to: &str) -> Option<UserName> {
        let mut found = self.users.values().filter(|u| {
            u.tags
                .iter()
                .any(|(k, v)| k == &self.email_tag && v.trim() == to)
        });
        let one = found.next()?;
        found.next().is_none().then(|| one.name.clone())
    }

    /// When the view that `ListSecrets` answers from was taken (it lags `list_lag` at most).
    pub fn list_view_at(&self) -> Option<Timestamp> {
        self.list_view.as_ref().map(|(at, _)| *at)
    }

    /// Whether `action` changes anything (or mails an owner), were it to succeed.
    pub fn is_change(action: &Action) -> bool {
        matches!(
            action,
            Action::CreateKey { .. }
                | Action::DeleteKey { .. }
                | Action::DeactivateKey { .. }
                | Action::CreateSecret { .. }
                | Action::PutSecretPolicy { .. }
                | Action::StoreSecret { .. }
                | Action::DescribeSecret { .. }
                | Action::DeleteSecret { .. }
                | Action::SendEmail { .. }
        )
    }

    /// AWS answering `action`, signed by `who`, at `now`. Actions that are no request to AWS
    /// (files, prompts) fail as `Other`.
    pub fn request(&mut self, who: &Principal, action: &Action, now: Timestamp) -> Outcome {
        match self.answer(who, action, now) {
            Ok(o) => o,
            Err(f) => Outcome::Failed(f),
        }
    }

    fn answer(
        &mut self,
        who: &Principal,
        action: &Action,
        now: Timestamp,
    ) -> Result<Outcome, Failure> {
        if let Action::VerifyKey {
            access_key_id,
            secret,
        } = action
        {
            // Signed by the key it names (a pickup's check that the delivered key works).
            let who = Principal::Key(access_key_id.clone(), secret.expose().to_owned());
            let user = self.authenticate(&who, now)?;
            let arn = user.as_ref().map(|u| self.arn(u)).unwrap_or_default();
            return Ok(Outcome::Verified { arn });
        }
        let caller = self.authenticate(who, now)?;
        if let Action::Identify = action {
            return Ok(Outcome::Verified {
                arn: caller
                    .as_ref()
                    .map_or_else(|| self.role_arn(), |u| self.arn(u)),
            });
        }
        let admin = caller.as_ref().is_none_or(|u| self.admins.contains(u));
        if !admin {
            // A user may read its own delivery and manage its own keys, nothing else.
            let me = caller.clone().unwrap_or_else(|| UserName::new(""));
            let own = match action {
                Action::GetSecretValue { .. } => true,
                Action::ListKeys { user_name } => user_name == &me,
                Action::DeleteKey { user_name, .. } => {
                    user_name == &me && !self.no_delete.contains(&me)
                }
                Action::LastUsed { access_key_id } => {
                    self.key(access_key_id).is_some_and(|k| k.user == me)
                }
                _ => false,
            };
            if !own {
                return Err(denied(action.operation().unwrap_or("this action")));
            }
        }
        match action {
            Action::ListKeys { .. }
            | Action::LastUsed { .. }
            | Action::CreateKey { .. }
            | Action::DeleteKey { .. }
            | Action::DeactivateKey { .. } => self.iam_keys(action, now),
            Action::ListSecrets { .. }
            | Action::CreateSecret { .. }
            | Action::PutSecretPolicy { .. }
            | Action::StoreSecret { .. }
            | Action::DescribeSecret { .. }
            | Action::DeleteSecret { .. }
            | Action::GetSecretValue { .. } => self.secrets_manager(caller.as_ref(), action, now),
            Action::SendEmail { .. } => self.ses(action, now),
            _ => self.iam_users(action, now),
        }
    }

    fn user_exists(&self, u: &UserName) -> Result<(), Failure> {
        if self.users.contains_key(u) {
            Ok(())
        } else {
            Err(no_such_entity(&format!("user with name {u}")))
        }
    }

    /// IAM: users, groups, the credential report, SSH public keys.
    fn iam_users(&mut self, action: &Action, now: Timestamp) -> Result<Outcome, Failure> {
        Ok(match action {
            Action::UserDetails { marker } => {
                let all: Vec<IamUser> = self.users.keys().map(|u| self.iam_user(u)).collect();
                let (users, marker) = self.page(&all, marker.as_deref())?;
                Outcome::Users { users, marker }
            }
            Action::GetUser { user_name } => {
                self.user_exists(user_name)?;
                Outcome::Users {
                    users: vec![self.iam_user(user_name)],
                    marker: None,
                }
            }
            Action::GroupMembers { group, marker } => {
                let members = self
                    .groups
                    .get(group)
                    .ok_or_else(|| no_such_entity(&format!("group with name {group}")))?
                    .clone();
                let all: Vec<IamUser> = members.iter().map(|u| self.iam_user(u)).collect();
                let (users, marker) = self.page(&all, marker.as_deref())?;
                Outcome::Users { users, marker }
            }
            Action::GenerateReport => Outcome::ReportState(match &self.report {
                Some(r) if now < r.ready => ReportState::InProgress,
                Some(r) if now.since(r.started) < REPORT_LIFETIME => ReportState::Complete,
                _ => {
                    self.report = Some(ReportSnapshot {
                        started: now,
                        ready: now.add(self.report_time),
                        rows: self.report_rows(),
                    });
                    if self.report_time == Span::ZERO {
                        ReportState::Complete
                    } else {
                        ReportState::Started
                    }
                }
            }),
            Action::GetReport => match &self.report {
                None => {
                    return Err(failure(
                        FailureClass::NotFound,
                        "ReportNotPresent",
                        "Credential report not present.",
                    ));
                }
                Some(r) if now < r.ready => {
                    return Err(failure(
                        FailureClass::NotReady,
                        "ReportInProgress",
                        "Credential report is being generated.",
                    ));
                }
                Some(r) => Outcome::Report(report::render(&r.rows)),
            },
            Action::ListSshKeys { user_name } => {
                self.user_exists(user_name)?;
                let keys = self
                    .ssh_keys
                    .get(user_name)
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                Outcome::SshKeys(keys.iter().map(|(id, a, _)| (id.clone(), *a)).collect())
            }
            Action::GetSshKey { user_name, id } => {
                self.user_exists(user_name)?;
                let found = self
                    .ssh_keys
                    .get(user_name)
                    .and_then(|keys| keys.iter().find(|(k, _, _)| k == id));
                match found {
                    Some((_, _, line)) => Outcome::SshKey(line.clone()),
                    None => return Err(no_such_entity(&format!("SSH public key {id}"))),
                }
            }
            _ => return Err(not_a_request()),
        })
    }

    /// IAM: access keys.
    fn iam_keys(&mut self, action: &Action, now: Timestamp) -> Result<Outcome, Failure> {
        Ok(match action {
            Action::ListKeys { user_name } => {
                self.user_exists(user_name)?;
                Outcome::Keys(
                    self.keys
                        .iter()
                        .filter(|k| &k.user == user_name)
                        .map(|k| KeyMeta {
                            access_key_id: k.id.clone(),
                            status: k.status,
                            create_date: k.created,
                            last_used: None,
                        })
                        .collect(),
                )
            }
            Action::LastUsed { access_key_id } => {
                let k = self
                    .key(access_key_id)
                    .ok_or_else(|| no_such_entity("access key"))?;
                Outcome::LastUsed(k.last_used)
            }
            Action::CreateKey { user_name } => {
                self.user_exists(user_name)?;
                if self.keys.iter().filter(|k| &k.user == user_name).count()
                    >= crate::plan::KEYS_PER_USER
                {
                    return Err(failure(
                        FailureClass::LimitExceeded,
                        "LimitExceeded",
                        "Cannot exceed quota for AccessKeysPerUser: 2",
                    ));
                }
                let (id, secret) = self.fresh();
                self.keys.push(FleetKey {
                    user: user_name.clone(),
                    id: id.clone(),
                    secret: secret.clone(),
                    status: KeyStatus::Active,
                    created: now,
                    valid_from: now.add(self.propagation),
                    last_used: None,
                    inactive_since: None,
                });
                self.created.insert(id.clone());
                Outcome::KeyCreated {
                    access_key_id: id,
                    secret: SecretAccessKey::new(secret).expect("generated secrets are valid"),
                    create_date: now,
                }
            }
            Action::DeleteKey {
                user_name,
                access_key_id,
                ..
            } => {
                let before = self.keys.len();
                self.keys
                    .retain(|k| !(&k.id == access_key_id && &k.user == user_name));
                if self.keys.len() == before {
                    return Err(no_such_entity("access key"));
                }
                Outcome::Done
            }
            Action::DeactivateKey {
                user_name,
                access_key_id,
            } => {
                let k = self
                    .keys
                    .iter_mut()
                    .find(|k| &k.id == access_key_id && &k.user == user_name)
                    .ok_or_else(|| no_such_entity("access key"))?;
                if k.status == KeyStatus::Active {
                    k.status = KeyStatus::Inactive;
                    k.inactive_since = Some(now);
                }
                Outcome::Done
            }
            _ => return Err(not_a_request()),
        })
    }

    /// ListSecrets: a page of the view the listing's first page came from, which lags behind
    /// the secrets by `list_lag`.
    fn list_secrets(
        &mut self,
        prefix: &str,
        next_token: Option<&str>,
        now: Timestamp,
    ) -> Result<Outcome, Failure> {
        // A listing's next pages come from the view its first page came from: a view
        // taken between two pages would shift the items, and one would be skipped.
        let stale = self
            .list_view
            .as_ref()
            .is_none_or(|(at, _)| next_token.is_none() && now.since(*at) >= self.list_lag);
        if stale {
            let view = self
                .secrets
                .iter()
                .map(|(n, s)| SecretEntry {
                    name: n.clone(),
                    description: s.description.clone(),
                })
                .collect();
            self.list_view = Some((now, view));
        }
        let all: Vec<SecretEntry> = self
            .list_view
            .iter()
            .flat_map(|(_, v)| v)
            .filter(|e| e.name.starts_with(prefix))
            .cloned()
            .collect();
        let (secrets, next_token) = self.page(&all, next_token)?;
        Ok(Outcome::Secrets {
            secrets,
            next_token,
        })
    }

    /// Secrets Manager, for `caller` (`None`: the administrator's role).
    fn secrets_manager(
        &mut self,
        caller: Option<&UserName>,
        action: &Action,
        now: Timestamp,
    ) -> Result<Outcome, Failure> {
        Ok(match action {
            Action::ListSecrets { prefix, next_token } => {
                self.list_secrets(prefix, next_token.as_deref(), now)?
            }
            Action::CreateSecret { name, description } => {
                if self.secrets.contains_key(name) {
                    return Err(failure(
                        FailureClass::AlreadyExists,
                        "ResourceExistsException",
                        &format!("The operation failed because the secret {name} already exists."),
                    ));
                }
                self.secrets.insert(
                    name.clone(),
                    SimSecret {
                        description: Some(description.clone()),
                        value: None,
                        policy: None,
                        versions: Vec::new(),
                        stored: None,
                    },
                );
                Outcome::Done
            }
            Action::PutSecretPolicy { name, policy } => {
                let s = self.secrets.get_mut(name).ok_or_else(no_such_secret)?;
                s.policy = Some(policy.clone());
                Outcome::Done
            }
            Action::StoreSecret {
                name,
                description,
                value,
                token,
            } => {
                let s = self.secrets.get_mut(name).ok_or_else(no_such_secret)?;
                match s.versions.iter().find(|(t, _)| t == token) {
                    // The same request again: nothing new (UpdateSecret's idempotency).
                    Some((_, v)) if v == value.expose() => {}
                    Some(_) => {
                        return Err(failure(
                            FailureClass::AlreadyExists,
                            "ResourceExistsException",
                            "A version with this ClientRequestToken already exists with a different value.",
                        ));
                    }
                    None => {
                        s.versions.push((token.clone(), value.expose().clone()));
                        s.value = Some(value.expose().clone());
                        s.description = Some(description.clone());
                        s.stored = Some(now);
                    }
                }
                Outcome::Done
            }
            Action::DescribeSecret { name, description } => {
                let s = self.secrets.get_mut(name).ok_or_else(no_such_secret)?;
                s.description = Some(description.clone());
                Outcome::Done
            }
            Action::DeleteSecret { name } => {
                self.secrets.remove(name).ok_or_else(no_such_secret)?;
                Outcome::Done
            }
            Action::GetSecretValue { name } => {
                let s = self.secrets.get(name).ok_or_else(no_such_secret)?;
                // The resource policy: only the user it names reads the value; the
                // administrator's broad identity policy is denied.
                let allowed = match (&caller, &s.policy) {
                    (Some(u), Some(p)) => p.contains(&format!("\"{}\"", self.arn(u))),
                    _ => false,
                };
                if !allowed {
                    return Err(denied("secretsmanager:GetSecretValue"));
                }
                let value = s.value.clone().ok_or_else(|| {
                    failure(
                        FailureClass::NotFound,
                        "ResourceNotFoundException",
                        "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT",
                    )
                })?;
                Outcome::SecretValue(Sensitive::new(value))
            }
            _ => return Err(not_a_request()),
        })
    }

    /// SES: the mail is kept with its addressee.
    fn ses(&mut self, action: &Action, now: Timestamp) -> Result<Outcome, Failure> {
        Ok(match action {
            Action::SendEmail {
                from,
                to,
                subject,
                body,
            } => {
                let user = self.addressee(to);
                self.mails.push(SimMail {
                    at: now,
                    from: from.clone(),
                    to: to.clone(),
                    subject: subject.clone(),
                    body: body.clone(),
                    user,
                });
                Outcome::Done
            }
            _ => return Err(not_a_request()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::delivery;

    const T: Timestamp = Timestamp::from_secs(1_767_225_600);

    fn account() -> (SimAws, Principal) {
        let mut aws = SimAws::new("123456789012", 7);
        aws.add_user("admin", "/", Vec::new());
        aws.add_user("alice", "/eng/", Vec::new());
        aws.admins.insert(UserName::new("admin"));
        let (id, secret) = aws.add_key("admin", KeyStatus::Active, T, None);
        (aws, Principal::Key(id, secret))
    }

    #[test]
    fn pages_follow_their_markers_however_short() {
        let (mut aws, admin) = account();
        for i in 0..7 {
            aws.add_user(&format!("u{i}"), "/", Vec::new());
        }
        aws.page = 2;
        aws.short_pages = true;
        let mut seen = Vec::new();
        let mut marker = None;
        for _ in 0..100 {
            let Outcome::Users { users, marker: m } =
                aws.request(&admin, &Action::UserDetails { marker }, T)
            else {
                panic!("a page")
            };
            assert!(users.len() <= 2);
            seen.extend(users.into_iter().map(|u| u.user_name.to_string()));
            marker = m;
            if marker.is_none() {
                break;
            }
        }
        assert_eq!(seen.len(), 9, "{seen:?}");
        assert_eq!(
            aws.arn(&UserName::new("alice")),
            "arn:aws:iam::123456789012:user/eng/alice"
        );
    }

    #[test]
    fn an_inactive_key_is_locked_out_and_only_the_owner_reads_its_delivery() {
        let (mut aws, admin) = account();
        let (old, old_secret) = aws.add_key("alice", KeyStatus::Active, T, None);
        let alice = Principal::Key(old.clone(), old_secret);
        let name = delivery::secret_name(&UserName::new("alice")).expect("a name");
        let arn = aws.arn(&UserName::new("alice"));
        for a in [
            Action::CreateSecret {
                name: name.clone(),
                description: "d".into(),
            },
            Action::PutSecretPolicy {
                name: name.clone(),
                policy: delivery::resource_policy(&arn),
            },
            Action::StoreSecret {
                name: name.clone(),
                description: "d2".into(),
                value: Sensitive::new("v".into()),
                token: "t".into(),
            },
        ] {
            assert_eq!(aws.request(&admin, &a, T), Outcome::Done, "{a:?}");
        }
        let read = Action::GetSecretValue { name: name.clone() };
        assert!(matches!(
            aws.request(&admin, &read, T),
            Outcome::Failed(Failure {
                class: FailureClass::AccessDenied,
                ..
            })
        ));
        assert_eq!(
            aws.request(&alice, &read, T),
            Outcome::SecretValue(Sensitive::new("v".into()))
        );
        assert_eq!(aws.key(&old).and_then(|k| k.last_used), Some(T));
        let off = Action::DeactivateKey {
            user_name: UserName::new("alice"),
            access_key_id: old,
        };
        assert_eq!(aws.request(&admin, &off, T), Outcome::Done);
        assert!(matches!(
            aws.request(&alice, &read, T),
            Outcome::Failed(Failure {
                class: FailureClass::NotAuthenticated,
                ..
            })
        ));
        // The same token again is a no-op; another value under it is refused.
        let again = Action::StoreSecret {
            name,
            description: "d3".into(),
            value: Sensitive::new("w".into()),
            token: "t".into(),
        };
        assert!(matches!(
            aws.request(&admin, &again, T),
            Outcome::Failed(Failure {
                class: FailureClass::AlreadyExists,
                ..
            })
        ));
    }

    #[test]
    fn mails_are_kept_with_their_addressee_and_only_the_administrator_sends_them() {
        let (mut aws, admin) = account();
        aws.add_user(
            "bob",
            "/",
            vec![("email".into(), " bob@example.com ".into())],
        );
        let (id, secret) = aws.add_key("bob", KeyStatus::Active, T, None);
        let mail = Action::SendEmail {
            from: "keys@example.com".into(),
            to: "bob@example.com".into(),
            subject: "s".into(),
            body: "b".into(),
        };
        assert!(SimAws::is_change(&mail));
        assert_eq!(aws.subject(&mail), Some(UserName::new("bob")));
        assert_eq!(aws.request(&admin, &mail, T), Outcome::Done);
        assert!(matches!(
            aws.request(&Principal::Key(id, secret), &mail, T),
            Outcome::Failed(Failure {
                class: FailureClass::AccessDenied,
                ..
            })
        ));
        assert_eq!(aws.mails.len(), 1);
        assert_eq!(aws.mails[0].user, Some(UserName::new("bob")));
        // An address two users share is nobody's in particular.
        aws.add_user(
            "carol",
            "/",
            vec![("email".into(), "bob@example.com".into())],
        );
        assert_eq!(aws.subject(&mail), None);
    }

    /// A listing that lags answers all its pages from one view: a newer view taken between two
    /// pages would shift the items, and one would be skipped.
    #[test]
    fn a_lagging_listing_answers_all_its_pages_from_one_view() {
        let (mut aws, admin) = account();
        aws.page = 2;
        aws.list_lag = Span::from_secs(60);
        for u in ["a", "b", "c", "d"] {
            aws.secrets.insert(
                format!("aws-rotate-keys/{u}"),
                SimSecret {
                    description: Some("d".into()),
                    value: None,
                    policy: None,
                    versions: Vec::new(),
                    stored: None,
                },
            );
        }
        let list = |aws: &mut SimAws, token: Option<String>, at| match aws.request(
            &admin,
            &Action::ListSecrets {
                prefix: "aws-rotate-keys/".into(),
                next_token: token,
            },
            at,
        ) {
            Outcome::Secrets {
                secrets,
                next_token,
            } => (
                secrets.into_iter().map(|s| s.name).collect::<Vec<_>>(),
                next_token,
            ),
            other => panic!("{other:?}"),
        };
        let (first, token) = list(&mut aws, None, T);
        assert_eq!(first.len(), 2);
        // The first page's secret is deleted, and the view is old by the next page.
        aws.secrets.remove(&first[0]);
        let later = T.add(Span::from_secs(61));
        let (second, token) = list(&mut aws, token, later);
        assert_eq!(second, ["aws-rotate-keys/c", "aws-rotate-keys/d"]);
        assert_eq!(token, None);
        // A new listing sees the change.
        assert_eq!(
            list(&mut aws, None, later).0,
            ["aws-rotate-keys/b", "aws-rotate-keys/c"]
        );
        assert_eq!(aws.list_view_at(), Some(later));
    }

    #[test]
    fn the_report_is_started_then_complete_and_stays_four_hours() {
        let (mut aws, admin) = account();
        let state = |aws: &mut SimAws, t| aws.request(&admin, &Action::GenerateReport, t);
        assert_eq!(
            state(&mut aws, T),
            Outcome::ReportState(ReportState::Started)
        );
        assert!(matches!(
            aws.request(&admin, &Action::GetReport, T),
            Outcome::Failed(Failure {
                class: FailureClass::NotReady,
                ..
            })
        ));
        let later = T.add(Span::from_secs(60));
        assert_eq!(
            state(&mut aws, later),
            Outcome::ReportState(ReportState::Complete)
        );
        let Outcome::Report(csv) = aws.request(&admin, &Action::GetReport, later) else {
            panic!("a report")
        };
        let rows = report::parse(&csv).expect("parses");
        assert_eq!(rows.len(), 2);
        // A key made now is not in the report until a new one is made, four hours on.
        aws.add_key("alice", KeyStatus::Active, later, None);
        let Outcome::Report(csv) = aws.request(&admin, &Action::GetReport, later) else {
            panic!("a report")
        };
        assert_eq!(report::parse(&csv).expect("parses")[1].keys[0], None);
        let next_day = T.add(Span::from_secs(86_400));
        assert_eq!(
            state(&mut aws, next_day),
            Outcome::ReportState(ReportState::Started)
        );
    }
}
