//! A simulated IAM and a model of the shell, for tests and the demo.
//!
//! [`SimIam`] keeps users and keys with IAM's rules (two keys per user, `LimitExceeded`,
//! `NoSuchEntity`, signatures checked against the secret) and eventual consistency: a new key
//! answers `sts:GetCallerIdentity` only after a propagation delay, and (when `flaky`) sometimes a
//! little before it, as different endpoints learn of it at different times. [`World::run`] drives
//! the real core (profile selection, [`crate::plan::decide`], [`crate::rotation::Rotation`],
//! resume from journals) the way the shell does, with a [`FaultPlan`] that throttles, fails,
//! drops answers, and crashes the process before or after any step. [`Checker`] asserts the
//! spec's promises after every step.
//!
//! Everything is deterministic for a given world, fault plan and seed. No I/O.

use std::collections::{BTreeMap, BTreeSet};

use crate::ini::FileKind;
use crate::key::{AccessKeyId, KeyMeta, KeyStatus, SecretAccessKey, UserName};
use crate::plan::{self, Options, Plan, PlanError};
use crate::profile::{self, AwsFiles, Selection};
use crate::rotation::{Action, Config, DeletePurpose, Failure, FailureClass, Outcome, Report};
use crate::session::{Mode, Request, Session, SessionAction, Signer, TaskId, TaskOutcome};
use crate::time::{Span, Timestamp};

/// One key in the simulated IAM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimKey {
    /// Whose.
    pub user: UserName,
    /// The id.
    pub id: AccessKeyId,
    /// The secret.
    pub secret: String,
    /// Active or not.
    pub status: KeyStatus,
    /// Created at.
    pub created: Timestamp,
    /// From when STS accepts it everywhere.
    pub valid_from: Timestamp,
}

/// The simulated IAM and STS.
#[derive(Debug, Clone)]
pub struct SimIam {
    /// The account id.
    pub account: String,
    /// Every key.
    pub keys: Vec<SimKey>,
    /// Users allowed to manage other users' keys.
    pub admins: BTreeSet<UserName>,
    /// How long a new key takes to work.
    pub propagation: Span,
    /// Whether a new key sometimes answers early (within the last two seconds of propagation).
    pub flaky: bool,
    /// Keys created through the simulated API.
    pub created: BTreeSet<AccessKeyId>,
    /// Keys that have answered `GetCallerIdentity` at least once.
    pub verified: BTreeSet<AccessKeyId>,
    next_id: u64,
    rng: u64,
}

impl SimIam {
    /// An empty account.
    pub fn new(account: &str, propagation: Span, seed: u64) -> Self {
        Self {
            account: account.to_owned(),
            keys: Vec::new(),
            admins: BTreeSet::new(),
            propagation,
            flaky: true,
            created: BTreeSet::new(),
            verified: BTreeSet::new(),
            next_id: 1,
            rng: seed | 1,
        }
    }

    /// Adds a key that already works (a world's starting state).
    pub fn add_key(
        &mut self,
        user: &str,
        status: KeyStatus,
        created: Timestamp,
    ) -> (AccessKeyId, String) {
        let (id, secret) = self.fresh();
        self.keys.push(SimKey {
            user: UserName::new(user),
            id: id.clone(),
            secret: secret.clone(),
            status,
            created,
            valid_from: created,
        });
        (id, secret)
    }

    fn fresh(&mut self) -> (AccessKeyId, String) {
        let n = self.next_id;
        self.next_id += 1;
        let id = AccessKeyId::new(format!("AKIASIM{n:013}")).expect("generated ids are valid");
        let secret = format!("sim/Secret+{n:04}x{:08x}", self.rand() as u32);
        (id, secret)
    }

    fn rand(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    /// A user's keys, as `ListAccessKeys` shows them.
    pub fn list(&self, user: &UserName) -> Vec<KeyMeta> {
        self.keys
            .iter()
            .filter(|k| &k.user == user)
            .map(|k| KeyMeta {
                access_key_id: k.id.clone(),
                status: k.status,
                create_date: k.created,
                last_used: None,
            })
            .collect()
    }

    /// The key with this id.
    pub fn key(&self, id: &AccessKeyId) -> Option<&SimKey> {
        self.keys.iter().find(|k| &k.id == id)
    }

    fn arn(&self, user: &UserName) -> String {
        format!("arn:aws:iam::{}:user/{user}", self.account)
    }

    /// STS: who signs with this key, if it works here and now.
    fn authenticate(
        &mut self,
        id: &AccessKeyId,
        secret: &str,
        now: Timestamp,
    ) -> Result<UserName, Failure> {
        let denied = || {
            Failure::new(
                FailureClass::NotAuthenticated,
                Some("InvalidClientTokenId"),
                "The security token included in the request is invalid.",
            )
        };
        let flaky = self.flaky;
        let early = flaky && self.rand() % 3 == 0;
        let k = self.key(id).ok_or_else(denied)?;
        if k.status != KeyStatus::Active {
            return Err(denied());
        }
        if k.secret != secret {
            return Err(Failure::new(
                FailureClass::NotAuthenticated,
                Some("SignatureDoesNotMatch"),
                "The request signature we calculated does not match the signature you provided.",
            ));
        }
        let in_window =
            now >= k.valid_from || (early && k.valid_from.since(now) <= Span::from_secs(2));
        if !in_window {
            return Err(denied());
        }
        Ok(k.user.clone())
    }

    fn authorize(&self, caller: &UserName, target: &UserName) -> Result<(), Failure> {
        if caller == target || self.admins.contains(caller) {
            Ok(())
        } else {
            Err(Failure::new(
                FailureClass::AccessDenied,
                Some("AccessDenied"),
                format!("User {caller} is not authorized"),
            ))
        }
    }
}

/// What happens to one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// It works.
    None,
    /// `Throttling`: refused, not executed.
    Throttle,
    /// Fails with a 5xx before the service acts.
    FailBefore,
    /// The service acts, then the answer is lost (timeout).
    LoseAnswer,
    /// A file write fails (disk full, permissions).
    Io,
    /// The process dies before the step.
    CrashBefore,
    /// The process dies after the step took effect, before it saw the answer.
    CrashAfter,
}

/// Faults by step number, counted over the whole scenario (all runs).
#[derive(Debug, Clone, Default)]
pub struct FaultPlan {
    /// Step number → fault.
    pub faults: BTreeMap<usize, Fault>,
    /// Steps taken so far.
    pub step: usize,
}

impl FaultPlan {
    fn next(&mut self) -> Fault {
        let f = self.faults.get(&self.step).copied().unwrap_or(Fault::None);
        self.step += 1;
        f
    }
}

/// What a run is asked to do.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// Which profiles.
    pub selection: Selection,
    /// Admin mode: rotate this user's key with the selection's (single) profile as the caller.
    pub admin_user: Option<UserName>,
    /// The options.
    pub options: Options,
    /// Timing.
    pub config: Config,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEnd {
    /// It ran to its end (some rotations may have failed: see the reports).
    Completed {
        /// One per rotation or resume.
        reports: Vec<Report>,
        /// Rotations refused by the plan (and why), skipped ones included as `None`.
        refused: Vec<PlanError>,
        /// Rotations that needed a confirmation that a non-interactive run cannot give (exit 252).
        needs_confirmation: usize,
        /// Rotations skipped as not due.
        skipped: usize,
    },
    /// Stopped before any request: bad files, unknown or unsupported profile, bad journal.
    Refused(String),
    /// The process died.
    Crashed,
}

/// A promise broken: the test fails with this message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation(pub String);

/// The files, journals, IAM and the clock.
#[derive(Debug, Clone)]
pub struct World {
    /// IAM.
    pub iam: SimIam,
    /// The config file's text.
    pub config: String,
    /// The credentials file's text.
    pub credentials: String,
    /// Journals by id.
    pub journals: BTreeMap<String, String>,
    /// Now.
    pub now: Timestamp,
    /// Latency of each simulated request.
    pub latency: Span,
    /// A log of every step (action, fault, outcome), for the demo and for debugging a failure.
    pub trace: Option<Vec<String>>,
}

/// What the checker remembers across steps and runs.
#[derive(Debug, Clone, Default)]
pub struct Checker {
    /// A secret created and not yet journaled.
    unsaved: BTreeMap<String, (AccessKeyId, String)>,
    /// The key each plan proposed to remove to make room, and how often it was removed since.
    planned_room: BTreeMap<AccessKeyId, usize>,
    /// Holders (file, section header) of each old key at the start of its rotation.
    holders: BTreeMap<AccessKeyId, Vec<(FileKind, String)>>,
    /// Keys in IAM at the very start.
    pub initial_keys: BTreeSet<AccessKeyId>,
    /// Keys that did not work at the very start (a file may hold one: not the tool's doing).
    pub initially_broken: BTreeSet<AccessKeyId>,
    /// New keys handed to the user in admin mode's output (they belong in no file).
    pub delivered: BTreeSet<AccessKeyId>,
    /// Keys deactivated on purpose (`--keep-old`).
    pub deactivated: BTreeSet<AccessKeyId>,
    /// Steps checked.
    pub steps: usize,
}

impl World {
    fn files(&self) -> Result<AwsFiles, String> {
        AwsFiles::parse(&self.config, &self.credentials).map_err(|e| e.to_string())
    }

    fn file_mut(&mut self, file: FileKind) -> &mut String {
        match file {
            FileKind::Config => &mut self.config,
            FileKind::Credentials => &mut self.credentials,
        }
    }

    fn tick(&mut self) {
        self.now = self.now.add(self.latency);
    }

    /// Runs the tool once, as the shell does: a [`Session`] over the files and journals,
    /// executed against the simulated IAM with the fault plan, checking the promises after every
    /// step. There is no terminal: confirmations are declined (exit 252 in the shell).
    pub fn run(
        &mut self,
        spec: &RunSpec,
        faults: &mut FaultPlan,
        check: &mut Checker,
    ) -> Result<RunEnd, Violation> {
        if check.initial_keys.is_empty() && check.steps == 0 {
            check.initial_keys = self.iam.keys.iter().map(|k| k.id.clone()).collect();
            check.initially_broken = self
                .iam
                .keys
                .iter()
                .filter(|k| k.status != KeyStatus::Active)
                .map(|k| k.id.clone())
                .collect();
        }
        // A new process: whatever the last one held only in memory is gone.
        check.unsaved.clear();
        let journals: Vec<(String, String)> = self
            .journals
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let request = Request {
            selection: spec.selection.clone(),
            admin_user: spec.admin_user.clone(),
            options: spec.options.clone(),
            mode: Mode::Rotate,
            max_concurrency: 8,
        };
        let mut session = match Session::new(
            &self.config,
            &self.credentials,
            &journals,
            request,
            spec.config.clone(),
        ) {
            Ok(s) => s,
            Err(e) => return Ok(RunEnd::Refused(e.to_string())),
        };
        let mut listed: BTreeMap<TaskId, Vec<KeyMeta>> = BTreeMap::new();
        let mut started: BTreeSet<TaskId> = BTreeSet::new();
        loop {
            while let Some(action) = session.poll_action() {
                let task = action.task();
                let outcome = match action {
                    SessionAction::Identify { signer, .. } => {
                        let Some(o) = self.request(faults, check, "GetCallerIdentity", |w| {
                            let (id, secret) = w.static_signer(&signer)?;
                            let user = w.iam.authenticate(&id, &secret, w.now)?;
                            Ok(Outcome::Verified {
                                arn: w.iam.arn(&user),
                            })
                        }) else {
                            return Ok(RunEnd::Crashed);
                        };
                        o
                    }
                    SessionAction::ListKeys {
                        signer, user_name, ..
                    } => {
                        let Some(o) = self.request(faults, check, "ListAccessKeys", |w| {
                            let (id, secret) = w.static_signer(&signer)?;
                            let caller = w.iam.authenticate(&id, &secret, w.now)?;
                            w.iam.authorize(&caller, &user_name)?;
                            Ok(Outcome::Keys(w.iam.list(&user_name)))
                        }) else {
                            return Ok(RunEnd::Crashed);
                        };
                        if let Outcome::Keys(k) = &o {
                            listed.insert(task, k.clone());
                        }
                        o
                    }
                    SessionAction::Confirm { .. } => Outcome::Declined,
                    SessionAction::Rotation { signer, action, .. } => {
                        if started.insert(task) {
                            self.plan_started(&session, task, listed.get(&task), spec, check)?;
                        }
                        let journal = session.journal_id(task).unwrap_or("journal").to_owned();
                        let (caller_id, caller_secret) = match self.static_signer(&signer) {
                            Ok(c) => c,
                            Err(f) => {
                                return Err(Violation(format!(
                                    "a rotation without static credentials: {f:?}"
                                )));
                            }
                        };
                        let step = faults.step;
                        let result = self.execute(
                            &action,
                            &journal,
                            &caller_id,
                            &caller_secret,
                            spec,
                            faults,
                            check,
                        )?;
                        if let Some(t) = &mut self.trace {
                            let fault = faults
                                .faults
                                .get(&step)
                                .map_or(String::new(), |f| format!(" [{f:?}]"));
                            t.push(format!(
                                "{} #{step} {action:?}{fault} -> {result:?}",
                                self.now
                            ));
                        }
                        let Some(outcome) = result else {
                            return Ok(RunEnd::Crashed);
                        };
                        if let Outcome::KeyCreated {
                            access_key_id,
                            secret,
                            ..
                        } = &outcome
                        {
                            check.unsaved.insert(
                                journal.clone(),
                                (access_key_id.clone(), secret.expose().to_owned()),
                            );
                        }
                        outcome
                    }
                };
                session.handle_outcome(task, outcome, self.now);
                self.check_state(spec, check)?;
            }
            if session.is_done() {
                break;
            }
            match session.poll_timeout() {
                Some(t) => {
                    if t > self.now {
                        self.now = t;
                    }
                    session.handle_timeout(self.now);
                }
                None => {
                    return Err(Violation(
                        "the session is stuck: no action, no timeout, not done".into(),
                    ));
                }
            }
        }
        let mut reports = Vec::new();
        let mut refused = Vec::new();
        let (mut needs_confirmation, mut skipped) = (0, 0);
        for r in session.into_results() {
            let text = format!("{r:?}");
            if self.iam.keys.iter().any(|k| text.contains(&k.secret)) {
                return Err(Violation("a secret appears in a result".into()));
            }
            match r.outcome {
                TaskOutcome::Rotation(report) => reports.push(report),
                TaskOutcome::Refused(e) => refused.push(e),
                TaskOutcome::NeedsConfirmation(_) => needs_confirmation += 1,
                TaskOutcome::Skipped(_) => skipped += 1,
                _ => {}
            }
        }
        Ok(RunEnd::Completed {
            reports,
            refused,
            needs_confirmation,
            skipped,
        })
    }

    fn static_signer(&self, signer: &Signer) -> Result<(AccessKeyId, String), Failure> {
        match signer {
            Signer::Static {
                access_key_id,
                secret,
                ..
            } => Ok((access_key_id.clone(), secret.expose().to_owned())),
            Signer::Profile(p) => {
                let files = self
                    .files()
                    .map_err(|e| Failure::new(FailureClass::Other, None, e))?;
                let r = profile::resolve(&files, p)
                    .map_err(|e| Failure::new(FailureClass::Other, None, e.to_string()))?;
                Ok((r.access_key_id, r.secret.expose().to_owned()))
            }
        }
    }

    /// A request made before planning (identity, key list), with the fault plan applied.
    fn request(
        &mut self,
        faults: &mut FaultPlan,
        check: &mut Checker,
        label: &str,
        f: impl FnOnce(&mut World) -> Result<Outcome, Failure>,
    ) -> Option<Outcome> {
        check.steps += 1;
        self.tick();
        let step = faults.step;
        let fault = faults.next();
        let outcome = match fault {
            Fault::CrashBefore => None,
            Fault::Throttle => Some(Outcome::Failed(Failure::new(
                FailureClass::Throttled,
                Some("Throttling"),
                "Rate exceeded",
            ))),
            Fault::FailBefore | Fault::LoseAnswer | Fault::Io => Some(Outcome::Failed(
                Failure::new(FailureClass::Transient, None, "HTTP 503"),
            )),
            Fault::None | Fault::CrashAfter => {
                let o = f(self).unwrap_or_else(Outcome::Failed);
                (fault == Fault::None).then_some(o)
            }
        };
        if let Some(t) = &mut self.trace {
            t.push(format!("{} #{step} {label} -> {outcome:?}", self.now));
        }
        outcome
    }

    /// When a task's rotation starts: check its plan against the reference policy (promise 2)
    /// and remember what it must do.
    fn plan_started(
        &self,
        session: &Session,
        task: TaskId,
        keys: Option<&Vec<KeyMeta>>,
        spec: &RunSpec,
        check: &mut Checker,
    ) -> Result<(), Violation> {
        let Some(plan) = session.plan(task) else {
            return Ok(());
        };
        let files = self.files().map_err(Violation)?;
        if let Some(keys) = keys {
            let in_use = if plan.admin {
                None
            } else {
                plan.old_key.as_ref().map(|k| &k.access_key_id)
            };
            check_decision(plan, keys, &files.held_keys(), &spec.options, in_use)?;
        }
        if let Some(r) = &plan.make_room {
            check.planned_room.insert(r.access_key_id.clone(), 0);
        }
        if let (Some(old), false) = (&plan.old_key, plan.admin) {
            let hs = files
                .holders(&old.access_key_id)
                .into_iter()
                .map(|h| (h.file, h.section.into_string()))
                .collect();
            check.holders.insert(old.access_key_id.clone(), hs);
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn execute(
        &mut self,
        action: &Action,
        journal: &str,
        caller_id: &AccessKeyId,
        caller_secret: &str,
        spec: &RunSpec,
        faults: &mut FaultPlan,
        check: &mut Checker,
    ) -> Result<Option<Outcome>, Violation> {
        check.steps += 1;
        self.tick();
        // Promise 6: an action's printable forms never show a secret.
        let shown = format!("{action:?}");
        if self.iam.keys.iter().any(|k| shown.contains(&k.secret)) {
            return Err(Violation(format!("a secret appears in {shown}")));
        }
        // Promise 3: once created, the secret goes to disk before any other request.
        if let Some((id, secret)) = check.unsaved.get(journal) {
            let ok = match action {
                Action::WriteJournal { contents } => contents.expose().contains(secret.as_str()),
                Action::DeleteKey { access_key_id, .. } => access_key_id == id,
                _ => false,
            };
            if !ok {
                return Err(Violation(format!(
                    "{action:?} sent before the new secret of {id} was journaled"
                )));
            }
        }
        let fault = faults.next();
        if fault == Fault::CrashBefore {
            return Ok(None);
        }
        let io_fail = |what: &str| {
            Outcome::Failed(Failure::new(
                FailureClass::Io,
                None,
                format!("cannot write {what}"),
            ))
        };
        let transient = || {
            Outcome::Failed(Failure::new(
                FailureClass::Transient,
                None,
                "connection closed",
            ))
        };
        let is_file_action = matches!(
            action,
            Action::WriteJournal { .. }
                | Action::RemoveJournal
                | Action::UpdateFile { .. }
                | Action::DeliverKey { .. }
        );
        if is_file_action {
            if matches!(fault, Fault::Io | Fault::FailBefore | Fault::Throttle) {
                return Ok(Some(io_fail("file")));
            }
        } else {
            match fault {
                Fault::Throttle => {
                    return Ok(Some(Outcome::Failed(Failure::new(
                        FailureClass::Throttled,
                        Some("Throttling"),
                        "Rate exceeded",
                    ))));
                }
                Fault::FailBefore | Fault::Io => return Ok(Some(transient())),
                _ => {}
            }
        }
        let outcome = match action {
            Action::WriteJournal { contents } => {
                if let Some((_, secret)) = check.unsaved.get(journal) {
                    if contents.expose().contains(secret.as_str()) {
                        check.unsaved.remove(journal);
                    }
                }
                self.journals
                    .insert(journal.to_owned(), contents.expose().clone());
                Outcome::Done
            }
            Action::RemoveJournal => {
                self.journals.remove(journal);
                Outcome::Done
            }
            Action::DeliverKey { access_key_id, .. } => {
                check.delivered.insert(access_key_id.clone());
                Outcome::Done
            }
            Action::UpdateFile { file, edit } => {
                let text = self.file_mut(*file).clone();
                match edit.apply(*file, &text) {
                    Ok(Some(applied)) => {
                        *self.file_mut(*file) = applied.text;
                        Outcome::Done
                    }
                    Ok(None) => Outcome::Unchanged,
                    Err(e) => Outcome::Failed(Failure::new(FailureClass::Io, None, e.to_string())),
                }
            }
            Action::VerifyKey {
                access_key_id,
                secret,
            } => {
                match self
                    .iam
                    .authenticate(access_key_id, secret.expose(), self.now)
                {
                    Ok(user) => {
                        self.iam.verified.insert(access_key_id.clone());
                        Outcome::Verified {
                            arn: self.iam.arn(&user),
                        }
                    }
                    Err(f) => Outcome::Failed(f),
                }
            }
            Action::CreateKey { user_name }
            | Action::ListKeys { user_name }
            | Action::DeleteKey { user_name, .. }
            | Action::DeactivateKey { user_name, .. } => {
                let caller = match self.iam.authenticate(caller_id, caller_secret, self.now) {
                    Ok(c) => c,
                    Err(f) => {
                        return Ok(Some(Outcome::Failed(Failure {
                            class: FailureClass::Other,
                            ..f
                        })));
                    }
                };
                if let Err(f) = self.iam.authorize(&caller, user_name) {
                    return Ok(Some(Outcome::Failed(f)));
                }
                self.iam_effect(action, journal, spec, check)?
            }
        };
        match fault {
            Fault::CrashAfter => Ok(None),
            Fault::LoseAnswer if !is_file_action => Ok(Some(transient())),
            _ => Ok(Some(outcome)),
        }
    }

    fn iam_effect(
        &mut self,
        action: &Action,
        journal: &str,
        spec: &RunSpec,
        check: &mut Checker,
    ) -> Result<Outcome, Violation> {
        Ok(match action {
            Action::CreateKey { user_name } => {
                if self.iam.list(user_name).len() >= plan::KEYS_PER_USER {
                    Outcome::Failed(Failure::new(
                        FailureClass::LimitExceeded,
                        Some("LimitExceeded"),
                        "Cannot exceed quota for AccessKeysPerUser: 2",
                    ))
                } else {
                    let (id, secret) = self.iam.fresh();
                    let valid_from = self.now.add(self.iam.propagation);
                    self.iam.keys.push(SimKey {
                        user: user_name.clone(),
                        id: id.clone(),
                        secret: secret.clone(),
                        status: KeyStatus::Active,
                        created: self.now,
                        valid_from,
                    });
                    self.iam.created.insert(id.clone());
                    Outcome::KeyCreated {
                        access_key_id: id,
                        secret: SecretAccessKey::new(secret).expect("generated secrets are valid"),
                        create_date: self.now,
                    }
                }
            }
            Action::ListKeys { user_name } => Outcome::Keys(self.iam.list(user_name)),
            Action::DeleteKey {
                access_key_id,
                purpose,
                user_name,
            } => {
                if check
                    .unsaved
                    .get(journal)
                    .is_some_and(|(id, _)| id == access_key_id)
                {
                    // The secret is moot once the key is gone.
                    check.unsaved.remove(journal);
                }
                if self.iam.key(access_key_id).is_some() {
                    self.check_removal(access_key_id, Some(*purpose), spec, check)?;
                }
                let before = self.iam.keys.len();
                self.iam
                    .keys
                    .retain(|k| !(&k.id == access_key_id && &k.user == user_name));
                if self.iam.keys.len() == before {
                    Outcome::Failed(Failure::new(
                        FailureClass::NotFound,
                        Some("NoSuchEntity"),
                        "The Access Key was not found",
                    ))
                } else {
                    Outcome::Done
                }
            }
            Action::DeactivateKey {
                access_key_id,
                user_name,
            } => {
                if self
                    .iam
                    .key(access_key_id)
                    .is_some_and(|k| k.status == KeyStatus::Active)
                {
                    self.check_removal(access_key_id, None, spec, check)?;
                }
                match self
                    .iam
                    .keys
                    .iter_mut()
                    .find(|k| &k.id == access_key_id && &k.user == user_name)
                {
                    Some(k) => {
                        k.status = KeyStatus::Inactive;
                        check.deactivated.insert(access_key_id.clone());
                        Outcome::Done
                    }
                    None => Outcome::Failed(Failure::new(
                        FailureClass::NotFound,
                        Some("NoSuchEntity"),
                        "not found",
                    )),
                }
            }
            _ => Outcome::Done,
        })
    }

    /// Promises 1 and 2, checked when a key is about to be deleted or deactivated.
    fn check_removal(
        &self,
        id: &AccessKeyId,
        purpose: Option<DeletePurpose>,
        spec: &RunSpec,
        check: &mut Checker,
    ) -> Result<(), Violation> {
        let files = self.files().map_err(Violation)?;
        let in_files = !files.holders(id).is_empty();
        let named = spec.options.delete.as_ref() == Some(id);
        if in_files && !named {
            return Err(Violation(format!(
                "{id} removed or deactivated ({purpose:?}) while a file holds it"
            )));
        }
        match purpose {
            Some(DeletePurpose::MakeRoom) => {
                let Some(count) = check.planned_room.get_mut(id) else {
                    return Err(Violation(format!(
                        "{id} removed to make room but no plan proposed it"
                    )));
                };
                *count += 1;
                if *count > 1 {
                    return Err(Violation(format!("{id} removed to make room twice")));
                }
            }
            Some(DeletePurpose::Orphan | DeletePurpose::Undo) => {
                if !self.iam.created.contains(id) {
                    return Err(Violation(format!(
                        "{id} deleted as the tool's own key, but the tool did not create it"
                    )));
                }
            }
            Some(DeletePurpose::OldKey) | None => {
                // The replacement must be in every place that held the old key and must have
                // answered as the same user.
                if let Some(holders) = check.holders.get(id) {
                    for (file, section) in holders {
                        let doc = files.document(*file);
                        let Some(s) = doc.sections().iter().find(|s| s.header == section) else {
                            continue;
                        };
                        let Some(e) = doc.entry(s, "aws_access_key_id") else {
                            continue;
                        };
                        let Some(held) = AccessKeyId::new(e.value) else {
                            continue;
                        };
                        if !self.iam.verified.contains(&held) {
                            return Err(Violation(format!(
                                "{id} retired while [{section}] holds {held}, which never answered GetCallerIdentity"
                            )));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// After every step: every key in the files works (exists and is active), except a key the
    /// user named with --delete; no user holds more than two keys.
    fn check_state(&self, spec: &RunSpec, check: &Checker) -> Result<(), Violation> {
        let files = self
            .files()
            .map_err(|e| Violation(format!("a file no longer parses: {e}")))?;
        for (id, holders) in files.held_keys().iter() {
            if spec.options.delete.as_ref() == Some(id) || check.initially_broken.contains(id) {
                continue;
            }
            let works = self
                .iam
                .key(id)
                .is_some_and(|k| k.status == KeyStatus::Active);
            if !works && (check.initial_keys.contains(id) || self.iam.created.contains(id)) {
                return Err(Violation(format!(
                    "files hold {id} ({holders:?}) but IAM has no active key by that id"
                )));
            }
        }
        let mut per_user: BTreeMap<&UserName, usize> = BTreeMap::new();
        for k in &self.iam.keys {
            *per_user.entry(&k.user).or_insert(0) += 1;
        }
        if per_user.values().any(|&n| n > plan::KEYS_PER_USER) {
            return Err(Violation("a user has more than two keys".into()));
        }
        Ok(())
    }

    /// Promise 8, at the end of a scenario: every place that held a rotated key holds a key that
    /// works with the secret beside it; no key exists that is neither in a file nor was there at
    /// the start; no journal is left.
    pub fn check_end(&self, check: &Checker) -> Result<(), Violation> {
        if !self.journals.is_empty() {
            return Err(Violation(format!(
                "journals left: {:?}",
                self.journals.keys().collect::<Vec<_>>()
            )));
        }
        let files = self.files().map_err(Violation)?;
        for (file, section) in check.holders.values().flatten() {
            let doc = files.document(*file);
            let Some(s) = doc.sections().iter().find(|s| s.header == section) else {
                return Err(Violation(format!("section [{section}] disappeared")));
            };
            let get = |k: &str| doc.entry(s, k).map(|e| e.value);
            let (Some(id), Some(secret)) = (get("aws_access_key_id"), get("aws_secret_access_key"))
            else {
                return Err(Violation(format!("[{section}] lost its keys")));
            };
            let works = self.iam.keys.iter().any(|k| {
                k.id.as_str() == id && k.secret == secret && k.status == KeyStatus::Active
            });
            if !works {
                return Err(Violation(format!(
                    "[{section}] in {file:?} holds {id}, which does not work"
                )));
            }
        }
        let held = files.held_keys();
        for k in &self.iam.keys {
            let kept = check.deactivated.contains(&k.id) && k.status == KeyStatus::Inactive;
            if !held.contains_key(&k.id)
                && !check.initial_keys.contains(&k.id)
                && !check.delivered.contains(&k.id)
                && !kept
            {
                return Err(Violation(format!(
                    "{} exists but is in no file and was not there at the start",
                    k.id
                )));
            }
        }
        Ok(())
    }
}

/// Promise 2, checked on every decision with a reference written independently of the planner.
fn check_decision(
    plan: &Plan,
    keys: &[KeyMeta],
    held: &plan::HeldKeys,
    options: &Options,
    in_use: Option<&AccessKeyId>,
) -> Result<(), Violation> {
    let full = keys.len() >= plan::KEYS_PER_USER;
    match (&plan.make_room, full) {
        (Some(_), false) => {
            return Err(Violation(
                "a key removed to make room although a slot was free".into(),
            ));
        }
        (None, true) => {
            return Err(Violation(
                "no room made although both slots are taken".into(),
            ));
        }
        _ => {}
    }
    if let Some(r) = &plan.make_room {
        if Some(&r.access_key_id) == in_use {
            return Err(Violation("the key in use proposed for removal".into()));
        }
        let expected = match &options.delete {
            Some(d) => Some(d.clone()),
            None => {
                let mut free: Vec<&KeyMeta> = keys
                    .iter()
                    .filter(|k| {
                        Some(&k.access_key_id) != in_use && !held.contains_key(&k.access_key_id)
                    })
                    .collect();
                // Inactive before active, then oldest first.
                free.sort_by(|a, b| {
                    let rank = |k: &KeyMeta| u8::from(k.status == KeyStatus::Active);
                    rank(a)
                        .cmp(&rank(b))
                        .then(a.create_date.cmp(&b.create_date))
                        .then(a.access_key_id.cmp(&b.access_key_id))
                });
                free.first().map(|k| k.access_key_id.clone())
            }
        };
        if expected.as_ref() != Some(&r.access_key_id) {
            return Err(Violation(format!(
                "policy chose {} to make room, reference says {expected:?}",
                r.access_key_id
            )));
        }
        if held.contains_key(&r.access_key_id) && options.delete.as_ref() != Some(&r.access_key_id)
        {
            return Err(Violation(
                "a key a profile holds proposed without --delete".into(),
            ));
        }
        if r.needs_confirmation != (!options.yes && options.delete.is_none()) {
            return Err(Violation("needs_confirmation wrong".into()));
        }
    }
    Ok(())
}
