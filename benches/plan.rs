//! How the core scales with the size of the user's files: parsing both files, and `plan` over
//! every profile (`--all-profiles`) or one named profile, as the core runs it.
//!
//! The generated files look like a large organisation's: comments, regions and output formats,
//! static keys in either file (some shared by two profiles), role chains, SSO and
//! `credential_process` profiles. 10,000 profiles make a config file of about 1 MB, far beyond
//! any real user's. The goal, which simple code meets: parse and plan 1,000 profiles in under
//! 2 ms and 10,000 in under 25 ms, growing linearly. After divan's table, a guard times
//! `plan --all-profiles` (the fastest of several runs, which a busy machine slows least) and fails
//! when a goal is missed.
//!
//! Run with `cargo bench --bench plan`.
#![allow(clippy::disallowed_methods)] // a timing harness reads the clock

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use aws_rotate_keys::action::{Action, Outcome};
use aws_rotate_keys::key::{KeyMeta, KeyStatus};
use aws_rotate_keys::plan::Options;
use aws_rotate_keys::profile::{AwsFiles, Selection};
use aws_rotate_keys::rotation::Config;
use aws_rotate_keys::session::{Mode, Request, Session, SessionAction, Signer, TaskOutcome};
use aws_rotate_keys::time::Timestamp;
use divan::counter::BytesCount;
use divan::{Bencher, black_box};

fn main() -> ExitCode {
    divan::main();
    // `cargo test --all-targets` runs this without `--bench`: the guard is for benchmark runs.
    if !std::env::args().any(|a| a == "--bench") {
        return ExitCode::SUCCESS;
    }
    guard()
}

const SIZES: &[usize] = &[1_000, 10_000, 100_000];

/// The time the plans are made at.
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

/// `n` profiles: a config file and a credentials file. Profiles 8k, 8k+1 and 8k+5 hold a key
/// each (8k+6 shares 8k+5's).
fn files(n: usize) -> (String, String) {
    let mut config = String::new();
    let mut credentials = String::new();
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

/// `plan` through a [`Session`], every request answered at once (each key is its user's only
/// one). Returns how many rotations are planned.
fn plan(config: &str, credentials: &str, selection: Selection) -> usize {
    let request = Request {
        selection,
        admin_user: None,
        options: Options::default(),
        mode: Mode::Plan,
        max_concurrency: 8,
        interactive: false,
    };
    let mut session =
        Session::new(config, credentials, &[], request, Config::default()).expect("starts");
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
            Action::Identify => {
                let index: usize = access_key_id.as_str()[4..]
                    .parse()
                    .expect("generated ids are numbered");
                Outcome::Verified {
                    arn: format!("arn:aws:iam::123456789012:user/user{}", user_of(index)),
                }
            }
            Action::ListKeys { .. } => Outcome::Keys(vec![KeyMeta {
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
        .filter(|r| matches!(r.outcome, TaskOutcome::Planned(_)))
        .count()
}

fn plan_all(config: &str, credentials: &str, n: usize) -> usize {
    let planned = plan(config, credentials, Selection::All);
    assert_eq!(planned, n.div_ceil(8) * 3);
    planned
}

fn bytes(config: &str, credentials: &str) -> BytesCount {
    BytesCount::new(config.len() + credentials.len())
}

/// (a) Parse both files.
#[divan::bench(args = SIZES, sample_count = 20, sample_size = 1)]
fn parse(bencher: Bencher, n: usize) {
    let (config, credentials) = files(n);
    bencher
        .counter(bytes(&config, &credentials))
        .bench(|| AwsFiles::parse(black_box(&config), black_box(&credentials)).expect("parses"));
}

/// (b) `plan --all-profiles`: parse, resolve every profile, ask for each key's user and keys,
/// plan every rotation, and give up the results.
#[divan::bench(args = SIZES, sample_count = 20, sample_size = 1)]
fn plan_all_profiles(bencher: Bencher, n: usize) {
    let (config, credentials) = files(n);
    bencher
        .counter(bytes(&config, &credentials))
        .bench(|| plan_all(black_box(&config), black_box(&credentials), n));
}

/// (c) `plan -p NAME` in a large file: a role profile in the middle, whose source holds keys.
#[divan::bench(args = SIZES, sample_count = 20, sample_size = 1)]
fn plan_one_profile(bencher: Bencher, n: usize) {
    let (config, credentials) = files(n);
    let i = (n / 2) / 8 * 8 + 2;
    bencher.counter(bytes(&config, &credentials)).bench(|| {
        let selection = Selection::Profiles(vec![format!("p{i:06}")]);
        let planned = plan(black_box(&config), black_box(&credentials), selection);
        assert_eq!(planned, 1);
    });
}

/// The goals, on `plan --all-profiles`: the fastest of about half a second of runs for each
/// size, so that a moment's contention on a shared machine does not decide (15 runs did not).
fn guard() -> ExitCode {
    let fastest = |n: usize, runs: usize| {
        let (config, credentials) = files(n);
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                black_box(plan_all(&config, &credentials, n));
                start.elapsed()
            })
            .min()
            .unwrap_or_default()
    };
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let (t1k, t10k) = (fastest(1_000, 400), fastest(10_000, 40));
    println!(
        "guard: plan --all-profiles, 1,000 profiles: {:.2} ms (goal: under 2 ms); 10,000: {:.2} ms (goal: under 25 ms); ratio {:.1} (linear: 10)",
        ms(t1k),
        ms(t10k),
        ms(t10k) / ms(t1k)
    );
    let mut failed = false;
    if t1k >= Duration::from_millis(2) || t10k >= Duration::from_millis(25) {
        println!("FAIL: a goal is missed");
        failed = true;
    }
    // Linear, with room for the caches a ten times larger run no longer fits in.
    if ms(t10k) / ms(t1k) > 20.0 {
        println!("FAIL: 10,000 profiles take more than 20 times as long as 1,000: not linear");
        failed = true;
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
