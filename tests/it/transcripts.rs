//! Transcript snapshots of the rotation state machine (style guide §6, the rustls idea).
//!
//! A [`Script`] plans a rotation with `plan::decide` from fixture inputs built by hand (no file is
//! parsed), starts `rotation::Rotation`, and drives it against a tiny model of the world: IAM's
//! keys and secrets, the sections of the two files that hold a key, and the journal on disk.
//! Each action gets a scripted reply, or the world's natural answer; the clock jumps to
//! `poll_timeout()` whenever the rotation waits. Time is an input, so every log is deterministic.
//!
//! Besides the snapshot, every run checks the spec's promises as it goes: the old key is retired
//! only after the new key is in every file and answered as the same user (1), at most one key
//! is removed to make room (2), the new secret reaches the journal before any other request
//! (3), no secret is printed (6), and a finished run leaves a working key in every file that held
//! one (8). A violation panics with the log so far.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write as _;

use aws_rotate_keys::action::{Action, DeletePurpose, Failure, FailureClass, Outcome};
use aws_rotate_keys::ini::FileKind;
use aws_rotate_keys::journal::{Journal, JournalState};
use aws_rotate_keys::key::{AccessKeyId, KeyMeta, KeyStatus, SecretAccessKey, UserName};
use aws_rotate_keys::plan::{self, Decision, HeldKeys, Identity, Options, Plan, Target};
use aws_rotate_keys::profile::{Candidate, Holder};
use aws_rotate_keys::rotation::{Config, Rotation, Status};
use aws_rotate_keys::time::{Span, Timestamp};

const T0: Timestamp = Timestamp::from_secs(1_700_000_000);
const DAY: i64 = 86_400;
const ACCOUNT: &str = "123456789012";

fn id(s: &str) -> AccessKeyId {
    AccessKeyId::new(s).expect("test key ids are valid")
}

fn secret(s: &str) -> SecretAccessKey {
    SecretAccessKey::new(s).expect("test secrets are valid")
}

fn cfg() -> Config {
    Config {
        seed: 1,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------------------------
// The world: what IAM and the disk hold.

/// One section of a file that holds a key.
#[derive(Debug, Clone)]
struct Section {
    header: String,
    id: AccessKeyId,
    secret: String,
}

#[derive(Debug, Clone)]
struct IamKey {
    meta: KeyMeta,
    secret: String,
}

#[derive(Debug, Clone, Default)]
struct World {
    /// IAM's keys for the user, in creation order.
    keys: Vec<IamKey>,
    /// The sections of each file that hold a key.
    files: BTreeMap<FileKind, Vec<Section>>,
    /// The journal file, if any.
    journal: Option<String>,
    /// How many keys `CreateAccessKey` has made.
    created: u32,
}

impl World {
    fn key(&mut self, name: &str, status: KeyStatus, age_days: i64, secret: &str) -> &mut Self {
        self.keys.push(IamKey {
            meta: KeyMeta {
                access_key_id: id(name),
                status,
                create_date: Timestamp::from_secs(T0.as_millis() / 1000 - age_days * DAY),
                last_used: None,
            },
            secret: secret.to_owned(),
        });
        self
    }

    /// A file section holding IAM key `name` (with its real secret).
    fn hold(&mut self, file: FileKind, header: &str, name: &str) -> &mut Self {
        let secret = self
            .secret_of(&id(name))
            .expect("hold a key that exists")
            .to_owned();
        self.files.entry(file).or_default().push(Section {
            header: header.to_owned(),
            id: id(name),
            secret,
        });
        self
    }

    fn secret_of(&self, key: &AccessKeyId) -> Option<&str> {
        self.keys
            .iter()
            .find(|k| &k.meta.access_key_id == key)
            .map(|k| k.secret.as_str())
    }

    fn metas(&self) -> Vec<KeyMeta> {
        self.keys.iter().map(|k| k.meta.clone()).collect()
    }

    /// Every key the files hold, with its holders, as `AwsFiles::held_keys` would say.
    fn held(&self) -> HeldKeys {
        let mut pairs = Vec::new();
        for (file, sections) in &self.files {
            for (i, s) in sections.iter().enumerate() {
                let profile = match (file, s.header.strip_prefix("profile ")) {
                    (FileKind::Config, Some(p)) => p.to_owned(),
                    _ => s.header.clone(),
                };
                let holder = Holder {
                    file: *file,
                    section: s.header.as_str().into(),
                    profile: Some(profile.into()),
                    line: 1 + 3 * i,
                };
                pairs.push((s.id.clone(), holder));
            }
        }
        pairs.into_iter().collect()
    }

    /// The candidate for the key that `profiles` hold.
    fn candidate(&self, key: &str, profiles: &[&str]) -> Candidate {
        let key = id(key);
        Candidate {
            profiles: profiles.iter().map(|&p| p.into()).collect(),
            holder: profiles[0].into(),
            secret: secret(self.secret_of(&key).expect("the candidate's key exists")),
            access_key_id: key,
            mfa_serial: None,
        }
    }

    fn secrets(&self) -> Vec<String> {
        let mut all: Vec<String> = self.keys.iter().map(|k| k.secret.clone()).collect();
        all.extend(self.files.values().flatten().map(|s| s.secret.clone()));
        all
    }

    /// Performs `action` as AWS and the disk would; `None` for an answer that returns nothing.
    fn perform(&mut self, action: &Action, arn: &str, now: Timestamp) -> Outcome {
        let not_found = || {
            Outcome::Failed(Failure::new(
                FailureClass::NotFound,
                Some("NoSuchEntity"),
                "The Access Key with id cannot be found.",
            ))
        };
        match action {
            Action::WriteJournal { contents, .. } => {
                self.journal = Some(contents.expose().clone());
                Outcome::Done
            }
            Action::RemoveJournal { .. } => {
                self.journal = None;
                Outcome::Done
            }
            Action::DeleteKey { access_key_id, .. } => {
                let before = self.keys.len();
                self.keys.retain(|k| &k.meta.access_key_id != access_key_id);
                if self.keys.len() == before {
                    not_found()
                } else {
                    Outcome::Done
                }
            }
            Action::DeactivateKey { access_key_id, .. } => {
                match self
                    .keys
                    .iter_mut()
                    .find(|k| &k.meta.access_key_id == access_key_id)
                {
                    Some(k) => {
                        k.meta.status = KeyStatus::Inactive;
                        Outcome::Done
                    }
                    None => not_found(),
                }
            }
            Action::CreateKey { .. } => {
                if self.keys.len() >= 2 {
                    return Outcome::Failed(Failure::new(
                        FailureClass::LimitExceeded,
                        Some("LimitExceeded"),
                        "Cannot exceed quota for AccessKeysPerUser: 2",
                    ));
                }
                self.created += 1;
                let n = self.created;
                let key = IamKey {
                    meta: KeyMeta {
                        access_key_id: id(&format!("AKIANEW{n:013}")),
                        status: KeyStatus::Active,
                        create_date: now,
                        last_used: None,
                    },
                    secret: format!("NewSecret{n}/K7MDENG+bPxRfiCYEXAMPLEKEY"),
                };
                self.keys.push(key.clone());
                Outcome::KeyCreated {
                    access_key_id: key.meta.access_key_id,
                    secret: secret(&key.secret),
                    create_date: now,
                }
            }
            Action::ListKeys { .. } => Outcome::Keys(self.metas()),
            Action::VerifyKey {
                access_key_id,
                secret,
            } => {
                let works = self.keys.iter().any(|k| {
                    &k.meta.access_key_id == access_key_id
                        && k.meta.status == KeyStatus::Active
                        && k.secret == secret.expose()
                });
                if works {
                    Outcome::Verified {
                        arn: arn.to_owned(),
                    }
                } else {
                    Outcome::Failed(Failure::new(
                        FailureClass::NotAuthenticated,
                        Some("InvalidClientTokenId"),
                        "The security token included in the request is invalid.",
                    ))
                }
            }
            Action::UpdateFile { file, edit } => {
                // What `KeyEdit::apply` does, on the model: every section holding `from` gets the
                // new id and secret; a file without such a section is left alone.
                let mut changed = false;
                for s in self.files.get_mut(file).into_iter().flatten() {
                    if s.id == edit.from {
                        s.id = edit.to_id.clone();
                        s.secret = edit.to_secret.expose().to_owned();
                        changed = true;
                    }
                }
                if changed {
                    Outcome::Updated {
                        profiles: Vec::new(),
                    }
                } else {
                    Outcome::Unchanged
                }
            }
            // Printing (admin mode's DeliverKey) and anything newer: nothing to model.
            _ => Outcome::Done,
        }
    }

    fn describe(&self) -> String {
        let mut s = String::new();
        s.push_str("iam:\n");
        if self.keys.is_empty() {
            s.push_str("  (no keys)\n");
        }
        for k in &self.keys {
            let _ = writeln!(
                s,
                "  {} {} created {}",
                k.meta.access_key_id, k.meta.status, k.meta.create_date
            );
        }
        for (file, sections) in &self.files {
            let _ = writeln!(s, "{file:?} file:");
            for sec in sections {
                let works = self.keys.iter().any(|k| {
                    k.meta.access_key_id == sec.id
                        && k.meta.status == KeyStatus::Active
                        && k.secret == sec.secret
                });
                let _ = writeln!(
                    s,
                    "  [{}] {} ({})",
                    sec.header,
                    sec.id,
                    if works { "works" } else { "BROKEN" }
                );
            }
        }
        match &self.journal {
            Some(text) => {
                let j = Journal::parse(text).expect("the journal on disk parses");
                let _ = writeln!(s, "journal: {}", journal_summary(&j));
            }
            None => s.push_str("journal: none\n"),
        }
        s
    }
}

fn journal_summary(j: &Journal) -> String {
    let state = match j.state {
        JournalState::Creating => "creating",
        JournalState::Pending => "pending",
        JournalState::Undoing => "undoing",
    };
    let known: Vec<&str> = j.known_keys.iter().map(AccessKeyId::as_str).collect();
    let mut s = format!("state={state} known=[{}]", known.join(", "));
    if let Some(n) = &j.new_key {
        let _ = write!(s, " new={} (secret {:?})", n.access_key_id, n.secret);
    }
    s
}

// ---------------------------------------------------------------------------------------------
// Scripted replies.

/// How the world answers one action.
#[derive(Debug, Clone)]
enum Reply {
    /// Do it and answer as the world does.
    Ok,
    /// Refused: nothing happens, this failure comes back.
    Fail(FailureClass, Option<&'static str>, &'static str),
    /// It happens, but the answer is lost: this failure comes back instead (a timeout).
    Lost(FailureClass, &'static str),
    /// It happens, then the process dies before it hears the answer.
    CrashAfter,
    /// The process dies before the action is performed.
    CrashBefore,
    /// Nothing happens; this answer comes back (a stale read, say).
    Answer(Outcome),
}

fn fail(class: FailureClass, code: &'static str, message: &'static str) -> Reply {
    Reply::Fail(class, Some(code), message)
}

fn not_authenticated() -> Reply {
    fail(
        FailureClass::NotAuthenticated,
        "InvalidClientTokenId",
        "The security token included in the request is invalid.",
    )
}

/// The action's name: its serde variant tag.
fn kind(action: &Action) -> String {
    match serde_json::to_value(action).expect("actions serialize") {
        serde_json::Value::String(s) => s,
        serde_json::Value::Object(m) => m.keys().next().cloned().unwrap_or_default(),
        other => other.to_string(),
    }
}

fn fmt_outcome(o: &Outcome) -> String {
    match o {
        Outcome::Done => "Done".into(),
        Outcome::Unchanged => "Unchanged (no holder in this file)".into(),
        Outcome::KeyCreated {
            access_key_id,
            secret,
            create_date,
        } => {
            format!("KeyCreated {access_key_id} secret={secret:?} created={create_date}")
        }
        Outcome::Keys(keys) => {
            let list: Vec<String> = keys
                .iter()
                .map(|k| format!("{} {}", k.access_key_id, k.status))
                .collect();
            format!("Keys [{}]", list.join(", "))
        }
        Outcome::Verified { arn } => format!("Verified {arn}"),
        Outcome::Failed(f) => format!(
            "Failed {:?} {}: {}",
            f.class,
            f.code.as_deref().unwrap_or("-"),
            f.message
        ),
        // Outcomes added to the core later show in their Debug form.
        #[allow(unreachable_patterns)]
        other => format!("{other:?}"),
    }
}

fn rel(t: Timestamp) -> String {
    let ms = t.as_millis() - T0.as_millis();
    format!("+{}.{:03}s", ms / 1000, ms % 1000)
}

// ---------------------------------------------------------------------------------------------
// The harness.

struct Script {
    world: World,
    rot: Rotation,
    now: Timestamp,
    arn: String,
    replies: HashMap<String, VecDeque<Reply>>,
    log: String,
    /// The key the run replaces (checked against promise 1).
    old_key: Option<AccessKeyId>,
    /// The key named by `--delete`, which alone may be removed while a file holds it.
    delete: Option<AccessKeyId>,
    /// Consecutive `Verified` answers as the right user, for the latest key verified.
    verified: u32,
    make_room_deletes: u32,
    /// Admin mode: the new key is printed, not written to a file.
    admin: bool,
    /// Set by a `KeyCreated`: the next action must journal this key (promise 3).
    must_journal: Option<AccessKeyId>,
    all_secrets: Vec<String>,
}

/// How a run ended.
struct Ended {
    world: World,
    now: Timestamp,
    arn: String,
    log: String,
    crashed: bool,
    all_secrets: Vec<String>,
    status: Option<Status>,
}

impl Script {
    /// Plans with `decide` and starts a rotation; panics if the plan is not a rotation.
    fn plan(title: &str, world: World, target: Target, options: Options) -> Self {
        let identity = match &target {
            Target::User(u) => {
                Identity::from_arn(&format!("arn:aws:iam::{ACCOUNT}:user/{u}")).expect("an ARN")
            }
            Target::Profiles(_) => {
                Identity::from_arn(&format!("arn:aws:iam::{ACCOUNT}:user/alice")).expect("an ARN")
            }
        };
        let keys = world.metas();
        let decision = plan::decide(&target, &identity, &keys, &world.held(), &options, T0);
        let Decision::Rotate(plan) = decision else {
            panic!("{title}: expected a plan, got {decision:?}")
        };
        let old_secret = match &target {
            Target::Profiles(c) => Some(c.secret.clone()),
            Target::User(_) => None,
        };
        let mut log = format!("# {title}\n");
        log_plan(&mut log, &plan);
        let rot = Rotation::new(&plan, old_secret, &keys, identity.clone(), cfg(), T0);
        let all_secrets = world.secrets();
        Script {
            rot,
            now: T0,
            arn: identity.arn.clone(),
            replies: HashMap::new(),
            log,
            old_key: plan.old_key.as_ref().map(|o| o.access_key_id.clone()),
            delete: options.delete.clone(),
            verified: 0,
            make_room_deletes: 0,
            admin: plan.admin,
            must_journal: None,
            all_secrets,
            world,
        }
    }

    /// A rerun: reads the journal the last run left on disk and resumes from it.
    fn resume(ended: Ended, after: Span) -> Self {
        let now = ended.now.add(after);
        let text = ended
            .world
            .journal
            .clone()
            .expect("a journal to resume from");
        let journal = Journal::parse(&text).expect("the journal parses");
        let mut log = ended.log;
        let _ = writeln!(
            log,
            "\n# rerun at {}: journal found, {}",
            rel(now),
            journal_summary(&journal)
        );
        let old_key = journal.old_access_key_id.clone();
        let admin = journal.admin;
        let id = journal.id();
        let rot = Rotation::resume(journal, id, &ended.world.metas(), cfg(), now);
        Script {
            rot,
            now,
            arn: ended.arn,
            replies: HashMap::new(),
            log,
            old_key,
            delete: None,
            verified: 0,
            make_room_deletes: 0,
            admin,
            must_journal: None,
            all_secrets: ended.all_secrets,
            world: ended.world,
        }
    }

    /// Scripted replies for the next actions of this kind (`"VerifyKey"`, ...), in order;
    /// afterwards the world answers.
    fn on(mut self, action: &str, replies: impl IntoIterator<Item = Reply>) -> Self {
        self.replies
            .entry(action.to_owned())
            .or_default()
            .extend(replies);
        self
    }

    fn violation(&self, what: &str) -> ! {
        panic!(
            "promise broken: {what}\n--- log so far ---\n{}\n--- world ---\n{}",
            self.log,
            self.world.describe()
        )
    }

    /// Checks an action against the promises before it is performed.
    fn check(&mut self, action: &Action) {
        if let Some(new) = self.must_journal.take() {
            let journaled = match action {
                Action::WriteJournal { contents, .. } => Journal::parse(contents.expose())
                    .ok()
                    .and_then(|j| j.new_key)
                    .is_some_and(|n| {
                        n.access_key_id == new && contents.expose().contains(n.secret.expose())
                    }),
                _ => false,
            };
            if !journaled {
                self.violation(&format!(
                    "after {new} was created, the next action must journal its secret"
                ));
            }
        }
        let retired = match action {
            Action::DeleteKey {
                access_key_id,
                purpose,
                ..
            } => {
                if *purpose == DeletePurpose::MakeRoom {
                    self.make_room_deletes += 1;
                    if self.make_room_deletes > 1 {
                        self.violation("more than one key removed to make room");
                    }
                }
                let held = self
                    .world
                    .files
                    .values()
                    .flatten()
                    .any(|s| &s.id == access_key_id);
                if held
                    && !(*purpose == DeletePurpose::MakeRoom
                        && self.delete.as_ref() == Some(access_key_id))
                {
                    self.violation(&format!("{access_key_id} is deleted while a file holds it"));
                }
                Some(access_key_id)
            }
            Action::DeactivateKey { access_key_id, .. } => Some(access_key_id),
            _ => None,
        };
        if let (Some(k), Some(old)) = (retired, &self.old_key) {
            if k == old && self.verified < cfg().confirmations {
                self.violation(&format!(
                    "{old} is retired before its replacement answered as the user"
                ));
            }
        }
    }

    /// Drives the rotation until it is done or the scripted process dies.
    fn run(mut self) -> Ended {
        let mut steps = 0;
        loop {
            while let Some(action) = self.rot.poll_action() {
                steps += 1;
                assert!(steps < 5000, "no end in sight:\n{}", self.log);
                let name = kind(&action);
                let shown = serde_json::to_string(&action).expect("actions serialize");
                let _ = write!(self.log, "{}  -> {shown}", rel(self.now));
                if let Action::WriteJournal { contents, .. } = &action {
                    let j = Journal::parse(contents.expose()).expect("the journal written parses");
                    let _ = write!(self.log, "  [{}]", journal_summary(&j));
                }
                self.log.push('\n');
                self.check(&action);
                let reply = self
                    .replies
                    .get_mut(&name)
                    .and_then(VecDeque::pop_front)
                    .unwrap_or(Reply::Ok);
                let outcome = match reply {
                    Reply::Ok => self.world.perform(&action, &self.arn, self.now),
                    Reply::Fail(class, code, message) => {
                        Outcome::Failed(Failure::new(class, code, message))
                    }
                    Reply::Answer(outcome) => outcome,
                    Reply::Lost(class, message) => {
                        let _ = self.world.perform(&action, &self.arn, self.now);
                        let _ = writeln!(self.log, "          (done, but the answer is lost)");
                        Outcome::Failed(Failure::new(class, None, message))
                    }
                    Reply::CrashAfter | Reply::CrashBefore => {
                        if matches!(reply, Reply::CrashAfter) {
                            let _ = self.world.perform(&action, &self.arn, self.now);
                            let _ = writeln!(self.log, "          (done)");
                        }
                        let _ = writeln!(self.log, "          *** the process is killed ***");
                        return self.end(true);
                    }
                };
                let _ = writeln!(self.log, "          <- {}", fmt_outcome(&outcome));
                match &outcome {
                    Outcome::Verified { arn } if *arn == self.arn => self.verified += 1,
                    Outcome::Verified { .. } | Outcome::Failed(_)
                        if matches!(action, Action::VerifyKey { .. }) =>
                    {
                        self.verified = 0;
                    }
                    Outcome::KeyCreated {
                        access_key_id,
                        secret,
                        ..
                    } => {
                        self.all_secrets.push(secret.expose().to_owned());
                        self.must_journal = Some(access_key_id.clone());
                        self.verified = 0;
                    }
                    _ => {}
                }
                self.rot.handle_outcome(outcome, self.now);
            }
            match self.rot.poll_timeout() {
                Some(at) => {
                    let _ = writeln!(self.log, "{}  .. wait until {}", rel(self.now), rel(at));
                    self.now = self.now.max(at);
                    self.rot.handle_timeout(self.now);
                }
                None => break,
            }
        }
        assert!(
            self.rot.is_done(),
            "both polls are None but the rotation is not done:\n{}",
            self.log
        );
        self.end(false)
    }

    fn end(mut self, crashed: bool) -> Ended {
        let status = (!crashed).then(|| self.rot.report().status);
        if !crashed {
            let report =
                serde_json::to_string_pretty(self.rot.report()).expect("reports serialize");
            let _ = writeln!(self.log, "report: {report}");
        }
        let _ = write!(
            self.log,
            "world at {}:\n{}",
            rel(self.now),
            self.world.describe()
        );
        if !crashed {
            // Promise 8: whatever happened, every file section holds a key that works.
            for s in self.world.files.values().flatten() {
                let works = self.world.keys.iter().any(|k| {
                    k.meta.access_key_id == s.id
                        && k.meta.status == KeyStatus::Active
                        && k.secret == s.secret
                });
                if !works {
                    self.violation(&format!(
                        "[{}] holds {}, which does not work",
                        s.header, s.id
                    ));
                }
            }
            if self.world.keys.len() > 2 {
                self.violation("more than two keys");
            }
            // Promise 8: no key the user cannot use or see. A key this tool created is in a file
            // (or printed, in admin mode), or the journal stays so that a rerun removes it, or
            // the report tells the user to.
            let report = self.rot.report();
            for k in &self.world.keys {
                let ours = k.meta.access_key_id.as_str().starts_with("AKIANEW");
                let in_file = self
                    .world
                    .files
                    .values()
                    .flatten()
                    .any(|s| s.id == k.meta.access_key_id);
                let named = report
                    .left_to_do
                    .iter()
                    .any(|t| t.contains(k.meta.access_key_id.as_str()));
                if ours && !in_file && !self.admin && !named && self.world.journal.is_none() {
                    self.violation(&format!(
                        "{} exists, but no file holds it and nothing says so",
                        k.meta.access_key_id
                    ));
                }
            }
        }
        for s in &self.all_secrets {
            assert!(
                !self.log.contains(s.as_str()),
                "a secret is printed in the log:\n{}",
                self.log
            );
        }
        Ended {
            world: self.world,
            now: self.now,
            arn: self.arn,
            log: self.log,
            crashed,
            all_secrets: self.all_secrets,
            status,
        }
    }
}

fn log_plan(log: &mut String, plan: &Plan) {
    let text = serde_json::to_string_pretty(plan).expect("plans serialize");
    let _ = writeln!(log, "plan: {text}");
}

// ---------------------------------------------------------------------------------------------
// Fixtures.

const OLD_SECRET: &str = "OldSecret/K7MDENG+bPxRfiCYEXAMPLEKEY";
const OTHER_SECRET: &str = "OtherSecret/K7MDENG+bPxRfiCYEXAMPLEKEY";

/// Alice: one active key, 120 days old, held by `[default]` in the credentials file.
fn one_key() -> World {
    let mut w = World::default();
    w.key("AKIAOLD0000000000001", KeyStatus::Active, 120, OLD_SECRET)
        .hold(FileKind::Credentials, "default", "AKIAOLD0000000000001");
    w
}

fn default_profile(w: &World) -> Target {
    Target::Profiles(w.candidate("AKIAOLD0000000000001", &["default"]))
}

fn yes() -> Options {
    Options {
        yes: true,
        ..Options::default()
    }
}

fn assert_status(ended: &Ended, status: Status) {
    assert_eq!(ended.status, Some(status), "\n{}", ended.log);
}

// ---------------------------------------------------------------------------------------------
// Scenarios.

#[test]
fn one_key_plain_rotation() {
    let w = one_key();
    let t = default_profile(&w);
    let ended = Script::plan("one key: plain rotation", w, t, Options::default()).run();
    assert_status(&ended, Status::Rotated);
    assert_eq!(ended.world.keys.len(), 1);
    assert!(ended.world.journal.is_none());
    insta::assert_snapshot!("one_key", ended.log);
}

#[test]
fn two_keys_make_room() {
    let mut w = one_key();
    w.key(
        "AKIAUNUSED0000000001",
        KeyStatus::Inactive,
        300,
        OTHER_SECRET,
    );
    let t = default_profile(&w);
    let ended = Script::plan(
        "two keys, the other inactive and unused: it makes room",
        w,
        t,
        yes(),
    )
    .run();
    assert_status(&ended, Status::Rotated);
    assert!(ended.world.secret_of(&id("AKIAUNUSED0000000001")).is_none());
    insta::assert_snapshot!("make_room", ended.log);
}

#[test]
fn keep_old_then_next_rotation_removes_it_first() {
    let w = one_key();
    let t = default_profile(&w);
    let options = Options {
        keep_old: true,
        ..Options::default()
    };
    let first = Script::plan("--keep-old: the old key is deactivated", w, t, options).run();
    assert_status(&first, Status::Rotated);
    let deactivated = first
        .world
        .keys
        .iter()
        .find(|k| k.meta.access_key_id == id("AKIAOLD0000000000001"));
    assert_eq!(
        deactivated.map(|k| k.meta.status),
        Some(KeyStatus::Inactive)
    );

    // A later run: the profile now holds the first new key; the inactive one makes room.
    // The plan runs at the same clock reading: age the new key instead, as if 100 days passed.
    let mut world = first.world;
    for k in world
        .keys
        .iter_mut()
        .filter(|k| k.meta.status == KeyStatus::Active)
    {
        k.meta.create_date = Timestamp::from_secs(T0.as_millis() / 1000 - 100 * DAY);
    }
    let t = Target::Profiles(world.candidate("AKIANEW0000000000001", &["default"]));
    let mut second = Script::plan(
        "a later run: the deactivated key is removed first",
        world,
        t,
        yes(),
    );
    second.log = format!("{}\n{}", first.log, second.log);
    let ended = second.run();
    assert_status(&ended, Status::Rotated);
    assert_eq!(ended.world.keys.len(), 1);
    insta::assert_snapshot!("keep_old_then_next_rotation", ended.log);
}

#[test]
fn propagation_retries() {
    let w = one_key();
    let t = default_profile(&w);
    let ended = Script::plan(
        "the new key takes a while to work",
        w,
        t,
        Options::default(),
    )
    .on(
        "VerifyKey",
        [
            not_authenticated(),
            not_authenticated(),
            not_authenticated(),
        ],
    )
    .run();
    assert_status(&ended, Status::Rotated);
    insta::assert_snapshot!("propagation_retries", ended.log);
}

#[test]
fn propagation_needs_consecutive_successes() {
    let w = one_key();
    let t = default_profile(&w);
    let ended = Script::plan(
        "one success is not propagation: success, failure, success, success",
        w,
        t,
        Options::default(),
    )
    .on(
        "VerifyKey",
        [Reply::Ok, not_authenticated(), Reply::Ok, Reply::Ok],
    )
    .run();
    assert_status(&ended, Status::Rotated);
    assert!(ended.log.contains("\"VerifyAttempts\": 4"), "{}", ended.log);
    insta::assert_snapshot!("propagation_consecutive", ended.log);
}

#[test]
fn verification_timeout_rolls_back() {
    let w = one_key();
    let t = default_profile(&w);
    let options = Options {
        verify_timeout: Span::from_secs(2),
        ..Options::default()
    };
    let ended = Script::plan(
        "the new key never works: rollback after --verify-timeout 2s",
        w,
        t,
        options,
    )
    .on("VerifyKey", std::iter::repeat_n(not_authenticated(), 100))
    .run();
    assert_status(&ended, Status::RolledBack);
    // Files untouched, new key deleted, old key still active.
    assert_eq!(
        ended.world.files[&FileKind::Credentials][0].id,
        id("AKIAOLD0000000000001")
    );
    assert_eq!(ended.world.keys.len(), 1);
    assert!(!ended.log.contains("UpdateFile"), "{}", ended.log);
    insta::assert_snapshot!("verify_timeout_rollback", ended.log);
}

#[test]
fn file_write_failure_undoes() {
    let w = one_key();
    let t = default_profile(&w);
    let ended = Script::plan(
        "the config file cannot be written after the credentials file was",
        w,
        t,
        Options::default(),
    )
    .on(
        "UpdateFile",
        [
            Reply::Ok,
            fail(
                FailureClass::Io,
                "EACCES",
                "permission denied: ~/.aws/config",
            ),
        ],
    )
    .run();
    assert_status(&ended, Status::RolledBack);
    assert_eq!(
        ended.world.files[&FileKind::Credentials][0].id,
        id("AKIAOLD0000000000001")
    );
    assert_eq!(ended.world.keys.len(), 1);
    insta::assert_snapshot!("file_write_failure_undo", ended.log);
}

#[test]
fn old_key_delete_fails() {
    let w = one_key();
    let t = default_profile(&w);
    let ended = Script::plan("the old key cannot be deleted", w, t, Options::default())
        .on(
            "DeleteKey",
            [fail(
                FailureClass::AccessDenied,
                "AccessDenied",
                "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: iam:DeleteAccessKey",
            )],
        )
        .run();
    assert_status(&ended, Status::Incomplete);
    assert!(ended.log.contains(
        "aws iam delete-access-key --user-name alice --access-key-id AKIAOLD0000000000001"
    ));
    insta::assert_snapshot!("old_key_delete_fails", ended.log);
}

#[test]
fn create_throttled_then_succeeds() {
    let w = one_key();
    let t = default_profile(&w);
    let throttled = || fail(FailureClass::Throttled, "Throttling", "Rate exceeded");
    let ended = Script::plan(
        "CreateAccessKey is throttled twice",
        w,
        t,
        Options::default(),
    )
    .on("CreateKey", [throttled(), throttled()])
    .run();
    assert_status(&ended, Status::Rotated);
    insta::assert_snapshot!("create_throttled", ended.log);
}

#[test]
fn ambiguous_create_orphan_is_deleted() {
    let w = one_key();
    let t = default_profile(&w);
    let ended = Script::plan(
        "CreateAccessKey times out after IAM made the key: the orphan is found and deleted",
        w,
        t,
        Options::default(),
    )
    .on(
        "CreateKey",
        [Reply::Lost(
            FailureClass::Transient,
            "read timeout on iam.amazonaws.com",
        )],
    )
    .run();
    assert_status(&ended, Status::Rotated);
    assert!(ended.log.contains("\"Orphan\""), "{}", ended.log);
    assert!(ended.world.secret_of(&id("AKIANEW0000000000001")).is_none());
    assert!(ended.world.secret_of(&id("AKIANEW0000000000002")).is_some());
    insta::assert_snapshot!("create_ambiguous_orphan", ended.log);
}

#[test]
fn crash_after_create_resume_finishes() {
    let w = one_key();
    let t = default_profile(&w);
    let crashed = Script::plan(
        "killed after the new key was journaled",
        w,
        t,
        Options::default(),
    )
    .on("VerifyKey", [Reply::CrashBefore])
    .run();
    assert!(crashed.crashed);
    let ended = Script::resume(crashed, Span::from_secs(60)).run();
    assert_status(&ended, Status::Rotated);
    assert_eq!(
        ended.world.files[&FileKind::Credentials][0].id,
        id("AKIANEW0000000000001")
    );
    assert_eq!(ended.world.keys.len(), 1);
    insta::assert_snapshot!("crash_after_create_resume", ended.log);
}

#[test]
fn crash_during_create_resume_cleans_up() {
    let w = one_key();
    let t = default_profile(&w);
    let crashed = Script::plan(
        "killed while CreateAccessKey was answering",
        w,
        t,
        Options::default(),
    )
    .on("CreateKey", [Reply::CrashAfter])
    .run();
    assert!(crashed.crashed);
    let ended = Script::resume(crashed, Span::from_secs(60)).run();
    assert_status(&ended, Status::CleanedUp);
    assert_eq!(ended.world.keys.len(), 1);
    assert!(ended.world.journal.is_none());
    insta::assert_snapshot!("crash_during_create_resume", ended.log);
}

#[test]
fn crash_after_old_key_deleted_resume_finishes() {
    let w = one_key();
    let t = default_profile(&w);
    let crashed = Script::plan(
        "killed after the old key was deleted, before the journal went",
        w,
        t,
        Options::default(),
    )
    .on("RemoveJournal", [Reply::CrashBefore])
    .run();
    let ended = Script::resume(crashed, Span::from_secs(60)).run();
    assert_status(&ended, Status::Rotated);
    assert!(ended.world.journal.is_none());
    insta::assert_snapshot!("crash_after_old_key_deleted_resume", ended.log);
}

#[test]
fn crash_after_old_key_deleted_resume_offline_keeps_the_new_key() {
    // Promise 8. The rerun cannot reach STS (the laptop is offline): the old key is gone, so
    // undoing would put a dead key back into the files and delete the only working one.
    let w = one_key();
    let t = default_profile(&w);
    let crashed = Script::plan(
        "killed after the old key was deleted; the rerun is offline",
        w,
        t,
        Options::default(),
    )
    .on("RemoveJournal", [Reply::CrashBefore])
    .run();
    let offline = || {
        Reply::Fail(
            FailureClass::Transient,
            None,
            "could not connect to sts.amazonaws.com",
        )
    };
    let ended = Script::resume(crashed, Span::from_secs(60))
        .on("VerifyKey", std::iter::repeat_n(offline(), 3000))
        .on("DeleteKey", std::iter::repeat_n(offline(), 10))
        .run();
    // `run` checked that every file holds a working key; the new key must still exist.
    assert!(
        ended.world.secret_of(&id("AKIANEW0000000000001")).is_some(),
        "{}",
        ended.log
    );
    assert_ne!(ended.status, Some(Status::Rotated));
}

#[test]
fn resume_pending_without_new_key_restores_old() {
    let w = one_key();
    let t = default_profile(&w);
    let mut crashed = Script::plan(
        "killed after the files were written; the new key then vanished",
        w,
        t,
        Options::default(),
    )
    .on("DeleteKey", [Reply::CrashBefore])
    .run();
    // Someone deleted the new key by hand before the rerun.
    crashed
        .world
        .keys
        .retain(|k| k.meta.access_key_id != id("AKIANEW0000000000001"));
    let ended = Script::resume(crashed, Span::from_secs(3600)).run();
    assert_status(&ended, Status::RolledBack);
    assert_eq!(
        ended.world.files[&FileKind::Credentials][0].id,
        id("AKIAOLD0000000000001")
    );
    insta::assert_snapshot!("resume_pending_new_key_gone", ended.log);
}

#[test]
fn shared_key_across_two_files() {
    let mut w = one_key();
    w.hold(FileKind::Config, "profile work", "AKIAOLD0000000000001");
    let t = Target::Profiles(w.candidate("AKIAOLD0000000000001", &["default", "work"]));
    let ended = Script::plan(
        "one key held by [default] in credentials and [profile work] in config",
        w,
        t,
        Options::default(),
    )
    .run();
    assert_status(&ended, Status::Rotated);
    for s in ended.world.files.values().flatten() {
        assert_eq!(s.id, id("AKIANEW0000000000001"));
    }
    assert_eq!(ended.log.matches("\"UpdateFile\"").count(), 2);
    insta::assert_snapshot!("shared_key_two_files", ended.log);
}

#[test]
fn admin_mode() {
    let mut w = World::default();
    w.key("AKIABOB0000000000001", KeyStatus::Active, 200, OTHER_SECRET);
    let ended = Script::plan(
        "admin mode: --user-name bob",
        w,
        Target::User(UserName::new("bob")),
        Options::default(),
    )
    .run();
    assert_status(&ended, Status::Rotated);
    assert!(!ended.log.contains("UpdateFile"), "{}", ended.log);
    assert_eq!(ended.world.keys.len(), 2, "the old key stays by default");
    insta::assert_snapshot!("admin_mode", ended.log);
}

#[test]
fn ambiguous_create_with_a_stale_list_leaves_no_hidden_key() {
    // IAM is eventually consistent: the ListAccessKeys after an ambiguous CreateAccessKey may not
    // show the key the create made yet. The retry then hits the quota of two. The key made by the
    // lost create must not be left behind unnoticed (promise 8): delete it, keep the journal so
    // that a rerun deletes it, or name it in what is left to do.
    let w = one_key();
    let t = default_profile(&w);
    let stale = w.metas();
    let ended = Script::plan(
        "a lost create, a stale list, then the quota",
        w,
        t,
        Options::default(),
    )
    .on(
        "CreateKey",
        [Reply::Lost(
            FailureClass::Transient,
            "read timeout on iam.amazonaws.com",
        )],
    )
    .on("ListKeys", [Reply::Answer(Outcome::Keys(stale))])
    .run();
    assert_ne!(ended.status, Some(Status::Rotated), "{}", ended.log);
}

/// A journal that names no old key cannot come from a run, and the parser refuses one; built by
/// hand, resuming it stops with a message when the files are due (not a panic), and changes
/// nothing it cannot account for.
#[test]
fn a_rotation_that_cannot_go_on_stops_and_says_so() {
    let new = id("AKIANEWKEY0000000001");
    let journal = Journal {
        state: JournalState::Pending,
        user_name: UserName::new("alice"),
        account: ACCOUNT.into(),
        admin: false,
        profiles: vec!["default".into()],
        caller_profile: None,
        old_access_key_id: None,
        old_secret: None,
        old_key_action: plan::OldKeyAction::Delete,
        known_keys: Vec::new(),
        new_key: Some(aws_rotate_keys::journal::NewKey {
            access_key_id: new.clone(),
            secret: secret("newsecret0000000000000000000000000000001"),
            create_date: T0,
        }),
        started: T0,
        verify_timeout: None,
    };
    let keys = [KeyMeta {
        access_key_id: new.clone(),
        status: KeyStatus::Active,
        create_date: T0,
        last_used: None,
    }];
    let mut now = T0;
    let id = journal.id();
    let mut rot = Rotation::resume(journal, id, &keys, cfg(), now);
    let mut deleted = Vec::new();
    for _ in 0..100 {
        if rot.is_done() {
            break;
        }
        let Some(action) = rot.poll_action() else {
            if rot.is_done() {
                break;
            }
            now = rot
                .poll_timeout()
                .expect("a rotation in progress waits for a time");
            rot.handle_timeout(now);
            continue;
        };
        let outcome = match action {
            Action::VerifyKey { .. } => Outcome::Verified {
                arn: format!("arn:aws:iam::{ACCOUNT}:user/alice"),
            },
            Action::UpdateFile { .. } => panic!("a file changed with no old key to replace"),
            Action::DeleteKey { access_key_id, .. } => {
                deleted.push(access_key_id);
                Outcome::Done
            }
            _ => Outcome::Done,
        };
        rot.handle_outcome(outcome, now);
    }
    let report = rot.report();
    assert!(rot.is_done());
    assert_eq!(report.status, Status::Failed);
    assert!(deleted.is_empty(), "no key is deleted: {deleted:?}");
    let error = report
        .error
        .as_ref()
        .expect("the report says what happened");
    assert!(error.failure.message.contains("This is a bug"), "{error:?}");
    assert!(
        report
            .left_to_do
            .iter()
            .any(|l| l.contains("list-access-keys")),
        "{:?}",
        report.left_to_do
    );
}
