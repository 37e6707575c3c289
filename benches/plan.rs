//! How the core scales with the size of the user's files: parsing both files, resolving every
//! profile and planning (`--all-profiles`), and resolving one named profile.
//!
//! The generated files look like a large organisation's: comments, regions and output formats,
//! static keys in either file (some shared by two profiles), role chains, SSO and
//! `credential_process` profiles. 10 000 profiles make a config file of about 1 MB. The goal: 10k
//! profiles in under 10 ms, growing linearly. (e) is the whole of `plan --all-profiles` in the core:
//! every task's decision, not only the first. Run-to-run noise on a shared 2-core machine is
//! large: compare the fastest column.
//!
//! Run with `cargo bench --bench plan`.

use std::fmt::Write as _;

use aws_rotate_keys::key::{KeyMeta, KeyStatus};
use aws_rotate_keys::plan::{self, Decision, HeldKeys, Identity, Options, Target};
use aws_rotate_keys::profile::{self, AwsFiles, Candidate, Selection};
use aws_rotate_keys::rotation::{Config, Outcome};
use aws_rotate_keys::session::{Mode, Request, Session, SessionAction, Signer, TaskOutcome};
use aws_rotate_keys::time::Timestamp;
use divan::counter::BytesCount;
use divan::{Bencher, black_box};

fn main() {
    divan::main();
}

const SIZES: &[usize] = &[1_000, 10_000, 100_000];
const NOW: Timestamp = Timestamp::from_secs(1_700_000_000);
/// The IAM users the keys belong to.
const USERS: usize = 50;

const REGIONS: [&str; 6] = [
    "us-east-1",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-2",
    "us-west-2",
    "sa-east-1",
];

fn key_id(i: usize) -> String {
    format!("AKIA{i:016}")
}

fn secret(i: usize) -> String {
    format!("wJalrXUtnFEMI/K7MDENG/bPxRfiCY{i:010}")
}

/// The user a profile's key belongs to.
fn user_of(i: usize) -> usize {
    (i / 8) % USERS
}

/// `n` profiles: a config file and a credentials file.
fn files(n: usize) -> (String, String) {
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

fn bytes(config: &str, credentials: &str) -> BytesCount {
    BytesCount::new(config.len() + credentials.len())
}

/// Plans the rotation of a candidate whose user has that one active key.
fn decide(c: Candidate, user: &Identity, held: &HeldKeys) -> Decision {
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

/// (a) Parse both files, from the texts as the shell holds them once read (a copy of each is
/// made, untimed, before every run: [`AwsFiles::parse_owned`] keeps them instead of copying).
#[divan::bench(args = SIZES, sample_count = 10, sample_size = 1)]
fn parse(bencher: Bencher, n: usize) {
    let (config, credentials) = files(n);
    bencher
        .counter(bytes(&config, &credentials))
        .with_inputs(|| (config.clone(), credentials.clone()))
        .bench_values(|(config, credentials)| {
            AwsFiles::parse_owned(black_box(config), black_box(credentials)).expect("parses")
        });
}

/// (b) Parse, resolve every profile (`--all-profiles`), and plan the rotations of one user's keys.
#[divan::bench(args = SIZES, sample_count = 10, sample_size = 1)]
fn parse_select_all_decide(bencher: Bencher, n: usize) {
    let (config, credentials) = files(n);
    let alice = Identity::from_arn("arn:aws:iam::123456789012:user/user0").expect("a user ARN");
    bencher
        .counter(bytes(&config, &credentials))
        .with_inputs(|| (config.clone(), credentials.clone()))
        .bench_values(|(config, credentials)| {
            let files =
                AwsFiles::parse_owned(black_box(config), black_box(credentials)).expect("parses");
            let held = files.held_keys();
            let selected =
                profile::select_held(&files, &Selection::All, &held).expect("--all-profiles");
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
        });
}

/// (c) Parse, resolve one named profile (`plan -p NAME`: a role chain to a key in the config
/// file) and plan its rotation.
#[divan::bench(args = SIZES, sample_count = 10, sample_size = 1)]
fn parse_select_one_decide(bencher: Bencher, n: usize) {
    let (config, credentials) = files(n);
    let alice = Identity::from_arn("arn:aws:iam::123456789012:user/user0").expect("a user ARN");
    let i = (n / 2) / 8 * 8 + 2;
    let selection = Selection::Profiles(vec![format!("p{i:06}")]);
    bencher
        .counter(bytes(&config, &credentials))
        .with_inputs(|| (config.clone(), credentials.clone()))
        .bench_values(|(config, credentials)| {
            let files =
                AwsFiles::parse_owned(black_box(config), black_box(credentials)).expect("parses");
            let mut selected = profile::select(&files, &selection).expect("resolves");
            let c = selected.candidates.pop().expect("one candidate");
            // Where the user's keys are held, as a run of a few named profiles finds them.
            let held = files.held_keys_of(std::slice::from_ref(&c.access_key_id));
            let d = decide(c, &alice, &held);
            assert!(matches!(d, Decision::Rotate(_)));
            d
        });
}

/// (d) Resolve one named profile (a role chain to a key in the config file) in parsed files.
#[divan::bench(args = SIZES, sample_count = 10, sample_size = 10)]
fn select_one(bencher: Bencher, n: usize) {
    let (config, credentials) = files(n);
    let files = AwsFiles::parse(&config, &credentials).expect("parses");
    // The middle of the file, a role profile (i % 8 == 2) whose source holds keys.
    let i = (n / 2) / 8 * 8 + 2;
    let selection = Selection::Profiles(vec![format!("p{i:06}")]);
    bencher.bench(|| {
        let s = profile::select(black_box(&files), black_box(&selection)).expect("resolves");
        assert_eq!(s.candidates.len(), 1);
        s
    });
}

/// (e) `plan --all-profiles` as the core runs it: a [`Session`] takes the texts as the shell
/// read them (copied, untimed, before each run), resolves every profile, asks for each key's
/// user and that user's keys (answered at once here: the key alone), plans every rotation, and
/// gives up its results as the shell takes them. Each decision reads the keys the files hold:
/// parsing them once per task instead of once per run made this quadratic.
#[divan::bench(args = SIZES, sample_count = 10, sample_size = 1)]
fn session_plan_all(bencher: Bencher, n: usize) {
    let (config, credentials) = files(n);
    bencher
        .counter(bytes(&config, &credentials))
        .with_inputs(|| (config.clone(), credentials.clone()))
        .bench_values(|(config, credentials)| {
            let request = Request {
                selection: Selection::All,
                admin_user: None,
                options: Options::default(),
                mode: Mode::Plan,
                max_concurrency: 8,
            };
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
                            arn: format!("arn:aws:iam::123456789012:user/user{}", user_of(index)),
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
            let planned = session
                .into_results()
                .iter()
                .filter(|r| matches!(r.outcome, TaskOutcome::Planned(_)))
                .count();
            // Profiles 8k, 8k+1 and 8k+5 hold a key each (8k+6 shares 8k+5's).
            assert_eq!(planned, n.div_ceil(8) * 3);
            planned
        });
}
