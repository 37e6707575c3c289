//! A whole run of `rotate`, `plan` or `status`, as a state machine: which requests the shell
//! sends before planning (who am I, which keys exist, when were they last used), the questions
//! it asks the user, and the rotations it drives, for every profile of the run at once.
//!
//! The shell creates a [`Session`] from the files' text, the journals found beside the
//! credentials file and the command line; it then drains [`Session::poll_action`], executing
//! each [`SessionAction`] (several may be in flight at once, one per task, up to the
//! concurrency limit) and handing each result to [`Session::handle_outcome`]; when nothing is
//! ready it sleeps until [`Session::poll_timeout`]. When [`Session::is_done`], the
//! [`Session::error_kind`] says how the run ends, and [`Session::into_results`] what it did
//! (the [`crate::output`] module turns them into what is printed).
//!
//! Order of a run:
//!
//! 1. Journals first. Each interrupted rotation is finished or undone before anything is planned
//!    (a `creating` journal is cleaned up and its profiles then rotate afresh).
//! 2. Then the selection is resolved again on the files as they are now, and each distinct key
//!    becomes a task: `GetCallerIdentity` with the key, `ListAccessKeys` for its user,
//!    [`crate::plan::decide`], where the plan removes a key to make room and a terminal can ask,
//!    `GetAccessKeyLastUsed` of both keys and the question, then the [`Rotation`]. Tasks of the
//!    same IAM user run one after another (they share two key slots); tasks of different users
//!    run concurrently. `status` asks `GetAccessKeyLastUsed` of each key instead of planning.
//!
//! The session mirrors every file edit it orders, so later decisions see the files as the
//! earlier rotations left them. It reads nothing itself.

use std::collections::BTreeSet;

use compact_str::CompactString;
use serde::Serialize;

use crate::action::{Action, Failure, FailureClass, Outcome};
use crate::error::ErrorKind;
use crate::ini::{Document, FileKind, KeyEdit};
use crate::journal::Journal;
use crate::key::{AccessKeyId, KeyMeta, SecretAccessKey, UserName};
use crate::plan::{
    self, Decision, HeldKeys, Identity, NotAUser, Options, Plan, PlanError, Question, Skip, Target,
};
use crate::profile::{
    self, AwsFiles, Candidate, FileError, Holder, ProfileError, Selected, Selection, SkippedProfile,
};
use crate::rotation::{Config, Report, Rotation, Status};
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
    /// A role assumed with another signer's credentials (`sts:AssumeRole`), its session renewed
    /// before it expires: the fleet's way into the other accounts of an organization.
    Role {
        /// Who assumes it.
        source: Box<Signer>,
        /// The role (`arn:aws:iam::ACCOUNT:role/NAME`).
        role_arn: String,
    },
}

impl Signer {
    fn key_id(&self) -> Option<&AccessKeyId> {
        match self {
            Self::Static { access_key_id, .. } => Some(access_key_id),
            Self::Profile(_) | Self::Role { .. } => None,
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
    /// `status`: what IAM says of every profile's key. Changes nothing.
    Status,
    /// `pickup`: install the key an administrator delivered in place of each profile's key.
    Pickup,
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
    /// `rotate`, `plan` or `status`.
    pub mode: Mode,
    /// How many tasks may have a request in flight at once.
    pub max_concurrency: usize,
    /// Whether a question can be asked at a terminal. Without one, a removal that needs the
    /// user's agreement is not made (exit 252).
    pub interactive: bool,
}

/// The next thing the shell must do for a task.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "perform the action, then pass its Outcome to `handle_outcome`"]
pub struct SessionAction {
    /// The task, to hand the outcome back to.
    pub task: TaskId,
    /// Who signs the action's requests to AWS (`VerifyKey` names its own key).
    pub signer: Signer,
    /// What to do.
    pub action: Action,
}

/// What `status` learnt of one key: the same for every profile that holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyReport {
    /// The IAM user that `GetCallerIdentity` named, when it named one.
    pub user_name: Option<UserName>,
    /// The key's entry in `ListAccessKeys`, when it was listed.
    pub key: Option<KeyMeta>,
    /// `GetAccessKeyLastUsed`'s answer, when it was asked (`Some(None)`: never used).
    pub last_used: Option<Option<Timestamp>>,
    /// Every section, in either file, that holds the key.
    pub holders: Vec<Holder>,
    /// What stopped the questions, if anything.
    pub error: Option<KeyReportError>,
}

/// Why `status` could not learn all of a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum KeyReportError {
    /// A request failed.
    Failed {
        /// The AWS operation.
        operation: &'static str,
        /// How.
        failure: Failure,
    },
    /// The key is not an IAM user's.
    NotAUser(#[serde(serialize_with = "display")] NotAUser),
}

impl KeyReportError {
    /// The error as it is printed.
    pub fn text(&self) -> String {
        match self {
            Self::Failed { operation, failure } => failure.text(Some(operation)),
            Self::NotAUser(e) => e.to_string(),
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
    /// A request before the plan failed, or the files could not be read again.
    Failed {
        /// The AWS operation, where a request failed.
        operation: Option<&'static str>,
        /// How.
        failure: Failure,
    },
    /// The profile's credentials are not an IAM user's.
    NotAUser(#[serde(serialize_with = "display")] NotAUser),
    /// `status`: what IAM says of the key.
    Status(KeyReport),
    /// `pickup` found nothing to install.
    NoDelivery {
        /// The user.
        user_name: UserName,
        /// The delivery's key, where the profile holds it already (a pickup done before).
        installed: Option<AccessKeyId>,
    },
}

fn display<T: std::fmt::Display, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

impl TaskOutcome {
    /// How a run ends because of this outcome (`None` when all is well).
    pub fn error_kind(&self) -> Option<ErrorKind> {
        match self {
            Self::Rotation(r) => match r.status {
                Status::Rotated | Status::CleanedUp | Status::InProgress => {
                    (!r.left_to_do.is_empty()).then_some(ErrorKind::Service)
                }
                Status::Incomplete | Status::RolledBack | Status::Failed => match &r.error {
                    Some(e) if e.operation.is_some() => Some(ErrorKind::Service),
                    _ => Some(ErrorKind::Other),
                },
            },
            Self::Planned(_) | Self::Skipped(_) | Self::NoDelivery { .. } => None,
            Self::Refused(e) => Some(e.kind()),
            Self::NeedsConfirmation(_) => Some(ErrorKind::Usage),
            Self::Failed { failure, .. } => Some(failure.kind()),
            Self::NotAUser(_) => Some(ErrorKind::Config),
            Self::Status(r) => r.error.as_ref().map(|e| match e {
                KeyReportError::Failed { failure, .. } => failure.kind(),
                KeyReportError::NotAUser(_) => ErrorKind::Config,
            }),
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
    /// How the run ends: a bad command line, or bad configuration or files.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::AdminNeedsOneProfile => ErrorKind::Usage,
            _ => ErrorKind::Config,
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
    /// Before the removal question: when each of its keys was last used, one at a time.
    AskLastUsed {
        plan: Box<Plan>,
        keys: Vec<KeyMeta>,
        question: Box<Question>,
        next: usize,
    },
    Confirm {
        plan: Box<Plan>,
        keys: Vec<KeyMeta>,
        question: Box<Question>,
    },
    Rotating(Box<Rotation>),
    /// `pickup`, and `rotate` of a user with two keys: the delivery waiting, if any.
    FetchDelivery {
        keys: Vec<KeyMeta>,
        name: String,
    },
    /// `status`: when the key was last used.
    StatusLastUsed(Box<KeyReport>),
    Done(Box<TaskOutcome>),
}

impl State {
    /// Whether the request this state sends changes nothing, so that retrying it after
    /// throttling or a 5xx is always safe.
    fn asks_only(&self) -> bool {
        matches!(
            self,
            Self::ResumeList { .. }
                | Self::Identify
                | Self::ListKeys
                | Self::AskLastUsed { .. }
                | Self::FetchDelivery { .. }
                | Self::StatusLastUsed(_)
        )
    }
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
    /// The id a resumed journal was found under.
    journal_file: Option<String>,
    state: State,
    in_flight: bool,
    /// The plan a rotating task executes.
    plan: Option<Plan>,
    /// Retries of a request that only asks (throttling, 5xx).
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
            journal_file: None,
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
    /// `journals` are `(id, text)` pairs of the journal files found beside the credentials file
    /// (read only by `rotate`).
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
            (None, _) => {}
        }
        // A bad profile stops the run before any request. Without a journal to deal with first,
        // this selection is the one the run plans with (the files are as they are now).
        let selected = match request.admin_user {
            Some(_) => None,
            None => Some(profile::select(&files, &request.selection)?),
        };
        let mut tasks = Vec::new();
        let mut handled_profiles = BTreeSet::new();
        if matches!(request.mode, Mode::Rotate | Mode::Pickup) {
            for (name, text) in journals {
                let journal = Journal::parse(text).map_err(|error| SessionError::Journal {
                    name: name.clone(),
                    error,
                })?;
                let signers = resume_signers(&journal, &files);
                // Until this journal is dealt with, its profiles must not rotate afresh.
                handled_profiles.extend(journal.profiles.iter().cloned());
                let mut task = Task::new(State::ResumeList {
                    journal: Box::new(journal.clone()),
                    signers: signers.clone(),
                    next: 0,
                });
                task.profiles = journal.profiles;
                task.key = journal.old_access_key_id;
                task.signer = signers.into_iter().next();
                task.journal_file = Some(name.clone());
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
        match selected {
            Some(selected) if s.tasks.is_empty() => {
                s.planned = true;
                s.queue(selected);
            }
            _ => s.plan_if_ready(),
        }
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
        match profile::select(&self.files, &self.request.selection) {
            Ok(selected) => self.queue(selected),
            Err(e) => self.tasks.push(Task::new(done(TaskOutcome::Failed {
                operation: None,
                failure: Failure::new(FailureClass::Other, None, e.to_string()),
            }))),
        }
    }

    /// A task per selected key, but for the profiles an interrupted rotation dealt with.
    fn queue(&mut self, selected: Selected) {
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

    /// Whether a task's rotation (new or resumed) is under way.
    pub fn is_rotating(&self, task: TaskId) -> bool {
        self.tasks
            .get(task)
            .is_some_and(|t| matches!(t.state, State::Rotating(_)))
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

    /// How the run ends: the most serious kind of error among the results (`None` when all
    /// went well).
    pub fn error_kind(&self) -> Option<ErrorKind> {
        ErrorKind::worst(self.tasks.iter().filter_map(|t| match &t.state {
            State::Done(o) => o.error_kind(),
            _ => None,
        }))
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
            if self.tasks[id].in_flight || self.tasks[id].wait_until.is_some() {
                continue;
            }
            if let Some(action) = self.task_action(id) {
                self.tasks[id].in_flight = true;
                self.in_flight += 1;
                return Some(SessionAction {
                    task: id,
                    signer: self.tasks[id].signer(),
                    action,
                });
            }
        }
        None
    }

    fn task_action(&mut self, id: TaskId) -> Option<Action> {
        loop {
            let task = &mut self.tasks[id];
            let user = task.identity.as_ref().map(|i| i.user_name.clone());
            return match &mut task.state {
                State::Done(_) | State::Queued => None,
                State::ResumeList {
                    journal,
                    signers,
                    next,
                } => match signers.get(*next) {
                    Some(signer) => {
                        task.signer = Some(signer.clone());
                        Some(Action::ListKeys {
                            user_name: journal.user_name.clone(),
                        })
                    }
                    None => {
                        task.state = done(TaskOutcome::Failed {
                            operation: Some("ListAccessKeys"),
                            failure: Failure::new(
                                FailureClass::NotAuthenticated,
                                None,
                                "no credentials at hand work for the interrupted rotation's user; fix the profile's keys, then run again",
                            ),
                        });
                        continue;
                    }
                },
                State::Identify => Some(Action::Identify),
                State::WaitUser => {
                    let user = user?;
                    if self.busy_users.contains(&user) {
                        return None;
                    }
                    self.busy_users.insert(user);
                    self.tasks[id].state = State::ListKeys;
                    continue;
                }
                State::ListKeys => Some(Action::ListKeys { user_name: user? }),
                State::AskLastUsed { question, next, .. } => Some(Action::LastUsed {
                    access_key_id: question.keys.get(*next)?.access_key_id.clone(),
                }),
                State::Confirm { question, .. } => Some(Action::Confirm(question.clone())),
                State::FetchDelivery { name, .. } => {
                    Some(Action::GetSecretValue { name: name.clone() })
                }
                State::Rotating(rot) => rot.poll_action(),
                State::StatusLastUsed(_) => Some(Action::LastUsed {
                    access_key_id: task.key.clone()?,
                }),
            };
        }
    }

    /// When the earliest waiting task wants [`Session::handle_timeout`].
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
            let retryable = matches!(f.class, FailureClass::Throttled | FailureClass::Transient);
            if t.state.asks_only() && retryable && t.attempts + 1 < self.cfg.max_attempts {
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
        self.tasks[task].state = self.advance(task, state, outcome, now);
        self.settle(task);
    }

    /// The state a task moves to on the outcome of its action.
    fn advance(&mut self, task: TaskId, state: State, outcome: Outcome, now: Timestamp) -> State {
        let t = &self.tasks[task];
        match state {
            State::ResumeList {
                journal,
                signers,
                next,
            } => match outcome {
                Outcome::Keys(keys) => {
                    let file = t.journal_file.clone().unwrap_or_else(|| journal.id());
                    let rot = Rotation::resume(*journal, file, &keys, self.cfg.clone(), now);
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
                other => done(failed("ListAccessKeys", other)),
            },
            State::Identify => match outcome {
                Outcome::Verified { arn } => self.identified(task, &arn),
                other if self.request.mode == Mode::Status => {
                    self.status_report(task, failed_status("GetCallerIdentity", other))
                }
                other => done(failed("GetCallerIdentity", other)),
            },
            State::ListKeys => match outcome {
                Outcome::Keys(keys) if self.request.mode == Mode::Status => {
                    let key = keys
                        .into_iter()
                        .find(|k| Some(&k.access_key_id) == t.key.as_ref());
                    let user_name = t.identity.as_ref().map(|i| i.user_name.clone());
                    State::StatusLastUsed(Box::new(KeyReport {
                        user_name,
                        key,
                        last_used: None,
                        holders: Vec::new(),
                        error: None,
                    }))
                }
                Outcome::Keys(keys) => self.fetch_delivery_or_decide(task, keys, now),
                other if self.request.mode == Mode::Status => {
                    self.status_report(task, failed_status("ListAccessKeys", other))
                }
                other => done(failed("ListAccessKeys", other)),
            },
            State::AskLastUsed {
                plan,
                keys,
                mut question,
                next,
            } => {
                // A failure leaves the last use unknown: the question still goes on.
                if let (Outcome::LastUsed(at), Some(k)) = (outcome, question.keys.get_mut(next)) {
                    k.last_used = Some(at);
                }
                if next + 1 < question.keys.len() {
                    State::AskLastUsed {
                        plan,
                        keys,
                        question,
                        next: next + 1,
                    }
                } else {
                    State::Confirm {
                        plan,
                        keys,
                        question,
                    }
                }
            }
            State::Confirm { plan, keys, .. } => match outcome {
                Outcome::Done => self.start_rotation(task, *plan, &keys, now),
                _ => done(TaskOutcome::NeedsConfirmation(*plan)),
            },
            State::Rotating(mut rot) => {
                if let (Outcome::Updated { .. }, Some(Action::UpdateFile { file, edit })) =
                    (&outcome, rot.in_flight().cloned())
                {
                    self.mirror(file, &edit);
                }
                rot.handle_outcome(outcome, now);
                State::Rotating(rot)
            }
            State::FetchDelivery { keys, .. } => self.delivery_fetched(task, keys, outcome, now),
            State::StatusLastUsed(mut report) => {
                match outcome {
                    Outcome::LastUsed(at) => report.last_used = Some(at),
                    other => report.error = failed_status("GetAccessKeyLastUsed", other),
                }
                let error = report.error.take();
                let mut report = *report;
                report.holders = self.holders_of(task);
                report.error = error;
                done(TaskOutcome::Status(report))
            }
            other => other,
        }
    }

    /// Moves a finished rotation to Done, frees its user, and starts planning when the journals
    /// are all dealt with.
    fn settle(&mut self, task: TaskId) {
        let t = &mut self.tasks[task];
        if let State::Rotating(rot) = &t.state
            && rot.is_done()
            && !t.in_flight
        {
            let report = rot.report().clone();
            if report.status != Status::CleanedUp
                && t.journal_file.is_some()
                && t.candidate.is_none()
            {
                self.handled_profiles
                    .extend(report.profiles.iter().cloned());
            }
            t.state = done(TaskOutcome::Rotation(report));
        }
        if matches!(self.tasks[task].state, State::Done(_))
            && let Some(user) = self.tasks[task]
                .identity
                .as_ref()
                .map(|i| i.user_name.clone())
        {
            self.busy_users.remove(&user);
        }
        self.plan_if_ready();
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

    /// Every key the files hold now, and where.
    fn held(&mut self) -> &HeldKeys {
        let files = &self.files;
        self.held.get_or_insert_with(|| files.held_keys())
    }

    /// Where the files hold a task's key.
    fn holders_of(&mut self, task: TaskId) -> Vec<Holder> {
        let key = self.tasks[task].key.clone();
        key.and_then(|k| self.held().get(&k).map(<[_]>::to_vec))
            .unwrap_or_default()
    }

    /// `status`: a key's report, ended by `error` before all was learnt.
    fn status_report(&mut self, task: TaskId, error: Option<KeyReportError>) -> State {
        let holders = self.holders_of(task);
        let user_name = self.tasks[task]
            .identity
            .as_ref()
            .map(|i| i.user_name.clone());
        done(TaskOutcome::Status(KeyReport {
            user_name,
            key: None,
            last_used: None,
            holders,
            error,
        }))
    }

    fn identified(&mut self, task: TaskId, arn: &str) -> State {
        let caller = match Identity::from_arn(arn) {
            Ok(i) => i,
            Err(e) if self.request.mode == Mode::Status => {
                return self.status_report(task, Some(KeyReportError::NotAUser(e)));
            }
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
        if self.request.mode == Mode::Status {
            // Nothing changes: no need to wait for the user's other tasks.
            State::ListKeys
        } else {
            State::WaitUser
        }
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
            Decision::Rotate(p) if self.request.mode != Mode::Rotate => {
                done(TaskOutcome::Planned(p))
            }
            Decision::Rotate(p) => {
                let question = p
                    .make_room
                    .as_ref()
                    .filter(|r| r.needs_confirmation)
                    .and_then(|_| Question::new(&p, now));
                match question {
                    None => self.start_rotation(task, p, &keys, now),
                    // No terminal to ask at: nothing is removed, and the run says which flag
                    // to add.
                    Some(_) if !self.request.interactive => done(TaskOutcome::NeedsConfirmation(p)),
                    Some(question) => State::AskLastUsed {
                        plan: Box::new(p),
                        keys,
                        question: Box::new(question),
                        next: 0,
                    },
                }
            }
        }
    }

    /// A delivery can wait only where the user has two keys (the old one and the delivered
    /// one); `pickup` always asks.
    fn fetch_delivery_or_decide(
        &mut self,
        task: TaskId,
        keys: Vec<KeyMeta>,
        now: Timestamp,
    ) -> State {
        let t = &self.tasks[task];
        let name = t
            .identity
            .as_ref()
            .and_then(|i| crate::fleet::delivery::secret_name(&i.user_name));
        let wanted = match self.request.mode {
            Mode::Pickup => true,
            Mode::Rotate | Mode::Plan => {
                self.request.admin_user.is_none() && keys.len() >= plan::KEYS_PER_USER
            }
            Mode::Status => false,
        };
        match name {
            Some(name) if wanted => State::FetchDelivery { keys, name },
            _ if self.request.mode == Mode::Pickup => self.no_delivery(task, None),
            _ => self.decide(task, keys, now),
        }
    }

    fn no_delivery(&self, task: TaskId, installed: Option<AccessKeyId>) -> State {
        let user_name = self.tasks[task]
            .identity
            .as_ref()
            .map(|i| i.user_name.clone())
            .unwrap_or_else(|| UserName::new(""));
        done(TaskOutcome::NoDelivery {
            user_name,
            installed,
        })
    }

    /// What the delivery says: install it in place of the task's key; or, for `rotate`, plan
    /// as usual where there is none (no permission to read one is not an error), without ever
    /// removing a delivered key to make room.
    fn delivery_fetched(
        &mut self,
        task: TaskId,
        keys: Vec<KeyMeta>,
        outcome: Outcome,
        now: Timestamp,
    ) -> State {
        use crate::fleet::delivery::DeliveredKey;
        let pickup = self.request.mode == Mode::Pickup;
        let t = &self.tasks[task];
        let own = t.key.clone();
        let delivered = match outcome {
            Outcome::SecretValue(v) => match DeliveredKey::parse(v.expose()) {
                Ok(d) => d,
                Err(e) => {
                    return done(delivery_refused(format!(
                        "the delivery waiting for this user cannot be read: {e}. Ask the administrator to deliver again"
                    )));
                }
            },
            Outcome::Failed(f) if f.class == FailureClass::NotFound && pickup => {
                return self.no_delivery(task, None);
            }
            Outcome::Failed(f)
                if !pickup
                    && matches!(f.class, FailureClass::NotFound | FailureClass::AccessDenied) =>
            {
                return self.decide(task, keys, now);
            }
            other => return done(failed("GetSecretValue", other)),
        };
        let listed = |id: &AccessKeyId| keys.iter().any(|k| &k.access_key_id == id);
        let same_user = t
            .identity
            .as_ref()
            .is_some_and(|i| i.user_name == delivered.user_name);
        if own.as_ref() == Some(&delivered.access_key_id) {
            // Installed already (a pickup finished before).
            return if pickup {
                self.no_delivery(task, Some(delivered.access_key_id))
            } else {
                self.decide(task, keys, now)
            };
        }
        if own.as_ref() != Some(&delivered.replaces)
            || !same_user
            || !listed(&delivered.access_key_id)
        {
            return self.another_delivery(task, keys, &delivered, own.as_ref(), now);
        }
        let files = &self.files;
        let held = self.held.get_or_insert_with(|| files.held_keys());
        let t = &self.tasks[task];
        let (Some(candidate), Some(identity)) = (&t.candidate, &t.identity) else {
            return done(unexpected("GetSecretValue"));
        };
        let Some(p) = plan::install(candidate, identity, &keys, held, &self.request.options, now)
        else {
            return done(unexpected("ListAccessKeys"));
        };
        if self.request.mode == Mode::Plan {
            return done(TaskOutcome::Planned(p));
        }
        let identity = identity.clone();
        let old_secret = candidate.secret.clone();
        let mut cfg = self.cfg.clone();
        cfg.seed = cfg.seed.wrapping_add(task as u64);
        let new_key = crate::journal::NewKey {
            access_key_id: delivered.access_key_id.clone(),
            secret: delivered.secret.clone(),
            create_date: delivered.create_date,
        };
        let rot = Rotation::install(&p, new_key, old_secret, &keys, identity, cfg, now);
        self.tasks[task].plan = Some(p);
        State::Rotating(Box::new(rot))
    }

    /// A delivery that is not for this profile's key (another profile's, another user's, or
    /// one whose key is gone): `pickup` refuses and changes nothing; `rotate` plans as usual,
    /// but never removes the delivered key to make room.
    fn another_delivery(
        &mut self,
        task: TaskId,
        keys: Vec<KeyMeta>,
        delivered: &crate::fleet::delivery::DeliveredKey,
        own: Option<&AccessKeyId>,
        now: Timestamp,
    ) -> State {
        let pickup = self.request.mode == Mode::Pickup;
        let listed = |id: &AccessKeyId| keys.iter().any(|k| &k.access_key_id == id);
        if pickup {
            return done(delivery_refused(format!(
                "the delivery waiting for {} is {}, which replaces {}, not this profile's key {}{}: nothing was changed. Ask the administrator",
                delivered.user_name,
                delivered.access_key_id,
                delivered.replaces,
                own.map_or("", AccessKeyId::as_str),
                if listed(&delivered.access_key_id) {
                    ""
                } else {
                    " (and the delivered key no longer exists)"
                },
            )));
        }
        // Another profile's delivery: plan as usual, but never remove the delivered key.
        let state = self.decide(task, keys, now);
        let plan = match &state {
            State::Rotating(_) => self.tasks[task].plan.as_ref(),
            State::AskLastUsed { plan, .. } | State::Confirm { plan, .. } => Some(&**plan),
            State::Done(o) => match &**o {
                TaskOutcome::Planned(p) | TaskOutcome::NeedsConfirmation(p) => Some(p),
                _ => None,
            },
            _ => None,
        };
        let removes_delivered = plan
            .and_then(|p| p.make_room.as_ref())
            .is_some_and(|r| r.access_key_id == delivered.access_key_id);
        if removes_delivered {
            // Nothing was sent for that plan yet.
            self.tasks[task].plan = None;
            return done(self.protects_delivery(delivered));
        }
        state
    }

    fn protects_delivery(&self, d: &crate::fleet::delivery::DeliveredKey) -> TaskOutcome {
        TaskOutcome::Failed {
            operation: None,
            failure: Failure::new(
                FailureClass::Usage,
                None,
                format!(
                    "making room would delete {}, a key that an administrator delivered to {} in place of {}: nothing was changed. Install it with `aws-rotate-keys pickup` in the profile that holds {}",
                    d.access_key_id, d.user_name, d.replaces, d.replaces
                ),
            ),
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
            Some(Signer::Role { .. }) => None,
            None => t.candidate.as_ref().map(|c| c.holder.as_str()),
        };
        if let (true, Some(p)) = (plan.admin, caller) {
            rot.set_caller_profile(p.to_owned());
        }
        t.plan = Some(plan);
        State::Rotating(Box::new(rot))
    }
}

/// A request before the plan that did not answer as asked.
fn failed(operation: &'static str, outcome: Outcome) -> TaskOutcome {
    match outcome {
        Outcome::Failed(failure) => TaskOutcome::Failed {
            operation: Some(operation),
            failure,
        },
        _ => unexpected(operation),
    }
}

/// [`failed`], for `status`.
fn failed_status(operation: &'static str, outcome: Outcome) -> Option<KeyReportError> {
    match failed(operation, outcome) {
        TaskOutcome::Failed { failure, .. } => Some(KeyReportError::Failed { operation, failure }),
        _ => None,
    }
}

/// A delivery that is not installed, for `message`'s reason.
fn delivery_refused(message: String) -> TaskOutcome {
    TaskOutcome::Failed {
        operation: None,
        failure: Failure::new(FailureClass::Other, None, message),
    }
}

fn unexpected(operation: &'static str) -> TaskOutcome {
    TaskOutcome::Failed {
        operation: Some(operation),
        failure: Failure::new(
            FailureClass::Other,
            None,
            "the shell gave an answer of the wrong kind",
        ),
    }
}

/// Credentials to resume a journal with, best first: its old key (it works until the very end
/// of a rotation, while the new one may still be propagating), then what the files hold now for
/// its profiles, then the new key, then (admin mode) the caller's profile.
fn resume_signers(journal: &Journal, files: &AwsFiles) -> Vec<Signer> {
    let mut out = Vec::new();
    let mfa = journal
        .profiles
        .iter()
        .find_map(|p| profile::resolve(files, p).ok().and_then(|r| r.mfa_serial));
    if let (Some(id), Some(secret)) = (&journal.old_access_key_id, &journal.old_secret) {
        out.push(Signer::Static {
            profile: journal.profiles.first().cloned(),
            access_key_id: id.clone(),
            secret: secret.clone(),
            mfa_serial: mfa.clone(),
        });
    }
    for p in &journal.profiles {
        if let Ok(r) = profile::resolve(files, p) {
            let s = Signer::Static {
                profile: Some(p.clone()),
                access_key_id: r.access_key_id,
                secret: r.secret,
                mfa_serial: r.mfa_serial,
            };
            if !out.iter().any(|o| o.key_id() == s.key_id()) {
                out.push(s);
            }
        }
    }
    // Last, the new key itself (same user): a pickup whose old key was deactivated meanwhile
    // (the fleet's `--deactivate-after`) can only go on with the key it is installing.
    if let (Some(n), false) = (&journal.new_key, journal.admin) {
        let s = Signer::Static {
            profile: journal.profiles.first().cloned(),
            access_key_id: n.access_key_id.clone(),
            secret: n.secret.clone(),
            mfa_serial: mfa.clone(),
        };
        if !out.iter().any(|o| o.key_id() == s.key_id()) {
            out.push(s);
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
