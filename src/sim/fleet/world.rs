//! A fleet's world: the simulated AWS ([`SimAws`]), the users' owners ([`Owner`]: each holds a
//! key, uses it, and picks up its deliveries or not), the administrator's identity and the
//! clock. [`FleetWorld::run`] drives the real core's [`FleetSession`] as the shell does, with
//! faults (throttling, failures before or after a request takes effect, users whose requests
//! always fail), crashes at any step (the session is dropped; the next run knows only what AWS
//! holds), concurrent requests answered in any order, and owners acting between the steps,
//! checking the promises after every step ([`FleetChecker`]).
//!
//! A run may mail the owners (`--notify-from`: [`FleetRunSpec::notify`]; SES is the simulated
//! AWS's, with the same faults as any request) and seal each delivery to its owner
//! (`--encrypt`: [`FleetRunSpec::encrypt`]). The world then plays the shell's part of `pickup`,
//! as the real program's does: a sealed value that `GetSecretValue` answers is opened with the
//! owner's identity ([`Owner::identity`]) before the core sees it. The test identities are in
//! [`FleetWorld::keyring`], for the checker to tell that each delivery opens for its recipient
//! and no other. (age draws its own randomness: sealed texts differ from run to run, nothing
//! else does.)

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::action::{Action, DeletePurpose, Failure, FailureClass, Outcome};
use crate::error::ErrorKind;
use crate::fleet::delivery::{self, DeliveredKey};
use crate::fleet::seal;
use crate::fleet::session::{
    FleetError, FleetMode, FleetRequest, FleetSession, Notifier, UserResult,
};
use crate::fleet::stage::Policy;
use crate::key::{AccessKeyId, SecretAccessKey, Sensitive, UserName};
use crate::rotation::Config;
use crate::session::{SessionAction, Signer};
use crate::sim::{Fault, FaultPlan, Violation};
use crate::time::{Span, Timestamp};

use crate::plan::Options;
use crate::profile::Selection;
use crate::session::{Mode, Request, Session};
use crate::sim::Disk;

use super::aws::{Principal, SimAws};
use super::checker::FleetChecker;

/// A delivery an owner has read and journaled, and not finished installing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pickup {
    /// The delivered key and its secret.
    pub new: (AccessKeyId, String),
    /// The key it replaces (the one the owner held when it read the delivery) and its secret.
    pub old: (AccessKeyId, String),
    /// The new key works and is in the owner's files; the old key is still to delete.
    pub installed: bool,
}

/// The person (or program) that uses a user's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// Whose keys.
    pub user: UserName,
    /// The key in the owner's files, with its secret.
    pub holds: Option<(AccessKeyId, String)>,
    /// Runs `pickup` when a delivery waits.
    pub picks_up: bool,
    /// How long after a delivery the owner first looks.
    pub delay: Span,
    /// `pickup` may delete the old key (the user's policy allows it).
    pub deletes_old: bool,
    /// A pickup under way (the model's: see [`Owner::files`] for the real one's journal).
    pub pickup: Option<Pickup>,
    /// Found its key inactive.
    pub locked_out: bool,
    /// Deliveries installed.
    pub installed: usize,
    /// The owner's `~/.aws` files, where it runs the real `pickup` (the core's session in
    /// pickup mode, killed now and then and run again): its `[default]` profile holds the key
    /// that [`Owner::holds`] shows. `None`: a model of `pickup` (read, install, delete the old
    /// key, one act at a time).
    pub files: Option<Disk>,
    /// `--encrypt`: the owner's identity (an age identity file's text, or an OpenSSH private
    /// key), which its pickup opens a sealed delivery with (`pickup --identity`).
    pub identity: Option<String>,
}

impl Owner {
    /// An owner holding `holds`.
    pub fn new(user: &str, holds: Option<(AccessKeyId, String)>) -> Self {
        Self {
            user: UserName::new(user),
            holds,
            picks_up: true,
            delay: Span::ZERO,
            deletes_old: false,
            pickup: None,
            locked_out: false,
            installed: 0,
            files: None,
            identity: None,
        }
    }

    /// The same owner, running the real `pickup` on a credentials file whose `[default]`
    /// profile holds its key.
    pub fn with_files(mut self) -> Self {
        let credentials = self
            .holds
            .as_ref()
            .map_or_else(String::new, |(id, secret)| {
                format!("[default]\naws_access_key_id = {id}\naws_secret_access_key = {secret}\n")
            });
        self.files = Some(Disk::new(String::new(), credentials));
        self
    }
}

/// Who the administrator is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admin {
    /// An IAM user with an access key (the `Caller` stage is this user's).
    User(UserName, AccessKeyId, String),
    /// A role (SSO, an assumed role): no IAM user.
    Role,
}

/// How a user's requests fail, every time, while it is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Broken {
    /// `AccessDenied` (an explicit deny on the user).
    Denied,
    /// A 5xx before the request takes effect.
    FailBefore,
    /// The request takes effect, then the answer is lost.
    LoseAnswer,
    /// Throttled.
    Throttle,
}

/// A user whose requests fail, every time, for a while.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrokenUser {
    /// How they fail.
    pub how: Broken,
    /// Until which run (counted by [`FleetWorld::runs`]).
    pub until_run: usize,
    /// Only the requests of this operation (`UpdateSecret`...), else all of them.
    pub only: Option<&'static str>,
}

/// Random faults, in percent of the requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultRates {
    /// Throttled.
    pub throttle: u8,
    /// A 5xx before the request takes effect.
    pub fail_before: u8,
    /// The request takes effect, the answer is lost.
    pub lose_answer: u8,
}

/// What an administrator's run is asked to do.
#[derive(Debug, Clone)]
pub struct FleetRunSpec {
    /// Status, plan or rotate.
    pub mode: FleetMode,
    /// `--older-than`, `--deactivate-after`, `--delete-after`.
    pub policy: Policy,
    /// `--user-name`.
    pub user_names: Vec<UserName>,
    /// `--exempt-group`.
    pub exempt_groups: Vec<String>,
    /// `--yes`.
    pub yes: bool,
    /// A terminal to ask.
    pub interactive: bool,
    /// What the administrator answers at the terminal.
    pub confirm: bool,
    /// Users at once.
    pub max_concurrency: usize,
    /// Retries and the jitter's seed.
    pub config: Config,
    /// `--encrypt`.
    pub encrypt: bool,
    /// `--notify-from` (which mails are owed is `policy.notify`'s).
    pub notify: Option<Notifier>,
}

impl FleetRunSpec {
    /// `fleet rotate --yes` with this policy.
    pub fn rotate(policy: Policy) -> Self {
        Self {
            mode: FleetMode::Rotate,
            policy,
            user_names: Vec::new(),
            exempt_groups: Vec::new(),
            yes: true,
            interactive: false,
            confirm: false,
            max_concurrency: 4,
            config: Config {
                seed: 1,
                ..Config::default()
            },
            encrypt: false,
            notify: None,
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone)]
pub enum FleetRunEnd {
    /// It ran to its end.
    Completed {
        /// One per user, in user-name order.
        results: Vec<UserResult>,
        /// How it ends (`None`: exit 0).
        error_kind: Option<ErrorKind>,
        /// What stopped it before it acted, if anything.
        fatal: Option<FleetError>,
    },
    /// The process died.
    Crashed,
}

/// The fleet's world. See the module docs.
#[derive(Debug, Clone)]
pub struct FleetWorld {
    /// AWS.
    pub aws: SimAws,
    /// Each user's owner.
    pub owners: BTreeMap<UserName, Owner>,
    /// Who runs the fleet commands.
    pub admin: Admin,
    /// Now.
    pub now: Timestamp,
    /// How long each request takes.
    pub latency: Span,
    /// Users whose requests fail.
    pub broken: BTreeMap<UserName, BrokenUser>,
    /// Random faults.
    pub rates: FaultRates,
    /// Concurrent requests are executed, and answered, in a random order, and owners act
    /// between the steps of a `fleet rotate` (at `owner_rate` percent of the steps).
    pub interleave: bool,
    /// How often an owner acts between two steps of a run, in percent.
    pub owner_rate: u8,
    /// The process dies right after the first request of this operation takes effect
    /// (`CreateAccessKey`...), once.
    pub crash_after: Option<&'static str>,
    /// The next real pickup is killed after this many requests (else, now and then, after a
    /// random number of them).
    pub kill_pickup_after: Option<usize>,
    /// Runs started so far.
    pub runs: usize,
    /// Every request, fault and answer, and every owner's act (for transcripts and debugging).
    pub trace: Option<Vec<String>>,
    /// `--encrypt`'s test identities: each recipient (an `age1…` key or an OpenSSH public key
    /// line) with its identity's text.
    pub keyring: Vec<(String, String)>,
    /// Sealed deliveries an owner's pickup could not open with its identity (none may be).
    pub unopened: Vec<String>,
    /// Sealed deliveries the owners' pickups opened.
    pub opened: usize,
    /// What each (sealed value, identity) opened to (`None`: it does not open): age is slow
    /// next to the rest of a step, and the same value is read again and again.
    unsealed: RefCell<BTreeMap<(String, String), Option<String>>>,
    rng: u64,
}

/// Requests a run may send before it counts as one that never ends.
const MAX_STEPS: usize = 100_000;

/// The action in a line: its operation and what it is about (never a secret).
pub fn describe_action(action: &Action) -> String {
    let op = action.operation().unwrap_or("(no request)");
    let what = match action {
        Action::UserDetails { marker } => format!("marker={}", marker.as_deref().unwrap_or("-")),
        Action::GroupMembers { group, marker } => {
            format!("{group} marker={}", marker.as_deref().unwrap_or("-"))
        }
        Action::ListSecrets { prefix, next_token } => {
            format!("{prefix}* token={}", next_token.as_deref().unwrap_or("-"))
        }
        Action::GetUser { user_name }
        | Action::ListKeys { user_name }
        | Action::CreateKey { user_name } => user_name.to_string(),
        Action::LastUsed { access_key_id } => access_key_id.to_string(),
        Action::DeleteKey {
            user_name,
            access_key_id,
            purpose,
        } => format!("{user_name} {access_key_id} ({purpose:?})"),
        Action::DeactivateKey {
            user_name,
            access_key_id,
        } => format!("{user_name} {access_key_id} Inactive"),
        Action::CreateSecret { name, description }
        | Action::DescribeSecret { name, description } => {
            format!("{name} description={description}")
        }
        Action::PutSecretPolicy { name, .. } => format!("{name} (readable by its user only)"),
        Action::StoreSecret {
            name,
            description,
            token,
            ..
        } => format!("{name} value=[redacted] description={description} token={token}"),
        Action::DeleteSecret { name } | Action::GetSecretValue { name } => name.clone(),
        Action::SendEmail { to, subject, .. } => format!("to {to}: {subject}"),
        Action::ConfirmPlan { summary } => summary.replace('\n', "; "),
        _ => String::new(),
    };
    if what.is_empty() {
        op.to_owned()
    } else {
        format!("{op} {what}")
    }
}

/// An outcome in a line (never a secret).
pub fn describe_outcome(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Done => "Done".into(),
        Outcome::KeyCreated {
            access_key_id,
            create_date,
            ..
        } => format!("KeyCreated {access_key_id} (secret redacted) {create_date}"),
        Outcome::Keys(keys) => {
            let keys: Vec<String> = keys
                .iter()
                .map(|k| format!("{} {}", k.access_key_id, k.status))
                .collect();
            format!("Keys [{}]", keys.join(", "))
        }
        Outcome::LastUsed(t) => format!(
            "LastUsed {}",
            t.map_or_else(|| "never".to_owned(), |t| t.to_string())
        ),
        Outcome::Verified { arn } => format!("Verified {arn}"),
        Outcome::Users { users, marker } => {
            let names: Vec<String> = users
                .iter()
                .map(|u| {
                    let tags: Vec<String> =
                        u.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    if tags.is_empty() {
                        u.user_name.to_string()
                    } else {
                        format!("{} {{{}}}", u.user_name, tags.join(", "))
                    }
                })
                .collect();
            format!(
                "Users [{}] marker={}",
                names.join(", "),
                marker.as_deref().unwrap_or("-")
            )
        }
        Outcome::ReportState(s) => format!("ReportState {s:?}"),
        Outcome::Report(csv) => format!("Report ({} rows)", csv.lines().count().saturating_sub(1)),
        Outcome::Secrets {
            secrets,
            next_token,
        } => {
            let names: Vec<&str> = secrets.iter().map(|s| s.name.as_str()).collect();
            format!(
                "Secrets [{}] token={}",
                names.join(", "),
                next_token.as_deref().unwrap_or("-")
            )
        }
        Outcome::SecretValue(_) => "SecretValue [redacted]".into(),
        Outcome::Declined => "Declined".into(),
        Outcome::Failed(f) => format!(
            "Failed {:?} {}",
            f.class,
            f.code.as_deref().unwrap_or(&f.message)
        ),
        other => format!("{other:?}"),
    }
}

/// Opens a sealed delivery with one identity's text, as the shell's `pickup` does.
pub fn open_sealed(identity: &str, sealed: &str) -> Result<Sensitive<String>, String> {
    let ids = seal::identities(identity, "identity")?;
    seal::open(sealed, &ids)
}

/// Whether two recipients are the same key (an OpenSSH line's comment aside).
pub fn same_recipient(a: &str, b: &str) -> bool {
    let key = |s: &str| s.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    key(a) == key(b)
}

fn throttled() -> Failure {
    Failure::new(FailureClass::Throttled, Some("Throttling"), "Rate exceeded")
}

fn transient() -> Failure {
    Failure::new(
        FailureClass::Transient,
        Some("ServiceUnavailable"),
        "Service Unavailable (HTTP 503)",
    )
}

fn explicit_deny() -> Failure {
    Failure::new(
        FailureClass::AccessDenied,
        Some("AccessDenied"),
        "with an explicit deny in a service control policy",
    )
}

impl FleetWorld {
    /// A world of this account, with no owners yet, administered by `admin`, at `now`.
    pub fn new(aws: SimAws, admin: Admin, now: Timestamp, seed: u64) -> Self {
        Self {
            aws,
            owners: BTreeMap::new(),
            admin,
            now,
            latency: Span::from_millis(40),
            broken: BTreeMap::new(),
            rates: FaultRates::default(),
            interleave: false,
            owner_rate: 0,
            crash_after: None,
            kill_pickup_after: None,
            runs: 0,
            trace: None,
            keyring: Vec::new(),
            unopened: Vec::new(),
            opened: 0,
            unsealed: RefCell::new(BTreeMap::new()),
            rng: seed | 1,
        }
    }

    /// A random number (xorshift), deterministic for the seed.
    pub fn rand(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn chance(&mut self, percent: u8) -> bool {
        percent > 0 && self.rand() % 100 < u64::from(percent)
    }

    fn log(&mut self, line: impl FnOnce(&Self) -> String) {
        if self.trace.is_some() {
            let line = line(self);
            if let Some(t) = &mut self.trace {
                t.push(line);
            }
        }
    }

    /// [`open_sealed`], remembered: the plain value, or why it does not open.
    pub fn open_with(&self, identity: &str, sealed: &str) -> Result<String, String> {
        let key = (sealed.to_owned(), identity.to_owned());
        if let Some(known) = self.unsealed.borrow().get(&key) {
            return known.clone().ok_or_else(|| "it does not open".to_owned());
        }
        let opened = open_sealed(identity, sealed).map(|p| p.expose().clone());
        self.unsealed
            .borrow_mut()
            .insert(key, opened.as_ref().ok().cloned());
        opened
    }

    /// The identity of `recipient` in [`FleetWorld::keyring`].
    pub fn identity_of(&self, recipient: &str) -> Option<&str> {
        self.keyring
            .iter()
            .find(|(r, _)| same_recipient(r, recipient))
            .map(|(_, id)| id.as_str())
    }

    /// A delivery's value as its owner reads it: opened with whichever test identity opens it
    /// when it is sealed (`None`: none does).
    pub fn plain_value(&self, value: &str) -> Option<String> {
        if !seal::is_sealed(value) {
            return Some(value.to_owned());
        }
        self.keyring
            .iter()
            .find_map(|(_, id)| self.open_with(id, value).ok())
    }

    /// The shell's part of `pickup` under `--encrypt`: a sealed value that `GetSecretValue`
    /// answers is opened with the owner's identity before the core sees it; one that does not
    /// open fails as the shell's does (and is remembered: none may).
    fn shell_opens(
        &mut self,
        user: &UserName,
        identity: Option<&str>,
        outcome: Outcome,
    ) -> Outcome {
        let Outcome::SecretValue(v) = &outcome else {
            return outcome;
        };
        if !seal::is_sealed(v.expose()) {
            return outcome;
        }
        let opened = identity
            .ok_or_else(|| "the owner has no identity".to_owned())
            .and_then(|id| self.open_with(id, v.expose()));
        match opened {
            Ok(plain) => {
                self.opened += 1;
                Outcome::SecretValue(Sensitive::new(plain))
            }
            Err(e) => {
                self.unopened.push(format!("{user}: {e}"));
                Outcome::Failed(Failure::new(
                    FailureClass::Other,
                    None,
                    format!(
                        "the delivery is encrypted to its owner, and it could not be decrypted: {e}"
                    ),
                ))
            }
        }
    }

    /// The signer of the administrator's runs.
    pub fn signer(&self) -> Signer {
        match &self.admin {
            Admin::User(_, id, secret) => Signer::Static {
                profile: Some("admin".into()),
                access_key_id: id.clone(),
                secret: SecretAccessKey::new(secret).expect("the admin's secret is valid"),
                mfa_serial: None,
            },
            Admin::Role => Signer::Profile("fleet-admin".into()),
        }
    }

    /// The administrator's own key, if it has one.
    pub fn admin_key(&self) -> Option<&AccessKeyId> {
        match &self.admin {
            Admin::User(_, id, _) => Some(id),
            Admin::Role => None,
        }
    }

    fn principal(signer: &Signer) -> Principal {
        match signer {
            Signer::Static {
                access_key_id,
                secret,
                ..
            } => Principal::Key(access_key_id.clone(), secret.expose().to_owned()),
            Signer::Profile(_) | Signer::Role { .. } => Principal::Role,
        }
    }

    /// One act of `user`'s owner, now: go on with a pickup under way, else read a delivery that
    /// waits (signed with the key it holds), else use its key. Returns what it did.
    pub fn owner_acts(&mut self, user: &UserName) -> Option<String> {
        let mut o = self.owners.get(user)?.clone();
        let now = self.now;
        let (held_id, held_secret) = o.holds.clone()?;
        let waiting = delivery::secret_name(user)
            .and_then(|name| self.aws.secrets.get(&name))
            .and_then(|s| s.stored)
            .is_some_and(|stored| now >= stored.add(o.delay));
        let did = if let Some(files) = o.files.take() {
            let journaled = !files.journals.is_empty();
            let (files, did, locked) = if o.picks_up && (waiting || journaled) {
                self.real_pickup(user, o.identity.as_deref(), files)
            } else {
                let did = self.uses(&held_id, &held_secret);
                let locked = did.contains("locked out");
                (files, did, locked)
            };
            let holds = crate::profile::resolve(&files.files().ok()?, "default")
                .ok()
                .map(|r| (r.access_key_id, r.secret.expose().to_owned()));
            if holds.as_ref().map(|h| &h.0) != Some(&held_id) {
                o.installed += 1;
            }
            o.locked_out |= locked;
            o.holds = holds;
            o.files = Some(files);
            did
        } else if let Some(mut p) = o.pickup.take() {
            if !p.installed {
                let new = Principal::Key(p.new.0.clone(), p.new.1.clone());
                match self.aws.authenticate(&new, now) {
                    Ok(_) => {
                        o.holds = Some(p.new.clone());
                        o.installed += 1;
                        p.installed = true;
                        let did = format!("installs {} (it answers as {user})", p.new.0);
                        if o.deletes_old {
                            o.pickup = Some(p);
                        }
                        did
                    }
                    Err(_) if self.aws.key(&p.new.0).is_none() => {
                        format!("gives up its pickup: {} is gone", p.new.0)
                    }
                    Err(f) => {
                        let did = format!("cannot use {} yet ({:?})", p.new.0, f.class);
                        o.pickup = Some(p);
                        did
                    }
                }
            } else {
                let old = Principal::Key(p.old.0.clone(), p.old.1.clone());
                let delete = Action::DeleteKey {
                    user_name: user.clone(),
                    access_key_id: p.old.0.clone(),
                    purpose: DeletePurpose::OldKey,
                };
                let answer = self.aws.request(&old, &delete, now);
                format!(
                    "deletes its old key {}, signed with it: {}",
                    p.old.0,
                    describe_outcome(&answer)
                )
            }
        } else {
            let waiting = delivery::secret_name(user)
                .and_then(|name| self.aws.secrets.get(&name).map(|s| (name, s.stored)))
                .and_then(|(name, stored)| stored.map(|t| (name, t)))
                .filter(|(_, stored)| now >= stored.add(o.delay));
            match waiting {
                Some((name, _)) if o.picks_up => {
                    let me = Principal::Key(held_id.clone(), held_secret.clone());
                    let read =
                        self.aws
                            .request(&me, &Action::GetSecretValue { name: name.clone() }, now);
                    match self.shell_opens(user, o.identity.as_deref(), read) {
                        Outcome::SecretValue(v) => match DeliveredKey::parse(v.expose()) {
                            Ok(k) if k.replaces == held_id && k.access_key_id != held_id => {
                                o.pickup = Some(Pickup {
                                    new: (k.access_key_id.clone(), k.secret.expose().to_owned()),
                                    old: (held_id.clone(), held_secret.clone()),
                                    installed: false,
                                });
                                format!(
                                    "reads {name} with {held_id}: {} replaces it (journaled)",
                                    k.access_key_id
                                )
                            }
                            Ok(k) => format!(
                                "reads {name}: {} replaces {}, not its key: nothing to install",
                                k.access_key_id, k.replaces
                            ),
                            Err(e) => format!("reads {name}: {e}"),
                        },
                        Outcome::Failed(f) => {
                            if f.class == FailureClass::NotAuthenticated {
                                o.locked_out = true;
                            }
                            format!(
                                "cannot read {name} with {held_id}: {}",
                                describe_outcome(&Outcome::Failed(f))
                            )
                        }
                        other => format!("reads {name}: {}", describe_outcome(&other)),
                    }
                }
                _ => {
                    let did = self.uses(&held_id, &held_secret);
                    o.locked_out |= did.contains("locked out");
                    did
                }
            }
        };
        self.owners.insert(user.clone(), o);
        let line = format!("{} owner of {user} {did}", self.now);
        if let Some(t) = &mut self.trace {
            t.push(line.clone());
        }
        Some(line)
    }

    /// The owner signs a request with its key (its last use is set), if the key works.
    fn uses(&mut self, id: &AccessKeyId, secret: &str) -> String {
        let me = Principal::Key(id.clone(), secret.to_owned());
        match self.aws.authenticate(&me, self.now) {
            Ok(_) => format!("uses {id}"),
            Err(_) => format!("cannot use {id}: locked out"),
        }
    }

    /// The core's `pickup` of the `[default]` profile in `files`, signed by its keys against
    /// the simulated AWS; now and then killed after a few requests (the next act runs it again,
    /// from its journal). Returns the files after it, and what happened. A sealed delivery is
    /// opened with `identity`, as the shell does.
    fn real_pickup(
        &mut self,
        user: &UserName,
        identity: Option<&str>,
        mut files: Disk,
    ) -> (Disk, String, bool) {
        let request = Request {
            selection: Selection::Profiles(vec!["default".into()]),
            admin_user: None,
            options: Options {
                yes: true,
                verify_timeout: Span::from_secs(60),
                ..Options::default()
            },
            mode: Mode::Pickup,
            max_concurrency: 1,
            interactive: false,
        };
        let journals: Vec<(String, String)> = files
            .journals
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let cfg = Config {
            seed: self.rand(),
            ..Config::default()
        };
        let mut session = match Session::new(
            files.config.clone(),
            files.credentials.clone(),
            &journals,
            request,
            cfg,
        ) {
            Ok(s) => s,
            Err(e) => return (files, format!("cannot run pickup: {e}"), false),
        };
        let kill_after = match self.kill_pickup_after.take() {
            Some(n) => Some(n),
            None => self
                .rand()
                .is_multiple_of(4)
                .then(|| (self.rand() % 8) as usize),
        };
        let mut steps = Vec::new();
        let mut locked = false;
        while !session.is_done() {
            while let Some(a) = session.poll_action() {
                if kill_after == Some(steps.len()) || steps.len() > 200 {
                    steps.push("killed".to_owned());
                    return (files, format!("runs pickup: {}", steps.join(", ")), locked);
                }
                self.now = self.now.add(self.latency);
                let outcome = match files.perform(&a.action) {
                    Some(o) => o,
                    None => {
                        let who = Self::principal(&a.signer);
                        let o = self.aws.request(&who, &a.action, self.now);
                        self.shell_opens(user, identity, o)
                    }
                };
                locked |= matches!(
                    (&a.action, &outcome),
                    (Action::GetSecretValue { .. }, Outcome::Failed(f))
                        if f.class == FailureClass::NotAuthenticated
                );
                steps.push(match &outcome {
                    Outcome::Failed(f) => format!(
                        "{} {}",
                        a.action.operation().unwrap_or("file"),
                        f.code.as_deref().unwrap_or(&f.message)
                    ),
                    _ => a.action.operation().unwrap_or("file").to_owned(),
                });
                session.handle_outcome(a.task, outcome, self.now);
            }
            match session.poll_timeout() {
                Some(t) => {
                    self.now = self.now.max(t);
                    session.handle_timeout(self.now);
                }
                None if !session.is_done() => {
                    steps.push("stuck".to_owned());
                    break;
                }
                None => {}
            }
        }
        (files, format!("runs pickup: {}", steps.join(", ")), locked)
    }

    /// `n` acts of owners picked at random.
    pub fn owners_act_randomly(&mut self, n: usize) {
        let users: Vec<UserName> = self.owners.keys().cloned().collect();
        if users.is_empty() {
            return;
        }
        for _ in 0..n {
            let u = users[(self.rand() % users.len() as u64) as usize].clone();
            self.owner_acts(&u);
        }
    }

    /// The fault for one request: the fault plan's, else a broken user's, else a random one.
    fn fault_for(&mut self, action: &Action, faults: &mut FaultPlan) -> (Fault, Option<Broken>) {
        let planned = faults.next();
        if planned != Fault::None {
            return (planned, None);
        }
        if let Some(u) = self.aws.subject(action)
            && let Some(b) = self.broken.get(&u).copied()
            && self.runs <= b.until_run
            && b.only.is_none_or(|op| action.operation() == Some(op))
        {
            return (Fault::None, Some(b.how));
        }
        let r = self.rates;
        if self.chance(r.throttle) {
            (Fault::Throttle, None)
        } else if self.chance(r.fail_before) {
            (Fault::FailBefore, None)
        } else if self.chance(r.lose_answer) {
            (Fault::LoseAnswer, None)
        } else {
            (Fault::None, None)
        }
    }

    /// One request, executed with its fault; `None` when the process died. The checker sees
    /// what it changed.
    fn execute(
        &mut self,
        sa: &SessionAction,
        spec: &FleetRunSpec,
        faults: &mut FaultPlan,
        check: &mut FleetChecker,
    ) -> Result<Option<Outcome>, Violation> {
        let action = &sa.action;
        if let Action::ConfirmPlan { .. } = action {
            let answer = if spec.confirm {
                Outcome::Done
            } else {
                check.declined = true;
                Outcome::Declined
            };
            self.log(|_w| format!("  ask: {} -> {answer:?}", describe_action(action)));
            return Ok(Some(answer));
        }
        self.now = self.now.add(self.latency);
        check.steps += 1;
        let step = faults.step;
        let (mut fault, broken) = self.fault_for(action, faults);
        if fault == Fault::None
            && self.crash_after.is_some()
            && self.crash_after == action.operation()
        {
            self.crash_after = None;
            fault = Fault::CrashAfter;
        }
        if let Some(u) = self.aws.subject(action)
            && (fault != Fault::None || broken.is_some())
        {
            check.faulted.insert(u);
        }
        let label = match (fault, broken) {
            (Fault::None, None) => String::new(),
            (Fault::None, Some(b)) => format!(" [{b:?} user]"),
            (f, _) => format!(" [{f:?}]"),
        };
        if fault == Fault::CrashBefore {
            self.log(|_w| {
                format!(
                    "  #{step} {}{label}: the process dies",
                    describe_action(action)
                )
            });
            return Ok(None);
        }
        let refused = match (fault, broken) {
            (Fault::Throttle, _) | (_, Some(Broken::Throttle)) => Some(throttled()),
            (Fault::FailBefore | Fault::Io, _) | (_, Some(Broken::FailBefore)) => Some(transient()),
            (_, Some(Broken::Denied)) => Some(explicit_deny()),
            _ => None,
        };
        let outcome = match refused {
            Some(f) => Outcome::Failed(f),
            None => {
                let who = Self::principal(&sa.signer);
                let before = check.before(self, action);
                let o = self.aws.request(&who, action, self.now);
                check.after(self, action, &o, before)?;
                if fault == Fault::CrashAfter {
                    self.log(|_w| {
                        format!(
                            "  #{step} {}{label} -> {} (the process dies before it hears)",
                            describe_action(action),
                            describe_outcome(&o)
                        )
                    });
                    return Ok(None);
                }
                if fault == Fault::LoseAnswer || broken == Some(Broken::LoseAnswer) {
                    let lost = Outcome::Failed(transient());
                    self.log(|_w| {
                        format!(
                            "  #{step} {}{label} -> {} (answer lost)",
                            describe_action(action),
                            describe_outcome(&o)
                        )
                    });
                    return Ok(Some(lost));
                }
                o
            }
        };
        self.log(|_w| {
            format!(
                "  #{step} {}{label} -> {}",
                describe_action(action),
                describe_outcome(&outcome)
            )
        });
        Ok(Some(outcome))
    }

    /// Requests of a dying process that were on their way: each reached AWS, or did not.
    fn in_flight_at_crash(
        &mut self,
        rest: &[SessionAction],
        check: &mut FleetChecker,
    ) -> Result<(), Violation> {
        for sa in rest {
            if matches!(sa.action, Action::ConfirmPlan { .. }) || self.rand().is_multiple_of(2) {
                continue;
            }
            let who = Self::principal(&sa.signer);
            let before = check.before(self, &sa.action);
            let o = self.aws.request(&who, &sa.action, self.now);
            check.after(self, &sa.action, &o, before)?;
            self.log(|_w| {
                format!(
                    "  (in flight) {} -> {} (unheard)",
                    describe_action(&sa.action),
                    describe_outcome(&o)
                )
            });
        }
        Ok(())
    }

    /// One run of the tool, as the shell runs it, checked after every step.
    pub fn run(
        &mut self,
        spec: &FleetRunSpec,
        faults: &mut FaultPlan,
        check: &mut FleetChecker,
    ) -> Result<FleetRunEnd, Violation> {
        self.runs += 1;
        let request = FleetRequest {
            mode: spec.mode,
            policy: spec.policy.clone(),
            user_names: spec.user_names.clone(),
            exempt_groups: spec.exempt_groups.clone(),
            yes: spec.yes,
            interactive: spec.interactive,
            max_concurrency: spec.max_concurrency,
            signer: self.signer(),
            encrypt: spec.encrypt,
            notify: spec.notify.clone(),
        };
        self.log(|w| {
            let mut s = format!("{} run {}: fleet {:?}", w.now, w.runs, spec.mode);
            if !spec.user_names.is_empty() {
                let _ = write!(s, " --user-name {:?}", spec.user_names);
            }
            if !spec.exempt_groups.is_empty() {
                let _ = write!(s, " --exempt-group {:?}", spec.exempt_groups);
            }
            if spec.yes && spec.mode == FleetMode::Rotate {
                s.push_str(" --yes");
            }
            if spec.encrypt {
                s.push_str(" --encrypt");
            }
            if let Some(n) = &spec.notify {
                let _ = write!(s, " --notify-from {}", n.from);
            }
            s
        });
        check.run_started(self, spec);
        let mut session = FleetSession::new(request, spec.config.clone(), self.now);
        // Owners act during a `fleet rotate`; `plan` and `status` are compared before and after.
        let owners_act = self.interleave && spec.mode == FleetMode::Rotate;
        let first_step = check.steps;
        loop {
            if check.steps - first_step > MAX_STEPS {
                return Err(Violation(format!(
                    "a fleet run of {} users sent {MAX_STEPS} requests and goes on",
                    self.aws.users.len()
                )));
            }
            let mut batch = Vec::new();
            while let Some(sa) = session.poll_action() {
                check.polled(self, spec, &sa)?;
                batch.push(sa);
            }
            if batch.is_empty() {
                if session.is_done() {
                    break;
                }
                let Some(t) = session.poll_timeout() else {
                    return Err(Violation(
                        "the fleet session is stuck: no action, no timeout, not done".into(),
                    ));
                };
                self.now = self.now.max(t);
                session.handle_timeout(self.now);
                continue;
            }
            if self.interleave {
                self.shuffle(&mut batch);
            }
            let mut answers = Vec::new();
            for j in 0..batch.len() {
                if owners_act && self.chance(self.owner_rate) {
                    self.owners_act_randomly(1);
                    check.state(self)?;
                }
                let Some(outcome) = self.execute(&batch[j], spec, faults, check)? else {
                    self.in_flight_at_crash(&batch[j + 1..], check)?;
                    check.crashed();
                    check.state(self)?;
                    return Ok(FleetRunEnd::Crashed);
                };
                check.state(self)?;
                answers.push((batch[j].task, batch[j].action.clone(), outcome));
            }
            if self.interleave {
                self.shuffle(&mut answers);
            }
            for (task, action, outcome) in answers {
                check.answered(self, &action, &outcome);
                session.handle_outcome(task, outcome, self.now);
            }
        }
        let error_kind = session.error_kind();
        let fatal = session.fatal().cloned();
        let results = session.into_results();
        check.run_ended(self, spec, &results, error_kind, fatal.as_ref())?;
        self.log(|w| {
            let mut s = format!(
                "{} run {} ends: {}",
                w.now,
                w.runs,
                error_kind.map_or_else(|| "exit 0".to_owned(), |k| format!("{k:?}"))
            );
            if let Some(f) = &fatal {
                let _ = write!(s, " ({})", f.message);
            }
            s
        });
        Ok(FleetRunEnd::Completed {
            results,
            error_kind,
            fatal,
        })
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.rand() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}
