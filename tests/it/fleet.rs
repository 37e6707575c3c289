//! `fleet`: the command line without AWS (options, `fleet policy`), then the real binary against
//! moto (authentication on) behind the test proxy: plan changes nothing, rotate delivers a key
//! into `aws-rotate-keys/USERNAME` and leaves the old one active, the next run waits for the
//! owner, and once the new key is used the old one goes; exempt, blocked and caller users are
//! left alone; a missing `--exempt-group` or a missing `--yes` changes nothing.
//!
//! The delivery secrets are read as the administrator straight from moto (not through the
//! proxy, whose log must show the binary's requests only).
#![cfg(all(not(target_family = "wasm"), feature = "cli"))]
#![allow(clippy::disallowed_methods, clippy::unwrap_used)]

use std::process::Output;

use crate::common::Filters;
use crate::common::{assert_code, text};
use crate::moto::{AccessKey, Home, Moto, closed_port};

/// A HOME whose requests would go nowhere: for what must be answered before any request.
fn offline_home() -> Home {
    Home::new(
        &format!("http://127.0.0.1:{}", closed_port()),
        "",
        "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = x\n",
    )
}

#[test]
fn fleet_policy_prints_the_four_policies_and_query_picks_one() {
    let home = offline_home();
    let f = Filters::new(home.path());
    let out = home.command().args(["fleet", "policy"]).output().unwrap();
    assert_code(&out, 0);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let names: Vec<&str> = v["Policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["PolicyName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "aws-rotate-keys-fleet-rotate",
            "aws-rotate-keys-fleet-read",
            "aws-rotate-keys-user",
            "aws-rotate-keys-organization"
        ]
    );
    // What `aws iam put-user-policy --policy-document` takes.
    cli_snapshot!(f, home.command().args(["fleet", "policy", "--query", "Policies[2].PolicyDocument"]), @r#"
    exit: 0
    ----- stdout -----
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "RotateOwnKeys",
                "Effect": "Allow",
                "Action": [
                    "iam:ListAccessKeys",
                    "iam:GetAccessKeyLastUsed",
                    "iam:CreateAccessKey",
                    "iam:UpdateAccessKey",
                    "iam:DeleteAccessKey"
                ],
                "Resource": "arn:aws:iam::*:user/${aws:username}"
            },
            {
                "Sid": "PickUpOwnDelivery",
                "Effect": "Allow",
                "Action": [
                    "secretsmanager:GetSecretValue"
                ],
                "Resource": "arn:aws:secretsmanager:*:*:secret:aws-rotate-keys/${aws:username}-??????"
            }
        ]
    }
    ----- stderr -----
    "#);
    cli_snapshot!(f, home.command().args(["fleet", "policy", "--output", "text", "--query", "Policies[].PolicyName"]), @"
    exit: 0
    ----- stdout -----
    aws-rotate-keys-fleet-rotate	aws-rotate-keys-fleet-read	aws-rotate-keys-user	aws-rotate-keys-organization
    ----- stderr -----
    ");
}

#[test]
fn fleet_bad_options_exit_252_before_any_request() {
    let home = offline_home();
    let f = Filters::new(home.path());
    cli_snapshot!(f, home.command().args(["fleet", "plan", "--older-than", "90"]), @r"
    exit: 252
    ----- stdout -----
    ----- stderr -----
    aws-rotate-keys: error: --older-than: invalid duration '90': use a number and a unit, such as 90d, 12h, 30m, 45s or 1h30m
    ");
    cli_snapshot!(f, home.command().args(["fleet", "rotate", "--yes", "--delete-after", "soon"]), @r"
    exit: 252
    ----- stdout -----
    ----- stderr -----
    aws-rotate-keys: error: --delete-after: invalid duration 'soon': use a number and a unit, such as 90d, 12h, 30m, 45s or 1h30m
    ");
    cli_snapshot!(f, home.command().args(["fleet", "status", "--deactivate-after", "2 weeks"]), @r"
    exit: 252
    ----- stdout -----
    ----- stderr -----
    aws-rotate-keys: error: --deactivate-after: invalid duration '2 weeks': use a number and a unit, such as 90d, 12h, 30m, 45s or 1h30m
    ");
    cli_snapshot!(f, home.command().args(["--yes", "fleet", "rotate"]), @r"
    exit: 252
    ----- stdout -----
    ----- stderr -----
    aws-rotate-keys: error: --yes is an option of rotate, not of fleet: give the fleet's options after its command (aws-rotate-keys fleet rotate --yes)
    ");
    cli_snapshot!(f, home.command().args(["-p", "a", "-p", "b", "fleet", "status"]), @r"
    exit: 252
    ----- stdout -----
    ----- stderr -----
    aws-rotate-keys: error: fleet commands sign with one profile's credentials: give --profile once
    ");
    cli_snapshot!(f, home.command().args(["-p", "nope", "fleet", "status"]), @r"
    exit: 253
    ----- stdout -----
    ----- stderr -----
    aws-rotate-keys: error: the config profile (nope) could not be found; check --profile, AWS_PROFILE and the files
    ");
    let out = home
        .command()
        .args(["fleet", "rotate", "--keep-old"])
        .output()
        .unwrap();
    assert_code(&out, 252);
}

// ---- against moto ------------------------------------------------------------------------------

/// The run's world: moto, the administrator `admin` (allowed everything; its key is the HOME's
/// default profile), and `moto-admin` (the harness's own user, which every run would otherwise
/// see as due) tagged exempt.
struct Fleet {
    moto: Moto,
    admin: AccessKey,
    home: Home,
}

impl Fleet {
    fn start() -> Fleet {
        let moto = Moto::start();
        moto.create_user_with_policy("admin", "all");
        let admin = moto.create_access_key("admin");
        let home = moto.home("", &admin.credentials_profile("default"));
        let fleet = Fleet { moto, admin, home };
        fleet.tag("moto-admin", "aws-rotate-keys:exempt", "harness");
        fleet
    }

    fn tag(&self, user: &str, key: &str, value: &str) {
        self.moto.tag_user(user, key, value);
    }

    /// A user with a key, the test's way of making "a user whose key is due" (with
    /// `--older-than 0s`, every key is).
    fn user(&self, name: &str) -> AccessKey {
        self.moto.user_with_key(name)
    }

    /// The names of the secrets there are.
    fn secret_names(&self) -> Vec<String> {
        self.moto
            .list_secrets()
            .into_iter()
            .map(|(name, _)| name)
            .collect()
    }

    /// The delivery secret's value, read as the admin straight from moto (not in the log).
    fn delivered(&self, user: &str) -> serde_json::Value {
        let s = self
            .moto
            .get_secret_value_from_moto(&self.admin, &format!("aws-rotate-keys/{user}"))
            .unwrap();
        serde_json::from_str(&s).unwrap()
    }

    fn keys(&self, user: &str) -> Vec<(String, String)> {
        let mut keys: Vec<(String, String)> = self
            .moto
            .list_access_keys(user)
            .into_iter()
            .map(|k| (k.id, k.status))
            .collect();
        keys.sort();
        keys
    }

    fn run(&self, args: &[&str]) -> Output {
        self.home.command().args(args).output().unwrap()
    }

    /// The requests since `seq` that change something (the credential report's generation
    /// aside: it changes no user).
    fn changes_since(&self, seq: u64) -> Vec<String> {
        self.moto
            .log_since(seq)
            .into_iter()
            .filter(|e| e.is_mutating())
            .filter_map(|e| e.action)
            .filter(|a| a != "GenerateCredentialReport")
            .collect()
    }

    fn last_seq(&self) -> u64 {
        self.moto.log().last().map_or(0, |e| e.seq)
    }
}

/// moto's timestamps (always with microseconds) as a label of the same width.
fn same_width_times(mut out: Output) -> Output {
    let re =
        regex_lite::Regex::new(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00").expect("a pattern");
    let stdout = re
        .replace_all(&text(&out.stdout), "YYYY-MM-DDThh:mm:ss.uuuuuu+00:00")
        .into_owned();
    out.stdout = stdout.into_bytes();
    out
}

#[test]
fn fleet_delivers_waits_for_the_owner_then_retires_the_old_key() {
    let w = Fleet::start();
    let alice = w.user("alice");
    let bob = w.user("bob");
    w.tag("bob", "aws-rotate-keys:exempt", "");
    // carol has two active keys, the second made just now: younger than Secrets Manager's
    // listing lag, it may be a delivery the listing does not show yet, so the run waits
    // (`Due`, nothing done) rather than call her blocked. moto cannot age a key; the fleet
    // transcripts show the blocked case with simulated time.
    let carol = w.user("carol");
    let carol2 = w.moto.create_access_key("carol");
    let f = Filters::new(w.home.path())
        .with(&alice.id, "[ALICE-OLD]")
        .with(&bob.id, "[BOB]")
        .with(&carol.id, "[CAROL-1]")
        .with(&carol2.id, "[CAROL-2]");

    // plan: decides, changes nothing.
    let seq = w.last_seq();
    cli_snapshot!(f, w.home.command().args(["fleet", "plan", "--older-than", "0s", "--output", "text", "--query", "Users[].[UserName, Stage, Action]"]), @"
    exit: 0
    ----- stdout -----
    admin	Caller	None
    alice	Due	Deliver
    bob	Exempt	None
    carol	Due	None
    moto-admin	Exempt	None
    ----- stderr -----
    ");
    assert_eq!(w.changes_since(seq), Vec::<String>::new());
    assert!(w.secret_names().is_empty());

    // rotate: alice gets a second key, delivered; nobody else changes.
    let seq = w.last_seq();
    let out = w.run(&["fleet", "rotate", "--older-than", "0s", "--yes"]);
    assert_code(&out, 0);
    let keys = w.keys("alice");
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(keys.iter().all(|(_, s)| s == "Active"), "{keys:?}");
    let new = keys
        .iter()
        .find(|(id, _)| *id != alice.id)
        .unwrap()
        .0
        .clone();
    let value = w.delivered("alice");
    assert_eq!(value["UserName"], "alice");
    assert_eq!(value["AccessKeyId"], new.as_str());
    assert_eq!(value["ReplacesAccessKeyId"], alice.id.as_str());
    let secret = value["SecretAccessKey"].as_str().unwrap().to_owned();
    assert!(
        !text(&out.stdout).contains(&secret) && !text(&out.stderr).contains(&secret),
        "the secret is printed nowhere"
    );
    assert_eq!(w.keys("bob"), [(bob.id.clone(), "Active".to_owned())]);
    assert_eq!(w.keys("carol").len(), 2);
    assert_eq!(w.secret_names(), ["aws-rotate-keys/alice"]);
    let policy = w
        .moto
        .get_resource_policy("aws-rotate-keys/alice")
        .unwrap()
        .unwrap_or_default();
    assert!(
        policy.contains("\"arn:aws:iam::123456789012:user/alice\""),
        "only alice reads it: {policy}"
    );
    let description = w
        .moto
        .describe_secret("aws-rotate-keys/alice")
        .unwrap()
        .description
        .unwrap_or_default();
    assert!(
        description.contains("\"State\":\"Delivered\""),
        "{description}"
    );
    assert_eq!(
        w.changes_since(seq),
        [
            "CreateSecret",
            "PutResourcePolicy",
            "CreateAccessKey",
            "UpdateSecret"
        ]
    );
    let f = f.with(&new, "[ALICE-NEW]");
    insta::assert_snapshot!(crate::common::shown(&out, &f), @r#"
    exit: 0
    ----- stdout -----
    {
        "Users": [
            {
                "Account": "123456789012",
                "UserName": "admin",
                "Stage": "Caller",
                "Action": "None"
            },
            {
                "Account": "123456789012",
                "UserName": "alice",
                "Stage": "Due",
                "Action": "Deliver",
                "AccessKeys": [
                    {
                        "AccessKeyId": "[ALICE-OLD]",
                        "Status": "Active",
                        "CreateDate": "[TIME]",
                        "AgeDays": 0
                    }
                ],
                "DeliveredAccessKeyId": "[ALICE-NEW]",
                "ReplacesAccessKeyId": "[ALICE-OLD]"
            },
            {
                "Account": "123456789012",
                "UserName": "bob",
                "Stage": "Exempt",
                "Action": "None"
            },
            {
                "Account": "123456789012",
                "UserName": "carol",
                "Stage": "Due",
                "Action": "None",
                "AccessKeys": [
                    {
                        "AccessKeyId": "[CAROL-1]",
                        "Status": "Active",
                        "CreateDate": "[TIME]",
                        "AgeDays": 0
                    },
                    {
                        "AccessKeyId": "[CAROL-2]",
                        "Status": "Active",
                        "CreateDate": "[TIME]",
                        "AgeDays": 0
                    }
                ]
            },
            {
                "Account": "123456789012",
                "UserName": "moto-admin",
                "Stage": "Exempt",
                "Action": "None"
            }
        ]
    }
    ----- stderr -----
    "#);

    // The next run: delivered and never used, so nothing; the old key stays active.
    let seq = w.last_seq();
    let out = w.run(&[
        "fleet",
        "rotate",
        "--older-than",
        "0s",
        "--yes",
        "--output",
        "text",
        "--query",
        "Users[?UserName=='alice'].[Stage, Action, DeliveredAccessKeyId, ReplacesAccessKeyId]",
    ]);
    assert_code(&out, 0);
    assert_eq!(
        f.apply(&text(&out.stdout)),
        "Delivered\tNone\t[ALICE-NEW]\t[ALICE-OLD]\n"
    );
    assert_eq!(w.changes_since(seq), Vec::<String>::new());
    assert!(w.keys("alice").iter().all(|(_, s)| s == "Active"));

    // status, as a table: the keys nested under their user. (Labels as wide as what they
    // replace: the columns stay aligned.)
    let out = w.run(&[
        "fleet",
        "status",
        "--older-than",
        "0s",
        "--user-name",
        "alice",
        "--output",
        "table",
    ]);
    let table = Filters::new(w.home.path())
        .with(&alice.id, "AKIA_ALICE_OLD______")
        .with(&new, "AKIA_ALICE_NEW______");
    insta::assert_snapshot!(crate::common::shown(&same_width_times(out), &table), @"
    exit: 0
    ----- stdout -----
    -------------------------------------------------------------------------------------------------------
    |                                                Fleet                                                |
    +-----------------------------------------------------------------------------------------------------+
    ||                                               Users                                               ||
    |+--------------------------------------+------------------------------------------------------------+|
    ||  Account                             |  123456789012                                              ||
    ||  DeliveredAccessKeyId                |  AKIA_ALICE_NEW______                                      ||
    ||  DeliveredDate                       |  YYYY-MM-DDThh:mm:ss.uuuuuu+00:00                          ||
    ||  DeliveredDays                       |  0                                                         ||
    ||  ReplacesAccessKeyId                 |  AKIA_ALICE_OLD______                                      ||
    ||  Stage                               |  Delivered                                                 ||
    ||  UserName                            |  alice                                                     ||
    |+--------------------------------------+------------------------------------------------------------+|
    |||                                           AccessKeys                                            |||
    ||+----------------------+----------+------------------------------------+---------------+----------+||
    |||      AccessKeyId     | AgeDays  |            CreateDate              | LastUsedDate  | Status   |||
    ||+----------------------+----------+------------------------------------+---------------+----------+||
    |||  AKIA_ALICE_OLD______|  0       |  YYYY-MM-DDThh:mm:ss.uuuuuu+00:00  |  None         |  Active  |||
    |||  AKIA_ALICE_NEW______|  0       |  YYYY-MM-DDThh:mm:ss.uuuuuu+00:00  |  None         |  Active  |||
    ||+----------------------+----------+------------------------------------+---------------+----------+||
    ----- stderr -----
    ");

    // The owner uses the new key (as pickup would); the next run retires the old key, and
    // with --delete-after 0s deletes it and the secret at once.
    let me = w.moto.caller_identity_via_proxy(&new, &secret);
    assert!(me.is_ok(), "the delivered key works: {me:?}");
    let seq = w.last_seq();
    cli_snapshot!(f, w.home.command().args(["fleet", "rotate", "--older-than", "0s", "--yes", "--delete-after", "0s", "--user-name", "alice", "--output", "text", "--query", "Users[].[UserName, Stage, Action]"]), @"
    exit: 0
    ----- stdout -----
    alice	Installed	DeleteOldKey
    ----- stderr -----
    ");
    assert_eq!(
        w.changes_since(seq),
        [
            "UpdateAccessKey",
            "UpdateSecret",
            "DeleteAccessKey",
            "DeleteSecret"
        ]
    );
    assert_eq!(w.keys("alice"), [(new.clone(), "Active".to_owned())]);
    assert!(w.secret_names().is_empty());
}

#[test]
fn fleet_rotate_changes_nothing_without_yes_or_with_a_missing_group() {
    let w = Fleet::start();
    let alice = w.user("alice");
    let dave = w.user("dave");
    w.moto.create_group("robots");
    w.moto.add_user_to_group("dave", "robots");
    let f = Filters::new(w.home.path());
    let seq = w.last_seq();
    // No terminal to ask, no --yes.
    cli_snapshot!(f, w.home.command().args(["fleet", "rotate", "--older-than", "0s"]), @"
    exit: 252
    ----- stdout -----
    ----- stderr -----
    aws-rotate-keys: error: fleet rotate would change 2 user(s) and there is no terminal to ask: pass --yes to go ahead (`fleet plan` shows what would be done). Nothing was changed
    ");
    // A group that does not exist: its members would be rotated by mistake.
    cli_snapshot!(f, w.home.command().args(["fleet", "rotate", "--older-than", "0s", "--yes", "--exempt-group", "robots", "--exempt-group", "nosuch"]), @r#"
    exit: 252
    ----- stdout -----
    ----- stderr -----
    aws-rotate-keys: error: the group "nosuch" (--exempt-group) does not exist: nothing was changed. Check its name with `aws iam list-groups`
    "#);
    assert_eq!(w.changes_since(seq), Vec::<String>::new());
    assert_eq!(w.keys("alice").len(), 1);
    assert!(w.secret_names().is_empty());

    // The group that exists exempts its member; a named user that does not exist gets its
    // row and exit 254, the others theirs.
    cli_snapshot!(f, w.home.command().args(["fleet", "plan", "--older-than", "0s", "--exempt-group", "robots", "--user-name", "dave", "--user-name", "alice", "--user-name", "nobody", "--output", "text", "--query", "Users[].[UserName, Stage, Action]"]), @"
    exit: 254
    ----- stdout -----
    alice	Due	Deliver
    dave	Exempt	None
    nobody	None	None
    ----- stderr -----
    aws-rotate-keys: error: user nobody: An error occurred (NoSuchEntity) when calling the GetUser operation: The user with name nobody cannot be found.
    ");

    // --debug logs every request, never the delivered secret; nor does the proxy's log hold it.
    let out = w.run(&[
        "--debug",
        "fleet",
        "rotate",
        "--older-than",
        "0s",
        "--yes",
        "--user-name",
        "alice",
    ]);
    assert_code(&out, 0);
    let secret = w.delivered("alice")["SecretAccessKey"]
        .as_str()
        .unwrap()
        .to_owned();
    let stderr = text(&out.stderr);
    assert!(stderr.contains("debug: SecretsManager UpdateSecret name=aws-rotate-keys/alice"));
    assert!(stderr.contains("not shown"), "{stderr}");
    for shown in [stderr, text(&out.stdout), w.moto.log_text()] {
        assert!(!shown.contains(&secret), "the secret in: {shown}");
    }

    // Secrets Manager's own endpoint variable is honoured (nothing listens there: the run
    // stops on ListSecrets, after its retries, before any change), and --endpoint-url wins
    // over it, as in the aws CLI.
    let dead = format!("http://127.0.0.1:{}", closed_port());
    let out = w
        .home
        .command()
        .env("AWS_ENDPOINT_URL_SECRETS_MANAGER", &dead)
        .args(["fleet", "status", "--user-name", "alice"])
        .output()
        .unwrap();
    // (254 today: the core counts a connection that failed after its retries as the
    // service's error; the aws CLI says 255 for an endpoint it cannot reach.)
    assert!(
        matches!(out.status.code(), Some(254 | 255)),
        "{:?}",
        out.status
    );
    assert!(
        text(&out.stderr).contains("ListSecrets operation"),
        "{}",
        text(&out.stderr)
    );
    let out = w
        .home
        .command()
        .env("AWS_ENDPOINT_URL_SECRETS_MANAGER", &dead)
        .args(["--endpoint-url", w.moto.endpoint()])
        .args(["fleet", "status", "--user-name", "alice"])
        .output()
        .unwrap();
    assert_code(&out, 0);

    // Environment credentials, no files: the administrator's as well. A profile named by
    // --profile wins over them, as in the aws CLI.
    let env_home = w.moto.home("", "");
    let out = env_home
        .command()
        .env("AWS_ACCESS_KEY_ID", &w.admin.id)
        .env("AWS_SECRET_ACCESS_KEY", &w.admin.secret)
        .args([
            "fleet",
            "status",
            "--user-name",
            "admin",
            "--query",
            "Users[0].Stage",
        ])
        .output()
        .unwrap();
    assert_code(&out, 0);
    assert_eq!(text(&out.stdout), "\"Caller\"\n");
    let out = w
        .home
        .command()
        .env("AWS_ACCESS_KEY_ID", &alice.id)
        .env("AWS_SECRET_ACCESS_KEY", &alice.secret)
        .args([
            "-p",
            "default",
            "fleet",
            "status",
            "--user-name",
            "admin",
            "--query",
            "Users[0].Stage",
        ])
        .output()
        .unwrap();
    assert_code(&out, 0);
    assert_eq!(
        text(&out.stdout),
        "\"Caller\"\n",
        "signed by the profile's key, not alice's"
    );
    let _ = dave;
}
