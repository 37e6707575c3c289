//! The promises of the spec, checked as invariants on generated worlds driven through the real
//! core by the simulated IAM: files with many profiles and shared keys, 0–2 existing keys, every
//! profile kind, random options, propagation delays, injected errors and crashes at any step,
//! followed by reruns that must finish or undo what the crash left.
//!
//! `SIM_ROTATIONS=100000` sets how many rotations to simulate at least (CI runs 100,000); failures
//! shrink to a minimal world, saved under `proptest-regressions/`.

// Tests may read their knobs from the environment; the core may not (clippy.toml).
#![allow(clippy::disallowed_methods)]

use std::cell::RefCell;

use aws_rotate_keys::key::{AccessKeyId, KeyStatus, UserName};
use aws_rotate_keys::plan::Options;
use aws_rotate_keys::profile::Selection;
use aws_rotate_keys::rotation::{Config, Status};
use aws_rotate_keys::sim::{Checker, Disk, Fault, FaultPlan, RunEnd, RunSpec, SimIam, World};
use aws_rotate_keys::time::{Span, Timestamp};
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestCaseError, TestRunner};

const DAY: i64 = 86_400;
const NOW: i64 = 1_767_225_600; // 2026-01-01

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Static keys: bob's key 0 or 1, or alice's.
    Static {
        key: usize,
    },
    Role,
    Sso,
    Session,
    Process,
}

#[derive(Debug, Clone)]
struct Prof {
    kind: Kind,
    in_credentials: bool,
    style: usize,
}

#[derive(Debug, Clone)]
struct Scenario {
    seed: u64,
    /// bob's keys: (status, age in days); key 0 is the one `main` uses and is active.
    bob: Vec<(KeyStatus, i64)>,
    main_in_credentials: bool,
    main_style: usize,
    extra: Vec<Prof>,
    crlf: bool,
    final_newline: bool,
    comments: bool,
    select: u8,
    admin: bool,
    yes: bool,
    keep_old: bool,
    delete: Option<usize>,
    older_than_days: Option<u64>,
    propagation_ms: u64,
    verify_timeout_s: u64,
    faults: Vec<(usize, Fault)>,
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        3 => Just(Fault::Throttle),
        3 => Just(Fault::FailBefore),
        3 => Just(Fault::LoseAnswer),
        2 => Just(Fault::Io),
        3 => Just(Fault::CrashBefore),
        3 => Just(Fault::CrashAfter),
    ]
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        4 => (0usize..3).prop_map(|key| Kind::Static { key }),
        1 => Just(Kind::Role),
        1 => Just(Kind::Sso),
        1 => Just(Kind::Session),
        1 => Just(Kind::Process),
    ]
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let status = prop_oneof![3 => Just(KeyStatus::Active), 1 => Just(KeyStatus::Inactive)];
    (
        (
            any::<u64>(),
            (
                0i64..400,
                proptest::option::weighted(0.6, (status, 0i64..400)),
            ),
            any::<bool>(),
            0usize..4,
            proptest::collection::vec((kind(), any::<bool>(), 0usize..4), 0..5),
            (any::<bool>(), any::<bool>(), any::<bool>()),
        ),
        (
            0u8..4,
            proptest::bool::weighted(0.15),
            proptest::bool::weighted(0.7),
            any::<bool>(),
            proptest::option::weighted(0.15, 0usize..3),
            proptest::option::weighted(0.15, prop_oneof![Just(1u64), Just(90), Just(1000)]),
            prop_oneof![Just(0u64), 0u64..3000, 3000u64..15_000, 15_000u64..40_000],
            prop_oneof![Just(5u64), Just(30), Just(120)],
            proptest::collection::vec((0usize..40, fault()), 0..4),
        ),
    )
        .prop_map(
            |(
                (
                    seed,
                    (age0, second),
                    main_in_credentials,
                    main_style,
                    extra,
                    (crlf, final_newline, comments),
                ),
                (
                    select,
                    admin,
                    yes,
                    keep_old,
                    delete,
                    older_than_days,
                    propagation_ms,
                    verify_timeout_s,
                    faults,
                ),
            )| {
                let mut bob = vec![(KeyStatus::Active, age0)];
                bob.extend(second);
                Scenario {
                    seed,
                    bob,
                    main_in_credentials,
                    main_style,
                    extra: extra
                        .into_iter()
                        .map(|(kind, in_credentials, style)| Prof {
                            kind,
                            in_credentials,
                            style,
                        })
                        .collect(),
                    crlf,
                    final_newline,
                    comments,
                    select,
                    admin,
                    yes,
                    keep_old,
                    delete,
                    older_than_days,
                    propagation_ms,
                    verify_timeout_s,
                    faults,
                }
            },
        )
}

struct Built {
    world: World,
    spec: RunSpec,
}

fn kv(out: &mut String, style: usize, key: &str, value: &str, nl: &str) {
    let line = match style {
        0 => format!("{key} = {value}"),
        1 => format!("{key}={value}"),
        2 => format!("{key}   =\t{value}  "),
        _ => format!("{} : {value}", key.to_uppercase()),
    };
    out.push_str(&line);
    out.push_str(nl);
}

fn build(sc: &Scenario) -> Built {
    let mut iam = SimIam::new(
        "123456789012",
        Span::from_millis(sc.propagation_ms),
        sc.seed,
    );
    let now = Timestamp::from_secs(NOW);
    let mut keys: Vec<(AccessKeyId, String)> = Vec::new();
    for (status, age) in &sc.bob {
        keys.push(iam.add_key("bob", *status, Timestamp::from_secs(NOW - age * DAY)));
    }
    let alice = iam.add_key(
        "alice",
        KeyStatus::Active,
        Timestamp::from_secs(NOW - 10 * DAY),
    );
    iam.admins.insert(UserName::new("alice"));
    let nl = if sc.crlf { "\r\n" } else { "\n" };
    let mut config = String::new();
    let mut credentials = String::new();
    let key_for = |i: usize| -> (AccessKeyId, String) {
        match i {
            0 => keys[0].clone(),
            1 if keys.len() > 1 => keys[1].clone(),
            1 => keys[0].clone(),
            _ => alice.clone(),
        }
    };
    // `main` holds bob's key 0; `admin` holds alice's.
    let mut profiles: Vec<(String, Prof)> = vec![
        (
            "main".into(),
            Prof {
                kind: Kind::Static { key: 0 },
                in_credentials: sc.main_in_credentials,
                style: sc.main_style,
            },
        ),
        (
            "admin".into(),
            Prof {
                kind: Kind::Static { key: 2 },
                in_credentials: true,
                style: 0,
            },
        ),
    ];
    for (i, p) in sc.extra.iter().enumerate() {
        profiles.push((format!("p{i}"), p.clone()));
    }
    if sc.comments {
        config.push_str(&format!("# my aws config{nl}{nl}"));
        credentials.push_str(&format!("; keys{nl}"));
    }
    for (name, p) in &profiles {
        let header_cfg = if name == "main" && p.style == 3 {
            "[default]".to_owned()
        } else {
            format!("[profile {name}]")
        };
        match p.kind {
            Kind::Static { key } => {
                let (id, secret) = key_for(key);
                let (out, header) = if p.in_credentials {
                    (&mut credentials, format!("[{name}]"))
                } else {
                    (&mut config, header_cfg.clone())
                };
                out.push_str(&header);
                out.push_str(nl);
                if sc.comments {
                    out.push_str(&format!("# key of {name}{nl}"));
                }
                kv(out, p.style, "aws_access_key_id", id.as_str(), nl);
                if sc.comments && p.style == 1 {
                    out.push_str(nl);
                }
                kv(out, p.style, "aws_secret_access_key", &secret, nl);
                if !p.in_credentials {
                    kv(out, 0, "region", "eu-west-1", nl);
                } else {
                    config.push_str(&format!("{header_cfg}{nl}region = us-east-2{nl}"));
                }
            }
            Kind::Role => {
                config.push_str(&format!("{header_cfg}{nl}role_arn = arn:aws:iam::123456789012:role/r{nl}source_profile = main{nl}"));
            }
            Kind::Sso => {
                config.push_str(&format!(
                    "{header_cfg}{nl}sso_session = corp{nl}sso_account_id = 123456789012{nl}"
                ));
            }
            Kind::Session => {
                credentials.push_str(&format!(
                    "[{name}]{nl}aws_access_key_id = ASIATEMP{name}{nl}aws_secret_access_key = t{nl}aws_session_token = tok{nl}"
                ));
            }
            Kind::Process => {
                config.push_str(&format!(
                    "{header_cfg}{nl}credential_process = /bin/creds{nl}"
                ));
            }
        }
        if sc.comments {
            config.push_str(nl);
        }
    }
    if !sc.final_newline {
        while config.ends_with(['\r', '\n']) {
            config.pop();
        }
        while credentials.ends_with(['\r', '\n']) {
            credentials.pop();
        }
    }
    let extra_static: Vec<String> = profiles
        .iter()
        .filter(|(n, p)| n.starts_with('p') && matches!(p.kind, Kind::Static { .. } | Kind::Role))
        .map(|(n, _)| n.clone())
        .collect();
    let selection = if sc.admin {
        Selection::Profiles(vec!["admin".into()])
    } else {
        match sc.select {
            0 | 1 => Selection::Profiles(vec!["main".into()]),
            2 => {
                let mut v = vec!["main".to_owned()];
                v.extend(extra_static.into_iter().take(2));
                Selection::Profiles(v)
            }
            _ => Selection::All,
        }
    };
    let delete = sc.delete.map(|i| key_for(i).0);
    let options = Options {
        delete,
        keep_old: sc.keep_old,
        older_than: sc.older_than_days.map(|d| Span::from_secs(d * 86_400)),
        yes: sc.yes,
        verify_timeout: Span::from_secs(sc.verify_timeout_s),
    };
    let spec = RunSpec {
        selection,
        admin_user: sc.admin.then(|| UserName::new("bob")),
        options,
        config: Config {
            seed: sc.seed,
            ..Config::default()
        },
    };
    let world = World {
        iam,
        disk: Disk::new(config, credentials),
        now,
        latency: Span::from_millis(3),
        trace: std::env::var_os("SIM_TRACE").map(|_| Vec::new()),
    };
    Built { world, spec }
}

#[derive(Debug, Default)]
struct Stats {
    scenarios: usize,
    runs: usize,
    rotations: usize,
    rotated: usize,
    rolled_back: usize,
    resumed: usize,
    crashes: usize,
    refused: usize,
    steps: usize,
}

fn check(sc: &Scenario, stats: &RefCell<Stats>) -> Result<(), TestCaseError> {
    let Built { mut world, spec } = build(sc);
    let mut faults = FaultPlan {
        faults: sc.faults.iter().copied().collect(),
        step: 0,
    };
    let mut checker = Checker::default();
    let mut completed = false;
    let mut st = stats.borrow_mut();
    st.scenarios += 1;
    for run in 0..10 {
        if run >= 4 {
            faults.faults.clear();
        }
        if run > 0 {
            // A rerun comes later: a person retrying, or cron's next round.
            world.now = world.now.add(Span::from_secs(60));
        }
        st.runs += 1;
        let end = match world.run(&spec, &mut faults, &mut checker) {
            Ok(end) => end,
            Err(v) => {
                if let Some(t) = &world.trace {
                    eprintln!("{}\nviolation: {}", t.join("\n"), v.0);
                }
                return Err(TestCaseError::fail(v.0));
            }
        };
        if let Some(t) = &mut world.trace {
            t.push(format!(
                "run {run} ended: {end:?}; journals: {:?}",
                world.disk.journals.keys().collect::<Vec<_>>()
            ));
        }
        match end {
            RunEnd::Crashed => {
                st.crashes += 1;
                continue;
            }
            RunEnd::Refused(why) => {
                // Only a journal left by an earlier run could make a later run refuse.
                prop_assert!(run == 0, "run {run} refused: {why}");
                st.refused += 1;
                completed = true;
                break;
            }
            RunEnd::Completed {
                reports, refused, ..
            } => {
                st.refused += refused.len();
                for r in &reports {
                    st.rotations += 1;
                    st.resumed += usize::from(r.resumed);
                    match r.status {
                        Status::Rotated => st.rotated += 1,
                        Status::RolledBack => st.rolled_back += 1,
                        _ => {}
                    }
                    // Promise 3: a new key that did not work in time is gone and the files are back.
                    if r.status == Status::RolledBack
                        && world.disk.journals.is_empty()
                        && let Some(new) = &r.new_access_key_id
                    {
                        prop_assert!(
                            world.iam.key(new).is_none(),
                            "rolled back but {new} still exists"
                        );
                    }
                }
                if world.disk.journals.is_empty() {
                    completed = true;
                    break;
                }
            }
        }
    }
    st.steps += checker.steps;
    drop(st);
    let result = (|| {
        prop_assert!(completed, "no run completed");
        checker.end(&world).map_err(|v| TestCaseError::fail(v.0))?;
        Ok(())
    })();
    if result.is_err()
        && let Some(t) = &world.trace
    {
        eprintln!("{}", t.join("\n"));
    }
    result
}

#[test]
fn promises_hold_under_faults_and_crashes() {
    // SIM_ROTATIONS is the number of rotations to simulate at least; some scenarios end in a
    // refusal or a skip instead, so more scenarios than that are generated.
    let wanted: u32 = std::env::var("SIM_ROTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let config = ProptestConfig {
        cases: wanted.saturating_mul(3) / 2,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/simulation.txt",
        ))),
        ..ProptestConfig::default()
    };
    let stats = RefCell::new(Stats::default());
    let mut runner = TestRunner::new(config);
    let result = runner.run(&scenario(), |sc| check(&sc, &stats));
    let s = stats.borrow();
    println!(
        "simulation: {} scenarios, {} runs, {} rotations ({} rotated, {} rolled back, {} resumed from a journal), {} crashes, {} refusals, {} steps checked",
        s.scenarios,
        s.runs,
        s.rotations,
        s.rotated,
        s.rolled_back,
        s.resumed,
        s.crashes,
        s.refused,
        s.steps
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(
        s.rotations >= wanted as usize,
        "only {} rotations simulated, {wanted} wanted",
        s.rotations
    );
}
