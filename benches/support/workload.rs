//! The benchmark's workload, shared by `benches/plan.rs` and `examples/plan_profile.rs` (which
//! runs one piece of it under a profiler): generated files of `n` profiles, and the work of
//! benchmarks (b) and (e) on them.

use std::fmt::Write as _;
use std::hint::black_box;

use aws_rotate_keys::key::{KeyMeta, KeyStatus};
use aws_rotate_keys::plan::{self, Decision, HeldKeys, Identity, Options, Target};
use aws_rotate_keys::profile::{self, AwsFiles, Candidate, Selection};
use aws_rotate_keys::rotation::{Config, Outcome};
use aws_rotate_keys::session::{Mode, Request, Session, SessionAction, Signer, TaskOutcome};
use aws_rotate_keys::time::Timestamp;

/// The time the plans are made at.
pub const NOW: Timestamp = Timestamp::from_secs(1_700_000_000);
/// The IAM users the keys belong to.
pub const USERS: usize = 50;

const REGIONS: [&str; 6] = [
    "us-east-1",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-2",
    "us-west-2",
    "sa-east-1",
];

pub fn key_id(i: usize) -> String {
    format!("AKIA{i:016}")
}

pub fn secret(i: usize) -> String {
    format!("wJalrXUtnFEMI/K7MDENG/bPxRfiCY{i:010}")
}

/// The user a profile's key belongs to.
pub fn user_of(i: usize) -> usize {
    (i / 8) % USERS
}

/// `n` profiles: a config file and a credentials file.
pub fn files(n: usize) -> (String, String) {
    let mut config = String::with_capacity(n * 110);
    let mut credentials = String::with_capacity(n * 30);
    config.push_str("# ~/.aws/config, generated for the benchmark\n\n[default]\nregion = us-east-1\noutput = json\n\n");
    for i in 0..n {
        let name = format!("p{i:06}");
        if i % 4 == 0 {
            let _ = writeln!(
                config,
                "# team {}, owner ops-{}@example.com",
                i % 37,
                user_of(i)
            );
        }
        let _ = writeln!(config, "[profile {name}]");
        let _ = writeln!(config, "region = {}", REGIONS[i % REGIONS.len()]);
        if i % 3 == 0 {
            config.push_str("output = json\n");
        }
        match i % 8 {
            // Static keys in the config file.
            0 | 1 => {
                let _ = writeln!(config, "aws_access_key_id = {}", key_id(i));
                let _ = writeln!(config, "aws_secret_access_key = {}", secret(i));
            }
            // A role whose source profile holds keys.
            2 => {
                let _ = writeln!(
                    config,
                    "role_arn = arn:aws:iam::123456789012:role/deploy-{}",
                    i % 97
                );
                let _ = writeln!(config, "source_profile = p{:06}", i - 2);
            }
            3 => config.push_str(
                "sso_session = corp\nsso_account_id = 123456789012\nsso_role_name = ReadOnly\n",
            ),
            4 => config.push_str("credential_process = /usr/local/bin/vault-creds\n"),
            // Keys in the credentials file; profile 6 shares profile 5's key.
            5 => {
                let _ = writeln!(credentials, "[{name}]");
                let _ = writeln!(credentials, "aws_access_key_id = {}", key_id(i));
                let _ = writeln!(credentials, "aws_secret_access_key = {}", secret(i));
            }
            6 => {
                let _ = writeln!(credentials, "[{name}]");
                let _ = writeln!(credentials, "aws_access_key_id = {}", key_id(i - 1));
                let _ = writeln!(credentials, "aws_secret_access_key = {}", secret(i - 1));
            }
            _ => config.push_str("cli_pager =\n"),
        }
        config.push('\n');
    }
    config.push_str("[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n");
    (config, credentials)
}

/// Plans the rotation of a candidate whose user has that one active key.
pub fn decide(c: Candidate, user: &Identity, held: &HeldKeys) -> Decision {
    let keys = [KeyMeta {
        access_key_id: c.access_key_id.clone(),
        status: KeyStatus::Active,
        create_date: Timestamp::from_secs(1_690_000_000),
        last_used: None,
    }];
    plan::decide(
        &Target::Profiles(c),
        user,
        &keys,
        held,
        &Options::default(),
        NOW,
    )
}

/// (b): parse, resolve every profile (`--all-profiles`), and plan the rotations of one user's
/// keys (user 0's). Returns how many are planned.
pub fn parse_select_all_decide(config: String, credentials: String) -> usize {
    let alice = Identity::from_arn("arn:aws:iam::123456789012:user/user0").expect("a user ARN");
    let files = AwsFiles::parse_owned(black_box(config), black_box(credentials)).expect("parses");
    let held = files.held_keys();
    let selected = profile::select_held(&files, &Selection::All, &held).expect("--all-profiles");
    let mut rotations = 0;
    for c in selected.candidates {
        let index: usize = c.access_key_id.as_str()[4..]
            .parse()
            .expect("generated ids are numbered");
        if user_of(index) != 0 {
            continue;
        }
        let d = decide(c, &alice, &held);
        rotations += usize::from(matches!(d, Decision::Rotate(_)));
    }
    rotations
}

/// (e): `plan --all-profiles` through a [`Session`], every request answered at once. Returns how
/// many rotations are planned.
pub fn session_plan_all(config: String, credentials: String) -> usize {
    let request = Request {
        selection: Selection::All,
        admin_user: None,
        options: Options::default(),
        mode: Mode::Plan,
        max_concurrency: 8,
    };
    // The answers of `sts:GetCallerIdentity`, made once: the server's work, not the core's.
    let arns: Vec<String> = (0..USERS)
        .map(|u| format!("arn:aws:iam::123456789012:user/user{u}"))
        .collect();
    let mut session = Session::new_owned(
        black_box(config),
        black_box(credentials),
        &[],
        request,
        Config::default(),
    )
    .expect("starts");
    while !session.is_done() {
        let Some(action) = session.poll_action() else {
            panic!("a plan run waits for nothing");
        };
        let task = action.task();
        let outcome = match action {
            SessionAction::Identify {
                signer: Signer::Static { access_key_id, .. },
                ..
            } => {
                let index: usize = access_key_id.as_str()[4..]
                    .parse()
                    .expect("generated ids are numbered");
                Outcome::Verified {
                    arn: arns[user_of(index)].clone(),
                }
            }
            SessionAction::ListKeys {
                signer: Signer::Static { access_key_id, .. },
                ..
            } => Outcome::Keys(vec![KeyMeta {
                access_key_id,
                status: KeyStatus::Active,
                create_date: Timestamp::from_secs(1_690_000_000),
                last_used: None,
            }]),
            other => panic!("unexpected in a plan run: {other:?}"),
        };
        session.handle_outcome(task, outcome, NOW);
    }
    session
        .into_results()
        .iter()
        .filter(|r| matches!(*r.outcome, TaskOutcome::Planned(_)))
        .count()
}
