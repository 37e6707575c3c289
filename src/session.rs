//! A whole run of `rotate` or `plan`, as a state machine: which requests the shell sends before
//! planning (who am I, which keys exist), the questions it asks the user, and the rotations it
//! drives, for every profile of the run at once.
//!
//! The shell creates a [`Session`] from the files' text, the journals found beside the
//! credentials file and the command line; it then drains [`Session::poll_action`], executing
//! each [`SessionAction`] (several may be in flight at once, one per task, up to the
//! concurrency limit) and handing each result to [`Session::handle_outcome`]; when nothing is
//! ready it sleeps until [`Session::poll_timeout`]. When [`Session::is_done`], the
//! [`Session::results`] are what the run prints, and [`Session::exit_status`] how it exits.
//!
//! Order of a run:
//!
//! 1. Journals first. Each interrupted rotation is finished or undone before anything is planned
//!    (a `creating` journal is cleaned up and its profiles then rotate afresh).
//! 2. Then the selection is resolved again on the files as they are now, and each distinct key
//!    becomes a task: `GetCallerIdentity` with the key, `ListAccessKeys` for its user,
//!    [`crate::plan::decide`], a confirmation where the plan needs one, then the
//!    [`Rotation`]. Tasks of the same IAM user run one after another (they share two key
//!    slots); tasks of different users run concurrently.
//!
//! The session mirrors every file edit it orders, so later decisions see the files as the
//! earlier rotations left them. It reads nothing itself.

use std::collections::BTreeSet;

use compact_str::CompactString;
use serde::Serialize;

use crate::ini::{Document, FileKind, KeyEdit};
use crate::journal::Journal;
use crate::key::{AccessKeyId, KeyMeta, SecretAccessKey, UserName};
use crate::plan::{
    self, Decision, HeldKeys, Identity, NotAUser, Options, Plan, PlanError, Skip, Target,
};
use crate::profile::{
    self, AwsFiles, Candidate, FileError, ProfileError, Selection, SkippedProfile,
};
use crate::rotation::{Action, Config, Failure, FailureClass, Outcome, Report, Rotation, Status};
use crate::time::Timestamp;

/// A task's number, to route answers back.
pub type TaskId = usize;

/// The credentials a request is signed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signer {
    /// Static keys (from a profile or a journal); with `mfa_serial`, IAM calls go through an
    /// MFA session made from them (`sts:GetSessionToken`).
    Static {
        /// The profile they come from, if any (for messages and the MFA prompt).
        profile: Option<CompactString>,
        /// The key.
        access_key_id: AccessKeyId,
        /// Its secret.
        secret: SecretAccessKey,
        /// The MFA device to use for IAM calls.
        mfa_serial: Option<String>,
    },
    /// Whatever the profile's own credential chain gives (SSO, a role...): admin mode's caller.
    Profile(String),
}

impl Signer {
    fn key_id(&self) -> Option<&AccessKeyId> {
        match self {
            Self::Static { access_key_id, .. } => Some(access_key_id),
            Self::Profile(_) => None,
        }
    }
}

/// What the run is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `rotate`.
    Rotate,
    /// `plan`: decide exactly as `rotate` would, change nothing. Journals are not touched.
    Plan,
}

/// The command line, as the core needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Which profiles.
    pub selection: Selection,
    /// `--user-name`: admin mode; the selection names the caller's profile.
    pub admin_user: Option<UserName>,
    /// The rotate options.
    pub options: Options,
    /// `rotate` or `plan`.
    pub mode: Mode,
    /// How many tasks may have a request in flight at once.
    pub max_concurrency: usize,
}

/// The next thing the shell must do for a task.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "perform the action, then pass its Outcome to `handle_outcome`"]
pub enum SessionAction {
    /// `sts:GetCallerIdentity` with `signer`; answer [`Outcome::Verified`] with the ARN.
    Identify {
        /// The task.
        task: TaskId,
        /// Who signs.
        signer: Signer,
    },
    /// `iam:ListAccessKeys --user-name USER` with `signer`; answer [`Outcome::Keys`].
    ListKeys {
        /// The task.
        task: TaskId,
        /// Who signs.
        signer: Signer,
        /// Whose keys.
        user_name: UserName,
    },
    /// Ask the user to agree to `plan` (its `make_room` removal) at a terminal; answer
    /// [`Outcome::Done`] for yes, [`Outcome::Declined`] for no or when there is no terminal.
    Confirm {
        /// The task.
        task: TaskId,
        /// What would be done.
        plan: Box<Plan>,
    },
    /// One step of a rotation; IAM calls are signed by `signer`.
    Rotation {
        /// The task.
        task: TaskId,
        /// Who signs IAM calls (`VerifyKey` names its own key).
        signer: Signer,
        /// The step.
        action: Action,
    },
}

impl SessionAction {
    /// The task the action belongs to.
    pub fn task(&self) -> TaskId {
        match self {
            Self::Identify { task, .. }
            | Self::ListKeys { task, .. }
            | Self::Confirm { task, .. }
            | Self::Rotation { task, .. } => *task,
        }
    }
}

/// How a task ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum TaskOutcome {
    /// A rotation ran (see its status: rotated, rolled back...), or a journal was resumed.
    Rotation(Report),
    /// `plan`: what `rotate` would do.
    Planned(Plan),
    /// Not due under `--older-than`.
    Skipped(Skip),
    /// No safe plan without another command line.
    Refused(#[serde(serialize_with = "display")] PlanError),
    /// The plan needs the user's agreement, which was not given (declined, or no terminal).
    NeedsConfirmation(Plan),
    /// A request before the plan failed.
    Failed {
        /// The AWS operation.
        operation: &'static str,
        /// How.
        failure: Failure,
    },
    /// The profile's credentials are not an IAM user's.
    NotAUser(#[serde(serialize_with = "display")] NotAUser),
}

fn display<T: std::fmt::Display, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

impl TaskOutcome {
    /// The `aws` CLI exit status this outcome calls for (0 when all is well).
    pub fn exit_status(&self) -> u8 {
        match self {
            Self::Rotation(r) => match r.status {
                Status::Rotated | Status::CleanedUp | Status::InProgress => {
                    if r.left_to_do.is_empty() { 0 } else { 254 }
                }
                Status::Incomplete | Status::RolledBack | Status::Failed => match &r.error {
                    Some(e) if e.operation.is_some() => 254,
                    _ => 255,
                },
            },
            Self::Planned(_) | Self::Skipped(_) => 0,
            Self::Refused(e) => e.exit_status(),
            Self::NeedsConfirmation(_) => 252,
            Self::Failed { failure, .. } => match failure.class {
                FailureClass::Usage => 252,
                // A failure with a service's error code is a service error, whatever the code.
                FailureClass::Other if failure.code.is_some() => 254,
                FailureClass::Io | FailureClass::Other => 255,
                _ => 254,
            },
            Self::NotAUser(_) => 253,
        }
    }
}

/// One task's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskResult {
    /// The profiles concerned.
    pub profiles: Vec<CompactString>,
    /// The key concerned (before the run).
    pub access_key_id: Option<AccessKeyId>,
    /// What happened.
    pub outcome: TaskOutcome,
}

/// Why a session cannot start: nothing was sent, nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// A file does not parse.
    #[error(transparent)]
    File(#[from] FileError),
    /// A profile cannot be rotated.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// A journal cannot be read.
    #[error("journal {name}: {error}")]
    Journal {
        /// The journal's id.
        name: String,
        /// Why.
        error: crate::journal::JournalError,
    },
    /// Admin mode needs exactly one caller profile.
    #[error(
        "--user-name rotates another user's key with one profile's credentials: give exactly one --profile"
    )]
    AdminNeedsOneProfile,
}

impl SessionError {
    /// The exit status: 253 (bad configuration or files) or 252 (bad command line).
    pub fn exit_status(&self) -> u8 {
        match self {
            Self::AdminNeedsOneProfile => 252,
            _ => 253,
        }
    }
}

#[derive(Debug, Clone)]
enum State {
    /// Resume a journal: list the user's keys with the first signer that works.
    ResumeList {
        journal: Box<Journal>,
        signers: Vec<Signer>,
        next: usize,
    },
    /// Waiting for the journals to be dealt with before planning.
    Queued,
    Identify,
    /// Waiting for another task of the same user to finish.
    WaitUser,
    ListKeys,
    Confirm(Box<Plan>, Vec<KeyMeta>),
    Rotating(Box<Rotation>),
    Done(Box<TaskOutcome>),
}

#[derive(Debug, Clone)]
struct Task {
    /// The profiles of a task without a candidate (a journal resumed, a failure before any
    /// plan); a candidate's task has its candidate's.
    profiles: Vec<CompactString>,
    key: Option<AccessKeyId>,
    candidate: Option<Candidate>,
    /// What the task's requests are signed with, where that is not its candidate's own keys
    /// (a resumed journal's, admin mode's caller's; see [`Task::signer`]).
    signer: Option<Signer>,
    identity: Option<Identity>,
    journal_id: Option<String>,
    state: State,
    in_flight: bool,
    /// The plan a rotating task executes.
    plan: Option<Plan>,
    /// Retries of the request before the plan (throttling, 5xx).
    attempts: u32,
    wait_until: Option<Timestamp>,
}

impl Task {
    fn new(state: State) -> Self {
        Self {
            profiles: Vec::new(),
            key: None,
            candidate: None,
            signer: None,
            identity: None,
            journal_id: None,
            state,
            in_flight: false,
            plan: None,
            attempts: 0,
            wait_until: None,
        }
    }

    /// What the task's requests are signed with: its candidate's keys, unless it has others.
    fn signer(&self) -> Signer {
        match (&self.signer, &self.candidate) {
            (Some(signer), _) => signer.clone(),
            (None, Some(c)) => Signer::Static {
                profile: Some(c.holder.clone()),
                access_key_id: c.access_key_id.clone(),
                secret: c.secret.clone(),
                mfa_serial: c.mfa_serial.clone(),
            },
            (None, None) => Signer::Profile(String::new()),
        }
    }
}

/// A run. See the module docs.
#[derive(Debug, Clone)]
pub struct Session {
    request: Request,
    cfg: Config,
    /// The files as they are now: every edit the session orders is mirrored here.
    files: AwsFiles,
    /// Every key the files hold now, and where: found when a decision needs it, dropped
    /// whenever a file changes.
    held: Option<HeldKeys>,
    tasks: Vec<Task>,
    skipped: Vec<SkippedProfile>,
    planned: bool,
    handled_profiles: BTreeSet<CompactString>,
    busy_users: BTreeSet<UserName>,
    /// Tasks before this one are all done (done is final): scans start here, so that a run of
    /// many keys does not go over the finished ones for every request.
    live_from: usize,
    /// How many tasks have a request in flight.
    in_flight: usize,
}

impl Session {
    /// Starts a run. Fails, before any request, on a malformed file, journal or selection.
    ///
    /// `journals` are `(id, text)` pairs of the journal files found beside the credentials file.
    pub fn new(
        config: impl Into<String>,
        credentials: impl Into<String>,
        journals: &[(String, String)],
        request: Request,
        cfg: Config,
    ) -> Result<Self, SessionError> {
        let files = AwsFiles::parse(config, credentials)?;
        match (&request.admin_user, &request.selection) {
            (Some(_), Selection::Profiles(p)) if p.len() == 1 => {
                if profile::kind(&files, &p[0]).is_err()
                    || !files.profile_names().contains(&p[0].as_str())
                {
                    return Err(ProfileError::NotFound {
                        profile: p[0].clone(),
                    }
                    .into());
                }
            }
            (Some(_), _) => return Err(SessionError::AdminNeedsOneProfile),
            // A bad profile stops the run before any request.
            (None, selection) => {
                profile::select(&files, selection)?;
            }
        }
        let mut tasks = Vec::new();
        let mut handled_profiles = BTreeSet::new();
        if request.mode == Mode::Rotate {
            for (name, text) in journals {
                let journal = Journal::parse(text).map_err(|error| SessionError::Journal {
                    name: name.clone(),
                    error,
                })?;
                let signers = resume_signers(&journal, &files);
                // Until this journal is dealt with, its profiles must not rotate afresh.
                handled_profiles.extend(journal.profiles.iter().cloned());
                let mut task = Task::new(State::Queued);
                task.profiles = journal.profiles.clone();
                task.key = journal.old_access_key_id.clone();
                task.signer = signers.first().cloned();
                task.journal_id = Some(name.clone());
                task.state = State::ResumeList {
                    journal: Box::new(journal),
                    signers,
                    next: 0,
                };
                tasks.push(task);
            }
        }
        let mut s = Self {
            request,
            cfg,
            files,
            held: None,
            tasks,
            skipped: Vec::new(),
            planned: false,
            handled_profiles,
            busy_users: BTreeSet::new(),
            live_from: 0,
            in_flight: 0,
        };
        s.plan_if_ready();
        Ok(s)
    }

    /// Once no journal is pending, resolves the selection on the files as they are now and
    /// queues a task per distinct key.
    fn plan_if_ready(&mut self) {
        if self.planned
            || self
                .tasks
                .iter()
                .any(|t| matches!(t.state, State::ResumeList { .. } | State::Rotating(_)))
        {
            return;
        }
        self.planned = true;
        if let (Some(_), Selection::Profiles(p)) =
            (&self.request.admin_user, &self.request.selection)
        {
            let caller = p[0].clone();
            let signer = match profile::resolve(&self.files, &caller) {
                Ok(r) => Signer::Static {
                    profile: Some(caller.as_str().into()),
                    access_key_id: r.access_key_id,
                    secret: r.secret,
                    mfa_serial: r.mfa_serial,
                },
                Err(_) => Signer::Profile(caller),
            };
            let mut task = Task::new(State::Identify);
            task.signer = Some(signer);
            self.tasks.push(task);
            return;
        }
        let selected = match profile::select(&self.files, &self.request.selection) {
            Ok(selected) => selected,
            Err(e) => {
                self.tasks.push(failed_task(e.to_string()));
                return;
            }
        };
        self.skipped = selected.skipped;
        for c in selected.candidates {
            // A profile an interrupted rotation dealt with is not rotated again this run.
            if c.profiles
                .iter()
                .all(|p| self.handled_profiles.contains(p.as_str()))
            {
                continue;
            }
            let mut task = Task::new(State::Identify);
            task.key = Some(c.access_key_id.clone());
            task.candidate = Some(c);
            self.tasks.push(task);
        }
    }

    /// Profiles left out of an `--all-profiles` run, and why.
    pub fn skipped_profiles(&self) -> &[SkippedProfile] {
        &self.skipped
    }

    /// The plan a task is executing, once decided.
    pub fn plan(&self, task: TaskId) -> Option<&Plan> {
        self.tasks.get(task).and_then(|t| t.plan.as_ref())
    }

    /// The journal id of a task's rotation (the shell names the journal file after it).
    pub fn journal_id(&self, task: TaskId) -> Option<&str> {
        self.tasks.get(task).and_then(|t| t.journal_id.as_deref())
    }

    /// The rotation of a task, while it runs or once it ran (admin mode reads the new key).
    pub fn rotation(&self, task: TaskId) -> Option<&Rotation> {
        match &self.tasks.get(task)?.state {
            State::Rotating(r) => Some(r),
            _ => None,
        }
    }

    /// True once every task is done.
    pub fn is_done(&self) -> bool {
        self.tasks
            .get(self.live_from..)
            .is_none_or(|live| live.iter().all(|t| matches!(t.state, State::Done(_))))
    }

    /// Moves [`Session::live_from`] past the tasks that are done.
    fn skip_done(&mut self) {
        while self
            .tasks
            .get(self.live_from)
            .is_some_and(|t| matches!(t.state, State::Done(_)))
        {
            self.live_from += 1;
        }
    }

    /// Every task's result, in order (resumed journals first).
    pub fn into_results(self) -> Vec<TaskResult> {
        self.tasks
            .into_iter()
            .filter_map(|t| match t.state {
                State::Done(outcome) => Some(TaskResult {
                    profiles: match t.candidate {
                        Some(c) => c.profiles,
                        None => t.profiles,
                    },
                    access_key_id: t.key,
                    outcome: *outcome,
                }),
                _ => None,
            })
            .collect()
    }

    /// The worst exit status among the results (0 when all went well).
    pub fn exit_status(&self) -> u8 {
        // 252 and 253 say "change the command line or files"; 254 and 255 "something failed":
        // the latter are worse, so they win.
        let rank = |s: u8| match s {
            0 => 0,
            252 => 1,
            253 => 2,
            254 => 3,
            _ => 4,
        };
        self.tasks
            .iter()
            .filter_map(|t| match &t.state {
                State::Done(o) => Some(o.exit_status()),
                _ => None,
            })
            .max_by_key(|s| rank(*s))
            .unwrap_or(0)
    }

    /// The next action of any task, or `None` when every ready task has one in flight, all are
    /// waiting, or all are done.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<SessionAction> {
        if self.in_flight >= self.request.max_concurrency.max(1) {
            return None;
        }
        self.skip_done();
        for id in self.live_from..self.tasks.len() {
            if self.tasks[id].in_flight {
                continue;
            }
            if let Some(action) = self.task_action(id) {
                self.tasks[id].in_flight = true;
                self.in_flight += 1;
                return Some(action);
            }
        }
        None
    }

    fn task_action(&mut self, id: TaskId) -> Option<SessionAction> {
        if self.tasks[id].wait_until.is_some() {
            return None;
        }
        loop {
            let task = &mut self.tasks[id];
            let action = match &mut task.state {
                State::Done(_) | State::Queued => return None,
                State::ResumeList {
                    journal,
                    signers,
                    next,
                } => match signers.get(*next) {
                    Some(signer) => {
                        task.signer = Some(signer.clone());
                        SessionAction::ListKeys {
                            task: id,
                            signer: signer.clone(),
                            user_name: journal.user_name.clone(),
                        }
                    }
                    None => {
                        task.state = done(TaskOutcome::Failed {
                            operation: "ListAccessKeys",
                            failure: Failure::new(
                                FailureClass::NotAuthenticated,
                                None,
                                "no credentials at hand work for the interrupted rotation's user; fix the profile's keys, then run again",
                            ),
                        });
                        continue;
                    }
                },
                State::Identify => SessionAction::Identify {
                    task: id,
                    signer: task.signer(),
                },
                State::WaitUser => {
                    let user = task.identity.as_ref().map(|i| i.user_name.clone())?;
                    if self.busy_users.contains(&user) {
                        return None;
                    }
                    self.busy_users.insert(user);
                    self.tasks[id].state = State::ListKeys;
                    continue;
                }
                State::ListKeys => {
                    let user = task.identity.as_ref().map(|i| i.user_name.clone())?;
                    SessionAction::ListKeys {
                        task: id,
                        signer: task.signer(),
                        user_name: user,
                    }
                }
                State::Confirm(plan, _) => SessionAction::Confirm {
                    task: id,
                    plan: plan.clone(),
                },
                State::Rotating(rot) => {
                    let action = rot.poll_action()?;
                    SessionAction::Rotation {
                        task: id,
                        signer: task.signer(),
                        action,
                    }
                }
            };
            return Some(action);
        }
    }

    /// When the earliest waiting rotation wants [`Session::handle_timeout`].
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.tasks
            .get(self.live_from..)
            .unwrap_or_default()
            .iter()
            .filter_map(|t| match &t.state {
                State::Rotating(r) if !t.in_flight => r.poll_timeout(),
                _ => t.wait_until,
            })
            .min()
    }

    /// Time has passed.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        self.skip_done();
        for t in self.tasks.iter_mut().skip(self.live_from) {
            if t.wait_until.is_some_and(|w| w <= now) {
                t.wait_until = None;
            }
            if let State::Rotating(r) = &mut t.state {
                r.handle_timeout(now);
            }
        }
    }

    /// The result of the action last polled for `task`.
    pub fn handle_outcome(&mut self, task: TaskId, outcome: Outcome, now: Timestamp) {
        let Some(t) = self.tasks.get_mut(task) else {
            return;
        };
        if !t.in_flight {
            debug_assert!(false, "handle_outcome for a task with nothing in flight");
            return;
        }
        t.in_flight = false;
        self.in_flight = self.in_flight.saturating_sub(1);
        if let Outcome::Failed(f) = &outcome {
            let pre_plan = matches!(
                t.state,
                State::ResumeList { .. } | State::Identify | State::ListKeys
            );
            let retryable = matches!(f.class, FailureClass::Throttled | FailureClass::Transient);
            if pre_plan && retryable && t.attempts + 1 < self.cfg.max_attempts {
                // These requests change nothing: retrying them is always safe.
                t.attempts += 1;
                let exp = 1u64 << t.attempts.min(16);
                let wait = (self.cfg.retry_initial.as_millis().saturating_mul(exp) / 2)
                    .min(self.cfg.retry_max.as_millis());
                t.wait_until = Some(now.add(crate::time::Span::from_millis(wait)));
                return;
            }
        }
        t.attempts = 0;
        let state = std::mem::replace(&mut t.state, State::Queued);
        let next = match state {
            State::ResumeList {
                journal,
                signers,
                next,
            } => match outcome {
                Outcome::Keys(keys) => {
                    let rot = Rotation::resume(*journal, &keys, self.cfg.clone(), now);
                    State::Rotating(Box::new(rot))
                }
                Outcome::Failed(f)
                    if f.class == FailureClass::NotAuthenticated && next + 1 < signers.len() =>
                {
                    State::ResumeList {
                        journal,
                        signers,
                        next: next + 1,
                    }
                }
                Outcome::Failed(failure) => done(TaskOutcome::Failed {
                    operation: "ListAccessKeys",
                    failure,
                }),
                _ => done(unexpected("ListAccessKeys")),
            },
            State::Identify => match outcome {
                Outcome::Verified { arn } => self.identified(task, &arn),
                Outcome::Failed(failure) => done(TaskOutcome::Failed {
                    operation: "GetCallerIdentity",
                    failure,
                }),
                _ => done(unexpected("GetCallerIdentity")),
            },
            State::ListKeys => match outcome {
                Outcome::Keys(keys) => self.decide(task, keys, now),
                Outcome::Failed(failure) => done(TaskOutcome::Failed {
                    operation: "ListAccessKeys",
                    failure,
                }),
                _ => done(unexpected("ListAccessKeys")),
            },
            State::Confirm(plan, keys) => match outcome {
                Outcome::Done => self.start_rotation(task, *plan, &keys, now),
                _ => done(TaskOutcome::NeedsConfirmation(*plan)),
            },
            State::Rotating(mut rot) => {
                if let (Outcome::Done, Some(Action::UpdateFile { file, edit })) =
                    (&outcome, self.last_action(&rot))
                {
                    self.mirror(file, &edit);
                }
                rot.handle_outcome(outcome, now);
                State::Rotating(rot)
            }
            other => other,
        };
        self.tasks[task].state = next;
        self.settle(task);
    }

    /// Moves a finished rotation to Done, frees its user, and starts planning when the journals
    /// are all dealt with.
    fn settle(&mut self, task: TaskId) {
        let t = &mut self.tasks[task];
        if let State::Rotating(rot) = &t.state {
            if rot.is_done() && !t.in_flight {
                let report = rot.report().clone();
                if report.status != Status::CleanedUp
                    && t.journal_id.is_some()
                    && t.candidate.is_none()
                {
                    self.handled_profiles
                        .extend(report.profiles.iter().cloned());
                }
                t.state = done(TaskOutcome::Rotation(report));
            }
        }
        if matches!(self.tasks[task].state, State::Done(_)) {
            if let Some(user) = self.tasks[task]
                .identity
                .as_ref()
                .map(|i| i.user_name.clone())
            {
                self.busy_users.remove(&user);
            }
        }
        self.plan_if_ready();
    }

    fn last_action(&self, rot: &Rotation) -> Option<Action> {
        rot.in_flight().cloned()
    }

    /// Applies to the session's copy of the files an edit the shell made to the real ones.
    fn mirror(&mut self, file: FileKind, edit: &KeyEdit) {
        let Ok(Some(applied)) = edit.apply(file, self.files.document(file).text()) else {
            return;
        };
        // The edit parsed the new text already: it parses.
        if let Ok(doc) = Document::parse(file, applied.text) {
            match file {
                FileKind::Config => self.files.config = doc,
                FileKind::Credentials => self.files.credentials = doc,
            }
            self.held = None;
        }
    }

    fn identified(&mut self, task: TaskId, arn: &str) -> State {
        let caller = match Identity::from_arn(arn) {
            Ok(i) => i,
            Err(e) => return done(TaskOutcome::NotAUser(e)),
        };
        let identity = match &self.request.admin_user {
            Some(user) => {
                let partition = caller.arn.split(':').nth(1).unwrap_or("aws");
                Identity {
                    arn: format!("arn:{partition}:iam::{}:user/{user}", caller.account),
                    account: caller.account,
                    user_name: user.clone(),
                }
            }
            None => caller,
        };
        self.tasks[task].identity = Some(identity);
        State::WaitUser
    }

    fn decide(&mut self, task: TaskId, keys: Vec<KeyMeta>, now: Timestamp) -> State {
        let files = &self.files;
        let held = self.held.get_or_insert_with(|| files.held_keys());
        let t = &self.tasks[task];
        let Some(identity) = &t.identity else {
            return done(unexpected("GetCallerIdentity"));
        };
        let target = match (&self.request.admin_user, &t.candidate) {
            (Some(user), _) => Target::User(user.clone()),
            (None, Some(c)) => Target::Profiles(c.clone()),
            (None, None) => return done(unexpected("ListAccessKeys")),
        };
        match plan::decide(&target, identity, &keys, held, &self.request.options, now) {
            Decision::Skip(s) => done(TaskOutcome::Skipped(s)),
            Decision::Refuse(e) => done(TaskOutcome::Refused(e)),
            Decision::Rotate(p) if self.request.mode == Mode::Plan => done(TaskOutcome::Planned(p)),
            Decision::Rotate(p) => {
                if p.make_room.as_ref().is_some_and(|r| r.needs_confirmation) {
                    self.tasks[task].plan = Some(p.clone());
                    State::Confirm(Box::new(p), keys)
                } else {
                    self.start_rotation(task, p, &keys, now)
                }
            }
        }
    }

    fn start_rotation(
        &mut self,
        task: TaskId,
        plan: Plan,
        keys: &[KeyMeta],
        now: Timestamp,
    ) -> State {
        let t = &mut self.tasks[task];
        let Some(identity) = t.identity.clone() else {
            return done(unexpected("GetCallerIdentity"));
        };
        let secret = t
            .candidate
            .as_ref()
            .map(|c| c.secret.clone())
            .filter(|_| !plan.admin);
        let mut cfg = self.cfg.clone();
        cfg.seed = cfg.seed.wrapping_add(task as u64);
        let mut rot = Rotation::new(&plan, secret, keys, identity, cfg, now);
        let caller = match &t.signer {
            Some(Signer::Static { profile, .. }) => profile.as_deref(),
            Some(Signer::Profile(p)) => Some(p.as_str()),
            None => t.candidate.as_ref().map(|c| c.holder.as_str()),
        };
        if let (true, Some(p)) = (plan.admin, caller) {
            rot.set_caller_profile(p.to_owned());
        }
        t.journal_id = Some(rot.journal_id());
        t.plan = Some(plan);
        State::Rotating(Box::new(rot))
    }
}

fn unexpected(operation: &'static str) -> TaskOutcome {
    TaskOutcome::Failed {
        operation,
        failure: Failure::new(
            FailureClass::Other,
            None,
            "the shell gave an answer of the wrong kind",
        ),
    }
}

/// Credentials to resume a journal with, best first: its old key (it works until the very end
/// of a rotation, while the new one may still be propagating), then what the files hold now for
/// its profiles, then (admin mode) the caller's profile.
fn resume_signers(journal: &Journal, files: &AwsFiles) -> Vec<Signer> {
    let mut out = Vec::new();
    let mfa = journal
        .profiles
        .iter()
        .find_map(|p| profile::resolve(files, p).ok().and_then(|r| r.mfa_serial));
    if let (Some(id), Some(secret)) = (&journal.old_access_key_id, &journal.old_secret) {
        out.push(Signer::Static {
            profile: journal.profiles.first().map(|p| p.as_str().into()),
            access_key_id: id.clone(),
            secret: secret.clone(),
            mfa_serial: mfa.clone(),
        });
    }
    for p in &journal.profiles {
        if let Ok(r) = profile::resolve(files, p) {
            let s = Signer::Static {
                profile: Some(p.as_str().into()),
                access_key_id: r.access_key_id,
                secret: r.secret,
                mfa_serial: r.mfa_serial,
            };
            if !out.iter().any(|o| o.key_id() == s.key_id()) {
                out.push(s);
            }
        }
    }
    if let Some(p) = &journal.caller_profile {
        match profile::resolve(files, p) {
            Ok(r) => out.push(Signer::Static {
                profile: Some(p.as_str().into()),
                access_key_id: r.access_key_id,
                secret: r.secret,
                mfa_serial: r.mfa_serial,
            }),
            Err(_) => out.push(Signer::Profile(p.clone())),
        }
    }
    out
}

fn done(outcome: TaskOutcome) -> State {
    State::Done(Box::new(outcome))
}

fn failed_task(message: String) -> Task {
    Task::new(done(TaskOutcome::Failed {
        operation: "ReadFiles",
        failure: Failure::new(FailureClass::Other, None, message),
    }))
}
