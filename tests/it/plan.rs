//! Table tests and properties of `plan::decide`: the room-making policy (spec promise 2), the
//! `--delete`, `--keep-old`, `--older-than` and `--yes` options, admin mode, and determinism.
//!
//! Inputs are built directly (no files are parsed), so these tests need nothing but the planner.

use aws_rotate_keys::error::ErrorKind;
use aws_rotate_keys::ini::FileKind;
use aws_rotate_keys::key::{AccessKeyId, KeyMeta, KeyStatus, SecretAccessKey, UserName};
use aws_rotate_keys::plan::{
    self, Decision, HeldKeys, Identity, OldKeyAction, Options, PlanError, RemovalReason, Target,
};
use aws_rotate_keys::profile::{Candidate, Holder};
use aws_rotate_keys::time::{Span, Timestamp};

const DAY: i64 = 86_400;
const NOW: Timestamp = Timestamp::from_secs(1_700_000_000);

fn id(s: &str) -> AccessKeyId {
    AccessKeyId::new(s).expect("test key ids are valid")
}

/// A key of the user, `age_days` old.
fn key(name: &str, status: KeyStatus, age_days: i64) -> KeyMeta {
    KeyMeta {
        access_key_id: id(name),
        status,
        create_date: Timestamp::from_secs(1_700_000_000 - age_days * DAY),
        last_used: None,
    }
}

fn alice() -> Identity {
    Identity::from_arn("arn:aws:iam::123456789012:user/alice").expect("a user ARN")
}

fn holder(file: FileKind, profile: &str, line: usize) -> Holder {
    let section = match (file, profile) {
        (FileKind::Config, "default") | (FileKind::Credentials, _) => profile.to_owned(),
        (FileKind::Config, _) => format!("profile {profile}"),
    };
    Holder {
        file,
        section: section.into(),
        profile: Some(profile.into()),
        line,
    }
}

/// The exit status the spec gives a run that ends with this kind of error.
fn exit_status(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Usage => 252,
        ErrorKind::Config => 253,
        ErrorKind::Service => 254,
        ErrorKind::Other => 255,
    }
}

/// The profiles `profiles` hold key `key_id` (in the credentials file).
fn candidate(key_id: &str, profiles: &[&str]) -> Candidate {
    Candidate {
        profiles: profiles.iter().map(|&p| p.into()).collect(),
        holder: profiles[0].into(),
        access_key_id: id(key_id),
        secret: SecretAccessKey::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY").expect("valid"),
        mfa_serial: None,
    }
}

/// Which profiles hold which key, as `AwsFiles::held_keys` reports it.
fn held(entries: &[(&str, &[&str])]) -> HeldKeys {
    entries
        .iter()
        .flat_map(|(key_id, profiles)| {
            profiles
                .iter()
                .enumerate()
                .map(|(i, p)| (id(key_id), holder(FileKind::Credentials, p, 2 + 4 * i)))
        })
        .collect()
}

fn delete(key_id: &str) -> Options {
    Options {
        delete: Some(id(key_id)),
        ..Options::default()
    }
}

/// A decision in one line, for table comparisons: `rotate old=A:Delete room=B:InactiveAndUnused:confirm`,
/// `skip A`, or `refuse 252 KeyHeldElsewhere`.
fn summary(d: &Decision) -> String {
    match d {
        Decision::Rotate(p) => {
            let mut s = String::from("rotate");
            match &p.old_key {
                Some(o) => s.push_str(&format!(" old={}:{:?}", o.access_key_id, o.action)),
                None => s.push_str(" old=none"),
            }
            if let Some(r) = &p.make_room {
                s.push_str(&format!(" room={}:{:?}", r.access_key_id, r.reason));
                if r.needs_confirmation {
                    s.push_str(":confirm");
                }
            }
            s
        }
        Decision::Skip(skip) => match &skip.access_key_id {
            Some(k) => format!("skip {k}"),
            None => "skip".into(),
        },
        Decision::Refuse(e) => format!("refuse {} {}", exit_status(e.kind()), variant(e)),
    }
}

fn variant(e: &PlanError) -> &'static str {
    match e {
        PlanError::KeyHeldElsewhere { .. } => "KeyHeldElsewhere",
        PlanError::DeleteNotFound { .. } => "DeleteNotFound",
        PlanError::DeleteInUse { .. } => "DeleteInUse",
        PlanError::DeleteAndKeepOld { .. } => "DeleteAndKeepOld",
        PlanError::DeleteNotNeeded { .. } => "DeleteNotNeeded",
        PlanError::KeyNotListed { .. } => "KeyNotListed",
        PlanError::TooManyKeys { .. } => "TooManyKeys",
        PlanError::AdminKeyHeld { .. } => "AdminKeyHeld",
        _ => "unknown",
    }
}

struct Case {
    name: &'static str,
    target: Target,
    keys: Vec<KeyMeta>,
    held: HeldKeys,
    options: Options,
    expect: &'static str,
}

fn profile_target(key_id: &str) -> Target {
    Target::Profiles(candidate(key_id, &["default"]))
}

fn admin_target() -> Target {
    Target::User(UserName::new("alice"))
}

use KeyStatus::{Active, Expired, Inactive};

fn cases() -> Vec<Case> {
    let in_use = || held(&[("AKIAUSED", &["default"])]);
    vec![
        // Spec promise 2: room only when both slots are taken; at most one key, never the one in use.
        Case {
            name: "one key: rotate, no room needed, no question",
            target: profile_target("AKIAUSED"),
            keys: vec![key("AKIAUSED", Active, 100)],
            held: in_use(),
            options: Options::default(),
            expect: "rotate old=AKIAUSED:Delete",
        },
        Case {
            name: "an inactive key no profile holds makes room",
            target: profile_target("AKIAUSED"),
            keys: vec![key("AKIAUSED", Active, 100), key("AKIAOTHER", Inactive, 10)],
            held: in_use(),
            options: Options::default(),
            expect: "rotate old=AKIAUSED:Delete room=AKIAOTHER:InactiveAndUnused:confirm",
        },
        Case {
            name: "an expired key counts as inactive",
            target: profile_target("AKIAUSED"),
            keys: vec![key("AKIAOTHER", Expired, 10), key("AKIAUSED", Active, 100)],
            held: in_use(),
            options: Options::default(),
            expect: "rotate old=AKIAUSED:Delete room=AKIAOTHER:InactiveAndUnused:confirm",
        },
        Case {
            name: "an active key no profile holds makes room",
            target: profile_target("AKIAUSED"),
            keys: vec![key("AKIAUSED", Active, 100), key("AKIAOTHER", Active, 400)],
            held: in_use(),
            options: Options::default(),
            expect: "rotate old=AKIAUSED:Delete room=AKIAOTHER:ActiveAndUnused:confirm",
        },
        Case {
            name: "--yes accepts the proposal without asking",
            target: profile_target("AKIAUSED"),
            keys: vec![key("AKIAUSED", Active, 100), key("AKIAOTHER", Active, 400)],
            held: in_use(),
            options: Options {
                yes: true,
                ..Options::default()
            },
            expect: "rotate old=AKIAUSED:Delete room=AKIAOTHER:ActiveAndUnused",
        },
        Case {
            name: "an inactive key another profile holds is not removed without --delete",
            target: profile_target("AKIAUSED"),
            keys: vec![key("AKIAUSED", Active, 100), key("AKIAOTHER", Inactive, 10)],
            held: held(&[("AKIAUSED", &["default"]), ("AKIAOTHER", &["ci"])]),
            options: Options {
                yes: true,
                ..Options::default()
            },
            expect: "refuse 252 KeyHeldElsewhere",
        },
        Case {
            name: "an active key another profile holds is not removed without --delete",
            target: profile_target("AKIAUSED"),
            keys: vec![key("AKIAUSED", Active, 100), key("AKIAOTHER", Active, 10)],
            held: held(&[("AKIAUSED", &["default"]), ("AKIAOTHER", &["ci"])]),
            options: Options::default(),
            expect: "refuse 252 KeyHeldElsewhere",
        },
        Case {
            name: "--delete removes a key another profile holds, without asking",
            target: profile_target("AKIAUSED"),
            keys: vec![key("AKIAUSED", Active, 100), key("AKIAOTHER", Active, 10)],
            held: held(&[("AKIAUSED", &["default"]), ("AKIAOTHER", &["ci"])]),
            options: delete("AKIAOTHER"),
            expect: "rotate old=AKIAUSED:Delete room=AKIAOTHER:NamedByDelete",
        },
        Case {
            name: "--delete of an unheld key: no question either",
            target: profile_target("AKIAUSED"),
            keys: vec![key("AKIAUSED", Active, 100), key("AKIAOTHER", Inactive, 10)],
            held: in_use(),
            options: delete("AKIAOTHER"),
            expect: "rotate old=AKIAUSED:Delete room=AKIAOTHER:NamedByDelete",
        },
        Case {
            name: "--delete naming the key in use while its slot is needed",
            target: profile_target("AKIAUSED"),
            keys: vec![key("AKIAUSED", Active, 100), key("AKIAOTHER", Inactive, 10)],
            held: in_use(),
            options: delete("AKIAUSED"),
            expect: "refuse 252 DeleteInUse",
        },
        Case {
            name: "--delete naming a key the user does not have",
            target: profile_target("AKIAUSED"),
            keys: vec![key("AKIAUSED", Active, 100), key("AKIAOTHER", Inactive, 10)],
            held: in_use(),
            options: delete("AKIAMISSING"),
            expect: "refuse 252 DeleteNotFound",
        },
        Case {
            name: "--delete naming a missing key when no room is needed",
            target: profile_target("AKIAUSED"),
            keys: vec![key("AKIAUSED", Active, 100)],
            held: in_use(),
            options: delete("AKIAMISSING"),
            expect: "refuse 252 DeleteNotFound",
        },
        Case {
            // With a free slot, the only key is the one in use: naming it only repeats the default.
            name: "--delete naming the key in use with a free slot: it is the old key, deleted at the end",
            target: profile_target("AKIAUSED"),
            keys: vec![key("AKIAUSED", Active, 100)],
            held: in_use(),
            options: delete("AKIAUSED"),
            expect: "rotate old=AKIAUSED:Delete",
        },
        Case {
            name: "--delete and --keep-old for the same key contradict",
            target: profile_target("AKIAUSED"),
            keys: vec![key("AKIAUSED", Active, 100)],
            held: in_use(),
            options: Options {
                keep_old: true,
                ..delete("AKIAUSED")
            },
            expect: "refuse 252 DeleteAndKeepOld",
        },
        Case {
            name: "the profile's key is not one of the user's keys",
            target: profile_target("AKIAUSED"),
            keys: vec![key("AKIAOTHER", Active, 100)],
            held: in_use(),
            options: Options::default(),
            expect: "refuse 253 KeyNotListed",
        },
        Case {
            name: "more keys than IAM allows: nothing is removed blindly",
            target: profile_target("AKIAUSED"),
            keys: vec![
                key("AKIAUSED", Active, 100),
                key("AKIAB", Inactive, 10),
                key("AKIAC", Inactive, 20),
            ],
            held: in_use(),
            options: Options {
                yes: true,
                ..Options::default()
            },
            expect: "refuse 252 TooManyKeys",
        },
        // --keep-old
        Case {
            name: "--keep-old deactivates the replaced key",
            target: profile_target("AKIAUSED"),
            keys: vec![key("AKIAUSED", Active, 100)],
            held: in_use(),
            options: Options {
                keep_old: true,
                ..Options::default()
            },
            expect: "rotate old=AKIAUSED:Deactivate",
        },
        Case {
            name: "--keep-old with room to make: the unheld key still goes first",
            target: profile_target("AKIAUSED"),
            keys: vec![
                key("AKIAUSED", Active, 100),
                key("AKIAOTHER", Inactive, 200),
            ],
            held: in_use(),
            options: Options {
                keep_old: true,
                yes: true,
                ..Options::default()
            },
            expect: "rotate old=AKIAUSED:Deactivate room=AKIAOTHER:InactiveAndUnused",
        },
        // --older-than
        Case {
            name: "--older-than: a young key is skipped",
            target: profile_target("AKIAUSED"),
            keys: vec![key("AKIAUSED", Active, 30)],
            held: in_use(),
            options: Options {
                older_than: Some(Span::from_secs(90 * 86_400)),
                ..Options::default()
            },
            expect: "skip AKIAUSED",
        },
        Case {
            name: "--older-than: an old key is rotated",
            target: profile_target("AKIAUSED"),
            keys: vec![key("AKIAUSED", Active, 91)],
            held: in_use(),
            options: Options {
                older_than: Some(Span::from_secs(90 * 86_400)),
                ..Options::default()
            },
            expect: "rotate old=AKIAUSED:Delete",
        },
        Case {
            name: "--older-than: the age is the replaced key's, not the other key's",
            target: profile_target("AKIAUSED"),
            keys: vec![key("AKIAUSED", Active, 30), key("AKIAOTHER", Inactive, 500)],
            held: in_use(),
            options: Options {
                older_than: Some(Span::from_secs(90 * 86_400)),
                ..Options::default()
            },
            expect: "skip AKIAUSED",
        },
        Case {
            // Nothing is rotated, so no room is needed: a key that is not due is skipped (exit 0),
            // whatever holds the other key. A cron job with `--older-than` must not fail daily.
            name: "--older-than: a young key is skipped even where no room could be made",
            target: profile_target("AKIAUSED"),
            keys: vec![key("AKIAUSED", Active, 30), key("AKIAOTHER", Active, 10)],
            held: held(&[("AKIAUSED", &["default"]), ("AKIAOTHER", &["ci"])]),
            options: Options {
                older_than: Some(Span::from_secs(90 * 86_400)),
                yes: true,
                ..Options::default()
            },
            expect: "skip AKIAUSED",
        },
        // Ordering of the policy
        Case {
            name: "inactive before active, whatever their age",
            target: admin_target(),
            keys: vec![
                key("AKIAOLDACTIVE", Active, 900),
                key("AKIAYOUNGINACTIVE", Inactive, 1),
            ],
            held: HeldKeys::default(),
            options: Options {
                yes: true,
                ..Options::default()
            },
            expect: "rotate old=AKIAOLDACTIVE:Keep room=AKIAYOUNGINACTIVE:InactiveAndUnused",
        },
        Case {
            name: "admin: --older-than looks at the user's newest key",
            target: admin_target(),
            keys: vec![key("AKIAA", Active, 300), key("AKIAB", Active, 10)],
            held: HeldKeys::default(),
            options: Options {
                older_than: Some(Span::from_secs(90 * 86_400)),
                ..Options::default()
            },
            expect: "skip AKIAB",
        },
        Case {
            name: "between two active unheld keys, the oldest goes",
            target: admin_target(),
            keys: vec![key("AKIAYOUNG", Active, 10), key("AKIAOLD", Active, 300)],
            held: HeldKeys::default(),
            options: Options::default(),
            expect: "rotate old=AKIAYOUNG:Keep room=AKIAOLD:ActiveAndUnused:confirm",
        },
        Case {
            name: "between two inactive unheld keys, the oldest goes",
            target: admin_target(),
            keys: vec![
                key("AKIAYOUNG", Inactive, 10),
                key("AKIAOLD", Inactive, 300),
            ],
            held: HeldKeys::default(),
            options: Options {
                yes: true,
                ..Options::default()
            },
            expect: "rotate old=AKIAYOUNG:Keep room=AKIAOLD:InactiveAndUnused",
        },
        Case {
            name: "a held key is passed over for an unheld one",
            target: admin_target(),
            keys: vec![key("AKIAHELD", Inactive, 300), key("AKIAFREE", Active, 10)],
            held: held(&[("AKIAHELD", &["ci"])]),
            options: Options {
                yes: true,
                ..Options::default()
            },
            expect: "rotate old=AKIAHELD:Keep room=AKIAFREE:ActiveAndUnused",
        },
        // Admin mode
        Case {
            name: "admin: the old key stays active by default",
            target: admin_target(),
            keys: vec![key("AKIABOB", Active, 100)],
            held: HeldKeys::default(),
            options: Options::default(),
            expect: "rotate old=AKIABOB:Keep",
        },
        Case {
            name: "admin: --keep-old deactivates",
            target: admin_target(),
            keys: vec![key("AKIABOB", Active, 100)],
            held: HeldKeys::default(),
            options: Options {
                keep_old: true,
                ..Options::default()
            },
            expect: "rotate old=AKIABOB:Deactivate",
        },
        Case {
            name: "admin: --delete of the old key deletes it",
            target: admin_target(),
            keys: vec![key("AKIABOB", Active, 100)],
            held: HeldKeys::default(),
            options: delete("AKIABOB"),
            expect: "rotate old=AKIABOB:Delete",
        },
        Case {
            name: "admin: a user without keys gets a first one",
            target: admin_target(),
            keys: vec![],
            held: HeldKeys::default(),
            options: Options::default(),
            expect: "rotate old=none",
        },
        Case {
            name: "admin: --delete makes room, the other key is kept",
            target: admin_target(),
            keys: vec![key("AKIAA", Active, 100), key("AKIAB", Active, 10)],
            held: HeldKeys::default(),
            options: delete("AKIAB"),
            expect: "rotate old=AKIAA:Keep room=AKIAB:NamedByDelete",
        },
        Case {
            name: "admin: --keep-old of a key a profile holds would break that profile",
            target: admin_target(),
            keys: vec![key("AKIABOB", Active, 100)],
            held: held(&[("AKIABOB", &["bob"])]),
            options: Options {
                keep_old: true,
                ..Options::default()
            },
            expect: "refuse 252 AdminKeyHeld",
        },
        Case {
            name: "admin: keys the caller's files hold are protected too",
            target: admin_target(),
            keys: vec![key("AKIAA", Active, 100), key("AKIAB", Active, 10)],
            held: held(&[("AKIAA", &["bob"]), ("AKIAB", &["bob-ci"])]),
            options: Options {
                yes: true,
                ..Options::default()
            },
            expect: "refuse 252 KeyHeldElsewhere",
        },
    ]
}

#[test]
fn decision_table() {
    let mut failures = Vec::new();
    for case in cases() {
        let got = summary(&plan::decide(
            &case.target,
            &alice(),
            &case.keys,
            &case.held,
            &case.options,
            NOW,
        ));
        if got != case.expect {
            failures.push(format!(
                "{}\n    expected: {}\n    got:      {got}",
                case.name, case.expect
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn rotate(d: Decision) -> plan::Plan {
    match d {
        Decision::Rotate(p) => p,
        other => panic!("expected a plan, got {other:?}"),
    }
}

fn refuse(d: Decision) -> PlanError {
    match d {
        Decision::Refuse(e) => e,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn plan_carries_profiles_files_and_removal_details() {
    let c = candidate("AKIAUSED", &["default", "work"]);
    let mut held = held(&[("AKIAUSED", &["default"])]);
    held.add(id("AKIAUSED"), holder(FileKind::Config, "work", 7));
    let mut other = key("AKIAOTHER", Inactive, 10);
    other.last_used = Some(Timestamp::from_secs(1_690_000_000));
    let keys = vec![key("AKIAUSED", Active, 100), other];
    let options = Options {
        verify_timeout: Span::from_secs(30),
        ..Options::default()
    };
    let p = rotate(plan::decide(
        &Target::Profiles(c.clone()),
        &alice(),
        &keys,
        &held,
        &options,
        NOW,
    ));
    assert_eq!(p.profiles, vec!["default".to_owned(), "work".to_owned()]);
    assert_eq!(p.user_name, UserName::new("alice"));
    assert_eq!(p.account, "123456789012");
    assert!(!p.admin);
    // Every place that holds the key, in either file.
    assert_eq!(Some(p.files.as_slice()), held.get(&id("AKIAUSED")));
    assert_eq!(p.verify_timeout, Span::from_secs(30));
    let old = p.old_key.expect("an old key");
    assert_eq!(old.age, Span::from_secs(100 * 86_400));
    assert_eq!(old.status, Active);
    let room = p.make_room.expect("room is needed");
    assert_eq!(room.access_key_id, id("AKIAOTHER"));
    assert_eq!(room.status, Inactive);
    assert_eq!(room.last_used, Some(Timestamp::from_secs(1_690_000_000)));
    assert!(room.held_by.is_empty());
}

#[test]
fn delete_of_a_held_key_names_its_holders() {
    let keys = vec![key("AKIAUSED", Active, 100), key("AKIAOTHER", Active, 10)];
    let h = held(&[("AKIAUSED", &["default"]), ("AKIAOTHER", &["deploy", "ci"])]);
    let p = rotate(plan::decide(
        &profile_target("AKIAUSED"),
        &alice(),
        &keys,
        &h,
        &delete("AKIAOTHER"),
        NOW,
    ));
    let room = p.make_room.expect("room");
    assert_eq!(room.held_by, vec!["ci".to_owned(), "deploy".to_owned()]);
    assert!(!room.needs_confirmation);
}

#[test]
fn refusals_name_the_key_and_the_way_out() {
    let keys = vec![key("AKIAUSED", Active, 100), key("AKIAOTHER", Active, 10)];
    let h = held(&[("AKIAUSED", &["default"]), ("AKIAOTHER", &["ci"])]);
    let e = refuse(plan::decide(
        &profile_target("AKIAUSED"),
        &alice(),
        &keys,
        &h,
        &Options::default(),
        NOW,
    ));
    assert_eq!(
        e,
        PlanError::KeyHeldElsewhere {
            user: UserName::new("alice"),
            key: id("AKIAOTHER"),
            held_by: vec!["ci".into()]
        }
    );
    assert_eq!(e.kind(), ErrorKind::Usage);
    let msg = e.to_string();
    assert!(msg.contains("--delete AKIAOTHER"), "{msg}");
    assert!(msg.contains("ci"), "{msg}");

    let e = refuse(plan::decide(
        &profile_target("AKIAUSED"),
        &alice(),
        &keys,
        &h,
        &delete("AKIANOPE"),
        NOW,
    ));
    assert_eq!(
        e,
        PlanError::DeleteNotFound {
            user: UserName::new("alice"),
            key: id("AKIANOPE")
        }
    );
    assert!(e.to_string().contains("AKIANOPE"));

    let e = refuse(plan::decide(
        &profile_target("AKIAUSED"),
        &alice(),
        &keys,
        &h,
        &delete("AKIAUSED"),
        NOW,
    ));
    assert_eq!(
        e,
        PlanError::DeleteInUse {
            key: id("AKIAUSED")
        }
    );

    let e = refuse(plan::decide(
        &profile_target("AKIAGONE"),
        &alice(),
        &keys,
        &h,
        &Options::default(),
        NOW,
    ));
    assert_eq!(
        e,
        PlanError::KeyNotListed {
            profile: "default".into(),
            key: id("AKIAGONE"),
            user: UserName::new("alice")
        }
    );
    assert_eq!(e.kind(), ErrorKind::Config);
}

#[test]
fn a_key_held_only_by_a_non_profile_section_is_still_held() {
    let keys = vec![key("AKIAUSED", Active, 100), key("AKIAOTHER", Inactive, 10)];
    let default = Holder {
        file: FileKind::Credentials,
        section: "DEFAULT".into(),
        profile: None,
        line: 1,
    };
    let used = holder(FileKind::Credentials, "default", 2);
    let h: HeldKeys = [(id("AKIAUSED"), used), (id("AKIAOTHER"), default)]
        .into_iter()
        .collect();
    let e = refuse(plan::decide(
        &profile_target("AKIAUSED"),
        &alice(),
        &keys,
        &h,
        &Options::default(),
        NOW,
    ));
    assert_eq!(
        e,
        PlanError::KeyHeldElsewhere {
            user: UserName::new("alice"),
            key: id("AKIAOTHER"),
            held_by: vec!["[DEFAULT]".into()]
        }
    );
}

#[test]
fn skip_reports_age_and_threshold() {
    let keys = vec![key("AKIAUSED", Active, 30)];
    let options = Options {
        older_than: Some(Span::from_secs(90 * 86_400)),
        ..Options::default()
    };
    match plan::decide(
        &profile_target("AKIAUSED"),
        &alice(),
        &keys,
        &held(&[]),
        &options,
        NOW,
    ) {
        Decision::Skip(s) => {
            assert_eq!(s.profiles, vec!["default".to_owned()]);
            assert_eq!(s.access_key_id, Some(id("AKIAUSED")));
            assert_eq!(s.age, Span::from_secs(30 * 86_400));
            assert_eq!(s.older_than, Span::from_secs(90 * 86_400));
        }
        other => panic!("expected a skip, got {other:?}"),
    }
}

#[test]
fn admin_plan_writes_no_file() {
    let keys = vec![key("AKIABOB", Active, 100)];
    let bob = Identity::from_arn("arn:aws:iam::123456789012:user/team/bob").expect("a user ARN");
    let p = rotate(plan::decide(
        &Target::User(UserName::new("bob")),
        &bob,
        &keys,
        &HeldKeys::default(),
        &Options::default(),
        NOW,
    ));
    assert!(p.admin);
    assert!(p.profiles.is_empty());
    assert!(p.files.is_empty());
    assert_eq!(p.user_name, UserName::new("bob"));
    assert_eq!(p.old_key.map(|o| o.action), Some(OldKeyAction::Keep));
}

#[test]
fn same_inputs_same_plan() {
    for case in cases() {
        let a = plan::decide(
            &case.target,
            &alice(),
            &case.keys,
            &case.held,
            &case.options,
            NOW,
        );
        let b = plan::decide(
            &case.target,
            &alice(),
            &case.keys,
            &case.held,
            &case.options,
            NOW,
        );
        assert_eq!(a, b, "{}", case.name);
        // IAM lists keys in no promised order: the decision must not depend on it.
        let mut reversed = case.keys.clone();
        reversed.reverse();
        let c = plan::decide(
            &case.target,
            &alice(),
            &reversed,
            &case.held,
            &case.options,
            NOW,
        );
        assert_eq!(
            summary(&a),
            summary(&c),
            "{}: key order changed the decision",
            case.name
        );
        if !matches!(a, Decision::Refuse(_)) {
            assert_eq!(a, c, "{}: key order changed the decision", case.name);
        }
    }
}

#[test]
fn identity_from_arn() {
    let i =
        Identity::from_arn("arn:aws:iam::123456789012:user/division/team/carol").expect("a user");
    assert_eq!(i.user_name, UserName::new("carol"));
    assert_eq!(i.account, "123456789012");
    assert!(i.is_same_user("arn:aws:iam::123456789012:user/carol"));
    assert!(!i.is_same_user("arn:aws:iam::999999999999:user/division/team/carol"));
    assert!(!i.is_same_user("arn:aws:sts::123456789012:assumed-role/r/carol"));
    for bad in [
        "arn:aws:sts::123456789012:assumed-role/admin/carol",
        "arn:aws:iam::123456789012:root",
        "arn:aws:iam::123456789012:role/carol",
        "arn:aws:iam::123456789012:user/",
        "not an arn",
        "arn:aws:iam::123456789012",
        "arn:aws:iam:x:123456789012:user/carol",
        ":aws:iam::123456789012:user/carol",
        "arn:aws:iam:::user/carol",
    ] {
        assert!(Identity::from_arn(bad).is_err(), "{bad}");
    }
    // A colon past the fifth belongs to the resource.
    let odd = Identity::from_arn("arn:aws-cn:iam::123456789012:user/a:b").expect("a user");
    assert_eq!(odd.user_name, UserName::new("a:b"));
}

proptest::proptest! {
    /// The ARN reader agrees with the rules spelled out as `str::splitn` reads them.
    #[test]
    fn identity_from_arn_reads_the_six_fields(
        fields in (
            "arn|x|",
            "aws|aws-cn|",
            "iam|sts|:",
            "|x|:",
            "123456789012||1:2",
            "user/a|user/p/q/b|user/|user/a/|role/r|user/a:b|user/é|",
        ),
        count in 1..=6usize,
    ) {
        let (f0, f1, f2, f3, f4, f5) = fields;
        let arn = [f0, f1, f2, f3, f4, f5][..count].join(":");
        let mut parts = arn.splitn(6, ':');
        let fields: Vec<&str> = (0..6).filter_map(|_| parts.next()).collect();
        let want = match fields[..] {
            ["arn", _, "iam", "", account, resource] if !account.is_empty() => resource
                .strip_prefix("user/")
                .and_then(|p| p.rsplit('/').next())
                .filter(|name| !name.is_empty())
                .map(|name| (account.to_owned(), UserName::new(name))),
            _ => None,
        };
        let got = Identity::from_arn(&arn).ok();
        proptest::prop_assert_eq!(got.as_ref().map(|i| i.arn.as_str()), want.as_ref().map(|_| arn.as_str()));
        let got = got.map(|i| (i.account.to_string(), i.user_name));
        proptest::prop_assert_eq!(got, want);
    }
}

// ---------------------------------------------------------------------------------------------
// Properties: the same rules, over random key sets, against a small reference model.

mod props {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    struct World {
        /// (status, age in days, held by a profile of the files)
        keys: Vec<(KeyStatus, i64, bool)>,
        /// Index of the key in use; `None`: admin mode. `Some(99)`: a key that is not listed.
        in_use: Option<usize>,
        /// `--delete`: an index, or 99 for a key that does not exist.
        delete: Option<usize>,
        keep_old: bool,
        yes: bool,
        older_than_days: Option<i64>,
    }

    fn name(i: usize) -> String {
        format!("AKIAKEY{i:02}")
    }

    fn world() -> impl Strategy<Value = World> {
        let status = prop_oneof![Just(Active), Just(Inactive), Just(Expired)];
        // Ages from a small set make ties (same create date) likely.
        let one = (
            status,
            prop_oneof![Just(5i64), Just(100), 0i64..1000],
            any::<bool>(),
        );
        (
            prop::collection::vec(one, 0..=3),
            any::<u8>(),
            any::<u8>(),
            any::<bool>(),
            any::<bool>(),
            any::<u8>(),
        )
            .prop_map(|(keys, u, d, keep_old, yes, o)| {
                let n = keys.len();
                let pick = |b: u8| match b % 8 {
                    0 | 1 => None,
                    2 => Some(99),
                    _ if n == 0 => None,
                    x => Some(usize::from(x) % n),
                };
                World {
                    in_use: match u % 6 {
                        0 => None,
                        1 => Some(99),
                        _ if n == 0 => Some(99),
                        x => Some(usize::from(x) % n),
                    },
                    delete: pick(d),
                    keys,
                    keep_old,
                    yes,
                    older_than_days: match o % 3 {
                        0 => None,
                        1 => Some(90),
                        _ => Some(i64::from(o % 200)),
                    },
                }
            })
    }

    struct Inputs {
        target: Target,
        keys: Vec<KeyMeta>,
        held: HeldKeys,
        options: Options,
    }

    fn inputs(w: &World) -> Inputs {
        let keys: Vec<KeyMeta> = w
            .keys
            .iter()
            .enumerate()
            .map(|(i, (status, age, _))| key(&name(i), *status, *age))
            .collect();
        let held: HeldKeys = w
            .keys
            .iter()
            .enumerate()
            .filter(|&(i, (_, _, is_held))| *is_held || w.in_use == Some(i))
            .map(|(i, _)| {
                let profile = if w.in_use == Some(i) {
                    "default".to_owned()
                } else {
                    format!("p{i}")
                };
                (id(&name(i)), holder(FileKind::Credentials, &profile, i + 1))
            })
            .collect();
        let target = match w.in_use {
            None => Target::User(UserName::new("alice")),
            Some(i) => Target::Profiles(candidate(&name(i), &["default"])),
        };
        let options = Options {
            delete: w.delete.map(|i| id(&name(i))),
            keep_old: w.keep_old,
            yes: w.yes,
            older_than: w
                .older_than_days
                .map(|d| Span::from_secs(d as u64 * 86_400)),
            ..Options::default()
        };
        Inputs {
            target,
            keys,
            held,
            options,
        }
    }

    /// What the spec says the decision is, in `summary` form.
    fn reference(w: &World) -> String {
        let n = w.keys.len();
        let exists = |i: usize| i < n;
        let full = n >= 2;
        let admin = w.in_use.is_none();
        let held = |i: usize| w.keys[i].2 || w.in_use == Some(i);
        if let Some(d) = w.delete
            && !exists(d)
        {
            return "refuse 252 DeleteNotFound".into();
        }
        if n > 2 {
            return "refuse 252 TooManyKeys".into();
        }
        if let Some(u) = w.in_use
            && !exists(u)
        {
            return "refuse 253 KeyNotListed".into();
        }
        let not_due = |i: usize| w.older_than_days.is_some_and(|d| w.keys[i].1 < d);
        // Not due: nothing else matters (a daily cron run must not stop over a decision it does
        // not need yet). In admin mode the user's newest key tells when they last rotated.
        let newest = w
            .in_use
            .or_else(|| (0..n).max_by_key(|&i| (-w.keys[i].1, name(i))));
        if let Some(k) = newest
            && not_due(k)
        {
            return format!("skip {}", name(k));
        }
        if full && w.delete.is_some() && w.delete == w.in_use {
            return "refuse 252 DeleteInUse".into();
        }
        // The policy's proposal: unheld keys other than the one in use, inactive first, oldest first.
        let mut free: Vec<usize> = (0..n)
            .filter(|&i| Some(i) != w.in_use && !held(i))
            .collect();
        free.sort_by_key(|&i| (w.keys[i].0 == Active, -w.keys[i].1, name(i)));
        let room: Option<(usize, RemovalReason, bool)> = if !full {
            None
        } else if let Some(d) = w.delete {
            Some((d, RemovalReason::NamedByDelete, false))
        } else if let Some(&f) = free.first() {
            let reason = if w.keys[f].0 == Active {
                RemovalReason::ActiveAndUnused
            } else {
                RemovalReason::InactiveAndUnused
            };
            Some((f, reason, !w.yes))
        } else {
            return "refuse 252 KeyHeldElsewhere".into();
        };
        let old = match w.in_use {
            Some(u) => Some(u),
            None => (0..n)
                .filter(|&i| room.is_none_or(|(r, _, _)| r != i))
                .max_by_key(|&i| (-w.keys[i].1, name(i))),
        };
        let mut s = String::from("rotate");
        match old {
            Some(o) => {
                let named = w.delete == Some(o);
                if named && w.keep_old {
                    return "refuse 252 DeleteAndKeepOld".into();
                }
                let action = if w.keep_old {
                    OldKeyAction::Deactivate
                } else if admin && !named {
                    OldKeyAction::Keep
                } else {
                    OldKeyAction::Delete
                };
                // Admin mode writes no file: it must not retire a key that a profile holds.
                if admin && action != OldKeyAction::Keep && !named && held(o) {
                    return "refuse 252 AdminKeyHeld".into();
                }
                s.push_str(&format!(" old={}:{action:?}", name(o)));
            }
            None => s.push_str(" old=none"),
        }
        if let Some((r, reason, confirm)) = room {
            s.push_str(&format!(" room={}:{reason:?}", name(r)));
            if confirm {
                s.push_str(":confirm");
            }
        } else if let Some(d) = w.delete
            && old != Some(d)
        {
            return "refuse 252 DeleteNotNeeded".into();
        }
        s
    }

    proptest! {
        #[test]
        fn decide_follows_the_policy(w in world()) {
            let i = inputs(&w);
            let d = plan::decide(&i.target, &alice(), &i.keys, &i.held, &i.options, NOW);
            prop_assert_eq!(summary(&d), reference(&w), "{:?}", w);
        }

        #[test]
        fn decide_never_touches_what_it_must_not(w in world()) {
            let i = inputs(&w);
            let d = plan::decide(&i.target, &alice(), &i.keys, &i.held, &i.options, NOW);
            if let Decision::Rotate(p) = &d {
                // At most one removal, only when both slots are taken, never the key in use.
                prop_assert_eq!(p.make_room.is_some(), i.keys.len() == 2);
                if let Some(r) = &p.make_room {
                    if let Target::Profiles(c) = &i.target {
                        prop_assert_ne!(&r.access_key_id, &c.access_key_id);
                    }
                    // A held key only by --delete.
                    if i.held.contains_key(&r.access_key_id) {
                        prop_assert_eq!(r.reason, RemovalReason::NamedByDelete);
                        prop_assert_eq!(i.options.delete.as_ref(), Some(&r.access_key_id));
                    }
                    // Asks exactly when neither --yes nor --delete answered.
                    prop_assert_eq!(r.needs_confirmation, !i.options.yes && i.options.delete.is_none());
                    if let Some(o) = &p.old_key {
                        prop_assert_ne!(&o.access_key_id, &r.access_key_id);
                    }
                }
                if let Some(o) = &p.old_key {
                    if let Some(t) = i.options.older_than {
                        prop_assert!(o.age >= t);
                    }
                    if i.options.keep_old {
                        prop_assert_eq!(o.action, OldKeyAction::Deactivate);
                    }
                }
                prop_assert_eq!(p.admin, matches!(i.target, Target::User(_)));
            }
            if let Decision::Refuse(e) = &d {
                prop_assert!(matches!(e.kind(), ErrorKind::Usage | ErrorKind::Config));
            }
            // Determinism, and independence from the order IAM lists keys in.
            let again = plan::decide(&i.target, &alice(), &i.keys, &i.held, &i.options, NOW);
            prop_assert_eq!(&d, &again);
            let mut reversed = i.keys.clone();
            reversed.reverse();
            let r = plan::decide(&i.target, &alice(), &reversed, &i.held, &i.options, NOW);
            prop_assert_eq!(summary(&d), summary(&r));
        }
    }
}

#[test]
fn held_keys_group_each_keys_holders_in_the_order_given() {
    let h = |p: &str, line| holder(FileKind::Credentials, p, line);
    // Interleaved: the holders of one key are not neighbours in the files.
    let pairs = [
        (id("AKIAB"), h("b1", 1)),
        (id("AKIAA"), h("a1", 2)),
        (id("AKIAB"), h("b2", 3)),
        (id("AKIAC"), h("c1", 4)),
        (id("AKIAA"), h("a2", 5)),
        (id("AKIAB"), h("b3", 6)),
    ];
    let held: HeldKeys = pairs.iter().cloned().collect();
    assert_eq!(held.len(), 3);
    assert!(!held.is_empty());
    assert_eq!(
        held.keys().map(AccessKeyId::as_str).collect::<Vec<_>>(),
        ["AKIAB", "AKIAA", "AKIAC"],
        "keys in the order first given"
    );
    for key in ["AKIAA", "AKIAB", "AKIAC"] {
        let want: Vec<Holder> = pairs
            .iter()
            .filter(|(k, _)| k.as_str() == key)
            .map(|(_, h)| h.clone())
            .collect();
        assert_eq!(held.get(&id(key)), Some(&want[..]), "{key}");
        assert!(held.contains_key(&id(key)));
    }
    assert_eq!(held.get(&id("AKIAZ")), None);
    assert!(!held.contains_key(&id("AKIAZ")));
    let listed: Vec<(String, usize)> = held
        .iter()
        .map(|(k, hs)| (k.to_string(), hs.len()))
        .collect();
    assert_eq!(
        listed,
        [
            ("AKIAB".into(), 3),
            ("AKIAA".into(), 2),
            ("AKIAC".into(), 1)
        ]
    );
    assert!(HeldKeys::default().is_empty());
    assert_eq!(HeldKeys::default().get(&id("AKIAA")), None);
}

#[test]
fn a_key_listed_twice_counts_once() {
    // A broken server's answer: the key in use twice, then an inactive one. Counted as three
    // keys it would be over the quota; counted once each, the inactive key makes room.
    let keys = vec![
        key("AKIAUSED", Active, 100),
        key("AKIAUSED", Active, 100),
        key("AKIAOTHER", Inactive, 10),
    ];
    let p = rotate(plan::decide(
        &profile_target("AKIAUSED"),
        &alice(),
        &keys,
        &held(&[("AKIAUSED", &["default"])]),
        &Options {
            yes: true,
            ..Options::default()
        },
        NOW,
    ));
    let room = p.make_room.expect("room is needed");
    assert_eq!(room.access_key_id, id("AKIAOTHER"));
    assert_eq!(p.old_key.map(|k| k.access_key_id), Some(id("AKIAUSED")));
}

// ---------------------------------------------------------------------------------------------
// A `plan` run through a session: what its results name.

/// `plan --all-profiles` on two profiles sharing a key and one of their own, every request
/// answered at once: each result names the profiles of its key, whether the results are copied
/// out of the session or moved.
#[test]
fn a_plan_sessions_results_name_each_keys_profiles() {
    use aws_rotate_keys::action::{Action, Outcome};
    use aws_rotate_keys::profile::Selection;
    use aws_rotate_keys::rotation::Config;
    use aws_rotate_keys::session::{Mode, Request, Session, SessionAction, Signer, TaskOutcome};

    let credentials = "[a]\naws_access_key_id = AKIASHARED0000000001\naws_secret_access_key = s\n\
                       [b]\naws_access_key_id = AKIASHARED0000000001\naws_secret_access_key = s\n\
                       [c]\naws_access_key_id = AKIAOWN0000000000001\naws_secret_access_key = t\n";
    let request = Request {
        selection: Selection::All,
        admin_user: None,
        options: Options::default(),
        mode: Mode::Plan,
        max_concurrency: 4,
        interactive: false,
    };
    let mut session =
        Session::new("", credentials, &[], request, Config::default()).expect("starts");
    while !session.is_done() {
        let Some(SessionAction {
            task,
            signer: Signer::Static { access_key_id, .. },
            action,
        }) = session.poll_action()
        else {
            panic!("a plan run waits for nothing, and signs with the profiles' keys");
        };
        let outcome = match action {
            Action::Identify => Outcome::Verified {
                arn: "arn:aws:iam::123456789012:user/alice".into(),
            },
            Action::ListKeys { .. } => Outcome::Keys(vec![KeyMeta {
                access_key_id,
                status: KeyStatus::Active,
                create_date: Timestamp::from_secs(1_600_000_000),
                last_used: None,
            }]),
            other => panic!("unexpected in a plan run: {other:?}"),
        };
        session.handle_outcome(task, outcome, Timestamp::from_secs(1_700_000_000));
    }
    let names = |results: Vec<aws_rotate_keys::session::TaskResult>| {
        let mut names: Vec<(String, Vec<String>)> = results
            .into_iter()
            .map(|r| {
                let TaskOutcome::Planned(p) = r.outcome else {
                    panic!("planned: {:?}", r.outcome);
                };
                assert_eq!(
                    p.profiles, r.profiles,
                    "the plan's profiles are the result's"
                );
                let key = r.access_key_id.map(|k| k.to_string()).unwrap_or_default();
                (key, r.profiles.iter().map(|p| p.to_string()).collect())
            })
            .collect();
        names.sort();
        names
    };
    let want = vec![
        ("AKIAOWN0000000000001".to_owned(), vec!["c".to_owned()]),
        (
            "AKIASHARED0000000001".to_owned(),
            vec!["a".to_owned(), "b".to_owned()],
        ),
    ];
    assert_eq!(names(session.into_results()), want);
}
