//! A fleet run over the accounts of an AWS Organization (`--accounts`), as a state machine
//! driven like [`FleetSession`], which it runs once per account:
//!
//! 1. Who the caller is (its account and partition), and the organization's accounts
//!    (`organizations:ListAccounts`, every page).
//! 2. One [`FleetSession`] per chosen account, at most `max_accounts` at once: the caller's own
//!    account with the caller's credentials, every other one through its role
//!    (`arn:PARTITION:iam::ACCOUNT:role/ROLE_NAME`, a [`Signer::Role`]). An account that cannot
//!    be entered, or whose run stops, gets its failure and does not stop the others.
//! 3. `fleet rotate` without `--yes`: every account's run is decided first and waits at its
//!    question; the questions are asked as one, and the answer goes to every account.

use std::collections::BTreeMap;

use crate::action::{Action, FailureClass, OrgAccount, Outcome};
use crate::error::ErrorKind;
use crate::rotation::Config;
use crate::session::{SessionAction, Signer, TaskId};
use crate::time::{Span, Timestamp};

use super::session::{Call, FleetError, FleetMode, FleetRequest, FleetSession, UserResult};

/// Which accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accounts {
    /// Every `ACTIVE` account of the organization.
    All,
    /// These accounts (twelve digits each).
    Ids(Vec<String>),
}

/// The command line, as the organization's run needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgRequest {
    /// What each account's run does; its signer is the caller's.
    pub fleet: FleetRequest,
    /// `--accounts`.
    pub accounts: Accounts,
    /// `--role-name`: the role assumed in every account but the caller's.
    pub role_name: String,
    /// Accounts run at once, at most.
    pub max_accounts: usize,
}

/// The role an organization's administrator assumes in its accounts, as AWS creates it in
/// accounts made through Organizations.
pub const DEFAULT_ROLE_NAME: &str = "OrganizationAccountAccessRole";

/// One account's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountResult {
    /// The account's id.
    pub account_id: String,
    /// Its name in the organization.
    pub name: Option<String>,
    /// What stopped its run before it acted (the account could not be entered, a listing
    /// failed, ...), if anything.
    pub failure: Option<FleetError>,
    /// How its run ended (see [`FleetSession::error_kind`]).
    pub kind: Option<ErrorKind>,
    /// Its users, in user-name order.
    pub users: Vec<UserResult>,
}

#[derive(Debug, Clone)]
enum Slot {
    Waiting,
    Running(Box<FleetSession>),
    /// Decided, waiting for the one question's answer at its own `task`.
    Parked {
        session: Box<FleetSession>,
        task: TaskId,
        summary: String,
    },
    Finished(AccountResult),
}

#[derive(Debug, Clone)]
struct Account {
    id: String,
    name: Option<String>,
    slot: Slot,
}

const IDENTIFY: TaskId = 0;
const LIST: TaskId = 1;
const CONFIRM: TaskId = 2;
/// The first task id handed to an account's request.
const FIRST_ROUTED: TaskId = 3;

/// An organization's run. See the module docs.
#[derive(Debug, Clone)]
pub struct OrgSession {
    req: OrgRequest,
    cfg: Config,
    now: Timestamp,
    /// The caller's ARN's partition and account.
    caller: Option<(String, String)>,
    listed: Vec<OrgAccount>,
    own: [Option<Call>; 2],
    /// `None` until the organization is listed and the caller known.
    accounts: Option<Vec<Account>>,
    /// Task ids handed out for the accounts' requests: which account, and its own task id.
    routes: BTreeMap<TaskId, (usize, TaskId)>,
    next_task: TaskId,
    confirm: Option<Call>,
    /// The answer to the one question, once given (or decided: no terminal).
    answer: Option<bool>,
    declined: bool,
    fatal: Option<FleetError>,
}

impl OrgSession {
    /// A run that starts now.
    pub fn new(req: OrgRequest, cfg: Config, now: Timestamp) -> Self {
        Self {
            req,
            cfg,
            now,
            caller: None,
            listed: Vec::new(),
            own: [
                Some(Call::new(Action::Identify)),
                Some(Call::new(Action::ListAccounts { next_token: None })),
            ],
            accounts: None,
            routes: BTreeMap::new(),
            next_task: FIRST_ROUTED,
            confirm: None,
            answer: None,
            declined: false,
            fatal: None,
        }
    }

    /// True once the run is over.
    pub fn is_done(&self) -> bool {
        match &self.accounts {
            Some(accounts) => {
                self.confirm.is_none()
                    && accounts.iter().all(|a| matches!(a.slot, Slot::Finished(_)))
            }
            None => self.fatal.is_some() && self.own.iter().flatten().all(|c| !c.in_flight),
        }
    }

    /// What stopped the whole run, if anything: the caller or the organization could not be
    /// read, or no terminal to ask.
    pub fn fatal(&self) -> Option<&FleetError> {
        self.fatal.as_ref()
    }

    /// True when the question was answered no.
    pub fn declined(&self) -> bool {
        self.declined
    }

    /// How the run ends: the worst of its own stop and the accounts' ends.
    pub fn error_kind(&self) -> Option<ErrorKind> {
        let accounts = self
            .accounts
            .iter()
            .flatten()
            .filter_map(|a| match &a.slot {
                Slot::Finished(r) => r.kind,
                _ => None,
            });
        ErrorKind::worst(
            self.fatal
                .iter()
                .map(|f| f.kind)
                .chain(self.declined.then_some(ErrorKind::Usage))
                .chain(accounts),
        )
    }

    /// Every account's result, in account-id order.
    pub fn into_results(self) -> Vec<AccountResult> {
        self.accounts
            .unwrap_or_default()
            .into_iter()
            .filter_map(|a| match a.slot {
                Slot::Finished(r) => Some(r),
                _ => None,
            })
            .collect()
    }

    /// The next request, if one may go now.
    pub fn poll_action(&mut self) -> Option<SessionAction> {
        let signer = self.req.fleet.signer.clone();
        for (task, call) in self.own.iter_mut().enumerate() {
            if let Some(c) = call
                && !c.in_flight
                && c.wait_until.is_none()
            {
                c.in_flight = true;
                c.attempts += 1;
                return Some(SessionAction {
                    task,
                    signer,
                    action: c.action.clone(),
                });
            }
        }
        if let Some(c) = &mut self.confirm
            && !c.in_flight
        {
            c.in_flight = true;
            return Some(SessionAction {
                task: CONFIRM,
                signer,
                action: c.action.clone(),
            });
        }
        self.schedule();
        let mut found = None;
        let mut parked = false;
        for (i, a) in self.accounts.iter_mut().flatten().enumerate() {
            let Slot::Running(session) = &mut a.slot else {
                continue;
            };
            let Some(action) = session.poll_action() else {
                continue;
            };
            if let Action::ConfirmPlan { summary } = &action.action {
                let summary = summary.clone();
                if let Slot::Running(session) = std::mem::replace(&mut a.slot, Slot::Waiting) {
                    a.slot = Slot::Parked {
                        session,
                        task: action.task,
                        summary,
                    };
                }
                parked = true;
            } else {
                found = Some((i, action));
            }
            break;
        }
        if parked {
            // Once every account waits, the question goes.
            self.ask_if_all_parked();
            return self.poll_action();
        }
        let (i, action) = found?;
        let task = self.next_task;
        self.next_task += 1;
        self.routes.insert(task, (i, action.task));
        Some(SessionAction { task, ..action })
    }

    /// When the earliest waiting request may go again.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        let own = self.own.iter().flatten().filter_map(|c| c.wait_until).min();
        let inner = self
            .accounts
            .iter()
            .flatten()
            .filter_map(|a| match &a.slot {
                Slot::Running(s) => s.poll_timeout(),
                _ => None,
            })
            .min();
        own.into_iter().chain(inner).min()
    }

    /// Time has passed: requests whose wait is over may go.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        self.now = self.now.max(now);
        for c in self.own.iter_mut().flatten() {
            if c.wait_until.is_some_and(|t| t <= now) {
                c.wait_until = None;
            }
        }
        for a in self.accounts.iter_mut().flatten() {
            if let Slot::Running(s) = &mut a.slot {
                s.handle_timeout(now);
            }
        }
    }

    /// The answer to the action handed out for `task`.
    pub fn handle_outcome(&mut self, task: TaskId, outcome: Outcome, now: Timestamp) {
        self.now = self.now.max(now);
        match task {
            IDENTIFY | LIST => self.own_outcome(task, outcome),
            CONFIRM => {
                self.confirm = None;
                let yes = outcome == Outcome::Done;
                self.declined = !yes;
                self.answer = Some(yes);
            }
            _ => {
                let Some((i, inner)) = self.routes.remove(&task) else {
                    return;
                };
                let Some(a) = self.accounts.as_mut().and_then(|a| a.get_mut(i)) else {
                    return;
                };
                if let Slot::Running(s) = &mut a.slot {
                    s.handle_outcome(inner, outcome, now);
                }
                Self::finish_if_done(a);
                self.ask_if_all_parked();
            }
        }
    }

    fn own_outcome(&mut self, task: TaskId, outcome: Outcome) {
        let Some(mut call) = self.own[task].take() else {
            return;
        };
        call.in_flight = false;
        if let Outcome::Failed(f) = &outcome
            && matches!(f.class, FailureClass::Throttled | FailureClass::Transient)
            && call.attempts < self.cfg.max_attempts
        {
            let ms = self
                .cfg
                .retry_initial
                .as_millis()
                .saturating_mul(1 << call.attempts.min(10))
                .min(self.cfg.retry_max.as_millis());
            call.wait_until = Some(self.now.add(Span::from_millis(ms)));
            self.own[task] = Some(call);
            return;
        }
        match (task, outcome) {
            (IDENTIFY, Outcome::Verified { arn }) => {
                let parts: Vec<&str> = arn.split(':').collect();
                match (parts.get(1), parts.get(4)) {
                    (Some(p), Some(a)) if !a.is_empty() => {
                        self.caller = Some(((*p).to_owned(), (*a).to_owned()));
                    }
                    _ => self.stop(
                        ErrorKind::Service,
                        format!("the caller's ARN {arn:?} names no account"),
                    ),
                }
            }
            (IDENTIFY, Outcome::Failed(f)) => {
                self.stop(f.kind(), f.text(Some("GetCallerIdentity")));
            }
            (
                LIST,
                Outcome::Accounts {
                    accounts,
                    next_token,
                },
            ) => {
                self.listed.extend(accounts);
                if let Some(token) = next_token {
                    self.own[LIST] = Some(Call::new(Action::ListAccounts {
                        next_token: Some(token),
                    }));
                }
            }
            (LIST, Outcome::Failed(f)) => self.stop(
                f.kind(),
                format!(
                    "{}: the organization's accounts could not be listed. --accounts needs organizations:ListAccounts, in the organization's management account or a delegated administrator's; nothing was changed",
                    f.text(Some("ListAccounts"))
                ),
            ),
            (_, o) => self.stop(
                ErrorKind::Other,
                format!("internal error: an organization's listing answered with {o:?}"),
            ),
        }
        if self.fatal.is_none() && self.own.iter().all(Option::is_none) {
            self.choose_accounts();
        }
    }

    fn stop(&mut self, kind: ErrorKind, message: String) {
        if self.fatal.is_none() {
            self.fatal = Some(FleetError { kind, message });
        }
        for c in &mut self.own {
            if c.as_ref().is_some_and(|c| !c.in_flight) {
                *c = None;
            }
        }
    }

    /// The accounts to run, from the listing and `--accounts`.
    fn choose_accounts(&mut self) {
        let mut accounts: Vec<Account> = match &self.req.accounts {
            Accounts::All => self
                .listed
                .iter()
                .filter(|a| a.status == "ACTIVE")
                .map(|a| Account {
                    id: a.id.clone(),
                    name: Some(a.name.clone()),
                    slot: Slot::Waiting,
                })
                .collect(),
            Accounts::Ids(ids) => ids
                .iter()
                .map(|id| {
                    let found = self.listed.iter().find(|a| &a.id == id);
                    let failure = match found {
                        None => Some(format!(
                            "the account {id} is not in the organization: nothing was done in it. `aws organizations list-accounts` lists them"
                        )),
                        Some(a) if a.status != "ACTIVE" => Some(format!(
                            "the account {id} is {}: nothing was done in it",
                            a.status
                        )),
                        Some(_) => None,
                    };
                    let name = found.map(|a| a.name.clone());
                    Account {
                        id: id.clone(),
                        name: name.clone(),
                        slot: match failure {
                            None => Slot::Waiting,
                            Some(message) => Slot::Finished(AccountResult {
                                account_id: id.clone(),
                                name,
                                failure: Some(FleetError {
                                    kind: ErrorKind::Service,
                                    message,
                                }),
                                kind: Some(ErrorKind::Service),
                                users: Vec::new(),
                            }),
                        },
                    }
                })
                .collect(),
        };
        accounts.sort_by(|a, b| a.id.cmp(&b.id));
        accounts.dedup_by(|a, b| a.id == b.id);
        self.accounts = Some(accounts);
    }

    /// The signer of an account's run: the caller's own, or the role assumed with it.
    fn signer_for(&self, account: &str) -> Signer {
        let caller = &self.req.fleet.signer;
        match &self.caller {
            Some((_, own)) if own == account => caller.clone(),
            Some((partition, _)) => Signer::Role {
                source: Box::new(caller.clone()),
                role_arn: format!("arn:{partition}:iam::{account}:role/{}", self.req.role_name),
            },
            None => caller.clone(),
        }
    }

    /// Starts waiting accounts, and resumes confirmed ones, up to the bound.
    fn schedule(&mut self) {
        let Some(accounts) = &self.accounts else {
            return;
        };
        let mut running = accounts
            .iter()
            .filter(|a| matches!(a.slot, Slot::Running(_)))
            .count();
        let limit = self.req.max_accounts.max(1);
        // Every account is decided before the question: with one, wait at the question.
        let ask = self.req.fleet.mode == FleetMode::Rotate && !self.req.fleet.yes;
        for i in 0..accounts.len() {
            let Some(accounts) = &self.accounts else {
                return;
            };
            let a = &accounts[i];
            let starts = matches!(a.slot, Slot::Waiting);
            let resumes = matches!(a.slot, Slot::Parked { .. }) && self.answer.is_some();
            if !starts && !resumes {
                continue;
            }
            // A no needs no slot: it ends the account's run at once.
            if running >= limit && !(resumes && self.answer == Some(false)) {
                break;
            }
            let signer = self.signer_for(&a.id);
            let Some(accounts) = self.accounts.as_mut() else {
                return;
            };
            let a = &mut accounts[i];
            match std::mem::replace(&mut a.slot, Slot::Waiting) {
                Slot::Waiting => {
                    let mut fleet = self.req.fleet.clone();
                    fleet.signer = signer;
                    // The question is asked here, once for every account.
                    fleet.interactive = fleet.interactive || ask;
                    a.slot = Slot::Running(Box::new(FleetSession::new(
                        fleet,
                        self.cfg.clone(),
                        self.now,
                    )));
                    running += 1;
                }
                Slot::Parked {
                    mut session, task, ..
                } => {
                    let yes = self.answer == Some(true);
                    let answer = if yes {
                        Outcome::Done
                    } else {
                        Outcome::Declined
                    };
                    session.handle_outcome(task, answer, self.now);
                    a.slot = Slot::Running(session);
                    Self::finish_if_done(a);
                    if matches!(a.slot, Slot::Running(_)) {
                        running += 1;
                    }
                }
                other => a.slot = other,
            }
        }
    }

    fn finish_if_done(a: &mut Account) {
        let done = matches!(&a.slot, Slot::Running(s) if s.is_done());
        if !done {
            return;
        }
        let Slot::Running(s) = std::mem::replace(&mut a.slot, Slot::Waiting) else {
            return;
        };
        let failure = s.fatal().cloned();
        let kind = s.error_kind();
        a.slot = Slot::Finished(AccountResult {
            account_id: a.id.clone(),
            name: a.name.clone(),
            failure,
            kind,
            users: s.into_results(),
        });
    }

    /// When no account runs or waits to start and some wait at their question: ask it once
    /// (no terminal: the answer is no, and the run says why).
    fn ask_if_all_parked(&mut self) {
        if self.answer.is_some() || self.confirm.is_some() {
            return;
        }
        let Some(accounts) = &self.accounts else {
            return;
        };
        if accounts
            .iter()
            .any(|a| matches!(a.slot, Slot::Waiting | Slot::Running(_)))
        {
            return;
        }
        let parked: Vec<String> = accounts
            .iter()
            .filter_map(|a| match &a.slot {
                Slot::Parked { summary, .. } => Some(format!(
                    "account {}{}:\n  {}",
                    a.id,
                    a.name
                        .as_deref()
                        .map(|n| format!(" ({n})"))
                        .unwrap_or_default(),
                    summary.replace('\n', "\n  ")
                )),
                _ => None,
            })
            .collect();
        if parked.is_empty() {
            return;
        }
        if self.req.fleet.interactive {
            self.confirm = Some(Call::new(Action::ConfirmPlan {
                summary: parked.join("\n"),
            }));
        } else {
            self.answer = Some(false);
            self.fatal = Some(FleetError {
                kind: ErrorKind::Usage,
                message: format!(
                    "fleet rotate would change users in {} account(s) and there is no terminal to ask: pass --yes to go ahead (`fleet plan` shows what would be done). Nothing was changed",
                    parked.len()
                ),
            });
        }
    }
}
