//! The drive loop: executes the core's [`Session`] actions, requests concurrently, file steps
//! in order, and hands every answer back. Failures are never `?`-ed away here: they are inputs
//! the core decides on.
#![allow(clippy::disallowed_methods)] // the shell owns the clock

use std::collections::{HashMap, HashSet};
use std::io::{IsTerminal as _, Write as _};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::task::JoinSet;

use aws_rotate_keys::plan::Plan;
use aws_rotate_keys::rotation::{Action, Failure, FailureClass, Outcome};
use aws_rotate_keys::session::{Session, SessionAction, Signer, TaskId};
use aws_rotate_keys::time::Timestamp;

use super::aws::Aws;
use super::files::{self, Paths};
use super::output;

pub(crate) fn now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    Timestamp::from_millis(i64::try_from(ms).unwrap_or(i64::MAX))
}

/// What the driver needs besides the session.
pub(crate) struct Io {
    pub(crate) aws: Arc<Aws>,
    pub(crate) paths: Paths,
    pub(crate) debug: bool,
    /// Prompts and progress go to a terminal only.
    pub(crate) interactive: bool,
    pub(crate) progress: bool,
    /// How admin mode prints the new key.
    pub(crate) output: output::Renderer,
}

pub(crate) async fn drive(session: &mut Session, io: &Io) {
    let mut running: JoinSet<(TaskId, Outcome)> = JoinSet::new();
    let mut progress = Progress::new(io.progress);
    // Who signs each task's IAM calls, for the removal question's GetAccessKeyLastUsed.
    let mut signers: HashMap<TaskId, Signer> = HashMap::new();
    loop {
        while let Some(action) = session.poll_action() {
            let task = action.task();
            match action {
                SessionAction::Identify { signer, .. } => {
                    signers.insert(task, signer.clone());
                    let aws = io.aws.clone();
                    running.spawn(async move {
                        let o = match aws.identify(&signer).await {
                            Ok(arn) => Outcome::Verified { arn },
                            Err(f) => Outcome::Failed(f),
                        };
                        (task, o)
                    });
                }
                SessionAction::ListKeys {
                    signer, user_name, ..
                } => {
                    signers.insert(task, signer.clone());
                    let aws = io.aws.clone();
                    running.spawn(async move {
                        let o = match aws.list_keys(&signer, &user_name).await {
                            Ok(keys) => Outcome::Keys(keys),
                            Err(f) => Outcome::Failed(f),
                        };
                        (task, o)
                    });
                }
                SessionAction::Confirm { plan, .. } => {
                    progress.clear();
                    let o = if io.interactive {
                        confirm(io, &plan, signers.get(&task)).await
                    } else {
                        Outcome::Declined
                    };
                    session.handle_outcome(task, o, now());
                }
                SessionAction::Rotation { signer, action, .. } => {
                    if matches!(action, Action::VerifyKey { .. }) {
                        progress.verifying(task);
                    } else {
                        progress.step(task);
                    }
                    let journal = session.journal_id(task).unwrap_or("rotation").to_owned();
                    match action {
                        // File steps run here, in order: they are quick, and the files are shared.
                        Action::WriteJournal { contents } => {
                            debug(
                                io,
                                format_args!(
                                    "write journal {}",
                                    io.paths.journal(&journal).display()
                                ),
                            );
                            let o = io_outcome(
                                files::write_atomic(&io.paths.journal(&journal), contents.expose())
                                    .map(|_| ()),
                            );
                            session.handle_outcome(task, o, now());
                        }
                        Action::RemoveJournal => {
                            debug(
                                io,
                                format_args!(
                                    "remove journal {}",
                                    io.paths.journal(&journal).display()
                                ),
                            );
                            let o = io_outcome(files::remove(&io.paths.journal(&journal)));
                            session.handle_outcome(task, o, now());
                        }
                        Action::UpdateFile { file, edit } => {
                            // A warning may follow: not on the progress line.
                            progress.clear();
                            let path = io.paths.of(file).to_path_buf();
                            let changed = (|| -> anyhow::Result<bool> {
                                let text = files::read(&path)?;
                                match edit.apply(file, &text) {
                                    Ok(Some(applied)) => {
                                        let new = applied.text;
                                        debug(
                                            io,
                                            format_args!(
                                                "update {} ({} -> {})",
                                                path.display(),
                                                edit.from,
                                                edit.to_id
                                            ),
                                        );
                                        let w = files::write_atomic(&path, &new)?;
                                        if let Some(mode) = w.tightened_from {
                                            super::warn(format_args!(
                                                "{} was readable by others (mode {mode:o}); it is now 0600",
                                                path.display()
                                            ));
                                        }
                                        Ok(true)
                                    }
                                    Ok(None) => Ok(false),
                                    Err(e) => Err(anyhow::anyhow!("{}: {e}", path.display())),
                                }
                            })();
                            let o = match changed {
                                Ok(true) => Outcome::Done,
                                Ok(false) => Outcome::Unchanged,
                                Err(e) => Outcome::Failed(Failure::new(
                                    FailureClass::Io,
                                    None,
                                    format!("{e:#}"),
                                )),
                            };
                            session.handle_outcome(task, o, now());
                        }
                        Action::DeliverKey {
                            user_name,
                            access_key_id,
                            secret,
                            create_date,
                        } => {
                            progress.clear();
                            let o = match output::print_created_key(
                                &io.output,
                                &user_name,
                                &access_key_id,
                                &secret,
                                create_date,
                            ) {
                                Ok(()) => Outcome::Done,
                                Err(e) => Outcome::Failed(Failure::new(
                                    FailureClass::Io,
                                    None,
                                    format!("{e:#}"),
                                )),
                            };
                            session.handle_outcome(task, o, now());
                        }
                        Action::VerifyKey {
                            access_key_id,
                            secret,
                        } => {
                            let aws = io.aws.clone();
                            let profile = match &signer {
                                aws_rotate_keys::session::Signer::Static { profile, .. } => {
                                    profile.as_deref().map(str::to_owned)
                                }
                                aws_rotate_keys::session::Signer::Profile(p) => Some(p.clone()),
                            };
                            running.spawn(async move {
                                let o = match aws
                                    .verify_as(profile.as_deref(), &access_key_id, &secret)
                                    .await
                                {
                                    Ok(arn) => Outcome::Verified { arn },
                                    Err(f) => Outcome::Failed(f),
                                };
                                (task, o)
                            });
                        }
                        Action::CreateKey { user_name } => {
                            let aws = io.aws.clone();
                            running.spawn(async move {
                                let o = match aws.create_key(&signer, &user_name).await {
                                    Ok((access_key_id, secret, create_date)) => {
                                        Outcome::KeyCreated {
                                            access_key_id,
                                            secret,
                                            create_date,
                                        }
                                    }
                                    Err(f) => Outcome::Failed(f),
                                };
                                (task, o)
                            });
                        }
                        Action::ListKeys { user_name } => {
                            let aws = io.aws.clone();
                            running.spawn(async move {
                                let o = match aws.list_keys(&signer, &user_name).await {
                                    Ok(k) => Outcome::Keys(k),
                                    Err(f) => Outcome::Failed(f),
                                };
                                (task, o)
                            });
                        }
                        Action::DeleteKey {
                            user_name,
                            access_key_id,
                            ..
                        } => {
                            let aws = io.aws.clone();
                            running.spawn(async move {
                                let o =
                                    match aws.delete_key(&signer, &user_name, &access_key_id).await
                                    {
                                        Ok(()) => Outcome::Done,
                                        Err(f) => Outcome::Failed(f),
                                    };
                                (task, o)
                            });
                        }
                        Action::DeactivateKey {
                            user_name,
                            access_key_id,
                        } => {
                            let aws = io.aws.clone();
                            running.spawn(async move {
                                let o = match aws
                                    .deactivate_key(&signer, &user_name, &access_key_id)
                                    .await
                                {
                                    Ok(()) => Outcome::Done,
                                    Err(f) => Outcome::Failed(f),
                                };
                                (task, o)
                            });
                        }
                    }
                }
            }
        }
        if session.is_done() && running.is_empty() {
            break;
        }
        let wait = session.poll_timeout().map(|t| {
            let ms = t.as_millis().saturating_sub(now().as_millis());
            Duration::from_millis(u64::try_from(ms).unwrap_or(0))
        });
        tokio::select! {
            Some(joined) = running.join_next(), if !running.is_empty() => {
                match joined {
                    Ok((task, outcome)) => session.handle_outcome(task, outcome, now()),
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

fn io_outcome(r: anyhow::Result<()>) -> Outcome {
    match r {
        Ok(()) => Outcome::Done,
        Err(e) => Outcome::Failed(Failure::new(FailureClass::Io, None, format!("{e:#}"))),
    }
}

fn debug(io: &Io, what: std::fmt::Arguments<'_>) {
    if io.debug {
        eprintln!("debug: {what}");
    }
}

/// The removal question, on a blocking thread (Ctrl-C must still end the run while it waits
/// for an answer), with when each key was last used.
async fn confirm(io: &Io, plan: &Plan, signer: Option<&Signer>) -> Outcome {
    let Some(mut q) = super::prompt::Question::new(plan, now()) else {
        return Outcome::Done;
    };
    if let Some(signer) = signer {
        for k in &mut q.keys {
            if let Ok(t) = io.aws.last_used(signer, &k.id).await {
                k.last_used = Some(t);
            }
        }
    }
    tokio::task::spawn_blocking(move || super::prompt::confirm(&q))
        .await
        .unwrap_or(Outcome::Declined)
}

/// "waiting for the new key to work: 4 s", on a terminal only, rewritten in place every second
/// while some new key is being verified, and erased once none is.
struct Progress {
    on: bool,
    since: Option<std::time::Instant>,
    verifying: HashSet<TaskId>,
    /// The seconds on the line now, if it is shown.
    shown: Option<u64>,
}

impl Progress {
    fn new(on: bool) -> Self {
        Self {
            on: on && std::io::stderr().is_terminal(),
            since: None,
            verifying: HashSet::new(),
            shown: None,
        }
    }

    /// A task sends a `VerifyKey` (the first of a series, or a retry).
    fn verifying(&mut self, task: TaskId) {
        if self.since.is_none() {
            self.since = Some(std::time::Instant::now());
        }
        self.verifying.insert(task);
        self.tick();
    }

    /// A task moved on to another step: its key works (or it gave up).
    fn step(&mut self, task: TaskId) {
        if self.verifying.remove(&task) && self.verifying.is_empty() {
            self.since = None;
            self.clear();
        }
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
        if self.shown.take().is_some() {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
            let _ = std::io::stderr().flush();
        }
    }
}
