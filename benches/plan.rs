//! How the core scales with the size of the user's files: parsing both files, resolving every
//! profile and planning (`--all-profiles`), and resolving one named profile.
//!
//! The generated files look like a large organisation's: comments, regions and output formats,
//! static keys in either file (some shared by two profiles), role chains, SSO and
//! `credential_process` profiles. 10 000 profiles make a config file of about 1 MB. The goal: 10k
//! profiles in under 10 ms, growing linearly. (e) is the whole of `plan --all-profiles` in the core:
//! every task's decision, not only the first. Run-to-run noise on a shared 2-core machine is
//! large (the same build's fastest of 10 runs of (b) went from 7.5 to 13.8 ms from one minute to
//! the next): compare the fastest column, of 50 samples. The workload is in `support/workload.rs`, which
//! `examples/plan_profile.rs` runs once under a profiler (instructions, page faults).
//!
//! Run with `cargo bench --bench plan`.

#[path = "support/workload.rs"]
mod workload;

use aws_rotate_keys::plan::{Decision, Identity};
use aws_rotate_keys::profile::{self, AwsFiles, Selection};
use divan::counter::BytesCount;
use divan::{Bencher, black_box};
use workload::{decide, files};

fn main() {
    divan::main();
}

const SIZES: &[usize] = &[1_000, 10_000, 100_000];

fn bytes(config: &str, credentials: &str) -> BytesCount {
    BytesCount::new(config.len() + credentials.len())
}

/// (a) Parse both files, from the texts as the shell holds them once read (a copy of each is
/// made, untimed, before every run: [`AwsFiles::parse_owned`] keeps them instead of copying).
#[divan::bench(args = SIZES, sample_count = 50, sample_size = 1)]
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
#[divan::bench(args = SIZES, sample_count = 50, sample_size = 1)]
fn parse_select_all_decide(bencher: Bencher, n: usize) {
    let (config, credentials) = files(n);
    bencher
        .counter(bytes(&config, &credentials))
        .with_inputs(|| (config.clone(), credentials.clone()))
        .bench_values(|(config, credentials)| {
            workload::parse_select_all_decide(black_box(config), black_box(credentials))
        });
}

/// (c) Parse, resolve one named profile (`plan -p NAME`: a role chain to a key in the config
/// file) and plan its rotation.
#[divan::bench(args = SIZES, sample_count = 50, sample_size = 1)]
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
#[divan::bench(args = SIZES, sample_count = 50, sample_size = 1)]
fn session_plan_all(bencher: Bencher, n: usize) {
    let (config, credentials) = files(n);
    bencher
        .counter(bytes(&config, &credentials))
        .with_inputs(|| (config.clone(), credentials.clone()))
        .bench_values(|(config, credentials)| {
            let planned = workload::session_plan_all(black_box(config), black_box(credentials));
            // Profiles 8k, 8k+1 and 8k+5 hold a key each (8k+6 shares 8k+5's).
            assert_eq!(planned, n.div_ceil(8) * 3);
            planned
        });
}
