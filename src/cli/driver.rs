//! The drive loop: takes the core's actions and has them done (requests to AWS concurrently,
//! file steps at once and in order, questions at the terminal), handing every outcome back.
//! Failures are never `?`-ed away here: they are inputs the core decides on. The only state
//! kept here is the progress line's. One loop drives both of the core's sessions ([`Driven`]):
//! `rotate`'s and the fleet's.
#![allow(clippy::disallowed_methods)] // the shell owns the clock

use std::collections::HashSet;
use std::io::{IsTerminal as _, Write as _};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::task::JoinSet;

use aws_rotate_keys::action::{Action, Failure, FailureClass, Outcome};
use aws_rotate_keys::fleet::org::OrgSession;
use aws_rotate_keys::fleet::session::FleetSession;
use aws_rotate_keys::output;
use aws_rotate_keys::session::{Session, SessionAction, TaskId};
use aws_rotate_keys::time::Timestamp;

use super::aws::Aws;
use super::files::{self, Paths};
use super::output::Renderer;
use super::settings::Printing;

pub(crate) fn now() -> Timestamp {
    let us = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    Timestamp::from_micros(i64::try_from(us).unwrap_or(i64::MAX))
}

/// What the loop does the actions with.
pub(crate) struct Io {
    pub(crate) aws: Arc<Aws>,
    pub(crate) paths: Paths,
    pub(crate) debug: bool,
    /// Admin mode prints the new key as it is made.
    pub(crate) renderer: Renderer,
    pub(crate) printing: Printing,
}

/// A state machine of the core that the loop drives: its actions out, their outcomes and the
/// time in (see the core's docs on driving a run).
pub(crate) trait Driven {
    fn poll_action(&mut self) -> Option<SessionAction>;
    fn handle_outcome(&mut self, task: TaskId, outcome: Outcome, now: Timestamp);
    fn poll_timeout(&self) -> Option<Timestamp>;
    fn handle_timeout(&mut self, now: Timestamp);
    fn is_done(&self) -> bool;
}

macro_rules! driven {
    ($t:ty) => {
        impl Driven for $t {
            fn poll_action(&mut self) -> Option<SessionAction> {
                <$t>::poll_action(self)
            }
            fn handle_outcome(&mut self, task: TaskId, outcome: Outcome, now: Timestamp) {
                <$t>::handle_outcome(self, task, outcome, now);
            }
            fn poll_timeout(&self) -> Option<Timestamp> {
                <$t>::poll_timeout(self)
            }
            fn handle_timeout(&mut self, now: Timestamp) {
                <$t>::handle_timeout(self, now);
            }
            fn is_done(&self) -> bool {
                <$t>::is_done(self)
            }
        }
    };
}

driven!(Session);
driven!(FleetSession);
driven!(OrgSession);

pub(crate) async fn drive(session: &mut impl Driven, io: &Io) {
    let mut running: JoinSet<(TaskId, Outcome)> = JoinSet::new();
    let mut progress = Progress::new();
    loop {
        while let Some(SessionAction {
            task,
            signer,
            action,
        }) = session.poll_action()
        {
            progress.saw(task, &action);
            let outcome = match &action {
                Action::Confirm(question) => {
                    progress.clear();
                    let question = question.clone();
                    // On a blocking thread: Ctrl-C must still end the run while it waits.
                    tokio::task::spawn_blocking(move || super::prompt::confirm(&question))
                        .await
                        .unwrap_or(Outcome::Declined)
                }
                Action::ConfirmPlan { summary } => {
                    progress.clear();
                    let summary = summary.clone();
                    tokio::task::spawn_blocking(move || super::prompt::confirm_plan(&summary))
                        .await
                        .unwrap_or(Outcome::Declined)
                }
                Action::DeliverKey {
                    user_name,
                    access_key_id,
                    secret,
                    create_date,
                } => {
                    progress.clear();
                    let timestamps = io.aws.timestamps(io.printing.timestamps);
                    let document = output::created_key(
                        user_name,
                        access_key_id,
                        secret,
                        *create_date,
                        &timestamps,
                    );
                    match io.renderer.print_new_key(&document) {
                        Ok(()) => Outcome::Done,
                        Err(e) => Outcome::Failed(Failure::new(FailureClass::Io, None, e.message)),
                    }
                }
                step => {
                    if step.operation().is_none() {
                        // A file step; a warning may follow it: not on the progress line.
                        progress.clear();
                    }
                    match files::execute(&io.paths, step, io.debug) {
                        Some(outcome) => outcome,
                        None => {
                            let aws = io.aws.clone();
                            running.spawn(async move {
                                let outcome = aws.execute(&signer, &action).await;
                                (task, outcome.unwrap_or_else(not_a_step))
                            });
                            continue;
                        }
                    }
                }
            };
            progress.answered(task, &outcome);
            session.handle_outcome(task, outcome, now());
        }
        if session.is_done() && running.is_empty() {
            break;
        }
        let wait = session.poll_timeout().map(|t| {
            let us = t.as_micros().saturating_sub(now().as_micros());
            Duration::from_micros(u64::try_from(us).unwrap_or(0))
        });
        tokio::select! {
            Some(joined) = running.join_next(), if !running.is_empty() => {
                match joined {
                    Ok((task, outcome)) => {
                        progress.answered(task, &outcome);
                        session.handle_outcome(task, outcome, now());
                    }
                    Err(e) => super::warn(format_args!("internal error: a request task failed: {e}")),
                }
            }
            () = tokio::time::sleep(wait.unwrap_or(Duration::from_secs(3600))), if wait.is_some() => {
                progress.tick();
                session.handle_timeout(now());
            }
            () = tokio::time::sleep(progress.next_tick()), if progress.active() => progress.tick(),
            else => {
                // Nothing running and nothing to wait for, yet not done: a bug in the core.
                super::warn(format_args!("internal error: the run stalled; run again to finish it"));
                break;
            }
        }
    }
    progress.clear();
}

/// The answer to an action no part of the shell performs: a bug, which the core treats as a
/// failure of that step.
fn not_a_step() -> Outcome {
    Outcome::Failed(Failure::new(
        FailureClass::Other,
        None,
        "the shell cannot perform this step",
    ))
}

/// The progress line, on a terminal only, rewritten in place and erased once done:
/// "waiting for the new key to work: 4 s" every second while some new key is being verified;
/// for a fleet run that takes more than a moment, "fleet: 120 of 1000 users looked into" (the
/// users listed, and those that needed a request of their own: a user that the credential
/// report shows as not due needs none).
struct Progress {
    on: bool,
    since: Option<std::time::Instant>,
    verifying: HashSet<TaskId>,
    /// The seconds on the line now, if it is shown.
    shown: Option<u64>,
    fleet: FleetCount,
}

/// What the fleet's progress line counts.
#[derive(Default)]
struct FleetCount {
    started: Option<std::time::Instant>,
    /// The tasks that list users (`GetAccountAuthorizationDetails`, `GetUser`).
    listing: HashSet<TaskId>,
    listed: usize,
    /// The tasks that asked about one user.
    users: HashSet<TaskId>,
    drawn: Option<std::time::Instant>,
}

/// A fleet run shows its line only once it has taken this long.
const FLEET_LINE_AFTER: Duration = Duration::from_secs(1);
/// Nor is the line redrawn more often than this.
const FLEET_LINE_EVERY: Duration = Duration::from_millis(200);

impl Progress {
    fn new() -> Self {
        Self {
            on: std::io::stderr().is_terminal(),
            since: None,
            verifying: HashSet::new(),
            shown: None,
            fleet: FleetCount::default(),
        }
    }

    /// A task sends `action`: the line counts while some task verifies a new key.
    fn saw(&mut self, task: TaskId, action: &Action) {
        match action {
            Action::VerifyKey { .. } => {
                if self.since.is_none() {
                    self.since = Some(std::time::Instant::now());
                }
                self.verifying.insert(task);
                self.tick();
                return;
            }
            Action::UserDetails { .. } | Action::GetUser { .. } => {
                self.fleet
                    .started
                    .get_or_insert_with(std::time::Instant::now);
                self.fleet.listing.insert(task);
            }
            Action::ListKeys { .. }
            | Action::LastUsed { .. }
            | Action::CreateSecret { .. }
            | Action::DeactivateKey { .. }
            | Action::DeleteSecret { .. }
                if self.fleet.started.is_some() =>
            {
                self.fleet.users.insert(task);
                self.draw_fleet();
            }
            _ => {}
        }
        if self.verifying.remove(&task) && self.verifying.is_empty() {
            // Its key works (or it gave up).
            self.since = None;
            self.clear();
        }
    }

    /// A task's action was answered: the users a listing found count.
    fn answered(&mut self, task: TaskId, outcome: &Outcome) {
        if let Outcome::Users { users, .. } = outcome
            && self.fleet.listing.contains(&task)
        {
            self.fleet.listed += users.len();
            self.draw_fleet();
        }
    }

    fn draw_fleet(&mut self) {
        let (true, Some(started)) = (self.on, self.fleet.started) else {
            return;
        };
        if started.elapsed() < FLEET_LINE_AFTER
            || self
                .fleet
                .drawn
                .is_some_and(|d| d.elapsed() < FLEET_LINE_EVERY)
        {
            return;
        }
        let mut e = std::io::stderr();
        let _ = write!(
            e,
            "\r\x1b[2Kfleet: {} of {} users looked into",
            self.fleet.users.len(),
            self.fleet.listed
        );
        let _ = e.flush();
        self.fleet.drawn = Some(std::time::Instant::now());
    }

    /// Whether the line is being kept up to date.
    fn active(&self) -> bool {
        self.on && self.since.is_some()
    }

    /// Until the count of seconds changes.
    fn next_tick(&self) -> Duration {
        let ms = self.since.map_or(0, |s| s.elapsed().as_millis() % 1000);
        Duration::from_millis(1000 - u64::try_from(ms).unwrap_or(0))
    }

    fn tick(&mut self) {
        let (true, Some(since)) = (self.on, self.since) else {
            return;
        };
        let secs = since.elapsed().as_secs();
        if secs >= 1 && self.shown != Some(secs) {
            let mut e = std::io::stderr();
            let _ = write!(e, "\r\x1b[2Kwaiting for the new key to work: {secs} s");
            let _ = e.flush();
            self.shown = Some(secs);
        }
    }

    fn clear(&mut self) {
        if self.shown.take().is_some() || self.fleet.drawn.take().is_some() {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
            let _ = std::io::stderr().flush();
        }
    }
}
