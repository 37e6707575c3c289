//! `pickup`, and `rotate` with a delivery waiting, through the core's session against the
//! simulated IAM and disk, with the delivery secret answered from a map: the delivered key
//! takes the old one's place in every file, the old key goes last (signed by the old key), a
//! run stopped after any step finishes when run again, an undo leaves the delivered key alone.

use std::collections::BTreeMap;

use aws_rotate_keys::action::{Action, Failure, FailureClass, Outcome};
use aws_rotate_keys::fleet::delivery::DeliveredKey;
use aws_rotate_keys::ini::FileKind;
use aws_rotate_keys::key::{AccessKeyId, KeyStatus, SecretAccessKey, Sensitive, UserName};
use aws_rotate_keys::plan::Options;
use aws_rotate_keys::profile::Selection;
use aws_rotate_keys::rotation::{Config, Status};
use aws_rotate_keys::session::{Mode, Request, Session, Signer, TaskOutcome, TaskResult};
use aws_rotate_keys::sim::{Disk, SimIam};
use aws_rotate_keys::time::{Span, Timestamp};

const T0: Timestamp = Timestamp::from_secs(1_750_000_000);
const OLD: &str = "AKIAOLD0000000000001";
const OLD_SECRET: &str = "old/secret";
const NEW: &str = "AKIANEW0000000000001";
const NEW_SECRET: &str = "new/secret";

fn id(s: &str) -> AccessKeyId {
    AccessKeyId::new(s).expect("an id")
}

/// alice's old key in `[default]` of credentials and `[profile ci]` of config; her delivered
/// key in IAM and in the delivery secret.
struct World {
    iam: SimIam,
    disk: Disk,
    secrets: BTreeMap<String, String>,
    now: Timestamp,
    /// Requests that may not delete keys.
    deny_delete: bool,
    /// The user may not read Secrets Manager at all (and may create keys: a plain rotate).
    no_secrets_manager: bool,
    log: Vec<String>,
}

impl World {
    fn new(propagation: Span) -> Self {
        let mut iam = SimIam::new("123456789012", propagation, 7);
        iam.insert_key(
            "alice",
            id(OLD),
            OLD_SECRET,
            KeyStatus::Active,
            T0.add(Span::from_secs(0)),
        );
        let created = T0.add(Span::from_secs(86_400));
        iam.insert_key("alice", id(NEW), NEW_SECRET, KeyStatus::Active, created);
        let delivered = DeliveredKey {
            user_name: UserName::new("alice"),
            access_key_id: id(NEW),
            secret: SecretAccessKey::new(NEW_SECRET).expect("a secret"),
            create_date: created,
            replaces: id(OLD),
        };
        let mut secrets = BTreeMap::new();
        secrets.insert(
            "aws-rotate-keys/alice".to_owned(),
            delivered.to_json().expose().clone(),
        );
        let disk = Disk::new(
            format!(
                "[profile ci]\naws_access_key_id = {OLD}\naws_secret_access_key = {OLD_SECRET}\nregion = eu-west-1\n"
            ),
            format!(
                "# mine\n[default]\naws_access_key_id = {OLD}\naws_secret_access_key = {OLD_SECRET}\n"
            ),
        );
        Self {
            iam,
            disk,
            secrets,
            now: T0.add(Span::from_secs(2 * 86_400)),
            deny_delete: false,
            no_secrets_manager: false,
            log: Vec::new(),
        }
    }

    fn request(&mut self, signer: &Signer, action: &Action) -> Outcome {
        if let Some(o) = self.disk.perform(action) {
            return o;
        }
        let Signer::Static {
            access_key_id,
            secret,
            ..
        } = signer
        else {
            panic!("pickup signs with the profile's keys")
        };
        self.log.push(format!(
            "{} signed by {access_key_id}",
            action.operation().unwrap_or("?")
        ));
        match action {
            Action::GetSecretValue { .. } if self.no_secrets_manager => {
                Outcome::Failed(Failure::new(
                    FailureClass::AccessDenied,
                    Some("AccessDeniedException"),
                    "User alice is not authorized to perform: secretsmanager:GetSecretValue",
                ))
            }
            Action::GetSecretValue { name } => {
                // Lockout: only an active key of the owner reads the delivery.
                let k = self.iam.key(access_key_id).expect("a known key");
                assert_eq!(k.status, KeyStatus::Active, "an inactive key cannot read");
                match self.secrets.get(name) {
                    Some(v) => Outcome::SecretValue(Sensitive::new(v.clone())),
                    None => Outcome::Failed(Failure::new(
                        FailureClass::NotFound,
                        Some("ResourceNotFoundException"),
                        "Secrets Manager can't find the specified secret.",
                    )),
                }
            }
            Action::DeleteKey { .. } if self.deny_delete => Outcome::Failed(Failure::new(
                FailureClass::AccessDenied,
                Some("AccessDenied"),
                "User alice is not authorized to perform: iam:DeleteAccessKey",
            )),
            Action::CreateKey { .. } if !self.no_secrets_manager => {
                panic!("a pickup never creates a key")
            }
            _ => self
                .iam
                .request((access_key_id, secret.expose()), action, self.now)
                .expect("a request"),
        }
    }

    /// One run of `mode` for `profile`; `stop_after`: the run is killed after that many
    /// actions. Returns the results, or `None` when killed.
    fn run(&mut self, mode: Mode, profile: &str, stop_after: Option<usize>) -> Option<Run> {
        let request = Request {
            selection: Selection::Profiles(vec![profile.into()]),
            admin_user: None,
            options: Options {
                yes: true,
                verify_timeout: Span::from_secs(30),
                ..Options::default()
            },
            mode,
            max_concurrency: 4,
            interactive: false,
        };
        let journals: Vec<(String, String)> = self
            .disk
            .journals
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut session = Session::new(
            self.disk.config.clone(),
            self.disk.credentials.clone(),
            &journals,
            request,
            Config::default(),
        )
        .expect("a session");
        let mut steps = 0;
        while !session.is_done() {
            while let Some(a) = session.poll_action() {
                if stop_after == Some(steps) {
                    return None;
                }
                steps += 1;
                let outcome = self.request(&a.signer, &a.action);
                session.handle_outcome(a.task, outcome, self.now);
            }
            if let Some(t) = session.poll_timeout() {
                self.now = self.now.max(t);
                session.handle_timeout(self.now);
            }
        }
        let ending = session.error_kind();
        Some(Run {
            ending,
            results: session.into_results(),
            steps,
        })
    }

    fn keys(&self) -> Vec<String> {
        self.iam.keys.iter().map(|k| k.id.to_string()).collect()
    }
}

struct Run {
    ending: Option<aws_rotate_keys::error::ErrorKind>,
    results: Vec<TaskResult>,
    steps: usize,
}

fn report(r: &Run) -> &aws_rotate_keys::rotation::Report {
    match &r.results[..] {
        [
            TaskResult {
                outcome: TaskOutcome::Rotation(rep),
                ..
            },
        ] => rep,
        other => panic!("expected one rotation, got {other:?}"),
    }
}

fn assert_installed(w: &World) {
    for file in [FileKind::Credentials, FileKind::Config] {
        let text = w.disk.text(file);
        assert!(text.contains(NEW) && text.contains(NEW_SECRET), "{text}");
        assert!(!text.contains(OLD), "{text}");
    }
    assert!(w.disk.credentials.starts_with("# mine\n"), "bytes kept");
    assert!(w.disk.config.contains("region = eu-west-1"), "bytes kept");
    assert!(w.disk.journals.is_empty());
    assert_eq!(
        w.keys(),
        [NEW],
        "the old key is gone, the delivered one stays"
    );
}

#[test]
fn pickup_installs_the_delivered_key_everywhere_then_deletes_the_old_one() {
    let mut w = World::new(Span::ZERO);
    let run = w.run(Mode::Pickup, "default", None).expect("not killed");
    assert_eq!(run.ending, None);
    let rep = report(&run);
    assert_eq!(rep.status, Status::Rotated);
    assert_eq!(rep.new_access_key_id, Some(id(NEW)));
    assert_eq!(rep.profiles, ["default", "ci"]);
    assert_installed(&w);
    // The delivery is read and the old key deleted with the old key.
    assert!(
        w.log.contains(&format!("GetSecretValue signed by {OLD}")),
        "{:?}",
        w.log
    );
    assert!(
        w.log.contains(&format!("DeleteAccessKey signed by {OLD}")),
        "{:?}",
        w.log
    );
    // A second pickup finds the key installed already.
    let again = w.run(Mode::Pickup, "default", None).expect("not killed");
    assert_eq!(again.ending, None);
    assert!(
        matches!(
            &again.results[0].outcome,
            TaskOutcome::NoDelivery { installed: Some(k), .. } if k.as_str() == NEW
        ),
        "{:?}",
        again.results
    );
}

#[test]
fn a_pickup_killed_after_any_step_finishes_when_run_again() {
    let total = World::new(Span::ZERO)
        .run(Mode::Pickup, "default", None)
        .expect("not killed")
        .steps;
    assert!(total >= 7, "{total} steps");
    for stop in 0..total {
        let mut w = World::new(Span::ZERO);
        assert!(w.run(Mode::Pickup, "default", Some(stop)).is_none());
        let run = w.run(Mode::Pickup, "default", None).expect("not killed");
        assert_eq!(
            run.ending, None,
            "killed after {stop} steps: {:?}",
            run.results
        );
        assert_installed(&w);
    }
}

#[test]
fn a_killed_pickup_finishes_with_the_new_key_when_the_old_one_was_deactivated_meanwhile() {
    // Killed right after the journal holds the delivered key; then the administrator's
    // `--deactivate-after` deactivates the old key. The rerun can sign with the new key only.
    let mut w = World::new(Span::ZERO);
    assert!(w.run(Mode::Pickup, "default", Some(4)).is_none());
    assert_eq!(
        w.disk.journals.len(),
        1,
        "killed after the journal was written"
    );
    w.iam.keys[0].status = KeyStatus::Inactive;
    let run = w.run(Mode::Pickup, "default", None).expect("not killed");
    assert_eq!(run.ending, None, "{:?}", run.results);
    assert_installed(&w);
}

#[test]
fn no_delivery_changes_nothing() {
    let mut w = World::new(Span::ZERO);
    w.secrets.clear();
    let before = w.disk.clone();
    let run = w.run(Mode::Pickup, "default", None).expect("not killed");
    assert_eq!(run.ending, None);
    assert!(matches!(
        &run.results[0].outcome,
        TaskOutcome::NoDelivery {
            installed: None,
            ..
        }
    ));
    assert_eq!(w.disk, before);
    assert_eq!(w.keys(), [OLD, NEW]);
}

#[test]
fn a_delivered_key_that_never_works_is_undone_and_left_for_the_administrator() {
    // Propagation longer than the verify timeout: the key never answers in time.
    let mut w = World::new(Span::from_secs(3600));
    w.iam.keys[1].valid_from = w.now.add(Span::from_secs(3600));
    let before = w.disk.clone();
    let run = w.run(Mode::Pickup, "default", None).expect("not killed");
    assert_eq!(report(&run).status, Status::RolledBack);
    assert!(run.ending.is_some());
    assert_eq!(w.disk.config, before.config);
    assert_eq!(w.disk.credentials, before.credentials);
    assert_eq!(
        w.keys(),
        [OLD, NEW],
        "the delivered key is not the undo's to delete"
    );
}

#[test]
fn a_user_who_may_not_delete_keys_leaves_the_old_key_and_ends_well() {
    let mut w = World::new(Span::ZERO);
    w.deny_delete = true;
    let run = w.run(Mode::Pickup, "default", None).expect("not killed");
    assert_eq!(run.ending, None, "{:?}", run.results);
    let rep = report(&run);
    assert_eq!(rep.status, Status::Rotated);
    assert_eq!(rep.old_key_action, None, "the old key was left");
    assert!(w.disk.credentials.contains(NEW));
    assert_eq!(w.keys(), [OLD, NEW]);
}

#[test]
fn rotate_installs_a_waiting_delivery_instead_of_creating_a_key() {
    let mut w = World::new(Span::ZERO);
    let run = w.run(Mode::Rotate, "ci", None).expect("not killed");
    assert_eq!(run.ending, None, "{:?}", run.results);
    assert_eq!(report(&run).new_access_key_id, Some(id(NEW)));
    assert_installed(&w);
}

#[test]
fn rotate_never_removes_a_delivered_key_to_make_room() {
    // The delivery replaces another key than the profile's: making room would remove it.
    let mut w = World::new(Span::ZERO);
    let other = DeliveredKey {
        user_name: UserName::new("alice"),
        access_key_id: id(NEW),
        secret: SecretAccessKey::new(NEW_SECRET).expect("a secret"),
        create_date: T0,
        replaces: id("AKIAELSEWHERE0000001"),
    };
    w.secrets.insert(
        "aws-rotate-keys/alice".into(),
        other.to_json().expose().clone(),
    );
    let before = w.disk.clone();
    let run = w.run(Mode::Rotate, "default", None).expect("not killed");
    assert!(run.ending.is_some());
    let TaskOutcome::Failed { failure, .. } = &run.results[0].outcome else {
        panic!("{:?}", run.results)
    };
    assert!(failure.message.contains("delivered"), "{}", failure.message);
    assert_eq!(w.disk, before);
    assert_eq!(w.keys(), [OLD, NEW]);
}

#[test]
fn rotate_without_secrets_manager_permissions_rotates_as_before() {
    // alice's second key is an inactive one of her own, and she cannot read Secrets Manager.
    let mut w = World::new(Span::ZERO);
    w.secrets.clear();
    w.no_secrets_manager = true;
    w.iam.keys[1].status = KeyStatus::Inactive;
    let run = w.run(Mode::Rotate, "default", None).expect("not killed");
    assert_eq!(run.ending, None, "{:?}", run.results);
    let rep = report(&run);
    assert_eq!(rep.status, Status::Rotated);
    assert_eq!(
        rep.removed_to_make_room,
        Some(id(NEW)),
        "the inactive key made room"
    );
    assert!(
        w.log.contains(&format!("CreateAccessKey signed by {OLD}")),
        "{:?}",
        w.log
    );
    assert_eq!(w.keys().len(), 1);
    assert!(!w.disk.credentials.contains(OLD));
}
