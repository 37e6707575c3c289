//! The fleet promises (spec, "Fleet promises" 9 to 13), checked on every request a fleet run
//! sends, on every change it makes to the simulated AWS, after every step, at the end of each
//! run and at the end of a scenario. A [`Violation`] fails the test with what was broken.
//!
//! With `--notify-from`, each mail (a `SendEmail` that took effect, its answer heard or not):
//! - holds no secret access key the simulation knows, nor any part of a sealed delivery;
//! - goes to the address in its user's tag, from the sender, and is the template's text for
//!   one event about a delivery (the key it names);
//! - is sent once per (user, delivered key, event), or again only after an interruption that
//!   can cause it: the earlier send's answer was lost, or its run stopped (crashed, or the
//!   user failed) before the description recorded it, or the run read the description from a
//!   `ListSecrets` view older than the record (Secrets Manager's listing lags);
//! - is about a delivery that was stored: its secret holds it, or held it until a run ended it
//!   after the listing this run read;
//! - at the end of a scenario, after a clean run: no mail is still owed to a user with an
//!   address, every event a description lists as `Notified` was mailed, and every recorded
//!   deactivation got its `Deactivated` mail (unless a run that read a listing older than the
//!   record ended the delivery: its owner had installed the new key and deleted the old one).
//!
//! The listing's lag is the simulated AWS's (`list_lag`), as Secrets Manager's `ListSecrets`
//! may be minutes behind: the core reads each delivery's state from it.
//!
//! With `--encrypt`, every value stored is sealed (age), opens with the identity of the
//! recipient its user names (the tag, else its first active IAM SSH key) and with no other test
//! identity; owners' pickups open it (none may fail to).

use std::collections::{BTreeMap, BTreeSet};

use crate::action::{Action, DeletePurpose, FailureClass, Outcome};
use crate::error::ErrorKind;
use crate::fleet::delivery::{self, DeliveredKey, Marker};
use crate::fleet::notice::{Event, NoticeFacts};
use crate::fleet::seal;
use crate::fleet::session::{FleetError, FleetMode, Notifier, UserResult};
use crate::fleet::stage::{NoticePolicy, Policy, Stage, Step};
use crate::key::{AccessKeyId, KeyStatus, UserName};
use crate::session::SessionAction;
use crate::sim::Violation;
use crate::time::{Span, Timestamp};

use super::aws::{AwsState, FleetKey, SimAws, SimSecret};
use super::world::{Admin, FleetRunSpec, FleetWorld, same_recipient};

/// A run's `DeliveredDate` is the administrator's clock when the request was made, a little
/// before it took effect (retries included): a deactivation this close to the deadline is on
/// time.
const SLACK: Span = Span::from_secs(300);

/// What AWS held, before a request, that the request may change.
#[derive(Debug, Clone)]
pub(super) struct Before {
    key: Option<FleetKey>,
    secret: Option<SimSecret>,
}

fn fail<T>(message: String) -> Result<T, Violation> {
    Err(Violation(message))
}

/// The owner's address: the value of the tag `tag`, trimmed, if it is one address (the
/// checker's own reading, not the core's `notice::address`).
fn address_in(tags: &[(String, String)], tag: &str) -> Option<String> {
    let (_, value) = tags.iter().find(|(k, _)| k == tag)?;
    let value = value.trim();
    let one = value.split('@').count() == 2
        && !value.starts_with('@')
        && !value.ends_with('@')
        && !value.contains(|c: char| c.is_whitespace() || c == ',');
    one.then(|| value.to_owned())
}

/// One mail's subject: a user, its delivered key, the event.
type MailKey = (UserName, AccessKeyId, Event);

/// A delivery as its descriptions showed it, over the scenario.
#[derive(Debug, Clone)]
struct Seen {
    user: UserName,
    replaces: AccessKeyId,
    delivered: Timestamp,
    /// Every `DeactivatedDate` it was described with.
    deactivated: BTreeSet<Timestamp>,
    /// When a description first recorded its replaced key's deactivation.
    deactivation_recorded: Option<Timestamp>,
    /// When its secret was deleted.
    ended: Option<Timestamp>,
    /// By a run whose (lagging) listing did not show the deactivation recorded.
    ended_unaware: bool,
}

/// What the checker remembers across steps and runs.
#[derive(Debug, Clone, Default)]
pub struct FleetChecker {
    /// Requests sent.
    pub steps: usize,
    /// Users one of whose requests got a fault this run.
    pub faulted: BTreeSet<UserName>,
    /// A created key whose secret the session knows and has not stored yet, by user.
    unsaved: BTreeMap<UserName, (AccessKeyId, String)>,
    /// Keys removed to make room this run, by user.
    make_room: BTreeMap<UserName, usize>,
    /// Every key ever stored in a delivery.
    delivered: BTreeSet<AccessKeyId>,
    /// Every secret of every key that ever existed.
    secrets: BTreeSet<String>,
    /// AWS before a `plan` or `status` run.
    before_run: Option<AwsState>,
    /// A change took effect this run.
    changed: bool,
    /// The run asked at the terminal, and was told no.
    pub(super) declined: bool,
    /// The run's caller and exempt users: nothing may change them.
    protected: BTreeSet<UserName>,
    /// The run's policy.
    policy: Option<Policy>,
    /// Keys deleted and deactivated, and deliveries stored, over all runs.
    pub counts: Counts,
    /// The run's `--encrypt`.
    encrypt: bool,
    /// The run's `--notify-from` and the policy's notice options.
    notify: Option<(Notifier, NoticePolicy)>,
    /// When the run started (its decisions are made at this time).
    run_start: Option<Timestamp>,
    /// The oldest `ListSecrets` view the run read the descriptions from.
    listed_at: Option<Timestamp>,
    /// Mails sent (or recorded as sent before the simulation), by subject.
    mailed: BTreeMap<MailKey, usize>,
    /// Sends whose run stopped before it recorded them: each allows one more mail.
    credit: BTreeMap<MailKey, usize>,
    /// Sent by this run and not recorded yet.
    unrecorded: BTreeSet<MailKey>,
    /// Sent by this run, its answer not heard yet: the mail's address, subject and body.
    unheard: Vec<((String, String, String), MailKey)>,
    /// Sent by this run, its answer lost: the session may send it again.
    lost: BTreeSet<MailKey>,
    /// When each event was recorded in its delivery's description.
    recorded_at: BTreeMap<MailKey, Timestamp>,
    /// Deliveries whose replaced key's deactivation was recorded.
    deactivations: BTreeSet<(UserName, AccessKeyId)>,
    /// The stage each user was last found in, by a run that decided it.
    last_stage: BTreeMap<UserName, Stage>,
    /// The last sealed value opened (the same value is checked when sent and when it lands).
    opened: Option<(String, String)>,
    /// A line from the middle of every sealed value stored, to look for in the mails.
    sealed_lines: BTreeSet<String>,
    /// Every delivery a description showed, by its key.
    seen: BTreeMap<AccessKeyId, Seen>,
    /// Mails this run sent.
    mailed_this_run: BTreeSet<MailKey>,
}

/// What the runs did, over a scenario.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    /// Keys created.
    pub created: usize,
    /// Keys deleted, by purpose.
    pub deleted: BTreeMap<String, usize>,
    /// Keys deactivated.
    pub deactivated: usize,
    /// Deliveries stored.
    pub stored: usize,
    /// Deactivations of a key its owner still held (allowed by `--deactivate-after`).
    pub lockouts: usize,
    /// Mails sent, by event.
    pub mails: BTreeMap<String, usize>,
    /// Mails sent again after an interruption (a lost answer, a crash, a failed record).
    pub mails_again: usize,
    /// Mails sent again by a run that read a lagging `ListSecrets` view.
    pub mails_again_lagging: usize,
    /// Of those, mails about a delivery that had ended (its secret deleted) since that view.
    pub mails_after_end: usize,
    /// Sealed deliveries stored.
    pub sealed: usize,
}

impl FleetChecker {
    /// A checker that knows every secret of `world`'s keys, to look for them where they must
    /// not appear.
    pub fn new(world: &FleetWorld) -> Self {
        let mut c = Self::default();
        c.learn(&world.aws);
        // What the descriptions say was mailed before the simulation: mailed once.
        for (name, s) in &world.aws.secrets {
            let (
                Some(user),
                Some(Marker::Delivered {
                    access_key_id,
                    deactivated,
                    notified,
                    ..
                }),
            ) = (
                delivery::user_of(name),
                s.description.as_deref().and_then(|d| Marker::parse(d).ok()),
            )
            else {
                continue;
            };
            for e in notified {
                let key = (user.clone(), access_key_id.clone(), e);
                c.mailed.insert(key.clone(), 1);
                c.recorded_at.insert(key, Timestamp::from_secs(0));
            }
            if deactivated.is_some() {
                c.deactivations.insert((user, access_key_id));
            }
        }
        c
    }

    fn learn(&mut self, aws: &SimAws) {
        self.secrets
            .extend(aws.keys.iter().map(|k| k.secret.clone()));
        for (name, s) in &aws.secrets {
            if let Some(d) = &s.description {
                self.saw(name, d, Timestamp::from_secs(0));
            }
        }
    }

    /// A delivery's description, as a run wrote it (`at`) or AWS holds it.
    fn saw(&mut self, name: &str, description: &str, at: Timestamp) {
        let (
            Some(user),
            Ok(Marker::Delivered {
                access_key_id,
                replaces,
                delivered,
                deactivated,
                ..
            }),
        ) = (delivery::user_of(name), Marker::parse(description))
        else {
            return;
        };
        self.delivered.insert(access_key_id.clone());
        let seen = self.seen.entry(access_key_id).or_insert(Seen {
            user,
            replaces,
            delivered,
            deactivated: BTreeSet::new(),
            deactivation_recorded: None,
            ended: None,
            ended_unaware: false,
        });
        if deactivated.is_some() && seen.deactivation_recorded.is_none() {
            seen.deactivation_recorded = Some(at);
        }
        seen.deactivated.extend(deactivated);
    }

    fn shows_a_secret(&self, text: &str) -> bool {
        self.secrets.iter().any(|s| text.contains(s.as_str()))
    }

    /// `--encrypt`: whom a delivery to `user` must be sealed to, as AWS has it now: the tag,
    /// else the first active IAM SSH public key.
    fn recipient_of(world: &FleetWorld, user: &UserName) -> Option<String> {
        let tagged = world.aws.users.get(user).and_then(|u| {
            u.tags
                .iter()
                .find(|(k, _)| k == seal::RECIPIENT_TAG)
                .map(|(_, v)| v.trim().to_owned())
        });
        tagged.or_else(|| {
            world
                .aws
                .ssh_keys
                .get(user)?
                .iter()
                .find(|(_, active, _)| *active)
                .map(|(_, _, line)| line.trim().to_owned())
        })
    }

    /// The plain value of a delivery to `user` that a run stores: under `--encrypt`, sealed,
    /// opened with the identity of the user's recipient and with no other (promise (f));
    /// without it, never sealed.
    fn plaintext(
        &mut self,
        world: &FleetWorld,
        user: &UserName,
        value: &str,
    ) -> Result<String, Violation> {
        if let Some((sealed, plain)) = &self.opened
            && sealed == value
        {
            return Ok(plain.clone());
        }
        let sealed = seal::is_sealed(value);
        if !self.encrypt {
            if sealed {
                return fail(format!("a delivery to {user} is sealed without --encrypt"));
            }
            return Ok(value.to_owned());
        }
        if !sealed {
            return fail(format!(
                "--encrypt: the delivery to {user} is stored unsealed"
            ));
        }
        let Some(recipient) = Self::recipient_of(world, user) else {
            return fail(format!(
                "--encrypt: a delivery to {user} was sealed, but the user has no recipient"
            ));
        };
        let Some(identity) = world.identity_of(&recipient) else {
            return fail(format!(
                "--encrypt: {user}'s recipient {recipient:?} has no test identity"
            ));
        };
        let plain = match world.open_with(identity, value) {
            Ok(p) => p,
            Err(e) => {
                return fail(format!(
                    "--encrypt: the delivery to {user} does not open with its recipient's identity: {e}"
                ));
            }
        };
        for (other, id) in &world.keyring {
            if !same_recipient(other, &recipient) && world.open_with(id, value).is_ok() {
                return fail(format!(
                    "--encrypt: the delivery to {user} (recipient {recipient:?}) opens with the identity of {other:?}"
                ));
            }
        }
        if let Some(line) = value.lines().nth(1) {
            self.sealed_lines.insert(line.to_owned());
        }
        self.opened = Some((value.to_owned(), plain.clone()));
        Ok(plain)
    }

    /// The run's caller and exempt users, as AWS has them now.
    fn protected(world: &FleetWorld, groups: &[String]) -> BTreeSet<UserName> {
        let mut p: BTreeSet<UserName> = world
            .aws
            .users
            .values()
            .filter(|u| u.tags.iter().any(|(k, _)| k == delivery::EXEMPT_TAG))
            .map(|u| u.name.clone())
            .collect();
        for g in groups {
            p.extend(world.aws.groups.get(g).into_iter().flatten().cloned());
        }
        if let Admin::User(u, ..) = &world.admin {
            p.insert(u.clone());
        }
        p
    }

    pub(super) fn run_started(&mut self, world: &FleetWorld, spec: &FleetRunSpec) {
        self.faulted.clear();
        self.make_room.clear();
        self.unsaved.clear();
        self.changed = false;
        self.declined = false;
        self.policy = Some(spec.policy.clone());
        self.protected = Self::protected(world, &spec.exempt_groups);
        self.encrypt = spec.encrypt;
        self.notify = spec.notify.clone().zip(spec.policy.notify.clone());
        self.run_start = Some(world.now);
        self.listed_at = None;
        self.unrecorded.clear();
        self.unheard.clear();
        self.lost.clear();
        self.mailed_this_run.clear();
        self.learn(&world.aws);
        self.before_run =
            (spec.mode != FleetMode::Rotate).then(|| world.aws.state(world.admin_key()));
    }

    pub(super) fn crashed(&mut self) {
        self.unsaved.clear();
        self.stopped();
    }

    /// The run stopped (crashed, or ended with the users whose mails it did not record
    /// failed): each mail it sent and did not record may be sent again.
    fn stopped(&mut self) {
        for key in std::mem::take(&mut self.unrecorded) {
            *self.credit.entry(key).or_default() += 1;
        }
        self.unheard.clear();
        self.lost.clear();
    }

    /// A request the session hands out, before it is sent.
    pub(super) fn polled(
        &mut self,
        world: &FleetWorld,
        spec: &FleetRunSpec,
        sa: &SessionAction,
    ) -> Result<(), Violation> {
        let action = &sa.action;
        if sa.signer != world.signer() {
            return fail(format!("{action:?} is signed by {:?}", sa.signer));
        }
        if world
            .admin_key()
            .is_some_and(|k| self.delivered.contains(k))
        {
            return fail("the administrator signs with a delivered key".into());
        }
        if self.shows_a_secret(&format!("{action:?}")) {
            return fail(format!(
                "a secret shows in the action {}",
                super::world::describe_action(action)
            ));
        }
        if let Action::GetSecretValue { name } = action {
            return fail(format!("the fleet session reads the value of {name}"));
        }
        let change = SimAws::is_change(action);
        if change && spec.mode != FleetMode::Rotate {
            return fail(format!(
                "fleet {:?} sends a change: {action:?} (promise 12)",
                spec.mode
            ));
        }
        let Some(user) = world.aws.subject(action) else {
            return Ok(());
        };
        if change && self.protected.contains(&user) {
            return fail(format!(
                "{action:?} changes {user}, the caller or an exempt user"
            ));
        }
        if !spec.user_names.is_empty() && !spec.user_names.contains(&user) {
            return fail(format!(
                "{action:?} is about {user}, whom --user-name did not name"
            ));
        }
        let plain = match action {
            Action::StoreSecret { value, .. } => {
                Some(self.plaintext(world, &user, value.expose())?)
            }
            _ => None,
        };
        if let Some((id, secret)) = self.unsaved.get(&user) {
            let ok = match action {
                Action::StoreSecret { name, .. } => {
                    delivery::secret_name(&user).as_ref() == Some(name)
                        && plain
                            .as_deref()
                            .is_some_and(|p| p.contains(secret.as_str()))
                }
                Action::DeleteKey { access_key_id, .. } => access_key_id == id,
                _ => false,
            };
            if !ok {
                return fail(format!(
                    "{} sent before the secret of {id} was stored (promise 10)",
                    super::world::describe_action(action)
                ));
            }
        }
        Ok(())
    }

    /// What AWS holds before `action` runs, that it may change.
    pub(super) fn before(&self, world: &FleetWorld, action: &Action) -> Before {
        let key = match action {
            Action::DeleteKey { access_key_id, .. }
            | Action::DeactivateKey { access_key_id, .. } => world.aws.key(access_key_id).cloned(),
            _ => None,
        };
        let secret = match action {
            Action::StoreSecret { name, .. }
            | Action::DescribeSecret { name, .. }
            | Action::DeleteSecret { name } => world.aws.secrets.get(name).cloned(),
            _ => None,
        };
        Before { key, secret }
    }

    /// What a request did to AWS (whether or not its answer gets back).
    pub(super) fn after(
        &mut self,
        world: &FleetWorld,
        action: &Action,
        outcome: &Outcome,
        before: Before,
    ) -> Result<(), Violation> {
        if let Outcome::Failed(f) = outcome
            && f.class == FailureClass::NotAuthenticated
        {
            return fail(format!(
                "the administrator's request {} was refused: {}",
                super::world::describe_action(action),
                f.message
            ));
        }
        self.failed_for_lag(world, action, outcome);
        let took_effect = SimAws::is_change(action) && !matches!(outcome, Outcome::Failed(_));
        self.changed |= took_effect;
        match (action, outcome) {
            (Action::CreateKey { user_name }, Outcome::Failed(f))
                if f.class == FailureClass::LimitExceeded =>
            {
                return fail(format!(
                    "CreateAccessKey for {user_name}, who has two keys already"
                ));
            }
            (Action::CreateKey { .. }, Outcome::KeyCreated { secret, .. }) => {
                self.counts.created += 1;
                self.secrets.insert(secret.expose().to_owned());
            }
            (Action::DeleteKey { purpose, .. }, Outcome::Done) => {
                if let Some(k) = before.key {
                    self.deleted(world, &k, *purpose)?;
                }
            }
            (Action::DeactivateKey { .. }, Outcome::Done) => {
                if let Some(k) = before.key.filter(|k| k.status == KeyStatus::Active) {
                    self.deactivated(world, &k)?;
                }
            }
            (
                Action::StoreSecret {
                    name,
                    description,
                    value,
                    ..
                },
                Outcome::Done,
            ) => {
                let stored_now = world.aws.secrets.get(name).and_then(|s| s.stored);
                if before.secret.and_then(|s| s.stored) != stored_now {
                    self.stored(world, name, description, value.expose())?;
                }
            }
            (Action::DescribeSecret { name, description }, Outcome::Done) => {
                self.saw(name, description, world.now);
                self.described(world, name, description, before.secret.as_ref());
            }
            (Action::DeleteSecret { .. }, Outcome::Done) => {
                if let Some(Ok(Marker::Delivered { access_key_id, .. })) = before
                    .secret
                    .as_ref()
                    .and_then(|s| s.description.as_deref())
                    .map(Marker::parse)
                    && let Some(seen) = self.seen.get_mut(&access_key_id)
                {
                    seen.ended = Some(world.now);
                    seen.ended_unaware = seen
                        .deactivation_recorded
                        .is_some_and(|r| self.listed_at.is_some_and(|l| l < r));
                }
            }
            (
                Action::SendEmail {
                    from,
                    to,
                    subject,
                    body,
                },
                Outcome::Done,
            ) => self.mailed(world, from, to, subject, body)?,
            (Action::ListSecrets { .. }, Outcome::Secrets { .. }) => {
                let view = world.aws.list_view_at();
                self.listed_at = match (self.listed_at, view) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
            _ => {}
        }
        Ok(())
    }

    /// ListSecrets lags (as Secrets Manager's may, by minutes): a secret it did not show yet
    /// makes the pending mark's CreateSecret fail, and one it still shows that a (crashed) run
    /// deleted since makes the description's update fail. Either fails the user, safely.
    fn failed_for_lag(&mut self, world: &FleetWorld, action: &Action, outcome: &Outcome) {
        let Outcome::Failed(f) = outcome else {
            return;
        };
        let name = match action {
            Action::CreateSecret { name, .. } if f.class == FailureClass::AlreadyExists => name,
            Action::DescribeSecret { name, .. } if f.class == FailureClass::NotFound => name,
            _ => return,
        };
        if world.aws.list_lag > Span::ZERO
            && let Some(user) = delivery::user_of(name)
        {
            self.faulted.insert(user);
        }
    }

    /// A value was stored in `name`: a delivery of its user's key, sealed to the user's
    /// recipient under `--encrypt`.
    fn stored(
        &mut self,
        world: &FleetWorld,
        name: &str,
        description: &str,
        value: &str,
    ) -> Result<(), Violation> {
        self.counts.stored += 1;
        self.saw(name, description, world.now);
        let Some(user) = delivery::user_of(name) else {
            return fail(format!("a value stored in {name}, no delivery's secret"));
        };
        let plain = self.plaintext(world, &user, value)?;
        self.counts.sealed += usize::from(seal::is_sealed(value));
        let Ok(k) = DeliveredKey::parse(&plain) else {
            return fail(format!("the value stored in {name} does not read back"));
        };
        if k.user_name != user {
            return fail(format!("{name} holds a key of {}", k.user_name));
        }
        self.delivered.insert(k.access_key_id.clone());
        if self
            .unsaved
            .get(&user)
            .is_some_and(|(id, _)| id == &k.access_key_id)
        {
            self.unsaved.remove(&user);
        }
        Ok(())
    }

    /// A description was written: the events it records as mailed, and its deactivation.
    fn described(
        &mut self,
        world: &FleetWorld,
        name: &str,
        description: &str,
        before: Option<&SimSecret>,
    ) {
        let (
            Some(user),
            Ok(Marker::Delivered {
                access_key_id,
                deactivated,
                notified,
                ..
            }),
        ) = (delivery::user_of(name), Marker::parse(description))
        else {
            return;
        };
        let had: Vec<Event> = match before
            .and_then(|s| s.description.as_deref())
            .map(Marker::parse)
        {
            Some(Ok(Marker::Delivered {
                access_key_id: k,
                notified,
                ..
            })) if k == access_key_id => notified,
            _ => Vec::new(),
        };
        for e in notified {
            let key = (user.clone(), access_key_id.clone(), e);
            self.unrecorded.remove(&key);
            if !had.contains(&e) {
                self.recorded_at.insert(key, world.now);
            }
        }
        if deactivated.is_some() {
            self.deactivations.insert((user, access_key_id));
        }
    }

    /// A mail went out (promises (a) to (d) of the module docs).
    fn mailed(
        &mut self,
        world: &FleetWorld,
        from: &str,
        to: &str,
        subject: &str,
        body: &str,
    ) -> Result<(), Violation> {
        let text = format!("{subject}\n{body}");
        if self.shows_a_secret(&text) {
            return fail(format!(
                "a secret access key shows in a mail to {to}: {subject}"
            ));
        }
        if text.contains("AGE ENCRYPTED")
            || self.sealed_lines.iter().any(|l| text.contains(l.as_str()))
        {
            return fail(format!(
                "a sealed delivery shows in a mail to {to}: {subject}"
            ));
        }
        let Some((notifier, policy)) = self.notify.clone() else {
            return fail(format!("a mail to {to} from a run without --notify-from"));
        };
        if from != notifier.from {
            return fail(format!("a mail to {to} from {from}, not {}", notifier.from));
        }
        let deactivate_after = self.policy.as_ref().and_then(|p| p.deactivate_after);
        let (access_key_id, seen, event) = self.mail_about(world, &notifier, to, subject, body)?;
        let user = seen.user.clone();
        let address = world
            .aws
            .users
            .get(&user)
            .and_then(|u| address_in(&u.tags, &policy.email_tag));
        if address.as_deref() != Some(to) {
            return fail(format!(
                "a mail about {user}'s delivery went to {to}, not to its address ({address:?})"
            ));
        }
        // Stored: its secret holds it still, or the run read a listing older than its end.
        let holds = delivery::secret_name(&user)
            .and_then(|n| world.aws.secrets.get(&n))
            .filter(|s| s.value.is_some() && s.stored.is_some())
            .and_then(|s| s.description.as_deref())
            .and_then(|d| Marker::parse(d).ok())
            .is_some_and(
                |m| matches!(m, Marker::Delivered { access_key_id: k, .. } if k == access_key_id),
            );
        let ended_unseen = seen
            .ended
            .is_some_and(|e| self.listed_at.is_some_and(|l| l < e));
        if !holds && !ended_unseen {
            return fail(format!(
                "a mail to {to} about the delivery of {access_key_id} to {user}, which its secret does not hold: {subject}"
            ));
        }
        self.counts.mails_after_end += usize::from(!holds);
        let ok = match event {
            Event::Delivered => true,
            Event::Reminder => deactivate_after.is_some() && policy.warn_before.is_some(),
            Event::Deactivated => !seen.deactivated.is_empty(),
        };
        if !ok {
            return fail(format!(
                "a {event:?} mail to {to} about {access_key_id}, which it does not tell of"
            ));
        }
        *self
            .counts
            .mails
            .entry(event.name().to_owned())
            .or_default() += 1;
        // Once, or again after an interruption.
        let key = (user.clone(), access_key_id.clone(), event);
        self.again(&key, to)?;
        *self.mailed.entry(key.clone()).or_default() += 1;
        self.mailed_this_run.insert(key.clone());
        self.unrecorded.insert(key.clone());
        self.unheard
            .push(((to.to_owned(), subject.to_owned(), body.to_owned()), key));
        Ok(())
    }

    /// Which delivery and event a mail is about: the template's mail, word for word, about a
    /// delivery whose key it names.
    fn mail_about(
        &self,
        world: &FleetWorld,
        notifier: &Notifier,
        to: &str,
        subject: &str,
        body: &str,
    ) -> Result<(AccessKeyId, Seen, Event), Violation> {
        let deactivate_after = self.policy.as_ref().and_then(|p| p.deactivate_after);
        let account = &world.aws.account;
        let text_of = |id: &AccessKeyId, seen: &Seen, e: Event| {
            let deadlines: Vec<Option<Timestamp>> = match e {
                Event::Deactivated => seen.deactivated.iter().copied().map(Some).collect(),
                _ => vec![deactivate_after.map(|a| seen.delivered.add(a))],
            };
            deadlines.into_iter().any(|deadline| {
                let facts = NoticeFacts {
                    user_name: seen.user.clone(),
                    account: account.clone(),
                    region: notifier.region.clone(),
                    new_access_key_id: id.clone(),
                    old_access_key_id: seen.replaces.clone(),
                    deadline,
                };
                notifier
                    .template
                    .render(e, &facts)
                    .is_some_and(|m| m.subject == subject && m.body == body)
            })
        };
        let named: Vec<(&AccessKeyId, &Seen)> = self
            .seen
            .iter()
            .filter(|(id, _)| body.contains(id.as_str()))
            .collect();
        if named.is_empty() {
            return fail(format!(
                "a mail to {to} about no delivery that was stored: {subject}"
            ));
        }
        let about = named.iter().find_map(|(id, seen)| {
            Event::ALL
                .into_iter()
                .find(|&e| text_of(id, seen, e))
                .map(|e| ((*id).clone(), (*seen).clone(), e))
        });
        about.ok_or_else(|| {
            Violation(format!(
                "a mail to {to} is not the template's text for any event about a delivery it names: {subject}"
            ))
        })
    }

    /// A mail that went before (`key`: user, delivery, event) may go again only after an
    /// interruption: a crash before its sending was recorded, or a run whose listing was older
    /// than the record.
    fn again(&mut self, key: &(UserName, AccessKeyId, Event), to: &str) -> Result<(), Violation> {
        let (_, access_key_id, event) = key;
        let before = self.mailed.get(key).copied().unwrap_or(0);
        if before > 0 {
            let credit = self.credit.entry(key.clone()).or_default();
            let lagging = self.recorded_at.get(key).is_some_and(|&r| {
                self.listed_at.is_some_and(|l| l < r) && self.run_start.is_some_and(|s| r <= s)
            });
            if self.unrecorded.contains(key) {
                if !self.lost.remove(key) {
                    return fail(format!(
                        "the {event:?} mail about {access_key_id} went to {to} twice in a run that heard it sent"
                    ));
                }
                self.counts.mails_again += 1;
            } else if *credit > 0 {
                *credit -= 1;
                self.counts.mails_again += 1;
            } else if lagging {
                self.counts.mails_again_lagging += 1;
            } else {
                return fail(format!(
                    "the {event:?} mail about {access_key_id} went to {to} {} times, with no interruption that could make it go again",
                    before + 1
                ));
            }
        }
        Ok(())
    }

    /// The session hears `outcome`.
    pub(super) fn answered(&mut self, world: &FleetWorld, action: &Action, outcome: &Outcome) {
        if let Action::SendEmail {
            to, subject, body, ..
        } = action
            && let Some(i) = self
                .unheard
                .iter()
                .position(|((t, s, b), _)| t == to && s == subject && b == body)
        {
            let (_, key) = self.unheard.remove(i);
            if !matches!(outcome, Outcome::Done) {
                self.lost.insert(key);
            }
        }
        if let (
            Action::CreateKey { user_name },
            Outcome::KeyCreated {
                access_key_id,
                secret,
                ..
            },
        ) = (action, outcome)
        {
            // Unless it is gone already (a crash's requests in flight cannot get here).
            if world.aws.key(access_key_id).is_some() {
                self.unsaved.insert(
                    user_name.clone(),
                    (access_key_id.clone(), secret.expose().to_owned()),
                );
            }
        }
    }

    /// The delivered key in `user`'s delivery secret, if it holds one.
    fn delivery_of<'w>(
        world: &'w FleetWorld,
        user: &UserName,
    ) -> Option<(DeliveredKey, &'w SimSecret)> {
        let name = delivery::secret_name(user)?;
        let s = world.aws.secrets.get(&name)?;
        let k = DeliveredKey::parse(&world.plain_value(s.value.as_deref()?)?).ok()?;
        Some((k, s))
    }

    /// Where the secret of `id` (a key of `user`) still is, if anywhere.
    fn kept(world: &FleetWorld, user: &UserName, id: &AccessKeyId) -> Option<&'static str> {
        let owner = world.owners.get(user);
        if owner
            .and_then(|o| o.holds.as_ref())
            .is_some_and(|(h, _)| h == id)
        {
            return Some("its owner holds it");
        }
        if owner
            .and_then(|o| o.pickup.as_ref())
            .is_some_and(|p| &p.new.0 == id)
            || owner.and_then(|o| o.files.as_ref()).is_some_and(|f| {
                f.journals.values().any(|j| {
                    crate::journal::Journal::parse(j)
                        .ok()
                        .and_then(|j| j.new_key)
                        .is_some_and(|n| &n.access_key_id == id)
                })
            })
        {
            return Some("its owner's pickup journal holds it");
        }
        if Self::delivery_of(world, user).is_some_and(|(k, _)| &k.access_key_id == id) {
            return Some("its delivery holds it");
        }
        None
    }

    /// Promise 11 (and 9 for deletions): a key the run deleted.
    fn deleted(
        &mut self,
        world: &FleetWorld,
        k: &FleetKey,
        purpose: DeletePurpose,
    ) -> Result<(), Violation> {
        *self
            .counts
            .deleted
            .entry(format!("{purpose:?}"))
            .or_default() += 1;
        let (user, id) = (&k.user, &k.id);
        if world.admin_key() == Some(id) {
            return fail(format!("the administrator's own key {id} was deleted"));
        }
        let policy = self.policy.clone().unwrap_or_default();
        if k.status == KeyStatus::Active {
            // Only a key of the tool's own whose secret is nowhere: an orphan.
            if purpose != DeletePurpose::Orphan || !world.aws.created.contains(id) {
                return fail(format!(
                    "the active key {id} of {user} was deleted ({purpose:?}) (promise 11)"
                ));
            }
            if let Some(place) = Self::kept(world, user, id) {
                return fail(format!(
                    "{id} of {user} was deleted as an orphan, but {place} (promise 9)"
                ));
            }
            return Ok(());
        }
        if let Some(place) = Self::kept(world, user, id).filter(|p| !p.starts_with("its owner h")) {
            return fail(format!(
                "the delivered key {id} of {user} was deleted ({purpose:?}), but {place}"
            ));
        }
        match purpose {
            DeletePurpose::MakeRoom => {
                let n = self.make_room.entry(user.clone()).or_default();
                *n += 1;
                if *n > 1 {
                    return fail(format!(
                        "a second key of {user} removed to make room in one run (promise 11)"
                    ));
                }
            }
            DeletePurpose::OldKey => {
                let since = k.inactive_since.unwrap_or(k.created);
                if world.now.since(since) < policy.delete_after {
                    return fail(format!(
                        "{id} of {user} deleted {} after it was deactivated, before --delete-after {}",
                        world.now.since(since),
                        policy.delete_after
                    ));
                }
            }
            DeletePurpose::Orphan | DeletePurpose::Undo => {
                if Self::kept(world, user, id).is_some() {
                    return fail(format!(
                        "{id} of {user} deleted as the tool's own ({purpose:?}), but its owner holds it"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Promise 9: a key the run deactivated.
    fn deactivated(&mut self, world: &FleetWorld, k: &FleetKey) -> Result<(), Violation> {
        self.counts.deactivated += 1;
        let (user, id) = (&k.user, &k.id);
        if world.admin_key() == Some(id) {
            return fail(format!("the administrator's own key {id} was deactivated"));
        }
        let held = world
            .owners
            .get(user)
            .and_then(|o| o.holds.as_ref())
            .is_some_and(|(h, _)| h == id);
        if !held {
            return Ok(());
        }
        let Some((d, secret)) = Self::delivery_of(world, user).filter(|(d, _)| &d.replaces == id)
        else {
            return fail(format!(
                "{id}, which the owner of {user} holds, was deactivated with no delivery that replaces it (promise 9)"
            ));
        };
        let used = world
            .aws
            .key(&d.access_key_id)
            .is_some_and(|n| n.last_used.is_some());
        let policy = self.policy.clone().unwrap_or_default();
        let stored = secret.stored.unwrap_or(world.now);
        let timed_out = policy.deactivate_after.is_some_and(|after| {
            world.now.since(stored).as_millis() + SLACK.as_millis() >= after.as_millis()
        });
        if !used && !timed_out {
            return fail(format!(
                "{id}, which the owner of {user} holds, was deactivated {} after its delivery, unused, --deactivate-after {:?} (promise 9)",
                world.now.since(stored),
                policy.deactivate_after.map(|s| s.to_string())
            ));
        }
        self.counts.lockouts += 1;
        Ok(())
    }

    /// After every step: no user has more than two keys; the administrator's key works.
    pub(super) fn state(&self, world: &FleetWorld) -> Result<(), Violation> {
        let mut per_user: BTreeMap<&UserName, usize> = BTreeMap::new();
        for k in &world.aws.keys {
            *per_user.entry(&k.user).or_default() += 1;
        }
        if let Some((u, n)) = per_user
            .iter()
            .find(|(_, n)| **n > crate::plan::KEYS_PER_USER)
        {
            return fail(format!("{u} has {n} keys (promise 10)"));
        }
        if let Some(id) = world.admin_key()
            && world
                .aws
                .key(id)
                .is_none_or(|k| k.status != KeyStatus::Active)
        {
            return fail("the administrator's key no longer works".into());
        }
        Ok(())
    }

    /// At the end of a run: promises 12 and 13.
    pub(super) fn run_ended(
        &mut self,
        world: &FleetWorld,
        spec: &FleetRunSpec,
        results: &[UserResult],
        kind: Option<ErrorKind>,
        fatal: Option<&FleetError>,
    ) -> Result<(), Violation> {
        // A mail the run sent and did not record: its user's run must have failed (it is then
        // sent again by the next run).
        for (user, id, e) in &self.unrecorded {
            let failed = results
                .iter()
                .any(|r| &r.facts.user.user_name == user && r.error.is_some());
            if !failed {
                return fail(format!(
                    "the {e:?} mail about {id} went to the owner of {user}, and the run ended without recording it"
                ));
            }
        }
        self.stopped();
        for r in results {
            if let Some(v) = &r.verdict {
                self.last_stage
                    .insert(r.facts.user.user_name.clone(), v.stage);
            }
        }
        if let Some(before) = self.before_run.take()
            && before != world.aws.state(world.admin_key())
        {
            return fail(format!("fleet {:?} changed AWS (promise 12)", spec.mode));
        }
        let text = format!("{results:?}{fatal:?}");
        if self.shows_a_secret(&text) {
            return fail("a secret shows in a run's results".into());
        }
        let declined = self.declined;
        if (fatal.is_some() || declined) && self.changed {
            return fail(format!(
                "a run that stopped before acting changed AWS: {:?}",
                fatal.map(|f| &f.message)
            ));
        }
        let failed = results.iter().any(|r| r.error.is_some());
        // Promise 13: the most serious kind; a user's failure is a service error.
        let expected = ErrorKind::worst(
            fatal
                .map(|f| f.kind)
                .into_iter()
                .chain(declined.then_some(ErrorKind::Usage))
                .chain(failed.then_some(ErrorKind::Service)),
        );
        if kind != expected {
            return fail(format!(
                "the run ends with {kind:?}, not {expected:?} (fatal: {:?}, declined: {declined}, a user failed: {failed}) (promise 13)",
                fatal.map(|f| &f.message)
            ));
        }
        if fatal.is_some() {
            return Ok(());
        }
        // Promise 13: every user gets its row.
        let mut rows: BTreeSet<UserName> = if spec.user_names.is_empty() {
            world.aws.users.keys().cloned().collect()
        } else {
            spec.user_names.iter().cloned().collect()
        };
        let got: Vec<&UserName> = results.iter().map(|r| &r.facts.user.user_name).collect();
        let mut sorted = got.clone();
        sorted.sort();
        sorted.dedup();
        if sorted != got || got.len() != rows.len() {
            return fail(format!("rows {got:?}, users {rows:?} (promise 13)"));
        }
        let acted = spec.mode == FleetMode::Rotate && (spec.yes || spec.confirm);
        for r in results {
            let user = &r.facts.user.user_name;
            rows.remove(user);
            match (&r.error, &r.verdict) {
                (Some((op, f)), _) => {
                    if f.message.contains("internal error") {
                        return fail(format!("{user}: {}", f.text(*op)));
                    }
                    let missing = *op == Some("GetUser") && !world.aws.users.contains_key(user);
                    if !missing && !self.faulted.contains(user) {
                        return fail(format!(
                            "{user} failed with no fault on its requests: {}",
                            f.text(*op)
                        ));
                    }
                }
                (None, None) => return fail(format!("{user} has neither a stage nor an error")),
                (None, Some(v)) => {
                    // A user whose requests met no fault did all its steps, as decided.
                    if acted && !declined && !self.faulted.contains(user) && r.done != v.steps {
                        return fail(format!(
                            "{user}: {:?} done of {:?}, without an error",
                            r.done, v.steps
                        ));
                    }
                }
            }
        }
        if !rows.is_empty() {
            return fail(format!("no row for {rows:?} (promise 13)"));
        }
        if acted && !declined {
            self.reminded(results)?;
        }
        Ok(())
    }

    /// `--warn-before`: a run that found a delivery in its reminder's window (the new key
    /// unused, the old one not deactivated, the deadline near and not passed) and did not fail
    /// its user reminded the owner, unless an earlier run had. (The end of a scenario cannot
    /// tell: no run may fall in the window.)
    fn reminded(&self, results: &[UserResult]) -> Result<(), Violation> {
        let (Some((_, n)), Some(p), Some(now)) = (&self.notify, &self.policy, self.run_start)
        else {
            return Ok(());
        };
        let (Some(after), Some(warn)) = (p.deactivate_after, n.warn_before) else {
            return Ok(());
        };
        for r in results {
            let (None, Some(v)) = (&r.error, &r.verdict) else {
                continue;
            };
            let Some(Ok(Marker::Delivered {
                access_key_id,
                delivered,
                deactivated: None,
                notified,
                ..
            })) = &r.facts.delivery
            else {
                continue;
            };
            let user = &r.facts.user.user_name;
            let unused = r
                .facts
                .last_used
                .iter()
                .any(|(id, t)| id == access_key_id && t.is_none());
            let deadline = delivered.add(after);
            let in_window = now < deadline
                && now.as_millis() + i64::try_from(warn.as_millis()).unwrap_or(i64::MAX)
                    >= deadline.as_millis();
            let deactivating = v
                .steps
                .iter()
                .any(|s| matches!(s, Step::Deactivate(_) | Step::RecordDeactivation));
            let idle = matches!(v.stage, Stage::Blocked | Stage::Exempt | Stage::Caller);
            let addressed = address_in(&r.facts.user.tags, &n.email_tag).is_some();
            let key = (user.clone(), access_key_id.clone(), Event::Reminder);
            if unused
                && in_window
                && addressed
                && !idle
                && !deactivating
                && !notified.contains(&Event::Reminder)
                && !self.mailed_this_run.contains(&key)
            {
                return fail(format!(
                    "{user}'s delivery of {access_key_id} is due to be deactivated on {deadline}, within --warn-before, unused: the run did not remind its owner"
                ));
            }
        }
        Ok(())
    }

    /// At the end of a scenario, after a clean run: promise 10. No key of the tool's own is
    /// left whose secret is nowhere (neither held by its owner nor in a delivery), and no
    /// delivery is left half done; except for users that no run may change (the caller, the
    /// exempt).
    ///
    /// Under `--encrypt`, a user blocked for want of a recipient is no exception: what an
    /// unfinished delivery left is undone while the user waits for one.
    pub fn end(&self, world: &FleetWorld, exempt_groups: &[String]) -> Result<(), Violation> {
        let protected = Self::protected(world, exempt_groups);
        let left = |user: &UserName| protected.contains(user);
        for k in &world.aws.keys {
            if left(&k.user) || !world.aws.created.contains(&k.id) {
                continue;
            }
            // The key a delivery replaces is its owner's until the delivery ends: the run
            // that ends it deletes it.
            let replaced =
                Self::delivery_of(world, &k.user).is_some_and(|(d, _)| d.replaces == k.id);
            if Self::kept(world, &k.user, &k.id).is_none() && !replaced {
                return fail(format!(
                    "{} of {} exists, {}, and its secret is nowhere (promise 10)",
                    k.id, k.user, k.status
                ));
            }
        }
        for (name, s) in &world.aws.secrets {
            let Some(user) = delivery::user_of(name) else {
                continue;
            };
            if left(&user) {
                continue;
            }
            if let Some(Ok(Marker::Pending { .. })) = s.description.as_deref().map(Marker::parse) {
                return fail(format!("{name} is left pending after a clean run"));
            }
        }
        if !world.unopened.is_empty() {
            return fail(format!(
                "owners could not open their sealed deliveries: {:?}",
                world.unopened
            ));
        }
        self.end_notices(world, &protected)
    }

    /// `--notify-from` at the end of a scenario (promise (e) of the module docs): what the last
    /// clean run owed was mailed and recorded, what is recorded was mailed, and every recorded
    /// deactivation was told.
    fn end_notices(
        &self,
        world: &FleetWorld,
        protected: &BTreeSet<UserName>,
    ) -> Result<(), Violation> {
        let Some((_, policy)) = &self.notify else {
            return Ok(());
        };
        let now = self.run_start.unwrap_or(world.now);
        let deactivate_after = self.policy.as_ref().and_then(|p| p.deactivate_after);
        let address = |user: &UserName| {
            world
                .aws
                .users
                .get(user)
                .and_then(|u| address_in(&u.tags, &policy.email_tag))
        };
        let mailed = |key: &MailKey| self.mailed.get(key).copied().unwrap_or(0) > 0;
        for (name, s) in &world.aws.secrets {
            let (
                Some(user),
                Some(Ok(Marker::Delivered {
                    access_key_id,
                    delivered,
                    deactivated,
                    notified,
                    ..
                })),
            ) = (
                delivery::user_of(name),
                s.description.as_deref().map(Marker::parse),
            )
            else {
                continue;
            };
            for &e in &notified {
                if !mailed(&(user.clone(), access_key_id.clone(), e)) {
                    return fail(format!(
                        "{name} records the {e:?} mail about {access_key_id} as sent, and none was"
                    ));
                }
            }
            let idle = matches!(
                self.last_stage.get(&user),
                Some(Stage::Blocked | Stage::Exempt | Stage::Caller)
            );
            if protected.contains(&user) || idle || address(&user).is_none() {
                continue;
            }
            let used = world
                .aws
                .key(&access_key_id)
                .is_some_and(|k| k.last_used.is_some());
            // The mails owed, as the spec tells them (not the core's `notice::owed`): word of
            // the delivery while the new key waits unused and the old one works, a reminder
            // `--warn-before` the deadline (the deadline not passed), word of the deactivation.
            let waiting = deactivated.is_none() && !used;
            let deadline = deactivate_after.map(|a| delivered.add(a));
            let remind = match (deadline, policy.warn_before) {
                (Some(d), Some(w)) => {
                    waiting && now < d && now.as_millis() + w.as_millis() as i64 >= d.as_millis()
                }
                _ => false,
            };
            let owed: Vec<Event> = [
                (Event::Delivered, waiting),
                (Event::Reminder, remind),
                (Event::Deactivated, deactivated.is_some()),
            ]
            .into_iter()
            .filter(|(e, due)| *due && !notified.contains(e))
            .map(|(e, _)| e)
            .collect();
            if !owed.is_empty() {
                return fail(format!(
                    "after a clean run, {user} is still owed {owed:?} about {access_key_id} (recorded: {notified:?})"
                ));
            }
        }
        for (user, id) in &self.deactivations {
            // A run whose listing lagged behind the record (a crashed run's, a minute before)
            // may end the delivery without knowing of the deactivation: its owner had used
            // the new key and deleted the old one itself.
            let unaware = self.seen.get(id).is_some_and(|s| s.ended_unaware);
            if protected.contains(user) || address(user).is_none() || unaware {
                continue;
            }
            if !mailed(&(user.clone(), id.clone(), Event::Deactivated)) {
                return fail(format!(
                    "the deactivation of the key {id} replaced for {user} was recorded and never mailed"
                ));
            }
        }
        Ok(())
    }
}
