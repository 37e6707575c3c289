//! What a rotation costs beyond IAM's propagation delay, measured end to end: the binary (this
//! benchmark's build of it: release, as shipped) against `moto_server` behind the test proxy,
//! which makes a new key work only D = 6 s after its creation, as IAM's eventual consistency does.
//!
//! - **Overhead of one rotation**: wall time minus D (goal: at most 0.3 s), and the requests
//!   sent besides the verification polls (goal: 4 — ListAccessKeys, CreateAccessKey,
//!   GetCallerIdentity, and the Update/DeleteAccessKey of the old key).
//! - **`--all-profiles`** over 200 profiles of 20 users: wall time minus D (goal: at most 2 s).
//! - **Start-up**: `--help` (goal: at most 10 ms), and `plan` from the process start to its first
//!   request (goal: at most 30 ms; reading the system's trusted roots is most of it).
//! - **Tab completion** of `--profile` from a config of 1,000 profiles (goal: at most 20 ms).
//!
//! Run with `cargo bench --bench rotation` (the test venv must exist: `scripts/test-env.sh`
//! makes it). `ROTATION_SAMPLES` sets the number of rotations measured (default 3). The figures
//! are printed, and the run fails when a goal is missed by more than the noise of a busy
//! machine allows (twice the goal), so that a regression to, say, polling every 2 s shows.
#![allow(clippy::disallowed_methods)]

#[path = "../tests/support/moto.rs"]
mod moto;

use std::process::Output;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use moto::{Home, Moto};

/// The propagation delay the proxy imposes on every new key.
const D: f64 = 6.0;

fn main() {
    // `cargo test --all-targets` runs this without `--bench`: a minute of rotations is not a test.
    if !std::env::args().any(|a| a == "--bench") {
        println!("benches/rotation.rs: run it with `cargo bench --bench rotation`");
        return;
    }
    let samples: usize = std::env::var("ROTATION_SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let mut failures = Vec::new();
    let moto = Moto::start();

    // One rotation, several times over: fresh user and HOME each time.
    let mut overheads = Vec::new();
    let mut requests = Vec::new();
    for i in 0..samples {
        let key = moto.user_with_key(&format!("bench{i}"));
        let home = moto.home("", &key.credentials_profile("default"));
        moto.set_delay(D);
        let seq = moto.log().last().map_or(0, |e| e.seq);
        let (started, start) = (unix_now(), Instant::now());
        let out = run(&home, &["rotate"]);
        let wall = start.elapsed().as_secs_f64();
        let ended = unix_now();
        check(&out, "rotate");
        let log = moto.log_since(seq);
        let new_key = log.iter().find_map(|e| e.new_key.clone());
        // Where the overhead goes: before the key exists, between the moment it works (its
        // creation + D) and the first success, confirming, and after.
        let created = log.iter().find(|e| e.new_key.is_some());
        let successes: Vec<_> = log
            .iter()
            .filter(|e| {
                e.action.as_deref() == Some("GetCallerIdentity")
                    && e.key == new_key
                    && e.status == Some(200)
            })
            .collect();
        if let (Some(c), [first, second, ..]) = (created, successes.as_slice()) {
            let works = c.time + c.ms / 1e3 + D;
            println!(
                "  start to key created {:.0} ms; key works to first success {:.0} ms; \
                 confirming {:.0} ms; second success to exit {:.0} ms",
                (c.time + c.ms / 1e3 - started) * 1e3,
                (first.time - works) * 1e3,
                (second.time - first.time) * 1e3,
                (ended - second.time) * 1e3,
            );
        }
        let polls = log
            .iter()
            .filter(|e| e.action.as_deref() == Some("GetCallerIdentity") && e.key == new_key)
            .count();
        let actions: Vec<String> = log
            .iter()
            .filter(|e| !(e.action.as_deref() == Some("GetCallerIdentity") && e.key == new_key))
            .map(|e| e.action.clone().unwrap_or_default())
            .collect();
        // The servers' share of the overhead: the time the proxy and moto took to answer the
        // requests on the critical path (all but the failed polls, which IAM's delay hides).
        let critical: Vec<_> = log
            .iter()
            .filter(|e| {
                !(e.action.as_deref() == Some("GetCallerIdentity")
                    && e.key == new_key
                    && e.status != Some(200))
            })
            .collect();
        let served_ms: f64 = critical.iter().map(|e| e.ms).sum();
        let served: Vec<String> = critical
            .iter()
            .map(|e| format!("{} {:.0}", e.action.as_deref().unwrap_or("?"), e.ms))
            .collect();
        println!(
            "  answering took the proxy and moto {served_ms:.0} ms of it (ms: {})",
            served.join(", ")
        );
        println!(
            "rotation {i}: {wall:.3} s wall, overhead {:.3} s; {} requests besides {polls} verification polls: {}",
            wall - D,
            actions.len(),
            actions.join(" ")
        );
        overheads.push(wall - D);
        requests.push(actions.len());
    }
    let overhead = median(&mut overheads);
    println!("overhead of a rotation beyond D = {D} s: median {overhead:.3} s (goal <= 0.3 s)");
    if overhead > 0.6 {
        failures.push(format!("rotation overhead {overhead:.3} s"));
    }
    if requests.iter().any(|&n| n != 4) {
        failures.push(format!(
            "requests besides verification: {requests:?}, want 4"
        ));
    }

    // --all-profiles: 200 profiles of 20 users, half in each file.
    let (config, credentials, _) = moto.many_profiles("many", 20, 10);
    let home = moto.home(&config, &credentials);
    moto.set_delay(D);
    let start = Instant::now();
    let out = run(&home, &["--all-profiles"]);
    let wall = start.elapsed().as_secs_f64();
    check(&out, "--all-profiles");
    println!(
        "--all-profiles, 200 profiles of 20 users: {wall:.3} s wall, {:.3} s beyond D (goal <= 2 s)",
        wall - D
    );
    if wall - D > 4.0 {
        failures.push(format!("--all-profiles took {:.3} s beyond D", wall - D));
    }

    // Start-up: --help, and plan up to its first request.
    let key = moto.user_with_key("startup");
    let home = moto.home("", &key.credentials_profile("default"));
    let mut help = Vec::new();
    for _ in 0..20 {
        let start = Instant::now();
        let out = run(&home, &["--help"]);
        help.push(start.elapsed().as_secs_f64() * 1e3);
        check(&out, "--help");
    }
    let help = median(&mut help);
    let mut first = Vec::new();
    for _ in 0..10 {
        let seq = moto.log().last().map_or(0, |e| e.seq);
        let started = unix_now();
        let out = run(&home, &["plan"]);
        check(&out, "plan");
        if let Some(e) = moto.log_since(seq).first() {
            first.push((e.time - started) * 1e3);
        }
    }
    let first = median(&mut first);
    println!(
        "start-up: --help {help:.1} ms (median of 20) (goal <= 10 ms); plan to its first request {first:.1} ms (median of 10) (goal <= 30 ms)"
    );
    if help > 20.0 || first > 60.0 {
        failures.push(format!("start-up: --help {help:.1} ms, plan {first:.1} ms"));
    }

    // Tab completion of --profile with 1,000 profiles: the shell's script runs the binary.
    let config: String = (0..1000)
        .map(|i| format!("[profile p{i:04}]\nregion = us-east-1\n"))
        .collect();
    let home = moto.home(&config, "");
    let mut complete = Vec::new();
    for _ in 0..20 {
        let start = Instant::now();
        let out = home
            .command()
            .env("COMPLETE", "bash")
            .env("_CLAP_COMPLETE_INDEX", "2")
            .env("_CLAP_IFS", "\n")
            .args(["--", "aws-rotate-keys", "-p", "p00"])
            .output()
            .expect("runs");
        complete.push(start.elapsed().as_secs_f64() * 1e3);
        check(&out, "completion");
        assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 100);
    }
    let complete = median(&mut complete);
    println!(
        "completion of -p with 1,000 profiles: {complete:.1} ms (median of 20) (goal <= 20 ms)"
    );
    if complete > 40.0 {
        failures.push(format!("completion {complete:.1} ms"));
    }

    if !failures.is_empty() {
        eprintln!("GOALS MISSED: {}", failures.join("; "));
        std::process::exit(1);
    }
}

fn run(home: &Home, args: &[&str]) -> Output {
    match home.command().args(args).output() {
        Ok(out) => out,
        Err(e) => panic!("cannot run the binary: {e}"),
    }
}

fn check(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
}

fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied().unwrap_or(f64::NAN)
}
