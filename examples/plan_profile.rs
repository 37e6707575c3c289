//! Runs one piece of the `plan` benchmark's work (`benches/support/workload.rs`) in a fresh
//! process, for a profiler to count what a run costs: the same command with RUNS 0 only
//! generates the files, so the difference of the two counts is the work's.
//!
//! ```text
//! cargo build --release --example plan_profile
//! valgrind --tool=callgrind target/release/examples/plan_profile all 10000 1   # then RUNS 0
//! perf stat -e page-faults target/release/examples/plan_profile session 10000 1
//! ```
//!
//! Usage: `plan_profile WORK [PROFILES] [RUNS]`. WORK is `parse` (benchmark a), `all` (b) or
//! `session` (e); PROFILES defaults to 10000, RUNS to 1. It prints the fastest run's time; each
//! run starts from a fresh copy of the texts, as the shell has them once read.

#![allow(clippy::disallowed_methods)] // a timing harness reads the clock, as the shell does

#[path = "../benches/support/workload.rs"]
mod workload;

use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

use aws_rotate_keys::profile::AwsFiles;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize, default: usize| match args.get(i) {
        None => Some(default),
        Some(s) => s.parse().ok(),
    };
    let (Some(work), Some(n), Some(runs)) = (args.first(), number(1, 10_000), number(2, 1)) else {
        eprintln!("usage: plan_profile parse|all|session [PROFILES] [RUNS]");
        return ExitCode::from(2);
    };
    let (config, credentials) = workload::files(n);
    let mut fastest = None;
    for _ in 0..runs {
        let (config, credentials) = (config.clone(), credentials.clone());
        let start = Instant::now();
        match work.as_str() {
            "parse" => {
                let parsed = AwsFiles::parse_owned(black_box(config), black_box(credentials));
                black_box(parsed.is_ok());
            }
            "all" => {
                black_box(workload::parse_select_all_decide(config, credentials));
            }
            "session" => {
                black_box(workload::session_plan_all(config, credentials));
            }
            other => {
                eprintln!("plan_profile: no work named {other:?}; use parse, all or session");
                return ExitCode::from(2);
            }
        }
        let took = start.elapsed();
        fastest = Some(fastest.map_or(took, |f: std::time::Duration| f.min(took)));
    }
    if let Some(f) = fastest {
        println!(
            "{work} of {n} profiles: fastest of {runs} runs {:.3} ms",
            f.as_secs_f64() * 1e3
        );
    }
    ExitCode::SUCCESS
}
