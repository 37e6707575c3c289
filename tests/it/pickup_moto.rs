//! `pickup` end to end: the real binary, a real HOME, moto behind the test proxy (which refuses
//! an inactive key's requests, Secrets Manager's included, as AWS does). The administrator's
//! delivery is made here with moto's admin calls, as `fleet rotate` leaves it.
#![cfg(feature = "cli")]

use crate::common::{assert_code, text};
use crate::moto::{self, AccessKey, Home, Moto};

/// alice, whose policy lets her read Secrets Manager; her old key in `[default]` of the
/// credentials file and `[profile ci]` of the config file; a key delivered to her.
struct Setup {
    moto: Moto,
    old: AccessKey,
    new: AccessKey,
    home: Home,
}

fn setup(deliver: bool) -> Setup {
    let moto = Moto::start();
    let old = moto.user_with_key("alice");
    moto.put_user_policy(
        "alice",
        "delivery",
        &moto::allow_policy(&["secretsmanager:GetSecretValue"]),
    );
    let new = moto.create_access_key("alice");
    if deliver {
        let value = format!(
            r#"{{"UserName":"alice","AccessKeyId":"{}","SecretAccessKey":"{}","CreateDate":"2026-12-01T00:00:00+00:00","ReplacesAccessKeyId":"{}"}}"#,
            new.id, new.secret, old.id
        );
        let marker = format!(
            r#"{{"aws-rotate-keys":1,"State":"Delivered","ReplacesAccessKeyId":"{}","AccessKeyId":"{}","DeliveredDate":"2026-12-01T00:00:00+00:00"}}"#,
            old.id, new.id
        );
        moto.create_secret("aws-rotate-keys/alice", Some(&value), Some(&marker));
    }
    let config = format!(
        "[profile ci]\nregion = eu-west-1\naws_access_key_id = {}\naws_secret_access_key = {}\n",
        old.id, old.secret
    );
    let credentials = format!("# mine\n{}", old.credentials_profile("default"));
    let home = moto.home(&config, &credentials);
    Setup {
        moto,
        old,
        new,
        home,
    }
}

#[test]
fn pickup_installs_the_delivered_key_in_every_profile_then_deletes_the_old_one() {
    let s = setup(true);
    let seq = s.moto.log().last().map_or(0, |e| e.seq);
    let out = s
        .home
        .command()
        .args(["pickup", "-p", "default", "--debug"])
        .output()
        .expect("runs");
    assert_code(&out, 0);
    let stdout = text(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    let row = &v["Pickups"][0];
    assert_eq!(row["Status"], "Installed", "{stdout}");
    assert_eq!(row["OldAccessKeyId"], s.old.id.as_str());
    assert_eq!(row["NewAccessKeyId"], s.new.id.as_str());
    assert_eq!(row["Profiles"], serde_json::json!(["default", "ci"]));
    for file in [s.home.credentials(), s.home.config()] {
        assert!(
            file.contains(&s.new.id) && file.contains(&s.new.secret),
            "{file}"
        );
        assert!(!file.contains(&s.old.id), "{file}");
    }
    assert!(s.home.credentials().starts_with("# mine\n"));
    // The secret reached the files and nothing printed, the debug log included.
    for shown in [&stdout, &text(&out.stderr)] {
        assert!(!shown.contains(&s.new.secret), "the new secret was shown");
    }
    let keys: Vec<String> = s
        .moto
        .list_access_keys("alice")
        .into_iter()
        .map(|k| k.id)
        .collect();
    assert_eq!(
        keys,
        std::slice::from_ref(&s.new.id),
        "the old key is deleted"
    );
    // Read with the old key, the old key deleted with the old key.
    let log = s.moto.log_since(seq);
    let signed = |action: &str| {
        log.iter()
            .filter(|e| e.action.as_deref() == Some(action))
            .map(|e| e.key.clone().unwrap_or_default())
            .collect::<Vec<_>>()
    };
    assert_eq!(signed("GetSecretValue"), std::slice::from_ref(&s.old.id));
    assert_eq!(signed("DeleteAccessKey"), std::slice::from_ref(&s.old.id));
    assert!(
        signed("CreateAccessKey").is_empty(),
        "a pickup creates no key"
    );

    // Again: the delivery is installed already.
    let out = s
        .home
        .command()
        .args(["pickup", "-p", "ci"])
        .output()
        .expect("runs");
    assert_code(&out, 0);
    assert!(
        text(&out.stdout).contains("\"AlreadyInstalled\""),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn no_delivery_says_so_and_changes_nothing() {
    let s = setup(false);
    let (config, credentials) = (s.home.config(), s.home.credentials());
    let out = s.home.command().args(["pickup"]).output().expect("runs");
    assert_code(&out, 0);
    assert!(
        text(&out.stdout).contains("\"NoDelivery\""),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains("no delivery is waiting for user alice"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        (s.home.config(), s.home.credentials()),
        (config, credentials)
    );
    assert_eq!(s.moto.list_access_keys("alice").len(), 2);
}

#[test]
fn an_old_key_deactivated_too_early_locks_the_owner_out_of_the_delivery() {
    // What fleet's promise 9 prevents: with the old key inactive, the owner can read nothing,
    // the delivery included (moto alone would let the inactive key through).
    let s = setup(true);
    s.moto.update_access_key("alice", &s.old.id, "Inactive");
    let refused = s
        .moto
        .get_secret_value_as(&s.old, "aws-rotate-keys/alice")
        .expect_err("an inactive key cannot read the delivery");
    assert_eq!(refused.code.as_deref(), Some("UnrecognizedClientException"));
    let (config, credentials) = (s.home.config(), s.home.credentials());
    let out = s.home.command().args(["pickup"]).output().expect("runs");
    assert_ne!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        (s.home.config(), s.home.credentials()),
        (config, credentials)
    );
}

#[test]
fn rotate_installs_a_waiting_delivery_instead_of_creating_a_key() {
    let s = setup(true);
    let seq = s.moto.log().last().map_or(0, |e| e.seq);
    let out = s
        .home
        .command()
        .args(["-p", "ci", "--yes"])
        .output()
        .expect("runs");
    assert_code(&out, 0);
    assert!(s.home.credentials().contains(&s.new.id));
    assert!(s.home.config().contains(&s.new.id));
    let log = s.moto.log_since(seq);
    assert!(
        !log.iter()
            .any(|e| e.action.as_deref() == Some("CreateAccessKey")),
        "no new key"
    );
}
