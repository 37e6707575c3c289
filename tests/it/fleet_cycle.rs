//! The whole fleet cycle with moto's policy enforcement on and exactly the policies that
//! `fleet policy` prints attached (their resources widened to `*`: moto evaluates identity
//! policies against `*` only, so what this proves is that the printed actions suffice): the
//! administrator delivers, one owner picks up from a real credentials file, the next runs
//! clean up after her and, with `--deactivate-after`, lock out the owner who never picked up;
//! the read-only policy plans but cannot rotate; throttling is retried; one user's failure
//! does not stop the others.
#![cfg(feature = "cli")]

use std::process::Output;

use crate::common::{assert_code, text};
use crate::moto::{AccessKey, Fault, FaultKind, Home, Moto, closed_port};

/// `fleet policy`'s documents by name, each resource widened to `*` for moto.
fn printed_policies() -> Vec<(String, String)> {
    let home = Home::new(&format!("http://127.0.0.1:{}", closed_port()), "", "");
    let out = home
        .command()
        .args(["fleet", "policy", "--output", "json"])
        .output()
        .expect("runs");
    assert_code(&out, 0);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    v["Policies"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|p| {
            let mut doc = p["PolicyDocument"].clone();
            for s in doc["Statement"].as_array_mut().expect("statements") {
                s["Resource"] = serde_json::json!("*");
            }
            (
                p["PolicyName"].as_str().expect("a name").to_owned(),
                doc.to_string(),
            )
        })
        .collect()
}

fn policy(all: &[(String, String)], name: &str) -> String {
    all.iter()
        .find(|(n, _)| n == name)
        .map(|(_, d)| d.clone())
        .unwrap_or_else(|| panic!("fleet policy prints no {name}"))
}

struct World {
    moto: Moto,
    admin: Home,
    auditor: Home,
    users: Vec<(AccessKey, Home)>,
}

/// `fleet-admin` with the administrator's policy, `auditor` with the read-only one, and
/// `alice` and `bob` with the users' policy, each with a key in a HOME of their own.
fn world() -> World {
    let policies = printed_policies();
    let moto = Moto::start();
    moto.tag_user("moto-admin", "aws-rotate-keys:exempt", "harness");
    let home_of = |user: &str, policy_name: &str| {
        moto.create_user_with_policy(user, &policy(&policies, policy_name));
        let k = moto.create_access_key(user);
        let home = moto.home(
            "[default]\nregion = us-east-1\n",
            &k.credentials_profile("default"),
        );
        (k, home)
    };
    let (_, admin) = home_of("fleet-admin", "aws-rotate-keys-fleet-rotate");
    let (_, auditor) = home_of("auditor", "aws-rotate-keys-fleet-read");
    let users = vec![
        home_of("alice", "aws-rotate-keys-user"),
        home_of("bob", "aws-rotate-keys-user"),
    ];
    moto.tag_user("auditor", "aws-rotate-keys:exempt", "");
    World {
        moto,
        admin,
        auditor,
        users,
    }
}

fn run(home: &Home, args: &[&str]) -> Output {
    home.command().args(args).output().expect("runs")
}

fn stages(out: &Output) -> Vec<(String, String, String)> {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    v["Users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| {
            (
                u["UserName"].as_str().unwrap_or_default().to_owned(),
                u["Stage"].as_str().unwrap_or("null").to_owned(),
                u["Action"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn row(user: &str, stage: &str, action: &str) -> (String, String, String) {
    (user.into(), stage.into(), action.into())
}

fn key_ids(moto: &Moto, user: &str) -> Vec<(String, String)> {
    let mut k: Vec<_> = moto
        .list_access_keys(user)
        .into_iter()
        .map(|k| (k.id, k.status))
        .collect();
    k.sort();
    k
}

#[test]
fn the_whole_cycle_runs_on_exactly_the_printed_policies() {
    let w = world();
    let (alice, alice_home) = &w.users[0];
    let (bob, bob_home) = &w.users[1];

    // The read-only policy plans; it cannot rotate.
    let out = run(&w.auditor, &["fleet", "plan", "--older-than", "0s"]);
    assert_code(&out, 0);
    assert!(stages(&out).contains(&row("alice", "Due", "Deliver")));
    let out = run(
        &w.auditor,
        &["fleet", "rotate", "--older-than", "0s", "--yes"],
    );
    assert_code(&out, 254);
    assert!(w.moto.list_secrets().is_empty());

    // The administrator delivers, throttled twice on the way.
    w.moto
        .add_fault(Fault::new("CreateSecret", FaultKind::Throttle).count(2));
    let out = run(
        &w.admin,
        &["fleet", "rotate", "--older-than", "0s", "--yes"],
    );
    assert_code(&out, 0);
    let got = stages(&out);
    assert!(got.contains(&row("alice", "Due", "Deliver")), "{got:?}");
    assert!(got.contains(&row("bob", "Due", "Deliver")), "{got:?}");
    assert!(
        got.contains(&row("fleet-admin", "Caller", "None")),
        "{got:?}"
    );
    assert_eq!(key_ids(&w.moto, "alice").len(), 2);

    // alice picks up, with her old key, from her files; the old key goes.
    let out = run(alice_home, &["pickup"]);
    assert_code(&out, 0);
    assert!(!alice_home.credentials().contains(&alice.id));
    assert_eq!(key_ids(&w.moto, "alice").len(), 1);

    // The next run: alice's delivery is removed; bob's waits, his old key active (promise 9).
    let out = run(
        &w.admin,
        &["fleet", "rotate", "--older-than", "0s", "--yes"],
    );
    assert_code(&out, 0);
    let got = stages(&out);
    assert!(
        got.contains(&row("alice", "Installed", "DeleteDelivery")),
        "{got:?}"
    );
    assert!(got.contains(&row("bob", "Delivered", "None")), "{got:?}");
    let names: Vec<String> = w.moto.list_secrets().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["aws-rotate-keys/bob"]);
    assert!(key_ids(&w.moto, "bob").iter().all(|(_, s)| s == "Active"));

    // --deactivate-after: bob never picked up; his old key is deactivated, and he is locked
    // out of his delivery (that is what the option trades for the deadline).
    let out = run(
        &w.admin,
        &[
            "fleet",
            "rotate",
            "--older-than",
            "0s",
            "--yes",
            "--deactivate-after",
            "0s",
        ],
    );
    assert_code(&out, 0);
    assert!(stages(&out).contains(&row("bob", "Delivered", "DeactivateOldKey")));
    let old = key_ids(&w.moto, "bob")
        .into_iter()
        .find(|(id, _)| *id == bob.id)
        .expect("bob's old key");
    assert_eq!(old.1, "Inactive");
    let before = bob_home.credentials();
    let out = run(bob_home, &["pickup"]);
    assert_ne!(out.status.code(), Some(0));
    assert_eq!(bob_home.credentials(), before);

    // Status reads well on the administrator's policy.
    let out = run(&w.admin, &["fleet", "status", "--output", "table"]);
    assert_code(&out, 0);
}

#[test]
fn one_users_failure_does_not_stop_the_others() {
    let w = world();
    // The first CreateAccessKey is refused (not retried: AccessDenied); the other user's goes.
    w.moto
        .add_fault(Fault::new("CreateAccessKey", FaultKind::Denied).count(1));
    let out = run(
        &w.admin,
        &["fleet", "rotate", "--older-than", "0s", "--yes"],
    );
    assert_code(&out, 254);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let users = v["Users"].as_array().expect("users");
    let failed: Vec<&str> = users
        .iter()
        .filter(|u| u.get("Error").is_some())
        .filter_map(|u| u["UserName"].as_str())
        .collect();
    assert_eq!(failed.len(), 1, "{v}");
    let delivered = w.moto.list_secrets();
    // The failed user's mark stays (a later run delivers); the other's delivery is complete.
    let other = if failed[0] == "alice" { "bob" } else { "alice" };
    assert_eq!(key_ids(&w.moto, other).len(), 2);
    assert_eq!(key_ids(&w.moto, failed[0]).len(), 1);
    assert!(
        delivered
            .iter()
            .any(|(n, d)| *n == format!("aws-rotate-keys/{other}")
                && d.as_deref().is_some_and(|d| d.contains("Delivered"))),
        "{delivered:?}"
    );
    assert!(
        text(&out.stderr).contains(failed[0]),
        "{}",
        text(&out.stderr)
    );
    // The next run finishes the failed user's delivery.
    let out = run(
        &w.admin,
        &["fleet", "rotate", "--older-than", "0s", "--yes"],
    );
    assert_code(&out, 0);
    assert_eq!(key_ids(&w.moto, failed[0]).len(), 2);
}
