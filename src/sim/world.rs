//! A simulated world (files, journals, IAM and the clock) and the shell's part in it:
//! [`World::run`] drives the real core's [`Session`] the way the shell does, against
//! [`SimIam`], with a [`FaultPlan`] that throttles, fails, drops answers, and crashes the process
//! before or after any step, checking the promises after every step ([`Checker`]).

use std::collections::{BTreeMap, BTreeSet};

use crate::action::{Action, Failure, FailureClass, Outcome};
use crate::key::{AccessKeyId, KeyMeta, KeyStatus, UserName};
use crate::plan::{Options, PlanError};
use crate::profile::{self, AwsFiles, Selection};
use crate::rotation::{Config, Report};
use crate::session::{Mode, Request, Session, SessionAction, Signer, TaskId, TaskOutcome};
use crate::time::{Span, Timestamp};

use super::checker::{Checker, Violation};
use super::disk::Disk;
use super::iam::SimIam;

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
    pub(crate) fn next(&mut self) -> Fault {
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

/// The files, journals, IAM and the clock.
#[derive(Debug, Clone)]
pub struct World {
    /// IAM.
    pub iam: SimIam,
    /// The files and the journals.
    pub disk: Disk,
    /// Now.
    pub now: Timestamp,
    /// Latency of each simulated request.
    pub latency: Span,
    /// A log of every step (action, fault, outcome), for the demo and for debugging a failure.
    pub trace: Option<Vec<String>>,
}

impl World {
    pub(super) fn files(&self) -> Result<AwsFiles, String> {
        self.disk.files()
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
            .disk
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
            interactive: false,
        };
        let mut session = match Session::new(
            &self.disk.config,
            &self.disk.credentials,
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
            while let Some(SessionAction {
                task,
                signer,
                action,
            }) = session.poll_action()
            {
                let outcome = match action {
                    Action::Identify => {
                        let Some(o) = self.request(faults, check, &signer, &action) else {
                            return Ok(RunEnd::Crashed);
                        };
                        o
                    }
                    Action::ListKeys { .. } if !session.is_rotating(task) => {
                        let Some(o) = self.request(faults, check, &signer, &action) else {
                            return Ok(RunEnd::Crashed);
                        };
                        if let Outcome::Keys(k) = &o {
                            listed.insert(task, k.clone());
                        }
                        o
                    }
                    Action::LastUsed { .. } | Action::Confirm(_) => {
                        return Err(Violation(format!(
                            "a run without a terminal asks a question: {action:?}"
                        )));
                    }
                    // No administrator delivers keys in this world.
                    Action::GetSecretValue { .. } if !session.is_rotating(task) => {
                        Outcome::Failed(Failure::new(
                            FailureClass::NotFound,
                            Some("ResourceNotFoundException"),
                            "Secrets Manager can't find the specified secret.",
                        ))
                    }
                    action => {
                        if started.insert(task) {
                            check.plan_started(self, &session, task, listed.get(&task), spec)?;
                        }
                        let Some(outcome) =
                            self.rotation_step(task, &signer, &action, spec, faults, check)?
                        else {
                            return Ok(RunEnd::Crashed);
                        };
                        outcome
                    }
                };
                session.handle_outcome(task, outcome, self.now);
                check.state(self, spec)?;
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
        self.run_end(session)
    }

    /// What a finished run comes to; no secret may appear in it.
    fn run_end(&self, session: Session) -> Result<RunEnd, Violation> {
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

    /// A rotation's action, executed with the fault plan and traced. `None`: the tool crashed.
    fn rotation_step(
        &mut self,
        task: TaskId,
        signer: &Signer,
        action: &Action,
        spec: &RunSpec,
        faults: &mut FaultPlan,
        check: &mut Checker,
    ) -> Result<Option<Outcome>, Violation> {
        let (caller_id, caller_secret) = self
            .static_signer(signer)
            .map_err(|f| Violation(format!("a rotation without static credentials: {f:?}")))?;
        let step = faults.step;
        let result = self.execute(
            action,
            task,
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
        if let Some(Outcome::KeyCreated {
            access_key_id,
            secret,
            ..
        }) = &result
        {
            check
                .unsaved
                .insert(task, (access_key_id.clone(), secret.expose().to_owned()));
        }
        Ok(result)
    }

    /// IAM's answer to a rotation's request, signed by the caller.
    fn iam_request(
        &mut self,
        caller_id: &AccessKeyId,
        caller_secret: &str,
        action: &Action,
    ) -> Outcome {
        self.iam
            .request((caller_id, caller_secret), action, self.now)
            .unwrap_or_else(|| {
                Outcome::Failed(Failure::new(FailureClass::Other, None, "not a request"))
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
            Signer::Role { .. } => Err(Failure::new(
                FailureClass::Other,
                None,
                "a rotation is never signed by an assumed role",
            )),
        }
    }

    /// A request made before planning (identity, key list), with the fault plan applied.
    fn request(
        &mut self,
        faults: &mut FaultPlan,
        check: &mut Checker,
        signer: &Signer,
        action: &Action,
    ) -> Option<Outcome> {
        let label = action.operation().unwrap_or("request");
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
                let o = match self.static_signer(signer) {
                    Ok((id, secret)) => self.iam.request((&id, &secret), action, self.now),
                    Err(f) => Some(Outcome::Failed(f)),
                };
                o.filter(|_| fault == Fault::None)
            }
        };
        if let Some(t) = &mut self.trace {
            t.push(format!("{} #{step} {label} -> {outcome:?}", self.now));
        }
        outcome
    }

    /// Promises 6 and 3: an action's printable forms never show a secret, and once created, the
    /// secret goes to disk before any other request.
    fn may_send(&self, action: &Action, task: TaskId, check: &Checker) -> Result<(), Violation> {
        let shown = format!("{action:?}");
        if self.iam.keys.iter().any(|k| shown.contains(&k.secret)) {
            return Err(Violation(format!("a secret appears in {shown}")));
        }
        if let Some((id, secret)) = check.unsaved.get(&task) {
            let ok = match action {
                Action::WriteJournal { contents, .. } => {
                    contents.expose().contains(secret.as_str())
                }
                Action::DeleteKey { access_key_id, .. } => access_key_id == id,
                _ => false,
            };
            if !ok {
                return Err(Violation(format!(
                    "{action:?} sent before the new secret of {id} was journaled"
                )));
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn execute(
        &mut self,
        action: &Action,
        task: TaskId,
        caller_id: &AccessKeyId,
        caller_secret: &str,
        spec: &RunSpec,
        faults: &mut FaultPlan,
        check: &mut Checker,
    ) -> Result<Option<Outcome>, Violation> {
        check.steps += 1;
        self.tick();
        self.may_send(action, task, check)?;
        let fault = faults.next();
        if fault == Fault::CrashBefore {
            return Ok(None);
        }
        let is_file_action = matches!(
            action,
            Action::WriteJournal { .. }
                | Action::RemoveJournal { .. }
                | Action::UpdateFile { .. }
                | Action::DeliverKey { .. }
        );
        if let Some(refused) = refused_by(fault, is_file_action) {
            return Ok(Some(refused));
        }
        let outcome = match action {
            Action::Identify | Action::LastUsed { .. } | Action::Confirm(_) => {
                return Err(Violation(format!("a rotation asked for {action:?}")));
            }
            Action::UserDetails { .. }
            | Action::ListAccounts { .. }
            | Action::ListSshKeys { .. }
            | Action::GetSshKey { .. }
            | Action::GetUser { .. }
            | Action::GroupMembers { .. }
            | Action::GenerateReport
            | Action::GetReport
            | Action::ListSecrets { .. }
            | Action::CreateSecret { .. }
            | Action::PutSecretPolicy { .. }
            | Action::StoreSecret { .. }
            | Action::DescribeSecret { .. }
            | Action::DeleteSecret { .. }
            | Action::SendEmail { .. }
            | Action::ConfirmPlan { .. } => {
                return Err(Violation(format!("a rotation asked for {action:?}")));
            }
            // No administrator delivers keys in this world.
            Action::GetSecretValue { .. } => Outcome::Failed(Failure::new(
                FailureClass::NotFound,
                Some("ResourceNotFoundException"),
                "Secrets Manager can't find the specified secret.",
            )),
            Action::WriteJournal { contents, .. } => {
                if let Some((_, secret)) = check.unsaved.get(&task)
                    && contents.expose().contains(secret.as_str())
                {
                    check.unsaved.remove(&task);
                }
                self.disk.perform(action).unwrap_or(Outcome::Done)
            }
            Action::RemoveJournal { .. } | Action::UpdateFile { .. } => {
                self.disk.perform(action).unwrap_or(Outcome::Done)
            }
            Action::DeliverKey { access_key_id, .. } => {
                check.delivered.insert(access_key_id.clone());
                Outcome::Done
            }
            Action::DeleteKey {
                access_key_id,
                purpose,
                ..
            } => {
                let o = self.iam_request(caller_id, caller_secret, action);
                if o == Outcome::Done {
                    if check
                        .unsaved
                        .get(&task)
                        .is_some_and(|(id, _)| id == access_key_id)
                    {
                        // The secret is moot once the key is gone.
                        check.unsaved.remove(&task);
                    }
                    check.removal(self, access_key_id, Some(*purpose), spec)?;
                }
                o
            }
            Action::DeactivateKey { access_key_id, .. } => {
                let was_active = self
                    .iam
                    .key(access_key_id)
                    .is_some_and(|k| k.status == KeyStatus::Active);
                let o = self.iam_request(caller_id, caller_secret, action);
                if o == Outcome::Done {
                    check.deactivated.insert(access_key_id.clone());
                    if was_active {
                        check.removal(self, access_key_id, None, spec)?;
                    }
                }
                o
            }
            Action::CreateKey { .. } | Action::ListKeys { .. } | Action::VerifyKey { .. } => {
                self.iam_request(caller_id, caller_secret, action)
            }
        };
        match fault {
            Fault::CrashAfter => Ok(None),
            Fault::LoseAnswer if !is_file_action => Ok(Some(connection_closed())),
            _ => Ok(Some(outcome)),
        }
    }
}

/// The answer of an injected fault that refuses the action before it happens: a file that
/// cannot be written, a throttled or failed request.
fn refused_by(fault: Fault, is_file_action: bool) -> Option<Outcome> {
    if is_file_action {
        return matches!(fault, Fault::Io | Fault::FailBefore | Fault::Throttle)
            .then(|| Outcome::Failed(Failure::new(FailureClass::Io, None, "cannot write file")));
    }
    match fault {
        Fault::Throttle => Some(Outcome::Failed(Failure::new(
            FailureClass::Throttled,
            Some("Throttling"),
            "Rate exceeded",
        ))),
        Fault::FailBefore | Fault::Io => Some(connection_closed()),
        _ => None,
    }
}

fn connection_closed() -> Outcome {
    Outcome::Failed(Failure::new(
        FailureClass::Transient,
        None,
        "connection closed",
    ))
}
