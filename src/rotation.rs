//! The rotation state machine: executes a [`Plan`] one step at a time, without doing any I/O.
//!
//! The shell drains [`Rotation::poll_action`], performs each [`Action`] and hands its result to
//! [`Rotation::handle_outcome`]; when no action is ready it sleeps until [`Rotation::poll_timeout`]
//! and calls [`Rotation::handle_timeout`]. When both polls return `None` the rotation is over and
//! [`Rotation::report`] says what happened.
//!
//! The order is what makes it safe (spec promises 1, 3 and 8):
//!
//! 1. write the journal (state `creating`: the keys that exist), so a crash during the create can
//!    be cleaned up without asking;
//! 2. remove the key that makes room, if the plan says so;
//! 3. create the new key; an ambiguous failure (a timeout: the key may exist) is reconciled with
//!    `ListAccessKeys`, and an orphan whose secret was lost is deleted before trying again;
//! 4. write the new secret to the journal before any further request;
//! 5. verify: `sts:GetCallerIdentity` signed by the new key, until it answers as the same user
//!    [`Config::confirmations`] times in a row (one success does not prove propagation:
//!    rhyeal/aws-rotate-iam-keys#81), with jittered backoff, within the verify timeout;
//! 6. write every file that holds the old key;
//! 7. delete or deactivate the old key, signed by the caller (the old key still works; the new
//!    one may not yet work everywhere);
//! 8. remove the journal.
//!
//! A failed verification or file write undoes: the journal says `undoing`, written files get the
//! old key back, the new key is deleted. [`Rotation::resume`] picks up an interrupted rotation
//! from its journal.

use compact_str::CompactString;
use serde::Serialize;

use crate::action::{Action, DeletePurpose, Failure, FailureClass, Outcome};
use crate::ini::{FileKind, KeyEdit};
use crate::journal::{Journal, JournalState, NewKey};
use crate::key::{AccessKeyId, KeyMeta, KeyStatus, SecretAccessKey, UserName};
use crate::plan::{Identity, OldKeyAction, Plan};
use crate::time::{Span, Timestamp};

/// Timing and retry settings. [`Config::default`] is what the tool uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// How long the new key may take to work before the rotation is undone.
    pub verify_timeout: Span,
    /// Consecutive successful verifications required.
    pub confirmations: u32,
    /// Wait between two confirming verifications.
    pub confirm_gap: Span,
    /// First wait between failed verifications.
    pub verify_initial: Span,
    /// Longest wait between failed verifications. Small, because every millisecond of it is
    /// added to the rotation once IAM has propagated the key.
    pub verify_max: Span,
    /// First wait before retrying a throttled or failed request.
    pub retry_initial: Span,
    /// Longest wait before retrying a request.
    pub retry_max: Span,
    /// Attempts per request before giving up on throttling and transient errors.
    pub max_attempts: u32,
    /// Seed for the jitter: the core has no randomness of its own.
    pub seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            verify_timeout: Span::from_secs(120),
            confirmations: 2,
            confirm_gap: Span::from_millis(50),
            // Every millisecond of the last wait is lost once the key works: with D = 6 s
            // this polls about 60 times (GetCallerIdentity needs no permission and STS allows
            // far more), and loses 50 ms on average.
            verify_initial: Span::from_millis(60),
            verify_max: Span::from_millis(100),
            retry_initial: Span::from_millis(200),
            retry_max: Span::from_secs(5),
            max_attempts: 6,
            seed: 0,
        }
    }
}

/// How a rotation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Status {
    /// Still running.
    InProgress,
    /// The new key works and is in every file; the old key is deleted, deactivated or kept as
    /// planned.
    Rotated,
    /// The new key works and is in every file, but the old key could not be retired.
    Incomplete,
    /// Undone: files hold the old key, the new key is deleted (or, if that failed, named in
    /// `LeftToDo`).
    RolledBack,
    /// Stopped before a new key existed; nothing but a make-room removal may have happened.
    Failed,
    /// An interrupted attempt was cleaned up (resume of a `creating` journal).
    CleanedUp,
}

/// The first error that changed the course of the rotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReportError {
    /// The AWS operation, where the error came from one.
    pub operation: Option<String>,
    /// The failure.
    #[serde(flatten)]
    pub failure: Failure,
}

/// A file the new key was written to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FileUpdate {
    /// Which file.
    pub file: FileKind,
    /// Its profiles whose key was changed.
    pub profiles: Vec<CompactString>,
}

/// What a rotation did: rendered by `rotate`, and the shell's exit status follows from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Report {
    /// The profiles whose key was rotated: those of the run, and every other profile of either
    /// file that held the same key.
    pub profiles: Vec<CompactString>,
    /// Whose key.
    pub user_name: UserName,
    /// How it ended.
    pub status: Status,
    /// True when this run finished or undid an interrupted rotation from its journal.
    pub resumed: bool,
    /// The key replaced.
    pub old_access_key_id: Option<AccessKeyId>,
    /// What was done to it (set once done).
    pub old_key_action: Option<OldKeyAction>,
    /// The new key (also after a rollback, to say which key was deleted).
    pub new_access_key_id: Option<AccessKeyId>,
    /// The key removed to make room, once removed.
    pub removed_to_make_room: Option<AccessKeyId>,
    /// Orphan keys of interrupted creates that were deleted.
    pub orphans_removed: Vec<AccessKeyId>,
    /// Files that now hold the new key, each with its profiles that had the old one.
    pub files_updated: Vec<FileUpdate>,
    /// `GetCallerIdentity` calls made with the new key.
    pub verify_attempts: u32,
    /// From the first verification to the last needed success.
    pub propagation_wait: Option<Span>,
    /// What went wrong, if anything.
    pub error: Option<ReportError>,
    /// What the user should still do, as commands or sentences.
    pub left_to_do: Vec<String>,
}

/// Where a rotation is, with what that step needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// Write the journal (state `creating`) before the first change; then make room, if the plan
    /// names a key to remove.
    WriteIntent {
        make_room: Option<AccessKeyId>,
    },
    /// Remove the key that makes room, if the plan names one.
    MakeRoom(Option<AccessKeyId>),
    /// Create the new key. `lost`: an earlier attempt's answer was lost, so its key may exist.
    Create {
        lost: Option<Failure>,
    },
    /// List the user's keys to find what a create whose answer was lost made.
    Reconcile {
        lost: Failure,
    },
    /// Delete keys nobody has the secret of (orphans of an interrupted create), then go on.
    DeleteOrphans {
        orphans: Vec<AccessKeyId>,
        then: Box<Step>,
    },
    /// Write the journal with the new secret, before anything else.
    SaveSecret,
    /// Sign `GetCallerIdentity` with the new key until it answers as the user
    /// [`Config::confirmations`] times in a row. `written`: files that may hold the new key
    /// already (a resumed rotation's), for an undo.
    Verify {
        started: Timestamp,
        deadline: Timestamp,
        successes: u32,
        written: Vec<FileKind>,
    },
    /// Put the new key into the files still `todo`; `written` hold it.
    WriteFiles {
        todo: Vec<FileKind>,
        written: Vec<FileKind>,
    },
    /// Delete or deactivate the old key.
    RetireOld,
    /// Admin mode: print the new key, then clear the journal and end with `status`.
    Deliver(Status),
    /// Remove the journal and end with this status.
    ClearJournal(Status),
    /// Undo: the journal says `undoing` first.
    MarkUndo {
        written: Vec<FileKind>,
    },
    /// Undo: the files in `written` get the old key back, last written first.
    RestoreFiles {
        written: Vec<FileKind>,
    },
    /// Undo: delete the new key.
    DeleteNew,
    Done,
}

/// One rotation in progress. See the module docs for the drive loop.
#[derive(Debug, Clone)]
pub struct Rotation {
    cfg: Config,
    identity: Identity,
    journal: Journal,
    /// The journal's id, which names its file.
    journal_file: String,
    step: Step,
    in_flight: Option<Action>,
    wait_until: Option<Timestamp>,
    /// Attempts of the request in flight (throttling, 5xx), or of creates that lost their answer.
    attempts: u32,
    rng: u64,
    /// The new key exists in IAM (as far as the rotation knows).
    new_exists: bool,
    /// The old key still needs retiring.
    old_present: bool,
    /// The old key still works: an undo can put it back.
    old_usable: bool,
    report: Report,
}

const ALL_FILES: [FileKind; 2] = [FileKind::Credentials, FileKind::Config];

impl Rotation {
    /// Starts a planned rotation.
    ///
    /// `old_secret` is the secret of the key replaced (to put it back if the rotation is undone;
    /// `None` in admin mode), `keys` the user's `ListAccessKeys` the plan was made from, and
    /// `identity` the user whose key is rotated (the new key must answer as this user).
    pub fn new(
        plan: &Plan,
        old_secret: Option<SecretAccessKey>,
        keys: &[KeyMeta],
        identity: Identity,
        cfg: Config,
        now: Timestamp,
    ) -> Self {
        // Every key that exists before the create, the one about to make room included: any
        // other key found later is an orphan of this rotation's create.
        let known_keys = keys.iter().map(|k| k.access_key_id.clone()).collect();
        let journal = Journal {
            state: JournalState::Creating,
            user_name: plan.user_name.clone(),
            account: plan.account.clone(),
            admin: plan.admin,
            profiles: plan.profiles.clone(),
            caller_profile: None,
            old_access_key_id: plan.old_key.as_ref().map(|k| k.access_key_id.clone()),
            old_secret: if plan.admin { None } else { old_secret },
            old_key_action: plan
                .old_key
                .as_ref()
                .map_or(OldKeyAction::Keep, |k| k.action),
            known_keys,
            new_key: None,
            started: now,
            verify_timeout: Some(plan.verify_timeout),
            delivered: false,
        };
        let cfg = Config {
            verify_timeout: plan.verify_timeout,
            ..cfg
        };
        let make_room = plan.make_room.as_ref().map(|r| r.access_key_id.clone());
        Self::build(
            cfg,
            identity,
            journal,
            Step::WriteIntent { make_room },
            true,
            false,
        )
    }

    /// Installs a key that an administrator delivered (`pickup`): the plan of
    /// [`crate::plan::install`], the new key already made. The journal is written with its
    /// secret first, as after a create; then verify, write the files, retire the old key. An
    /// undo puts the old key back and leaves the delivered key alone; where the old key may not
    /// be retired (no permission), it is left for the administrator and the rotation still ends
    /// `Rotated`.
    pub fn install(
        plan: &Plan,
        new_key: NewKey,
        old_secret: SecretAccessKey,
        keys: &[KeyMeta],
        identity: Identity,
        cfg: Config,
        now: Timestamp,
    ) -> Self {
        let journal = Journal {
            state: JournalState::Pending,
            user_name: plan.user_name.clone(),
            account: plan.account.clone(),
            admin: false,
            profiles: plan.profiles.clone(),
            caller_profile: None,
            old_access_key_id: plan.old_key.as_ref().map(|k| k.access_key_id.clone()),
            old_secret: Some(old_secret),
            old_key_action: plan
                .old_key
                .as_ref()
                .map_or(OldKeyAction::Delete, |k| k.action),
            known_keys: keys.iter().map(|k| k.access_key_id.clone()).collect(),
            new_key: Some(new_key),
            started: now,
            verify_timeout: Some(plan.verify_timeout),
            delivered: true,
        };
        let cfg = Config {
            verify_timeout: plan.verify_timeout,
            ..cfg
        };
        let mut r = Self::build(cfg, identity, journal, Step::SaveSecret, true, false);
        r.new_exists = true;
        r.report.new_access_key_id = r.journal.new_key.as_ref().map(|n| n.access_key_id.clone());
        r
    }

    /// Picks up an interrupted rotation from its journal, found under the id `journal_file`.
    ///
    /// `keys` is the user's `ListAccessKeys` now. A `creating` journal is cleaned up (orphans of
    /// the interrupted create are deleted, the journal removed: the shell then plans afresh); a
    /// `pending` one is finished if the new key still exists (verify, write, retire the old
    /// key), else the files get the old key back; an `undoing` one is undone.
    pub fn resume(
        journal: Journal,
        journal_file: String,
        keys: &[KeyMeta],
        cfg: Config,
        now: Timestamp,
    ) -> Self {
        let cfg = Config {
            verify_timeout: journal.verify_timeout.unwrap_or(cfg.verify_timeout),
            ..cfg
        };
        let identity = Identity {
            account: journal.account.clone(),
            arn: String::new(),
            user_name: journal.user_name.clone(),
        };
        let listed = |id: &AccessKeyId| keys.iter().find(|k| &k.access_key_id == id);
        let old = journal.old_access_key_id.as_ref().and_then(&listed);
        // The old key still needs retiring unless that already happened.
        let old_present = match (old, journal.old_key_action) {
            (None, _) => false,
            (Some(k), OldKeyAction::Deactivate) => k.status == KeyStatus::Active,
            (Some(_), _) => true,
        };
        // What the interrupted run wrote is unknown: restoring (if it comes to that) edits both.
        let written = if journal.admin {
            Vec::new()
        } else {
            ALL_FILES.to_vec()
        };
        let new_exists = journal
            .new_key
            .as_ref()
            .is_some_and(|n| listed(&n.access_key_id).is_some());
        let step = match journal.state {
            JournalState::Creating => Step::DeleteOrphans {
                orphans: keys
                    .iter()
                    .map(|k| k.access_key_id.clone())
                    .filter(|id| {
                        !journal.known_keys.contains(id)
                            && journal.old_access_key_id.as_ref() != Some(id)
                    })
                    .collect(),
                then: Box::new(Step::ClearJournal(Status::CleanedUp)),
            },
            JournalState::Pending if new_exists => Step::Verify {
                started: now,
                deadline: now.add(cfg.verify_timeout),
                successes: 0,
                written,
            },
            JournalState::Pending | JournalState::Undoing => Step::RestoreFiles { written },
        };
        let mut r = Self::build(cfg, identity, journal, step, old_present, true);
        r.journal_file = journal_file;
        r.old_usable = old.is_some_and(|k| k.status == KeyStatus::Active);
        r.new_exists = new_exists;
        r
    }

    fn build(
        cfg: Config,
        identity: Identity,
        journal: Journal,
        step: Step,
        old_present: bool,
        resumed: bool,
    ) -> Self {
        let report = Report {
            profiles: journal.profiles.clone(),
            user_name: journal.user_name.clone(),
            status: Status::InProgress,
            resumed,
            old_access_key_id: journal.old_access_key_id.clone(),
            old_key_action: None,
            new_access_key_id: journal.new_key.as_ref().map(|n| n.access_key_id.clone()),
            removed_to_make_room: None,
            orphans_removed: Vec::new(),
            files_updated: Vec::new(),
            verify_attempts: 0,
            propagation_wait: None,
            error: None,
            left_to_do: Vec::new(),
        };
        Self {
            rng: cfg.seed ^ 0x9E37_79B9_7F4A_7C15,
            cfg,
            identity,
            journal_file: journal.id(),
            journal,
            step,
            in_flight: None,
            wait_until: None,
            attempts: 0,
            new_exists: false,
            old_present,
            old_usable: true,
            report,
        }
    }

    /// Admin mode: the caller's profile, recorded in the journal so a rerun can resume with it.
    pub fn set_caller_profile(&mut self, profile: String) {
        self.journal.caller_profile = Some(profile);
    }

    /// The action handed out and not yet answered.
    pub fn in_flight(&self) -> Option<&Action> {
        self.in_flight.as_ref()
    }

    /// The journal's id, which names its file: the old key id, or `user-NAME` (or the id a
    /// resumed journal was found under).
    pub fn journal_id(&self) -> &str {
        &self.journal_file
    }

    /// The new key, once created: admin mode prints it (the one place a secret is shown).
    pub fn new_key(&self) -> Option<&NewKey> {
        self.journal.new_key.as_ref()
    }

    /// What happened so far; final once both polls return `None`.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// True once the rotation is over.
    pub fn is_done(&self) -> bool {
        self.step == Step::Done
    }

    /// The next action, or `None` while one is in flight, while waiting for
    /// [`Rotation::poll_timeout`], or when done.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<Action> {
        if self.in_flight.is_some() || self.wait_until.is_some() {
            return None;
        }
        let action = loop {
            // Steps with nothing to send move on here.
            let action = match &self.step {
                Step::Done => return None,
                Step::WriteIntent { .. } | Step::SaveSecret | Step::MarkUndo { .. } => {
                    Some(Action::WriteJournal {
                        journal: self.journal_file.clone(),
                        contents: self.journal.render(),
                    })
                }
                Step::MakeRoom(Some(id)) => Some(self.delete(id.clone(), DeletePurpose::MakeRoom)),
                Step::MakeRoom(None) => {
                    self.step = Step::Create { lost: None };
                    None
                }
                Step::Create { .. } => Some(Action::CreateKey {
                    user_name: self.journal.user_name.clone(),
                }),
                Step::Reconcile { .. } => Some(Action::ListKeys {
                    user_name: self.journal.user_name.clone(),
                }),
                Step::DeleteOrphans { orphans, then } => match orphans.first() {
                    Some(id) => Some(self.delete(id.clone(), DeletePurpose::Orphan)),
                    None => {
                        self.step = (**then).clone();
                        None
                    }
                },
                Step::Verify { .. } => match &self.journal.new_key {
                    Some(new) => Some(Action::VerifyKey {
                        access_key_id: new.access_key_id.clone(),
                        secret: new.secret.clone(),
                    }),
                    None => {
                        self.cannot_continue("there is no new key to verify");
                        None
                    }
                },
                Step::WriteFiles { todo, .. } => match (todo.first(), self.forward_edit()) {
                    (Some(&file), Some(edit)) => Some(Action::UpdateFile { file, edit }),
                    (Some(_), None) => {
                        self.cannot_continue(
                            "the files were to change, but the old or the new key is not known",
                        );
                        None
                    }
                    (None, _) => {
                        self.step = Step::RetireOld;
                        None
                    }
                },
                Step::RetireOld => self.retire_old(),
                Step::RestoreFiles { written } => match (written.last(), self.undo_edit()) {
                    (Some(&file), Some(edit)) => Some(Action::UpdateFile { file, edit }),
                    _ => {
                        self.step = Step::DeleteNew;
                        None
                    }
                },
                Step::DeleteNew => match &self.journal.new_key {
                    // A delivered key is the administrator's to retire, never the undo's.
                    Some(new) if self.new_exists && !self.journal.delivered => {
                        Some(self.delete(new.access_key_id.clone(), DeletePurpose::Undo))
                    }
                    _ => {
                        self.step = Step::ClearJournal(Status::RolledBack);
                        None
                    }
                },
                Step::Deliver(_) => match &self.journal.new_key {
                    Some(new) => Some(Action::DeliverKey {
                        user_name: self.journal.user_name.clone(),
                        access_key_id: new.access_key_id.clone(),
                        secret: new.secret.clone(),
                        create_date: new.create_date,
                    }),
                    None => {
                        self.cannot_continue("there is no new key to hand over");
                        None
                    }
                },
                Step::ClearJournal(_) => Some(Action::RemoveJournal {
                    journal: self.journal_file.clone(),
                }),
            };
            if let Some(action) = action {
                break action;
            }
        };
        self.in_flight = Some(action.clone());
        Some(action)
    }

    /// The old key's deletion or deactivation; `None` (and the step after it) when it needs
    /// neither.
    fn retire_old(&mut self) -> Option<Action> {
        let old = self.journal.old_access_key_id.clone();
        match (old, self.journal.old_key_action) {
            (Some(id), OldKeyAction::Delete) if self.old_present => {
                Some(self.delete(id, DeletePurpose::OldKey))
            }
            (Some(id), OldKeyAction::Deactivate) if self.old_present => {
                Some(Action::DeactivateKey {
                    user_name: self.journal.user_name.clone(),
                    access_key_id: id,
                })
            }
            _ => {
                self.report.old_key_action = self
                    .journal
                    .old_access_key_id
                    .as_ref()
                    .map(|_| self.journal.old_key_action);
                self.step = self.after_retire(Status::Rotated);
                None
            }
        }
    }

    /// When the shell should call [`Rotation::handle_timeout`]; `None` when not waiting.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.wait_until
    }

    /// Time has passed; `now` never goes backwards.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        if self.wait_until.is_some_and(|t| t <= now) {
            self.wait_until = None;
        }
    }

    /// The result of the action last returned by [`Rotation::poll_action`].
    pub fn handle_outcome(&mut self, outcome: Outcome, now: Timestamp) {
        let Some(action) = self.in_flight.take() else {
            debug_assert!(false, "handle_outcome without an action in flight");
            return;
        };
        let outcome = match outcome {
            // A key that is already gone is what a delete wanted.
            Outcome::Failed(f)
                if f.class == FailureClass::NotFound
                    && matches!(action, Action::DeleteKey { .. }) =>
            {
                Outcome::Done
            }
            o => fitting(&action, o),
        };
        let step = std::mem::replace(&mut self.step, Step::Done);
        self.step = match step {
            Step::WriteIntent { make_room } => self.wrote_intent(make_room, &action, outcome),
            Step::MakeRoom(id) => self.made_room(id, &action, outcome, now),
            Step::Create { lost } => self.created(lost, &action, outcome, now),
            Step::Reconcile { lost } => self.reconciled(lost, &action, outcome, now),
            Step::DeleteOrphans { orphans, then } => {
                self.deleted_orphan(orphans, then, &action, outcome, now)
            }
            Step::SaveSecret => self.saved_secret(&action, outcome, now),
            Step::Verify {
                started,
                deadline,
                successes,
                written,
            } => self.verified(started, deadline, successes, written, &action, outcome, now),
            Step::WriteFiles { todo, written } => self.wrote_file(todo, written, &action, outcome),
            Step::RetireOld => self.retired_old(&action, outcome, now),
            Step::Deliver(status) => self.delivered(status, &action, outcome),
            Step::ClearJournal(status) => self.cleared_journal(status, outcome),
            // Even if the journal could not say `undoing`, undoing goes on: a rerun that finds
            // `pending` and no new key puts the old key back too.
            Step::MarkUndo { written } => self.fresh(Step::RestoreFiles { written }),
            Step::RestoreFiles { written } => self.restored_file(written, &action, outcome),
            Step::DeleteNew => self.deleted_new(&action, outcome, now),
            Step::Done => Step::Done,
        };
        if self.step == Step::Done {
            self.wait_until = None;
        }
    }

    fn wrote_intent(
        &mut self,
        make_room: Option<AccessKeyId>,
        action: &Action,
        outcome: Outcome,
    ) -> Step {
        match outcome {
            Outcome::Failed(f) => {
                self.record(action, f);
                self.finish(Status::Failed)
            }
            _ => self.fresh(Step::MakeRoom(make_room)),
        }
    }

    fn made_room(
        &mut self,
        id: Option<AccessKeyId>,
        action: &Action,
        outcome: Outcome,
        now: Timestamp,
    ) -> Step {
        match outcome {
            Outcome::Failed(f) if self.retry(&f, now) => Step::MakeRoom(id),
            Outcome::Failed(f) => {
                self.record(action, f);
                self.fresh(Step::ClearJournal(Status::Failed))
            }
            _ => {
                self.report.removed_to_make_room = id;
                self.fresh(Step::Create { lost: None })
            }
        }
    }

    fn created(
        &mut self,
        lost: Option<Failure>,
        action: &Action,
        outcome: Outcome,
        now: Timestamp,
    ) -> Step {
        match outcome {
            Outcome::KeyCreated {
                access_key_id,
                secret,
                create_date,
            } => {
                self.report.new_access_key_id = Some(access_key_id.clone());
                self.journal.new_key = Some(NewKey {
                    access_key_id,
                    secret,
                    create_date,
                });
                self.journal.state = JournalState::Pending;
                self.new_exists = true;
                self.fresh(Step::SaveSecret)
            }
            Outcome::Failed(f) if f.class == FailureClass::Transient => {
                // The key may exist now, with its secret lost in the dropped answer.
                self.attempts += 1;
                self.wait_until = Some(now.add(self.backoff(self.attempts)));
                Step::Reconcile { lost: f }
            }
            Outcome::Failed(f) if lost.is_some() && f.class == FailureClass::LimitExceeded => {
                // An earlier attempt's answer was lost and its key may exist although the key
                // list did not show it yet (IAM is eventually consistent). Keep the `creating`
                // journal: a rerun finds that key and deletes it without asking.
                self.give_up(
                    action,
                    f,
                    Status::Failed,
                    "run aws-rotate-keys again: it deletes the key that the interrupted create made, then rotates",
                )
            }
            Outcome::Failed(f) if self.retry(&f, now) => Step::Create { lost },
            Outcome::Failed(f) => {
                self.record(action, f);
                self.fresh(Step::ClearJournal(Status::Failed))
            }
            // `fitting` lets nothing else through.
            _ => Step::Create { lost },
        }
    }

    fn reconciled(
        &mut self,
        lost: Failure,
        action: &Action,
        outcome: Outcome,
        now: Timestamp,
    ) -> Step {
        match outcome {
            Outcome::Keys(keys) => {
                let orphans = keys
                    .into_iter()
                    .map(|k| k.access_key_id)
                    .filter(|id| {
                        !self.journal.known_keys.contains(id)
                            && self.journal.old_access_key_id.as_ref() != Some(id)
                    })
                    .collect();
                let then = if self.attempts >= self.cfg.max_attempts {
                    let create = Action::CreateKey {
                        user_name: self.journal.user_name.clone(),
                    };
                    self.record(&create, lost);
                    Step::ClearJournal(Status::Failed)
                } else {
                    Step::Create { lost: Some(lost) }
                };
                Step::DeleteOrphans {
                    orphans,
                    then: Box::new(then),
                }
            }
            Outcome::Failed(f) if self.retry(&f, now) => Step::Reconcile { lost },
            Outcome::Failed(f) => {
                // The journal stays (state `creating`): a rerun deletes any orphan.
                self.give_up(
                    action,
                    f,
                    Status::Failed,
                    "run aws-rotate-keys again: it removes any key this attempt may have created",
                )
            }
            // `fitting` lets nothing else through.
            _ => Step::Reconcile { lost },
        }
    }

    fn deleted_orphan(
        &mut self,
        mut orphans: Vec<AccessKeyId>,
        then: Box<Step>,
        action: &Action,
        outcome: Outcome,
        now: Timestamp,
    ) -> Step {
        match outcome {
            Outcome::Failed(f) if self.retry(&f, now) => Step::DeleteOrphans { orphans, then },
            Outcome::Failed(f) => {
                self.record(action, f);
                if let Some(id) = orphans.first() {
                    self.report.left_to_do.push(format!(
                        "run aws-rotate-keys again, or delete the orphan key yourself: aws iam delete-access-key --user-name {} --access-key-id {id}",
                        self.journal.user_name
                    ));
                }
                self.finish(Status::Failed)
            }
            _ => {
                if !orphans.is_empty() {
                    self.report.orphans_removed.push(orphans.remove(0));
                }
                Step::DeleteOrphans { orphans, then }
            }
        }
    }

    fn saved_secret(&mut self, action: &Action, outcome: Outcome, now: Timestamp) -> Step {
        match outcome {
            Outcome::Failed(f) => {
                // The secret cannot reach disk: the key must go before anything else.
                self.record(action, f);
                self.fresh(Step::DeleteNew)
            }
            _ => {
                self.attempts = 0;
                Step::Verify {
                    started: now,
                    deadline: now.add(self.cfg.verify_timeout),
                    successes: 0,
                    written: Vec::new(),
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn verified(
        &mut self,
        started: Timestamp,
        deadline: Timestamp,
        successes: u32,
        written: Vec<FileKind>,
        action: &Action,
        outcome: Outcome,
        now: Timestamp,
    ) -> Step {
        self.report.verify_attempts += 1;
        match outcome {
            Outcome::Verified { arn } if self.identity.is_same_user(&arn) => {
                let successes = successes + 1;
                if successes >= self.cfg.confirmations {
                    self.report.propagation_wait = Some(now.since(started));
                    let todo = if self.journal.admin {
                        Vec::new()
                    } else {
                        ALL_FILES.to_vec()
                    };
                    return self.fresh(Step::WriteFiles { todo, written });
                }
                self.wait_until = Some(now.add(self.cfg.confirm_gap));
                Step::Verify {
                    started,
                    deadline,
                    successes,
                    written,
                }
            }
            Outcome::Verified { arn } => {
                let f = Failure::new(
                    FailureClass::Other,
                    None,
                    format!(
                        "the new key answers as {arn}, not as user {} of account {}",
                        self.identity.user_name, self.identity.account
                    ),
                );
                self.record(action, f);
                self.begin_undo(written)
            }
            Outcome::Failed(f) if now >= deadline => {
                let waited = now.since(started);
                let message = format!(
                    "the new key did not work within {} (last answer: {})",
                    self.cfg.verify_timeout.max(waited),
                    f.message
                );
                self.record(action, Failure { message, ..f });
                self.begin_undo(written)
            }
            _ => {
                // A failure before the deadline (`fitting` lets nothing else through).
                let wait = self.verify_backoff(self.report.verify_attempts);
                self.wait_until = Some(now.add(wait).min(deadline));
                Step::Verify {
                    started,
                    deadline,
                    successes: 0,
                    written,
                }
            }
        }
    }

    fn wrote_file(
        &mut self,
        mut todo: Vec<FileKind>,
        mut written: Vec<FileKind>,
        action: &Action,
        outcome: Outcome,
    ) -> Step {
        match outcome {
            Outcome::Failed(f) => {
                self.record(action, f);
                return self.begin_undo(written);
            }
            Outcome::Updated { profiles } => {
                let file = todo.remove(0);
                written.push(file);
                self.report
                    .files_updated
                    .push(FileUpdate { file, profiles });
                self.note_profiles();
            }
            // Unchanged (`fitting` lets nothing else through).
            _ => {
                todo.remove(0);
            }
        }
        Step::WriteFiles { todo, written }
    }

    fn retired_old(&mut self, action: &Action, outcome: Outcome, now: Timestamp) -> Step {
        match outcome {
            Outcome::Failed(f) if self.retry(&f, now) => Step::RetireOld,
            Outcome::Failed(f)
                if self.journal.delivered && f.class == FailureClass::AccessDenied =>
            {
                // The user may not delete keys: the administrator's next run retires the old
                // key once it sees the new one in use. The pickup itself is done.
                self.record(action, f);
                let next = self.after_retire(Status::Rotated);
                self.fresh(next)
            }
            Outcome::Failed(f) => {
                self.record(action, f);
                if let Some(id) = &self.journal.old_access_key_id {
                    let user = &self.journal.user_name;
                    self.report.left_to_do.push(match self.journal.old_key_action {
                        OldKeyAction::Deactivate => format!(
                            "deactivate the old key yourself: aws iam update-access-key --user-name {user} --access-key-id {id} --status Inactive"
                        ),
                        _ => format!(
                            "delete the old key yourself: aws iam delete-access-key --user-name {user} --access-key-id {id}"
                        ),
                    });
                }
                let next = self.after_retire(Status::Incomplete);
                self.fresh(next)
            }
            _ => {
                self.report.old_key_action = Some(self.journal.old_key_action);
                let next = self.after_retire(Status::Rotated);
                self.fresh(next)
            }
        }
    }

    fn delivered(&mut self, status: Status, action: &Action, outcome: Outcome) -> Step {
        match outcome {
            Outcome::Failed(f) => {
                // The journal is now the only copy of the secret: it stays.
                self.give_up(
                    action,
                    f,
                    status,
                    "run aws-rotate-keys again to print the new key: its secret is kept in the journal until then",
                )
            }
            _ => self.fresh(Step::ClearJournal(status)),
        }
    }

    fn cleared_journal(&mut self, status: Status, outcome: Outcome) -> Step {
        if let Outcome::Failed(f) = outcome {
            self.report.left_to_do.push(format!(
                "remove the journal file yourself (it holds secrets); it could not be removed: {}",
                f.message
            ));
        }
        self.finish(status)
    }

    fn restored_file(
        &mut self,
        mut written: Vec<FileKind>,
        action: &Action,
        outcome: Outcome,
    ) -> Step {
        match outcome {
            Outcome::Failed(f) => {
                // The file still holds the new key, which must therefore stay; the journal
                // stays too, so a rerun finishes the undo.
                self.give_up(
                    action,
                    f,
                    Status::RolledBack,
                    "run aws-rotate-keys again: it puts the old key back into the files and deletes the new one",
                )
            }
            _ => {
                if let Some(file) = written.pop() {
                    self.report.files_updated.retain(|u| u.file != file);
                    self.note_profiles();
                }
                Step::RestoreFiles { written }
            }
        }
    }

    fn deleted_new(&mut self, action: &Action, outcome: Outcome, now: Timestamp) -> Step {
        match outcome {
            Outcome::Failed(f) if self.retry(&f, now) => Step::DeleteNew,
            Outcome::Failed(f) => {
                self.record(action, f);
                if let Some(new) = &self.journal.new_key {
                    self.report.left_to_do.push(format!(
                        "run aws-rotate-keys again, or delete the unused new key yourself: aws iam delete-access-key --user-name {} --access-key-id {}",
                        self.journal.user_name, new.access_key_id
                    ));
                }
                // The journal stays so that a rerun deletes the new key.
                self.finish(Status::RolledBack)
            }
            _ => {
                self.new_exists = false;
                self.fresh(Step::ClearJournal(Status::RolledBack))
            }
        }
    }

    /// The profiles whose key changed: the run's, then the others of the files written.
    fn note_profiles(&mut self) {
        let mut profiles = self.journal.profiles.clone();
        for p in self.report.files_updated.iter().flat_map(|u| &u.profiles) {
            if !profiles.contains(p) {
                profiles.push(p.clone());
            }
        }
        self.report.profiles = profiles;
    }

    /// Admin mode delivers the key before the journal goes; everyone else goes straight on.
    fn after_retire(&self, status: Status) -> Step {
        if self.journal.admin {
            Step::Deliver(status)
        } else {
            Step::ClearJournal(status)
        }
    }

    /// Undo, with the files in `written` to put the old key back into.
    fn begin_undo(&mut self, written: Vec<FileKind>) -> Step {
        if !self.old_usable {
            // Resumed after the old key was retired: putting it back would leave the files with a
            // key that no longer works. The new key is the only way forward; the journal stays so
            // that a rerun finishes the job.
            self.report.left_to_do.push(
                "run aws-rotate-keys again to finish: the old key is already retired, so the rotation can only go forward"
                    .into(),
            );
            return self.finish(Status::Failed);
        }
        self.journal.state = JournalState::Undoing;
        self.fresh(Step::MarkUndo { written })
    }

    /// A new step, with its own count of attempts.
    fn fresh(&mut self, step: Step) -> Step {
        self.attempts = 0;
        step
    }

    fn finish(&mut self, status: Status) -> Step {
        self.report.status = status;
        self.wait_until = None;
        Step::Done
    }

    /// Schedules another attempt of the same action if the failure allows one.
    fn retry(&mut self, f: &Failure, now: Timestamp) -> bool {
        let retryable = matches!(f.class, FailureClass::Throttled | FailureClass::Transient);
        if !retryable || self.attempts + 1 >= self.cfg.max_attempts {
            return false;
        }
        self.attempts += 1;
        self.wait_until = Some(now.add(self.backoff(self.attempts)));
        true
    }

    /// Ends the run on a failure, saying what the user should do next.
    fn give_up(&mut self, action: &Action, failure: Failure, status: Status, next: &str) -> Step {
        self.record(action, failure);
        self.report.left_to_do.push(next.to_owned());
        self.finish(status)
    }

    fn record(&mut self, action: &Action, failure: Failure) {
        if self.report.error.is_none() {
            self.report.error = Some(ReportError {
                operation: failure.operation.or(action.operation()).map(str::to_owned),
                failure,
            });
        }
    }

    fn delete(&self, access_key_id: AccessKeyId, purpose: DeletePurpose) -> Action {
        Action::DeleteKey {
            user_name: self.journal.user_name.clone(),
            access_key_id,
            purpose,
        }
    }

    /// The edit that puts the new key where the old one is (both are known by the time files
    /// are written: a profile's rotation names its old key, and files change after the new one
    /// works).
    fn forward_edit(&self) -> Option<KeyEdit> {
        let new = self.journal.new_key.as_ref()?;
        Some(KeyEdit {
            from: self.journal.old_access_key_id.clone()?,
            to_id: new.access_key_id.clone(),
            to_secret: new.secret.clone(),
        })
    }

    fn undo_edit(&self) -> Option<KeyEdit> {
        let new = self.journal.new_key.as_ref()?;
        Some(KeyEdit {
            from: new.access_key_id.clone(),
            to_id: self.journal.old_access_key_id.clone()?,
            to_secret: self.journal.old_secret.clone()?,
        })
    }

    /// A state the rotation cannot go on from (neither a run nor a journal, as they are checked,
    /// reaches one): it stops where it is and says so, instead of stopping the program. It
    /// deletes nothing and keeps the journal: without the keys it lacks, it cannot tell what an
    /// undo would break.
    fn cannot_continue(&mut self, what: &str) {
        if self.report.error.is_none() {
            self.report.error = Some(ReportError {
                operation: None,
                failure: Failure::new(
                    FailureClass::Other,
                    None,
                    format!(
                        "aws-rotate-keys cannot go on with this rotation: {what}. This is a bug; \
                         please report it"
                    ),
                ),
            });
        }
        self.report.left_to_do.push(
            "nothing more was changed and the journal beside the credentials file is kept: check the user's keys with `aws iam list-access-keys` and the profile's files, then move the journal aside"
                .into(),
        );
        self.step = self.finish(Status::Failed);
    }

    fn jitter(&mut self, span: Span) -> Span {
        // splitmix64: deterministic for a given seed, good enough to spread retries.
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // ±20 %
        let ms = span.as_millis();
        let spread = ms / 5;
        if spread == 0 {
            return span;
        }
        Span::from_millis(ms - spread + z % (2 * spread + 1))
    }

    fn backoff(&mut self, attempt: u32) -> Span {
        let base = self
            .cfg
            .retry_initial
            .as_millis()
            .saturating_mul(1u64 << attempt.saturating_sub(1).min(20));
        let capped = Span::from_millis(base.min(self.cfg.retry_max.as_millis()));
        self.jitter(capped)
    }

    fn verify_backoff(&mut self, attempt: u32) -> Span {
        // Grows by a quarter per attempt from the initial wait, up to the cap.
        let mut ms = self.cfg.verify_initial.as_millis();
        for _ in 1..attempt.min(32) {
            ms = ms + ms / 4;
            if ms >= self.cfg.verify_max.as_millis() {
                break;
            }
        }
        let capped = Span::from_millis(ms.min(self.cfg.verify_max.as_millis()));
        self.jitter(capped)
    }
}

/// An answer of the wrong kind for its action (a bug in the shell, not a user error) becomes an
/// unclassified failure, so that the usual recovery (retry or undo) applies.
fn fitting(action: &Action, outcome: Outcome) -> Outcome {
    let fits = match (action, &outcome) {
        (_, Outcome::Failed(_)) => true,
        (Action::CreateKey { .. }, o) => matches!(o, Outcome::KeyCreated { .. }),
        (Action::ListKeys { .. }, o) => matches!(o, Outcome::Keys(_)),
        (Action::VerifyKey { .. }, o) => matches!(o, Outcome::Verified { .. }),
        (Action::UpdateFile { .. }, o) => {
            matches!(o, Outcome::Updated { .. } | Outcome::Unchanged)
        }
        _ => true,
    };
    if fits {
        outcome
    } else {
        Outcome::Failed(Failure::new(
            FailureClass::Other,
            None,
            "the shell gave an answer of the wrong kind",
        ))
    }
}
