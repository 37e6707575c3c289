//! A whole run of `fleet status`, `fleet plan` or `fleet rotate`, as a state machine driven
//! like [`crate::session::Session`]: drain [`FleetSession::poll_action`], answer each action
//! with [`FleetSession::handle_outcome`], sleep until [`FleetSession::poll_timeout`].
//!
//! 1. **Discover**, concurrently: who the caller is; every user (all pages, or the named ones);
//!    the members of each `--exempt-group` (a group that does not exist stops the run before
//!    any change); the delivery secrets (their descriptions, never their values); the
//!    credential report (not for `status`, nor for named users), which spares the listing of
//!    users it shows as not due.
//! 2. **Decide** each user ([`decide`]), asking for the facts it needs (tags, keys, last use),
//!    users concurrently up to the limit.
//! 3. `fleet rotate` only: without `--yes`, ask once at a terminal (no terminal: stop, exit
//!    252, nothing changed); then **act**: each user's steps in order, users concurrently.
//!
//! Throttling and transient errors are retried with jittered backoff; a user whose requests
//! still fail gets its row with the error and does not stop the others. A created key's secret
//! is stored before any other request about that user; if the store is refused, the key is
//! deleted; if its answers are lost (it may have been stored), the key stays for the next run,
//! which reads from the secret's description whether it was delivered.

use std::collections::{BTreeMap, BTreeSet};

use crate::action::{Action, DeletePurpose, Failure, FailureClass, IamUser, Outcome, ReportState};
use crate::error::ErrorKind;
use crate::key::{AccessKeyId, SecretAccessKey, Sensitive, UserName};
use crate::rotation::Config;
use crate::session::{SessionAction, Signer, TaskId};
use crate::time::{Span, Timestamp};

use super::delivery::{self, DeliveredKey, Marker};
use super::notice::{self, Event, NoticeFacts, Template};
use super::report::{self, ReportRow};
use super::seal::{self, Recipient};
use super::stage::{self as stages, Act, Facts, Need, Policy, Step, Verdict, decide};

/// What the run is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FleetMode {
    /// `fleet status`: every user's keys, their last use and its stage. Changes nothing.
    Status,
    /// `fleet plan`: what `fleet rotate` would do. Changes nothing.
    Plan,
    /// `fleet rotate`: move every user on by one stage.
    Rotate,
}

/// The command line, as the fleet session needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetRequest {
    /// Status, plan or rotate.
    pub mode: FleetMode,
    /// What decides each user's next step.
    pub policy: Policy,
    /// `--user-name`: only these users (empty: every user).
    pub user_names: Vec<UserName>,
    /// `--exempt-group`.
    pub exempt_groups: Vec<String>,
    /// `--yes`.
    pub yes: bool,
    /// A terminal can be asked.
    pub interactive: bool,
    /// Users with a request in flight at once.
    pub max_concurrency: usize,
    /// Who signs every request.
    pub signer: Signer,
    /// `--encrypt`: each delivery sealed to its owner's public key.
    pub encrypt: bool,
    /// `--notify-from`: how the owners' mails are sent (which are owed is the policy's).
    pub notify: Option<Notifier>,
}

/// `--notify-from`: the sender and the text of the owners' mails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notifier {
    /// The sender, verified in SES.
    pub from: String,
    /// `--notify-template`, or the default text.
    pub template: Template,
    /// The run's region (where the deliveries are), for the mails' text.
    pub region: String,
}

/// One user's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserResult {
    /// What was known of the user when the decision was made.
    pub facts: Facts,
    /// The decision, once made.
    pub verdict: Option<Verdict>,
    /// The steps done, in order.
    pub done: Vec<Step>,
    /// The key delivered by this run.
    pub new_key: Option<AccessKeyId>,
    /// The failure that stopped the user's run, with the operation.
    pub error: Option<(Option<&'static str>, Failure)>,
}

/// Why a whole run stopped before it acted on anyone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetError {
    /// How it ends.
    pub kind: ErrorKind,
    /// What happened and what to do.
    pub message: String,
}

/// A request waiting to be sent, sent, or waiting to be sent again (the organization's run
/// keeps its own the same way).
#[derive(Debug, Clone)]
pub(super) struct Call {
    pub(super) action: Action,
    pub(super) attempts: u32,
    pub(super) wait_until: Option<Timestamp>,
    pub(super) in_flight: bool,
    /// An earlier attempt failed in a way that may have hidden its effect (a lost answer):
    /// a later refusal does not undo it.
    pub(super) may_have_landed: bool,
}

impl Call {
    pub(super) fn new(action: Action) -> Self {
        Self {
            action,
            attempts: 0,
            wait_until: None,
            in_flight: false,
            may_have_landed: false,
        }
    }
}

/// A listing of the discovery phase.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Listing {
    Identify,
    Users { named: usize },
    Group(String),
    Secrets,
    Report { polls: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Discover,
    Decide,
    Confirm,
    Act,
    Done,
}

#[derive(Debug, Clone)]
struct UserTask {
    result: UserResult,
    /// Steps still to do.
    steps: Vec<Step>,
    /// The new key, between its creation and its storage.
    created: Option<(AccessKeyId, SecretAccessKey, Timestamp)>,
    /// The user's keys before the create: any other key found after an ambiguous create
    /// failure is its orphan.
    before_create: Vec<AccessKeyId>,
    creates: u32,
    finished: bool,
    /// `--encrypt`: whom the delivery is sealed to.
    recipient: Option<Recipient>,
    /// The delivery's description as it stands in AWS (`None`: no delivered key).
    marker: Option<Marker>,
    /// The description the step in flight writes, once it succeeds.
    writing: Option<Marker>,
}

/// A fleet run. See the module docs.
#[derive(Debug, Clone)]
pub struct FleetSession {
    req: FleetRequest,
    cfg: Config,
    phase: Phase,
    /// When the run started: every user is judged at this time, so that one run's decisions
    /// agree with each other however long it takes.
    started: Timestamp,
    now: Timestamp,
    rng: u64,
    listings: Vec<(Listing, Option<Call>)>,
    caller_arn: Option<String>,
    users: BTreeMap<UserName, IamUser>,
    /// Named users that do not exist.
    missing: Vec<(UserName, Failure)>,
    exempt: BTreeSet<UserName>,
    secrets: BTreeMap<UserName, Option<String>>,
    report: Option<Vec<ReportRow>>,
    tasks: Vec<UserTask>,
    calls: Vec<Option<Call>>,
    fatal: Option<FleetError>,
    declined: bool,
    confirm: Option<Call>,
}

/// Task ids: the listings first, the confirmation, then one per user.
const CONFIRM_TASK: TaskId = usize::MAX;
const REPORT_POLLS: u32 = 60;
/// The wait before asking again for a report being made: short at first (a small account's
/// is ready at once), doubling to this.
const REPORT_POLL_GAP: Span = Span::from_secs(2);

/// The wait before the report poll number `polls` (0: the first).
fn report_poll_gap(polls: u32) -> Span {
    let ms = 250u64.saturating_mul(1 << polls.min(4));
    Span::from_millis(ms.min(REPORT_POLL_GAP.as_millis()))
}
/// A `CreateAccessKey` whose answer was lost is tried this often in all.
const MAX_CREATES: u32 = 3;

impl FleetSession {
    /// A run that starts now.
    pub fn new(req: FleetRequest, cfg: Config, now: Timestamp) -> Self {
        let mut listings = vec![(Listing::Identify, Some(Call::new(Action::Identify)))];
        if req.user_names.is_empty() {
            listings.push((
                Listing::Users { named: 0 },
                Some(Call::new(Action::UserDetails { marker: None })),
            ));
        } else {
            listings.push((
                Listing::Users { named: 0 },
                Some(Call::new(Action::GetUser {
                    user_name: req.user_names[0].clone(),
                })),
            ));
        }
        for g in &req.exempt_groups {
            listings.push((
                Listing::Group(g.clone()),
                Some(Call::new(Action::GroupMembers {
                    group: g.clone(),
                    marker: None,
                })),
            ));
        }
        listings.push((
            Listing::Secrets,
            Some(Call::new(Action::ListSecrets {
                prefix: delivery::PREFIX.to_owned(),
                next_token: None,
            })),
        ));
        // The report pays off for a whole account: it spares the listing of the keys of users
        // it shows as not due, and `status` the last use of the keys it knows.
        if req.user_names.is_empty() {
            listings.push((
                Listing::Report { polls: 0 },
                Some(Call::new(Action::GenerateReport)),
            ));
        }
        Self {
            rng: cfg.seed ^ 0x5851_F42D_4C95_7F2D,
            req,
            cfg,
            phase: Phase::Discover,
            started: now,
            now,
            listings,
            caller_arn: None,
            users: BTreeMap::new(),
            missing: Vec::new(),
            exempt: BTreeSet::new(),
            secrets: BTreeMap::new(),
            report: None,
            tasks: Vec::new(),
            calls: Vec::new(),
            fatal: None,
            declined: false,
            confirm: None,
        }
    }

    /// True once the run is over.
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// The caller's account, once known.
    pub fn account(&self) -> Option<&str> {
        self.caller_arn
            .as_deref()
            .and_then(|a| a.split(':').nth(4))
            .filter(|a| !a.is_empty())
    }

    /// What stopped the whole run before it acted, if anything.
    pub fn fatal(&self) -> Option<&FleetError> {
        self.fatal.as_ref()
    }

    /// How the run ends: the most serious of the stopping error's kind (a declined prompt is
    /// [`ErrorKind::Usage`]) and the users' failures (an AWS error is [`ErrorKind::Service`]),
    /// or `None` (blocked users end well: they are warned about). A user that failed while
    /// the others were decided makes the run a service error even if it then stopped at the
    /// prompt (promise 13).
    pub fn error_kind(&self) -> Option<ErrorKind> {
        ErrorKind::worst(
            self.fatal
                .iter()
                .map(|f| f.kind)
                .chain(self.declined.then_some(ErrorKind::Usage))
                .chain(
                    self.tasks
                        .iter()
                        .filter_map(|t| t.result.error.as_ref().map(|(_, f)| f.kind())),
                )
                .chain(self.missing.iter().map(|(_, f)| f.kind())),
        )
    }

    /// Every user's result, in user-name order.
    pub fn into_results(self) -> Vec<UserResult> {
        let mut all: Vec<UserResult> = self.tasks.into_iter().map(|t| t.result).collect();
        for (name, failure) in self.missing {
            all.push(UserResult {
                facts: Facts::new(IamUser {
                    user_name: name,
                    arn: String::new(),
                    tags: Vec::new(),
                }),
                verdict: None,
                done: Vec::new(),
                new_key: None,
                error: Some((Some("GetUser"), failure)),
            });
        }
        all.sort_by(|a, b| a.facts.user.user_name.cmp(&b.facts.user.user_name));
        all
    }

    /// The next request, if one may go now.
    pub fn poll_action(&mut self) -> Option<SessionAction> {
        let signer = self.req.signer.clone();
        if let Some(c) = &mut self.confirm
            && !c.in_flight
        {
            c.in_flight = true;
            return Some(SessionAction {
                task: CONFIRM_TASK,
                signer,
                action: c.action.clone(),
            });
        }
        for (i, (_, call)) in self.listings.iter_mut().enumerate() {
            if let Some(c) = call
                && !c.in_flight
                && c.wait_until.is_none()
            {
                c.in_flight = true;
                c.attempts += 1;
                return Some(SessionAction {
                    task: i,
                    signer,
                    action: c.action.clone(),
                });
            }
        }
        let busy = self
            .calls
            .iter()
            .flatten()
            .filter(|c| c.in_flight || c.wait_until.is_some())
            .count();
        if busy >= self.req.max_concurrency.max(1) {
            return None;
        }
        let base = self.listings.len();
        for (i, call) in self.calls.iter_mut().enumerate() {
            if let Some(c) = call
                && !c.in_flight
                && c.wait_until.is_none()
            {
                c.in_flight = true;
                c.attempts += 1;
                return Some(SessionAction {
                    task: base + i,
                    signer,
                    action: c.action.clone(),
                });
            }
        }
        None
    }

    /// When the earliest waiting request may go again.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.listings
            .iter()
            .filter_map(|(_, c)| c.as_ref())
            .chain(self.calls.iter().flatten())
            .filter_map(|c| c.wait_until)
            .min()
    }

    /// Time has passed: requests whose wait is over may go.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        self.now = self.now.max(now);
        for c in self
            .listings
            .iter_mut()
            .filter_map(|(_, c)| c.as_mut())
            .chain(self.calls.iter_mut().flatten())
        {
            if c.wait_until.is_some_and(|t| t <= now) {
                c.wait_until = None;
            }
        }
    }

    /// The answer to the action handed out for `task`.
    pub fn handle_outcome(&mut self, task: TaskId, outcome: Outcome, now: Timestamp) {
        self.now = self.now.max(now);
        if task == CONFIRM_TASK {
            self.confirm = None;
            match outcome {
                Outcome::Done => self.start_acting(),
                _ => {
                    self.declined = true;
                    self.phase = Phase::Done;
                }
            }
            return;
        }
        if task < self.listings.len() {
            let Some(call) = self.listings[task].1.take() else {
                return;
            };
            if let Some(call) = self.retry(call, &outcome) {
                self.listings[task].1 = Some(call);
                return;
            }
            self.listed(task, outcome);
            if self.phase == Phase::Discover && self.listings.iter().all(|(_, c)| c.is_none()) {
                self.start_deciding();
            }
            return;
        }
        let i = task - self.listings.len();
        let Some(call) = self.calls.get_mut(i).and_then(Option::take) else {
            return;
        };
        let retryable = !matches!(call.action, Action::CreateKey { .. });
        if retryable && let Some(call) = self.retry(call.clone(), &outcome) {
            self.calls[i] = Some(call);
            return;
        }
        match self.phase {
            Phase::Decide => self.learned(i, &call.action, outcome),
            Phase::Act => self.acted(i, call, outcome),
            _ => {}
        }
        self.advance();
    }

    /// A throttled or transient failure with attempts left: the same call, later.
    fn retry(&mut self, mut call: Call, outcome: &Outcome) -> Option<Call> {
        call.in_flight = false;
        let Outcome::Failed(f) = outcome else {
            return None;
        };
        if !matches!(f.class, FailureClass::Throttled | FailureClass::Transient)
            || call.attempts >= self.cfg.max_attempts
        {
            return None;
        }
        call.may_have_landed |= f.class == FailureClass::Transient;
        call.wait_until = Some(self.now.add(self.backoff(call.attempts)));
        Some(call)
    }

    fn backoff(&mut self, attempt: u32) -> Span {
        let base = self
            .cfg
            .retry_initial
            .as_millis()
            .saturating_mul(1u64 << attempt.saturating_sub(1).min(20));
        let ms = base.min(self.cfg.retry_max.as_millis());
        // splitmix64; full jitter between half and all of the wait.
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let half = ms / 2;
        Span::from_millis(half + z % (ms - half + 1))
    }

    fn stop(&mut self, kind: ErrorKind, message: String) {
        if self.fatal.is_none() {
            self.fatal = Some(FleetError { kind, message });
        }
        // Nothing was changed yet: stop every listing.
        for (_, c) in &mut self.listings {
            if c.as_ref().is_some_and(|c| !c.in_flight) {
                *c = None;
            }
        }
        if self.listings.iter().all(|(_, c)| c.is_none()) {
            self.phase = Phase::Done;
        }
    }

    fn listed(&mut self, task: TaskId, outcome: Outcome) {
        let listing = self.listings[task].0.clone();
        let failed = |f: &Failure, op: &str| f.text(Some(op));
        match (listing, outcome) {
            (_, _) if self.fatal.is_some() => {
                if self.listings.iter().all(|(_, c)| c.is_none()) {
                    self.phase = Phase::Done;
                }
            }
            (Listing::Identify, Outcome::Verified { arn }) => self.caller_arn = Some(arn),
            (Listing::Users { named }, Outcome::Users { users, marker }) => {
                for u in users {
                    self.users.insert(u.user_name.clone(), u);
                }
                if !self.req.user_names.is_empty() {
                    self.next_named(task, named);
                } else if let Some(marker) = marker {
                    self.listings[task].1 = Some(Call::new(Action::UserDetails {
                        marker: Some(marker),
                    }));
                }
            }
            (Listing::Users { named }, Outcome::Failed(f))
                if !self.req.user_names.is_empty() && f.class == FailureClass::NotFound =>
            {
                self.missing.push((self.req.user_names[named].clone(), f));
                self.next_named(task, named);
            }
            (Listing::Group(g), Outcome::Users { users, marker }) => {
                self.exempt.extend(users.into_iter().map(|u| u.user_name));
                if let Some(marker) = marker {
                    self.listings[task].1 = Some(Call::new(Action::GroupMembers {
                        group: g,
                        marker: Some(marker),
                    }));
                }
            }
            (Listing::Group(g), Outcome::Failed(f)) if f.class == FailureClass::NotFound => {
                self.stop(
                    ErrorKind::Usage,
                    format!(
                        "the group {g:?} (--exempt-group) does not exist: nothing was changed. Check its name with `aws iam list-groups`"
                    ),
                );
            }
            (
                Listing::Secrets,
                Outcome::Secrets {
                    secrets,
                    next_token,
                },
            ) => {
                for s in secrets {
                    if let Some(user) = delivery::user_of(&s.name) {
                        self.secrets.insert(user, s.description);
                    }
                }
                if let Some(token) = next_token {
                    self.listings[task].1 = Some(Call::new(Action::ListSecrets {
                        prefix: delivery::PREFIX.to_owned(),
                        next_token: Some(token),
                    }));
                }
            }
            (Listing::Report { polls }, Outcome::ReportState(state)) => {
                let next = if state == ReportState::Complete {
                    Call::new(Action::GetReport)
                } else if polls < REPORT_POLLS {
                    let mut c = Call::new(Action::GenerateReport);
                    c.wait_until = Some(self.now.add(report_poll_gap(polls)));
                    c
                } else {
                    return;
                };
                self.listings[task] = (Listing::Report { polls: polls + 1 }, Some(next));
            }
            (Listing::Report { polls }, Outcome::Failed(f))
                if f.class == FailureClass::NotReady && polls < REPORT_POLLS =>
            {
                let mut c = Call::new(Action::GetReport);
                c.wait_until = Some(self.now.add(report_poll_gap(polls)));
                self.listings[task] = (Listing::Report { polls: polls + 1 }, Some(c));
            }
            (Listing::Report { .. }, Outcome::Report(text)) => {
                // A report that cannot be read only costs requests: every user is listed.
                self.report = report::parse(&text).ok();
            }
            // Without the report, every user's keys are listed: slower, as safe.
            (Listing::Report { .. }, _) => {}
            (Listing::Identify, Outcome::Failed(f)) => {
                self.stop(f.kind(), failed(&f, "GetCallerIdentity"));
            }
            (Listing::Users { .. }, Outcome::Failed(f)) => {
                let op = if self.req.user_names.is_empty() {
                    "GetAccountAuthorizationDetails"
                } else {
                    "GetUser"
                };
                self.stop(f.kind(), failed(&f, op));
            }
            (Listing::Group(_), Outcome::Failed(f)) => self.stop(f.kind(), failed(&f, "GetGroup")),
            (Listing::Secrets, Outcome::Failed(f)) => {
                self.stop(
                    f.kind(),
                    format!(
                        "{}: without the deliveries no stage can be told; nothing was changed",
                        failed(&f, "ListSecrets")
                    ),
                );
            }
            (l, o) => self.stop(
                ErrorKind::Other,
                format!("internal error: {l:?} answered with {o:?}"),
            ),
        }
    }

    fn next_named(&mut self, task: TaskId, named: usize) {
        if let Some(next) = self.req.user_names.get(named + 1) {
            self.listings[task] = (
                Listing::Users { named: named + 1 },
                Some(Call::new(Action::GetUser {
                    user_name: next.clone(),
                })),
            );
        }
    }

    fn start_deciding(&mut self) {
        if self.fatal.is_some() {
            self.phase = Phase::Done;
            return;
        }
        self.phase = Phase::Decide;
        let caller = self.caller_arn.clone().unwrap_or_default();
        let report: BTreeMap<&str, &ReportRow> = self
            .report
            .iter()
            .flatten()
            .map(|r| (r.user.as_str(), r))
            .collect();
        let users = std::mem::take(&mut self.users);
        for (name, user) in users {
            let mut facts = Facts::new(user);
            facts.caller = facts.user.arn == caller;
            facts.in_exempt_group = self.exempt.contains(&name);
            facts.report = report.get(name.as_str()).map(|r| (*r).clone());
            facts.delivery = self
                .secrets
                .get(&name)
                .map(|d| Marker::parse(d.as_deref().unwrap_or("")));
            facts.detailed = self.req.mode == FleetMode::Status;
            self.tasks.push(UserTask {
                result: UserResult {
                    facts,
                    verdict: None,
                    done: Vec::new(),
                    new_key: None,
                    error: None,
                },
                steps: Vec::new(),
                created: None,
                before_create: Vec::new(),
                creates: 0,
                finished: false,
                recipient: None,
                marker: None,
                writing: None,
            });
            self.calls.push(None);
        }
        for i in 0..self.tasks.len() {
            self.ask(i);
        }
        self.advance();
    }

    /// Decides user `i`, or asks for the fact the decision needs.
    fn ask(&mut self, i: usize) {
        let t = &mut self.tasks[i];
        let user_name = t.result.facts.user.user_name.clone();
        let need = match decide(&t.result.facts, &self.req.policy, self.started) {
            Ok(v) if self.req.encrypt && stages::stores(&v) => {
                match stages::recipient(&t.result.facts) {
                    Ok(Ok(r)) => {
                        t.recipient = Some(r);
                        t.result.verdict = Some(v);
                    }
                    Ok(Err(reason)) => {
                        t.result.verdict = Some(stages::unsealable(&t.result.facts, v, reason));
                    }
                    Err(need) => return self.call_for(i, user_name, need),
                }
                t.finished = true;
                return;
            }
            Ok(v) => {
                t.result.verdict = Some(v);
                t.finished = true;
                return;
            }
            Err(need) => need,
        };
        self.call_for(i, user_name, need);
    }

    /// The request that answers what user `i`'s decision needs.
    fn call_for(&mut self, i: usize, user_name: UserName, need: Need) {
        let action = match need {
            Need::Keys => Action::ListKeys { user_name },
            Need::LastUsed(access_key_id) => Action::LastUsed { access_key_id },
            Need::SshKeys => Action::ListSshKeys { user_name },
            Need::SshKey(id) => Action::GetSshKey { user_name, id },
        };
        self.calls[i] = Some(Call::new(action));
    }

    fn learned(&mut self, i: usize, action: &Action, outcome: Outcome) {
        let facts = &mut self.tasks[i].result.facts;
        match (action, outcome) {
            (Action::ListKeys { .. }, Outcome::Keys(keys)) => facts.keys = Some(keys),
            (Action::ListSshKeys { .. }, Outcome::SshKeys(keys)) => facts.ssh_keys = Some(keys),
            (Action::GetSshKey { id, .. }, Outcome::SshKey(text)) => {
                facts.ssh_key = Some((id.clone(), text));
            }
            (Action::LastUsed { access_key_id }, Outcome::LastUsed(at)) => {
                facts.last_used.push((access_key_id.clone(), at));
                if let Some(k) = facts
                    .keys
                    .iter_mut()
                    .flatten()
                    .find(|k| &k.access_key_id == access_key_id)
                {
                    k.last_used = at;
                }
            }
            (action, Outcome::Failed(f)) => {
                self.fail(i, action.operation(), f);
                return;
            }
            (action, other) => {
                let f = Failure::new(
                    FailureClass::Other,
                    None,
                    format!("internal error: unexpected answer {other:?}"),
                );
                self.fail(i, action.operation(), f);
                return;
            }
        }
        self.ask(i);
    }

    /// The new key of user `i` is certainly not stored: it goes, so that no key's secret is
    /// nowhere, and the user's run stops with `f`. The pending mark makes the next run deliver
    /// again.
    fn not_stored(&mut self, i: usize, operation: Option<&'static str>, f: Failure) {
        let t = &mut self.tasks[i];
        let id = t.created.take().map(|(id, ..)| id);
        t.result.new_key = None;
        t.result.error = Some((operation, f));
        t.steps.clear();
        if let Some(id) = id {
            t.steps.push(Step::DeleteKey(id, DeletePurpose::Orphan));
            self.next_step(i);
        } else {
            t.finished = true;
        }
    }

    fn fail(&mut self, i: usize, operation: Option<&'static str>, f: Failure) {
        let t = &mut self.tasks[i];
        if t.result.error.is_none() {
            t.result.error = Some((operation, f));
        }
        t.steps.clear();
        t.finished = true;
    }

    /// Moves on once every user of the phase is through.
    fn advance(&mut self) {
        let all_through =
            self.tasks.iter().all(|t| t.finished) && self.calls.iter().all(Option::is_none);
        if !all_through {
            return;
        }
        match self.phase {
            Phase::Decide => {
                let changes = self
                    .tasks
                    .iter()
                    .filter(|t| {
                        t.result
                            .verdict
                            .as_ref()
                            .is_some_and(|v| !v.steps.is_empty())
                    })
                    .count();
                if self.req.mode != FleetMode::Rotate || changes == 0 {
                    self.phase = Phase::Done;
                } else if self.req.yes {
                    self.start_acting();
                } else if self.req.interactive {
                    self.phase = Phase::Confirm;
                    self.confirm = Some(Call::new(Action::ConfirmPlan {
                        summary: self.summary(),
                    }));
                } else {
                    self.fatal = Some(FleetError {
                        kind: ErrorKind::Usage,
                        message: format!(
                            "fleet rotate would change {changes} user(s) and there is no terminal to ask: pass --yes to go ahead (`fleet plan` shows what would be done). Nothing was changed"
                        ),
                    });
                    self.phase = Phase::Done;
                }
            }
            Phase::Act => self.phase = Phase::Done,
            _ => {}
        }
    }

    /// How many users each kind of change touches.
    fn summary(&self) -> String {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        let mut mails = 0;
        for v in self.tasks.iter().filter_map(|t| t.result.verdict.as_ref()) {
            let what = match v.act {
                Act::Deliver => "create and deliver a new key",
                Act::DeactivateOldKey => "deactivate the replaced key",
                Act::DeleteOldKey => "delete the replaced key",
                Act::DeleteDelivery => "delete the finished delivery",
                Act::None if v.steps.contains(&Step::RecordDeactivation) => {
                    "record when the replaced key was deactivated"
                }
                Act::None => "",
            };
            if !what.is_empty() {
                *counts.entry(what).or_default() += 1;
            }
            mails += v
                .steps
                .iter()
                .filter(|s| matches!(s, Step::Notify(_)))
                .count();
        }
        let mut lines: Vec<String> = counts
            .into_iter()
            .map(|(what, n)| format!("{n} user(s): {what}"))
            .collect();
        if mails > 0 {
            lines.push(format!(
                "{mails} mail(s) to the users' owners (--notify-from)"
            ));
        }
        lines.join("\n")
    }

    fn start_acting(&mut self) {
        self.phase = Phase::Act;
        for i in 0..self.tasks.len() {
            let t = &mut self.tasks[i];
            t.steps = t
                .result
                .verdict
                .as_ref()
                .map(|v| v.steps.iter().rev().cloned().collect())
                .unwrap_or_default();
            t.finished = t.steps.is_empty();
            t.marker = match &t.result.facts.delivery {
                Some(Ok(m @ Marker::Delivered { .. })) => Some(m.clone()),
                _ => None,
            };
            t.before_create = t
                .result
                .facts
                .keys
                .iter()
                .flatten()
                .map(|k| k.access_key_id.clone())
                .collect();
            self.next_step(i);
        }
        self.advance();
    }

    /// Hands out user `i`'s next step, or finishes it.
    fn next_step(&mut self, i: usize) {
        let t = &mut self.tasks[i];
        let Some(step) = t.steps.last().cloned() else {
            t.finished = true;
            return;
        };
        let user = &t.result.facts.user;
        let user_name = user.user_name.clone();
        let name = delivery::secret_name(&user_name).unwrap_or_default();
        let action = match step {
            Step::Mark {
                replaces,
                known_keys,
            } => Action::CreateSecret {
                name,
                description: Marker::Pending {
                    replaces,
                    known_keys,
                    started: self.now,
                }
                .to_description(),
            },
            Step::Policy => Action::PutSecretPolicy {
                name,
                policy: delivery::resource_policy(&user.arn),
            },
            Step::DeleteKey(access_key_id, purpose) => Action::DeleteKey {
                user_name,
                access_key_id,
                purpose,
            },
            Step::CreateKey => Action::CreateKey { user_name },
            Step::Store { replaces } => {
                let Some((id, secret, created)) = t.created.clone() else {
                    t.steps.pop();
                    return self.next_step(i);
                };
                let value = DeliveredKey {
                    user_name,
                    access_key_id: id.clone(),
                    secret,
                    create_date: created,
                    replaces: replaces.clone(),
                }
                .to_json();
                let value = match (&t.recipient, self.req.encrypt) {
                    (Some(r), true) => match seal::seal(&value, r) {
                        Ok(sealed) => Sensitive::new(sealed),
                        Err(e) => {
                            let f = Failure::new(FailureClass::Other, None, e);
                            return self.not_stored(i, None, f);
                        }
                    },
                    (None, true) => {
                        let f = Failure::new(
                            FailureClass::Other,
                            None,
                            "--encrypt: no recipient was found before the store",
                        );
                        return self.not_stored(i, None, f);
                    }
                    (_, false) => value,
                };
                let marker = Marker::Delivered {
                    access_key_id: id.clone(),
                    replaces,
                    delivered: self.now,
                    deactivated: None,
                    notified: Vec::new(),
                };
                let description = marker.to_description();
                t.writing = Some(marker);
                Action::StoreSecret {
                    name,
                    description,
                    value,
                    token: format!("aws-rotate-keys-delivery-{id}"),
                }
            }
            Step::Deactivate(access_key_id) => Action::DeactivateKey {
                user_name,
                access_key_id,
            },
            Step::RecordDeactivation | Step::RecordNotice(_) => match self.record(i, &step) {
                Some(action) => action,
                None => {
                    self.tasks[i].steps.pop();
                    return self.next_step(i);
                }
            },
            Step::Notify(event) => match self.mail(i, event) {
                Some(action) => action,
                None => {
                    self.tasks[i].steps.pop();
                    return self.next_step(i);
                }
            },
            Step::DeleteSecret => Action::DeleteSecret { name },
        };
        self.calls[i] = Some(Call::new(action));
    }

    /// The description that records `step` (a deactivation, or a mail sent) in user `i`'s
    /// delivery, written once the step succeeds (`None`: no delivered key to record it in).
    fn record(&mut self, i: usize, step: &Step) -> Option<Action> {
        let t = &mut self.tasks[i];
        let Some(Marker::Delivered {
            access_key_id,
            replaces,
            delivered,
            deactivated,
            mut notified,
        }) = t.marker.clone()
        else {
            return None;
        };
        let deactivated = match step {
            Step::RecordNotice(e) => {
                notified.push(*e);
                deactivated
            }
            _ => Some(self.now),
        };
        let marker = Marker::Delivered {
            access_key_id,
            replaces,
            delivered,
            deactivated,
            notified,
        };
        let description = marker.to_description();
        t.writing = Some(marker);
        let name = delivery::secret_name(&t.result.facts.user.user_name).unwrap_or_default();
        Some(Action::DescribeSecret { name, description })
    }

    /// The mail about `event` to user `i`'s owner (`None`: there is none to send).
    fn mail(&self, i: usize, event: Event) -> Option<Action> {
        let n = self.req.notify.as_ref()?;
        let p = self.req.policy.notify.as_ref()?;
        let t = &self.tasks[i];
        let Some(Marker::Delivered {
            access_key_id,
            replaces,
            delivered,
            deactivated,
            ..
        }) = &t.marker
        else {
            return None;
        };
        let user = &t.result.facts.user;
        let to = notice::address(user, &p.email_tag).ok()?;
        let deadline = match event {
            Event::Deactivated => *deactivated,
            _ => self.req.policy.deactivate_after.map(|a| delivered.add(a)),
        };
        let facts = NoticeFacts {
            user_name: user.user_name.clone(),
            account: user.arn.split(':').nth(4).unwrap_or_default().to_owned(),
            region: n.region.clone(),
            new_access_key_id: access_key_id.clone(),
            old_access_key_id: replaces.clone(),
            deadline,
        };
        let mail = n.template.render(event, &facts)?;
        Some(Action::SendEmail {
            from: n.from.clone(),
            to,
            subject: mail.subject,
            body: mail.body,
        })
    }

    /// A `CreateAccessKey` that did not answer with a key: throttled (the same create, later),
    /// its answer lost (list the keys, delete what is not known, create again), the listing
    /// that follows, or a failure that ends the user's run.
    fn create_unanswered(&mut self, i: usize, call: Call, outcome: Outcome) {
        let t = &mut self.tasks[i];
        match outcome {
            Outcome::Failed(f)
                if matches!(f.class, FailureClass::Throttled)
                    && call.attempts < self.cfg.max_attempts =>
            {
                // Refused, not executed: the same create, later.
                let mut call = call;
                call.in_flight = false;
                call.wait_until = Some(self.now.add(self.backoff(call.attempts)));
                self.calls[i] = Some(call);
            }
            Outcome::Failed(f) if f.class == FailureClass::Transient => {
                // The key may exist, its secret lost: list, delete what is not known, create
                // again (the pending mark lets a later run do the same if this one stops).
                t.creates += 1;
                if t.creates >= MAX_CREATES {
                    // The pending mark stays: a later run deletes what the lost answers made.
                    self.fail(i, Some("CreateAccessKey"), f);
                    return;
                }
                self.calls[i] = Some(Call::new(Action::ListKeys {
                    user_name: t.result.facts.user.user_name.clone(),
                }));
            }
            Outcome::Keys(keys) => {
                // The reconciling listing after a lost create.
                for k in keys {
                    if !t.before_create.contains(&k.access_key_id) {
                        t.steps
                            .push(Step::DeleteKey(k.access_key_id, DeletePurpose::Orphan));
                    }
                }
                self.next_step(i);
            }
            Outcome::Failed(f) => self.fail(i, call.action.operation(), f),
            other => {
                let f = Failure::new(
                    FailureClass::Other,
                    None,
                    format!("internal error: unexpected answer {other:?}"),
                );
                self.fail(i, call.action.operation(), f);
            }
        }
    }

    fn acted(&mut self, i: usize, call: Call, outcome: Outcome) {
        let t = &mut self.tasks[i];
        let Some(step) = t.steps.last().cloned() else {
            return;
        };
        if step == Step::CreateKey && !matches!(outcome, Outcome::KeyCreated { .. }) {
            return self.create_unanswered(i, call, outcome);
        }
        let t = &mut self.tasks[i];
        let ok = match (&step, outcome) {
            (
                Step::CreateKey,
                Outcome::KeyCreated {
                    access_key_id,
                    secret,
                    create_date,
                },
            ) => {
                t.result.new_key = Some(access_key_id.clone());
                t.created = Some((access_key_id, secret, create_date));
                true
            }
            (Step::Store { .. }, Outcome::Done) => {
                t.created = None;
                true
            }
            (Step::Store { .. }, Outcome::Failed(f))
                if matches!(f.class, FailureClass::Transient | FailureClass::Other)
                    || call.may_have_landed =>
            {
                // An answer lost (every one, or one before refusals): the key may be stored (the description then says
                // Delivered, and its owner may already have read it) or not (the pending mark
                // stays, and the next run deletes the key as an orphan). Deleting it now could
                // take a delivered key from its owner: the next run tells which, as after a
                // crash here.
                t.created = None;
                t.result.new_key = None;
                self.fail(i, Some("UpdateSecret"), f);
                return;
            }
            (Step::Store { .. }, Outcome::Failed(f)) => {
                // Refused, so not stored.
                return self.not_stored(i, Some("UpdateSecret"), f);
            }
            (Step::Mark { .. }, Outcome::Failed(f))
                if f.class == FailureClass::AlreadyExists && call.attempts > 1 =>
            {
                // An earlier attempt whose answer was lost made it.
                true
            }
            (
                Step::DeleteKey(..) | Step::DeleteSecret | Step::Deactivate(_),
                Outcome::Failed(f),
            ) if f.class == FailureClass::NotFound => true,
            (_, Outcome::Done) => true,
            (_, Outcome::Failed(f)) => {
                let op = call.action.operation();
                self.fail(i, op, f);
                return;
            }
            (_, other) => {
                let f = Failure::new(
                    FailureClass::Other,
                    None,
                    format!("internal error: unexpected answer {other:?}"),
                );
                self.fail(i, call.action.operation(), f);
                return;
            }
        };
        if ok {
            let t = &mut self.tasks[i];
            if let Some(step) = t.steps.pop() {
                if let Step::DeleteKey(id, _) = &step {
                    t.before_create.retain(|k| k != id);
                }
                let written = t.writing.take();
                if matches!(
                    step,
                    Step::Store { .. } | Step::RecordDeactivation | Step::RecordNotice(_)
                ) {
                    t.marker = written.or(t.marker.take());
                }
                t.result.done.push(step);
            }
            if t.result.error.is_some() && t.steps.is_empty() {
                t.finished = true;
                return;
            }
            self.next_step(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::stage::Stage;
    use crate::key::KeyStatus;
    use crate::sim::FaultPlan;
    use crate::sim::fleet::{
        Admin, Broken, BrokenUser, FleetChecker, FleetRunEnd, FleetRunSpec, FleetWorld, SimAws,
    };

    const NOW: Timestamp = Timestamp::from_secs(1_767_225_600);

    /// alice and bob, both due; bob's tags cannot be read.
    fn world() -> FleetWorld {
        let mut aws = SimAws::new("123456789012", 3);
        for u in ["alice", "bob"] {
            aws.add_user(u, "/", Vec::new());
            aws.add_key(
                u,
                KeyStatus::Active,
                Timestamp::from_secs(1_700_000_000),
                None,
            );
        }
        let mut w = FleetWorld::new(aws, Admin::Role, NOW, 3);
        w.broken.insert(
            UserName::new("bob"),
            BrokenUser {
                how: Broken::Denied,
                until_run: 10,
                only: Some("ListAccessKeys"),
            },
        );
        w
    }

    fn kind_of(spec: &FleetRunSpec) -> Option<ErrorKind> {
        let mut w = world();
        let mut check = FleetChecker::new(&w);
        match w.run(spec, &mut FaultPlan::default(), &mut check) {
            Ok(FleetRunEnd::Completed { error_kind, .. }) => error_kind,
            other => panic!("{other:?}"),
        }
    }

    /// Promises 9 and 10: a store whose answers were all lost may have stored the key: it is
    /// not deleted (the delivery may hold it, and its owner may have picked it up); the next
    /// run reads which, from the secret's description. A store refused outright deletes it.
    #[test]
    fn a_key_whose_store_may_have_landed_is_kept_for_the_next_run() {
        for (how, kept) in [(Broken::LoseAnswer, true), (Broken::Denied, false)] {
            let mut w = world();
            w.broken.insert(
                UserName::new("bob"),
                BrokenUser {
                    how,
                    until_run: 1,
                    only: Some("UpdateSecret"),
                },
            );
            let mut check = FleetChecker::new(&w);
            let spec = FleetRunSpec::rotate(Policy::default());
            let end = w.run(&spec, &mut FaultPlan::default(), &mut check);
            let Ok(FleetRunEnd::Completed { error_kind, .. }) = end else {
                panic!("{how:?}: {end:?}")
            };
            assert_eq!(error_kind, Some(ErrorKind::Service), "{how:?}");
            let bob = UserName::new("bob");
            assert_eq!(
                w.aws.keys_of(&bob).len(),
                if kept { 2 } else { 1 },
                "{how:?}"
            );
            // The next run: delivered, or delivered again.
            let end = w.run(&spec, &mut FaultPlan::default(), &mut check);
            let Ok(FleetRunEnd::Completed { results, .. }) = end else {
                panic!("{how:?}: {end:?}")
            };
            let stage = results[1].verdict.as_ref().map(|v| v.stage);
            let expected = if kept { Stage::Delivered } else { Stage::Due };
            assert_eq!(stage, Some(expected), "{how:?}");
        }
    }

    /// Promises 9 and 10: a store whose answer was lost once and whose later attempts were all
    /// throttled may have stored the key (the lost one may have landed): it is kept for the
    /// next run, as when every answer was lost. Throttling alone refuses, and never stored.
    #[test]
    fn a_store_that_may_have_landed_once_is_not_taken_back_when_throttled_after() {
        for k in 0..40 {
            let mut aws = SimAws::new("123456789012", 3);
            aws.add_user("alice", "/", Vec::new());
            aws.add_key(
                "alice",
                KeyStatus::Active,
                Timestamp::from_secs(1_700_000_000),
                None,
            );
            let mut w = FleetWorld::new(aws, Admin::Role, NOW, 3);
            let mut faults = FaultPlan::default();
            faults.faults.insert(k, crate::sim::Fault::LoseAnswer);
            for t in k + 1..k + 6 {
                faults.faults.insert(t, crate::sim::Fault::Throttle);
            }
            let mut check = FleetChecker::new(&w);
            let spec = FleetRunSpec::rotate(Policy::default());
            for run in 0..3 {
                if let Err(v) = w.run(&spec, &mut faults, &mut check) {
                    panic!("lost answer at step {k}, run {run}: {v:?}");
                }
                // Past the listing's lag: the next run may take an orphan for one.
                w.now = w.now.add(Span::from_secs(86_400));
            }
            if let Err(v) = check.end(&w, &[]) {
                panic!("lost answer at step {k}: {v:?}");
            }
        }
    }

    /// Promise 13: a user's failure ends the run with 254 (the most serious kind), also when
    /// the run then stops at the prompt (declined, or no terminal) with nothing changed.
    #[test]
    fn a_failed_user_makes_the_run_a_service_error_whatever_stops_it_later() {
        let rotate = FleetRunSpec::rotate(Policy::default());
        assert_eq!(kind_of(&rotate), Some(ErrorKind::Service));
        let declined = FleetRunSpec {
            yes: false,
            interactive: true,
            confirm: false,
            ..rotate.clone()
        };
        assert_eq!(kind_of(&declined), Some(ErrorKind::Service));
        let no_terminal = FleetRunSpec {
            yes: false,
            ..rotate
        };
        assert_eq!(kind_of(&no_terminal), Some(ErrorKind::Service));
    }
}
