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
use crate::journal::Journal;
use crate::key::{AccessKeyId, KeyMeta, KeyStatus, SecretAccessKey, UserName};
use crate::plan::{self, Decision, Identity, Options, PlanError, Target};
use crate::profile::{self, AwsFiles, Selection};
use crate::rotation::{
    Action, Config, DeletePurpose, Failure, FailureClass, Outcome, Report, Rotation, Status,
};
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
    unsaved: Option<(AccessKeyId, String)>,
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

    /// Runs the tool once, as the shell would: finish or undo journaled rotations, then plan and
    /// rotate the selection.
    pub fn run(
        &mut self,
        spec: &RunSpec,
        faults: &mut FaultPlan,
        check: &mut Checker,
    ) -> Result<RunEnd, Violation> {
        let files = match self.files() {
            Ok(f) => f,
            Err(e) => return Ok(RunEnd::Refused(e)),
        };
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
        let selected = match profile::select(&files, &spec.selection) {
            Ok(s) => s,
            Err(e) => return Ok(RunEnd::Refused(e.to_string())),
        };
        let mut reports = Vec::new();
        let mut refused = Vec::new();
        let (mut needs_confirmation, mut skipped) = (0, 0);
        let mut done_keys: BTreeSet<AccessKeyId> = BTreeSet::new();

        // 1. Journals first: finish or undo what a killed run left.
        let journals: Vec<(String, String)> = self
            .journals
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (name, text) in journals {
            let journal = match Journal::parse(&text) {
                Ok(j) => j,
                Err(e) => return Ok(RunEnd::Refused(e.to_string())),
            };
            let callers = self.callers_for_resume(&journal, &selected);
            let Some((mut caller_id, mut caller_secret)) = callers.first().cloned() else {
                return Ok(RunEnd::Refused(format!(
                    "no usable credentials to resume journal {name}"
                )));
            };
            let keys = match self.iam_call(faults, check, "ListAccessKeys", |w| {
                let mut last = None;
                for (id, secret) in &callers {
                    match w.iam.authenticate(id, secret, w.now) {
                        Ok(caller) => {
                            w.iam.authorize(&caller, &journal.user_name)?;
                            caller_id = id.clone();
                            caller_secret = secret.clone();
                            return Ok(w.iam.list(&journal.user_name));
                        }
                        Err(f) => last = Some(f),
                    }
                }
                Err(last.unwrap_or_else(|| {
                    Failure::new(FailureClass::NotAuthenticated, None, "no credentials")
                }))
            })? {
                Step::Crashed => return Ok(RunEnd::Crashed),
                Step::Answer(Ok(k)) => k,
                Step::Answer(Err(f)) => {
                    // The shell reports the error and exits; the journal stays for the next run.
                    if let Some(t) = &mut self.trace {
                        t.push(format!(
                            "resume of {name}: ListAccessKeys as {caller_id} failed: {f:?}"
                        ));
                    }
                    return Ok(RunEnd::Completed {
                        reports,
                        refused: vec![],
                        needs_confirmation,
                        skipped,
                    });
                }
            };
            if let Some(old) = &journal.old_access_key_id {
                done_keys.insert(old.clone());
            }
            let rot = Rotation::resume(journal, &keys, spec.config.clone(), self.now);
            let Some(report) =
                self.drive(rot, &name, &caller_id, &caller_secret, spec, faults, check)?
            else {
                return Ok(RunEnd::Crashed);
            };
            if report.status == Status::CleanedUp {
                if let Some(old) = &report.old_access_key_id {
                    done_keys.remove(old);
                }
            }
            reports.push(report);
        }

        // 2. Fresh rotations.
        for cand in &selected.candidates {
            if done_keys.contains(&cand.access_key_id) {
                continue;
            }
            let files = match self.files() {
                Ok(f) => f,
                Err(e) => {
                    return Err(Violation(format!(
                        "the tool left a file that does not parse: {e}"
                    )));
                }
            };
            let caller_id = cand.access_key_id.clone();
            let caller_secret = cand.secret.expose().to_owned();
            // GetCallerIdentity with the profile's key.
            let who = match self.iam_call(faults, check, "GetCallerIdentity", |w| {
                w.iam.authenticate(&caller_id, &caller_secret, w.now)
            })? {
                Step::Crashed => return Ok(RunEnd::Crashed),
                Step::Answer(Ok(u)) => u,
                Step::Answer(Err(_)) => continue,
            };
            let (target, identity) = match &spec.admin_user {
                Some(u) => (
                    Target::User(u.clone()),
                    Identity {
                        account: self.iam.account.clone(),
                        arn: self.iam.arn(u),
                        user_name: u.clone(),
                    },
                ),
                None => (
                    Target::Profiles(cand.clone()),
                    Identity::from_arn(&self.iam.arn(&who))
                        .map_err(|e| Violation(e.to_string()))?,
                ),
            };
            let user = identity.user_name.clone();
            let keys = match self.iam_call(faults, check, "ListAccessKeys", |w| {
                let caller = w.iam.authenticate(&caller_id, &caller_secret, w.now)?;
                w.iam.authorize(&caller, &user)?;
                Ok(w.iam.list(&user))
            })? {
                Step::Crashed => return Ok(RunEnd::Crashed),
                Step::Answer(Ok(k)) => k,
                Step::Answer(Err(_)) => continue,
            };
            let held = files.held_keys();
            let decision = plan::decide(&target, &identity, &keys, &held, &spec.options, self.now);
            check_decision(&decision, &keys, &held, &spec.options, &target)?;
            let plan = match decision {
                Decision::Rotate(p) => p,
                Decision::Skip(_) => {
                    skipped += 1;
                    continue;
                }
                Decision::Refuse(e) => {
                    refused.push(e);
                    continue;
                }
            };
            if plan
                .make_room
                .as_ref()
                .is_some_and(|r| r.needs_confirmation)
            {
                // No terminal: stop with 252, change nothing.
                needs_confirmation += 1;
                continue;
            }
            let old = plan.old_key.as_ref().map(|k| k.access_key_id.clone());
            if let Some(r) = &plan.make_room {
                check.planned_room.insert(r.access_key_id.clone(), 0);
            }
            if let Some(old) = &old {
                if !plan.admin {
                    let hs = files
                        .holders(old)
                        .into_iter()
                        .map(|h| (h.file, h.section))
                        .collect();
                    check.holders.insert(old.clone(), hs);
                }
            }
            let secret = if plan.admin {
                None
            } else {
                Some(cand.secret.clone())
            };
            let rot = Rotation::new(
                &plan,
                secret,
                &keys,
                identity,
                spec.config.clone(),
                self.now,
            );
            let name = rot.journal_id();
            let Some(report) =
                self.drive(rot, &name, &caller_id, &caller_secret, spec, faults, check)?
            else {
                return Ok(RunEnd::Crashed);
            };
            reports.push(report);
        }
        Ok(RunEnd::Completed {
            reports,
            refused,
            needs_confirmation,
            skipped,
        })
    }

    /// Credentials to resume with, best first: the journal's old key (it works until the very
    /// end of a rotation, and the new one may still be propagating), then what the files hold now.
    fn callers_for_resume(
        &self,
        journal: &Journal,
        selected: &profile::Selected,
    ) -> Vec<(AccessKeyId, String)> {
        let mut out = Vec::new();
        if journal.admin {
            if let Some(c) = selected.candidates.first() {
                out.push((c.access_key_id.clone(), c.secret.expose().to_owned()));
            }
            return out;
        }
        if let (Some(id), Some(secret)) = (&journal.old_access_key_id, &journal.old_secret) {
            out.push((id.clone(), secret.expose().to_owned()));
        }
        if let Ok(files) = self.files() {
            for p in &journal.profiles {
                if let Ok(r) = profile::resolve(&files, p) {
                    out.push((r.access_key_id, r.secret.expose().to_owned()));
                }
            }
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn drive(
        &mut self,
        mut rot: Rotation,
        journal: &str,
        caller_id: &AccessKeyId,
        caller_secret: &str,
        spec: &RunSpec,
        faults: &mut FaultPlan,
        check: &mut Checker,
    ) -> Result<Option<Report>, Violation> {
        loop {
            while let Some(action) = rot.poll_action() {
                let step = faults.step;
                let result = self.execute(
                    &action,
                    journal,
                    caller_id,
                    caller_secret,
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
                    return Ok(None);
                };
                if let Outcome::KeyCreated {
                    access_key_id,
                    secret,
                    ..
                } = &outcome
                {
                    check.unsaved = Some((access_key_id.clone(), secret.expose().to_owned()));
                }
                rot.handle_outcome(outcome, self.now);
                self.check_state(spec, check)?;
            }
            match rot.poll_timeout() {
                Some(t) => {
                    if t > self.now {
                        self.now = t;
                    }
                    rot.handle_timeout(self.now);
                }
                None => break,
            }
        }
        let report = rot.report().clone();
        let text = format!("{report:?}");
        if self.iam.keys.iter().any(|k| text.contains(&k.secret)) {
            return Err(Violation("a secret appears in a report".into()));
        }
        Ok(Some(report))
    }

    fn iam_call<T>(
        &mut self,
        faults: &mut FaultPlan,
        check: &mut Checker,
        label: &str,
        f: impl FnOnce(&mut World) -> Result<T, Failure>,
    ) -> Result<Step<T>, Violation> {
        check.steps += 1;
        self.tick();
        let step = faults.step;
        if let Some(t) = &mut self.trace {
            t.push(format!(
                "{} #{step} {label} (the shell, before planning)",
                self.now
            ));
        }
        match faults.next() {
            Fault::CrashBefore => return Ok(Step::Crashed),
            Fault::Throttle => {
                return Ok(Step::Answer(Err(Failure::new(
                    FailureClass::Throttled,
                    Some("Throttling"),
                    "Rate exceeded",
                ))));
            }
            Fault::FailBefore => {
                return Ok(Step::Answer(Err(Failure::new(
                    FailureClass::Transient,
                    None,
                    "HTTP 503",
                ))));
            }
            _ => {}
        }
        let r = f(self);
        Ok(Step::Answer(r))
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
        if let Some((id, secret)) = &check.unsaved {
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
                if let Some((_, secret)) = &check.unsaved {
                    if contents.expose().contains(secret.as_str()) {
                        check.unsaved = None;
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
                    Ok(Some(new)) => {
                        *self.file_mut(*file) = new;
                        Outcome::Done
                    }
                    Ok(None) => Outcome::Done,
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
                self.iam_effect(action, spec, check)?
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
                    .as_ref()
                    .is_some_and(|(id, _)| id == access_key_id)
                {
                    // The secret is moot once the key is gone.
                    check.unsaved = None;
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
                        let Some(s) = doc.sections().iter().find(|s| &s.header == section) else {
                            continue;
                        };
                        let Some(e) = s.entries.iter().find(|e| e.key == "aws_access_key_id")
                        else {
                            continue;
                        };
                        let Some(held) = AccessKeyId::new(e.value.clone()) else {
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
        for (id, holders) in files.held_keys() {
            if spec.options.delete.as_ref() == Some(&id) || check.initially_broken.contains(&id) {
                continue;
            }
            let works = self
                .iam
                .key(&id)
                .is_some_and(|k| k.status == KeyStatus::Active);
            if !works && (check.initial_keys.contains(&id) || self.iam.created.contains(&id)) {
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
            let Some(s) = doc.sections().iter().find(|s| &s.header == section) else {
                return Err(Violation(format!("section [{section}] disappeared")));
            };
            let get = |k: &str| {
                s.entries
                    .iter()
                    .find(|e| e.key == k)
                    .map(|e| e.value.clone())
            };
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

enum Step<T> {
    Crashed,
    Answer(Result<T, Failure>),
}

/// Promise 2, checked on every decision with a reference written independently of the planner.
fn check_decision(
    decision: &Decision,
    keys: &[KeyMeta],
    held: &plan::HeldKeys,
    options: &Options,
    target: &Target,
) -> Result<(), Violation> {
    let in_use = match target {
        Target::Profiles(c) => Some(&c.access_key_id),
        Target::User(_) => None,
    };
    let Decision::Rotate(plan) = decision else {
        return Ok(());
    };
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
