//! The fleet promises (spec, "Fleet promises" 9 to 13), checked on every request a fleet run
//! sends, on every change it makes to the simulated AWS, after every step, at the end of each
//! run and at the end of a scenario. A [`Violation`] fails the test with what was broken.

use std::collections::{BTreeMap, BTreeSet};

use crate::action::{Action, DeletePurpose, FailureClass, Outcome};
use crate::error::ErrorKind;
use crate::fleet::delivery::{self, DeliveredKey, Marker};
use crate::fleet::session::{FleetError, FleetMode, UserResult};
use crate::fleet::stage::Policy;
use crate::key::{AccessKeyId, KeyStatus, UserName};
use crate::session::SessionAction;
use crate::sim::Violation;
use crate::time::Span;

use super::aws::{AwsState, FleetKey, SimAws, SimSecret};
use super::world::{Admin, FleetRunSpec, FleetWorld};

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
}

impl FleetChecker {
    /// A checker that knows every secret of `world`'s keys, to look for them where they must
    /// not appear.
    pub fn new(world: &FleetWorld) -> Self {
        let mut c = Self::default();
        c.learn(&world.aws);
        c
    }

    fn learn(&mut self, aws: &SimAws) {
        self.secrets
            .extend(aws.keys.iter().map(|k| k.secret.clone()));
        for s in aws.secrets.values() {
            if let Some(k) = s.value.as_deref().and_then(|v| DeliveredKey::parse(v).ok()) {
                self.delivered.insert(k.access_key_id);
            }
        }
    }

    fn shows_a_secret(&self, text: &str) -> bool {
        self.secrets.iter().any(|s| text.contains(s.as_str()))
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
        self.learn(&world.aws);
        self.before_run =
            (spec.mode != FleetMode::Rotate).then(|| world.aws.state(world.admin_key()));
    }

    pub(super) fn crashed(&mut self) {
        self.unsaved.clear();
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
        if let Some((id, secret)) = self.unsaved.get(&user) {
            let ok = match action {
                Action::StoreSecret { name, value, .. } => {
                    delivery::secret_name(&user).as_ref() == Some(name)
                        && value.expose().contains(secret.as_str())
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
            Action::StoreSecret { name, .. } => world.aws.secrets.get(name).cloned(),
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
        // ListSecrets lags (as Secrets Manager's may, by minutes): a secret it did not show
        // yet makes the pending mark's CreateSecret fail, which fails the user, safely.
        if let (Action::CreateSecret { name, .. }, Outcome::Failed(f)) = (action, outcome)
            && f.class == FailureClass::AlreadyExists
            && world.aws.list_lag > crate::time::Span::ZERO
            && let Some(user) = delivery::user_of(name)
        {
            self.faulted.insert(user);
        }
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
            (Action::StoreSecret { name, value, .. }, Outcome::Done) => {
                let stored_now = world.aws.secrets.get(name).and_then(|s| s.stored);
                if before.secret.and_then(|s| s.stored) != stored_now {
                    self.counts.stored += 1;
                    let Ok(k) = DeliveredKey::parse(value.expose()) else {
                        return fail(format!("the value stored in {name} does not read back"));
                    };
                    if Some(&k.user_name) != delivery::user_of(name).as_ref() {
                        return fail(format!("{name} holds a key of {}", k.user_name));
                    }
                    self.delivered.insert(k.access_key_id.clone());
                    if let Some(user) = delivery::user_of(name)
                        && self
                            .unsaved
                            .get(&user)
                            .is_some_and(|(id, _)| id == &k.access_key_id)
                    {
                        self.unsaved.remove(&user);
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The session hears `outcome`.
    pub(super) fn answered(&mut self, world: &FleetWorld, action: &Action, outcome: &Outcome) {
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
        let k = DeliveredKey::parse(s.value.as_deref()?).ok()?;
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
        Ok(())
    }

    /// At the end of a scenario, after a clean run: promise 10. No key of the tool's own is
    /// left whose secret is nowhere (neither held by its owner nor in a delivery), and no
    /// delivery is left half done; except for users that no run may change (the caller, the
    /// exempt).
    pub fn end(&self, world: &FleetWorld, exempt_groups: &[String]) -> Result<(), Violation> {
        let protected = Self::protected(world, exempt_groups);
        for k in &world.aws.keys {
            if protected.contains(&k.user) || !world.aws.created.contains(&k.id) {
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
            if protected.contains(&user) {
                continue;
            }
            if let Some(Ok(Marker::Pending { .. })) = s.description.as_deref().map(Marker::parse) {
                return fail(format!("{name} is left pending after a clean run"));
            }
        }
        Ok(())
    }
}
