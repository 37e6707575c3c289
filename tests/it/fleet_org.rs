//! The fleet across an organization on moto: a management account and three member accounts,
//! one of which cannot be entered (the proxy refuses `AssumeRole` of its role, as STS does when
//! the role's trust or the caller's policy says no). Every account's users get their rows with
//! their account; the one that cannot be entered gets its row with STS's error and does not
//! stop the others (exit 254); the table groups the rows by account; a rotation without a
//! terminal changes nothing in any account; with `--yes` it delivers in each account, and the
//! owner in a member account picks up with the key it holds; a suspended account named in
//! `--accounts` gets its row; bad values are refused before any request.
#![cfg(feature = "cli")]

use std::process::Output;

use crate::common::{assert_code, text};
use crate::moto::{Fault, FaultKind, Home, Moto};

struct Org {
    moto: Moto,
    admin: Home,
    management: String,
    /// dev, prod, locked.
    accounts: Vec<String>,
}

fn org() -> Org {
    let moto = Moto::start();
    moto.tag_user("moto-admin", "aws-rotate-keys:exempt", "harness");
    let (management, accounts) = moto.organization(&["dev", "prod", "locked"]);
    moto.create_user("org-admin");
    let k = moto.create_access_key("org-admin");
    let admin = moto.home(
        "[default]\nregion = us-east-1\n",
        &k.credentials_profile("default"),
    );
    moto.create_user("m-alice");
    moto.create_access_key("m-alice");
    let locked = &accounts[2];
    moto.add_fault(
        Fault::new("AssumeRole", FaultKind::Denied)
            .forever()
            .role_arn(&format!(
                "arn:aws:iam::{locked}:role/OrganizationAccountAccessRole"
            )),
    );
    Org {
        moto,
        admin,
        management,
        accounts,
    }
}

fn run(home: &Home, args: &[&str]) -> Output {
    home.command().args(args).output().expect("runs")
}

/// (Account, UserName, Stage, Action, whether an Error is there) of each row.
fn rows(out: &Output) -> Vec<(String, String, String, String, bool)> {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("json ({e}): {}", text(&out.stdout)));
    v["Users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| {
            let s = |k: &str| u[k].as_str().unwrap_or_default().to_owned();
            (
                s("Account"),
                s("UserName"),
                s("Stage"),
                s("Action"),
                !u["Error"].is_null(),
            )
        })
        .collect()
}

fn row(
    a: &str,
    u: &str,
    stage: &str,
    action: &str,
    error: bool,
) -> (String, String, String, String, bool) {
    (a.into(), u.into(), stage.into(), action.into(), error)
}

#[test]
fn every_account_runs_and_one_that_cannot_be_entered_gets_its_row() {
    let o = org();
    let (dev, prod, locked) = (&o.accounts[0], &o.accounts[1], &o.accounts[2]);
    let bob = o.moto.user_with_key_in(dev, "d-bob");
    o.moto.user_with_key_in(prod, "p-dave");
    o.moto.user_with_key_in(locked, "l-erin");
    let m = o.management.as_str();

    // Status: every account's users with their account; the locked one's row has the error.
    let out = run(
        &o.admin,
        &[
            "fleet",
            "status",
            "--accounts",
            "all",
            "--older-than",
            "0s",
            "--output",
            "json",
        ],
    );
    assert_code(&out, 254);
    let got = rows(&out);
    for want in [
        row(m, "m-alice", "Due", "", false),
        row(m, "org-admin", "Caller", "", false),
        row(m, "moto-admin", "Exempt", "", false),
        row(dev, "d-bob", "Due", "", false),
        row(prod, "p-dave", "Due", "", false),
        row(locked, "", "", "", true),
    ] {
        assert!(got.contains(&want), "{want:?} not in {got:?}");
    }
    assert!(!got.iter().any(|r| r.1 == "l-erin"), "{got:?}");
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("account {locked}: An error occurred (AccessDenied) when calling the AssumeRole operation")),
        "{err}"
    );
    // In account order.
    let order: Vec<&String> = got.iter().map(|r| &r.0).collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);

    // The table groups the rows by account.
    let out = run(
        &o.admin,
        &[
            "fleet",
            "status",
            "--accounts",
            "all",
            "--older-than",
            "0s",
            "--output",
            "table",
        ],
    );
    assert_code(&out, 254);
    let table = text(&out.stdout);
    assert!(table.contains("Accounts"), "{table}");
    for a in [m, dev.as_str(), prod.as_str(), locked.as_str()] {
        assert_eq!(
            table.matches(&format!("|  {a}")).count(),
            1,
            "account {a} heads one group:\n{table}"
        );
    }

    // Without a terminal, fleet rotate asks nobody and changes nothing anywhere.
    let out = run(
        &o.admin,
        &["fleet", "rotate", "--accounts", "all", "--older-than", "0s"],
    );
    assert_code(&out, 252);
    assert!(text(&out.stderr).contains("--yes"), "{}", text(&out.stderr));
    assert!(o.moto.list_secrets_in(dev).is_empty());
    assert!(
        o.moto
            .list_secrets()
            .iter()
            .all(|(n, _)| !n.starts_with("aws-rotate-keys/"))
    );

    // With --yes: delivered in every account that could be entered.
    let out = run(
        &o.admin,
        &[
            "fleet",
            "rotate",
            "--accounts",
            "all",
            "--older-than",
            "0s",
            "--yes",
            "--output",
            "json",
        ],
    );
    assert_code(&out, 254);
    let got = rows(&out);
    for want in [
        row(m, "m-alice", "Due", "Deliver", false),
        row(dev, "d-bob", "Due", "Deliver", false),
        row(prod, "p-dave", "Due", "Deliver", false),
        row(locked, "", "", "", true),
    ] {
        assert!(got.contains(&want), "{want:?} not in {got:?}");
    }
    assert_eq!(o.moto.list_access_keys_in(dev, "d-bob").len(), 2);
    assert_eq!(o.moto.list_access_keys_in(prod, "p-dave").len(), 2);
    let names =
        |s: Vec<(String, Option<String>)>| s.into_iter().map(|(n, _)| n).collect::<Vec<_>>();
    assert_eq!(
        names(o.moto.list_secrets_in(dev)),
        ["aws-rotate-keys/d-bob"]
    );
    assert_eq!(
        names(o.moto.list_secrets_in(prod)),
        ["aws-rotate-keys/p-dave"]
    );
    assert!(names(o.moto.list_secrets()).contains(&"aws-rotate-keys/m-alice".to_owned()));
    assert_eq!(
        o.moto.list_access_keys_in(locked, "l-erin").len(),
        1,
        "nothing in the locked account"
    );

    // The owner in the member account picks up with the key it holds.
    let home = o.moto.home(
        "[default]\nregion = us-east-1\n",
        &bob.credentials_profile("default"),
    );
    let out = run(&home, &["pickup", "--output", "json"]);
    assert_code(&out, 0);
    let keys = o.moto.list_access_keys_in(dev, "d-bob");
    assert_eq!(keys.len(), 1, "the old key is deleted by pickup: {keys:?}");
    assert_ne!(keys[0].id, bob.id);
    assert!(home.credentials().contains(&keys[0].id));

    // The next run, in that account alone, finishes the delivery.
    let out = run(
        &o.admin,
        &[
            "fleet",
            "rotate",
            "--accounts",
            dev,
            "--older-than",
            "90d",
            "--yes",
            "--output",
            "json",
        ],
    );
    assert_code(&out, 0);
    assert!(rows(&out).contains(&row(dev, "d-bob", "Installed", "DeleteDelivery", false)));
    assert!(o.moto.list_secrets_in(dev).is_empty());

    // A suspended account: skipped by `all`, its row with the reason when named.
    o.moto.close_account(prod);
    let out = run(
        &o.admin,
        &[
            "fleet",
            "status",
            "--accounts",
            &format!("{dev},{prod}"),
            "--output",
            "json",
        ],
    );
    assert_code(&out, 254);
    let got = rows(&out);
    assert!(got.contains(&row(prod, "", "", "", true)), "{got:?}");
    assert!(
        text(&out.stderr).contains("SUSPENDED"),
        "{}",
        text(&out.stderr)
    );
    let out = run(
        &o.admin,
        &["fleet", "status", "--accounts", "all", "--output", "json"],
    );
    assert!(
        !rows(&out).iter().any(|r| &r.0 == prod),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn bad_accounts_and_role_names_are_refused_before_any_request() {
    let home = Home::new("http://127.0.0.1:9", "", "");
    for (args, says) in [
        (
            &["fleet", "status", "--accounts", "12"][..],
            "not an account id",
        ),
        (
            &["fleet", "status", "--accounts", "123456789012,x"][..],
            "not an account id",
        ),
        (
            &["fleet", "status", "--role-name", "Admin"][..],
            "give --accounts too",
        ),
        (
            &["fleet", "status", "--accounts", "all", "--role-name", "a/b"][..],
            "not a role name",
        ),
    ] {
        let out = home.command().args(args).output().expect("runs");
        assert_code(&out, 252);
        assert!(
            text(&out.stderr).contains(says),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}
