//! Issue 14's whole story on moto: an organization of three accounts (the management account,
//! `dev`, and `locked`, whose role the proxy refuses), `fleet rotate --accounts all --encrypt
//! --notify-from`, users sealed to an ssh-ed25519 tag recipient and to an RSA IAM SSH public key,
//! owners picking up with the matching private keys (and first with a wrong one), and the mails
//! as moto's SES store keeps them: to the address in each user's `email` tag, from the
//! `--notify-from` sender, each event once across runs, and no secret in any of them. A user
//! without the tag is noted in its row, not failed.
#![cfg(feature = "cli")]
#![allow(clippy::disallowed_methods)] // the test reads the files the tool wrote

use std::process::Output;

use crate::common::{assert_code, text};
use crate::fleet_encrypt::keygen;
use crate::moto::{AccessKey, Fault, FaultKind, Home, Moto, SentMail};

const FROM: &str = "keys@example.com";

fn run(home: &Home, args: &[&str]) -> Output {
    home.command().args(args).output().expect("runs")
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("json ({e}): {}", text(&out.stdout)))
}

fn row(v: &serde_json::Value, user: &str) -> serde_json::Value {
    v["Users"]
        .as_array()
        .and_then(|a| a.iter().find(|r| r["UserName"] == user).cloned())
        .unwrap_or_else(|| panic!("no row for {user}: {v}"))
}

fn notices(v: &serde_json::Value, user: &str) -> Vec<String> {
    row(v, user)["Notices"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|n| n.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn home_of(moto: &Moto, k: &AccessKey) -> Home {
    moto.home(
        "[default]\nregion = us-east-1\n",
        &k.credentials_profile("default"),
    )
}

/// The secret of the key a home's `[default]` profile holds.
fn secret_in(home: &Home) -> String {
    home.credentials()
        .lines()
        .find_map(|l| l.split_once("aws_secret_access_key = ").map(|(_, s)| s))
        .expect("a secret in the credentials file")
        .trim()
        .to_owned()
}

/// The mails to `address`, as (subject, body).
fn to(mail: &[SentMail], address: &str) -> Vec<(String, String)> {
    mail.iter()
        .filter(|m| m.to == [address])
        .map(|m| (m.subject.clone(), m.body.clone()))
        .collect()
}

#[test]
fn owners_are_mailed_once_per_event_across_an_organization_with_sealed_deliveries() {
    let moto = Moto::start();
    moto.tag_user("moto-admin", "aws-rotate-keys:exempt", "harness");
    let (_management, accounts) = moto.organization(&["dev", "locked"]);
    let (dev, locked) = (accounts[0].clone(), accounts[1].clone());
    moto.add_fault(
        Fault::new("AssumeRole", FaultKind::Denied)
            .forever()
            .role_arn(&format!(
                "arn:aws:iam::{locked}:role/OrganizationAccountAccessRole"
            )),
    );
    moto.create_user("org-admin");
    let admin = home_of(&moto, &moto.create_access_key("org-admin"));
    let keys = admin.path().join("keys");
    std::fs::create_dir_all(&keys).expect("a folder for the keys");
    let (ed_private, ed_public) = keygen(&keys, "ed", &["-t", "ed25519"]);
    let (rsa_private, rsa_public) = keygen(&keys, "rsa", &["-t", "rsa", "-b", "2048"]);
    let quote = |s: &str| serde_json::Value::from(s).to_string();
    let tag_in = |account: &str, user: &str, key: &str, value: &str| {
        moto.admin_in(
            account,
            &format!(
                "{{\"op\":\"tag_user\",\"user\":{},\"key\":{},\"value\":{}}}",
                quote(user),
                quote(key),
                quote(value)
            ),
        );
    };

    // The management account: m-ed (sealed to its ed25519 tag, mailed) and m-quiet (sealed,
    // no address). dev: d-rsa (sealed to its IAM SSH key, mailed) and d-late (never picks up).
    moto.create_user_with_policy("m-ed", "all");
    let m_ed = moto.create_access_key("m-ed");
    moto.tag_user("m-ed", "aws-rotate-keys:recipient", &ed_public);
    moto.tag_user("m-ed", "email", "m-ed@example.com");
    moto.create_user_with_policy("m-quiet", "all");
    let m_quiet = moto.create_access_key("m-quiet");
    moto.tag_user("m-quiet", "aws-rotate-keys:recipient", &ed_public);
    let d_rsa = moto.user_with_key_in(&dev, "d-rsa");
    moto.admin_in(
        &dev,
        &format!(
            "{{\"op\":\"upload_ssh_public_key\",\"user\":\"d-rsa\",\"body\":{}}}",
            quote(&rsa_public)
        ),
    );
    tag_in(&dev, "d-rsa", "email", "d-rsa@example.com");
    let d_late = moto.user_with_key_in(&dev, "d-late");
    tag_in(&dev, "d-late", "aws-rotate-keys:recipient", &ed_public);
    tag_in(&dev, "d-late", "email", "d-late@example.com");
    moto.user_with_key_in(&locked, "l-erin");
    moto.verify_email(FROM);
    moto.admin_in(
        &dev,
        &format!("{{\"op\":\"verify_email\",\"address\":{}}}", quote(FROM)),
    );

    let rotate = |extra: &[&str]| {
        let mut args = vec![
            "fleet",
            "rotate",
            "--accounts",
            "all",
            "--encrypt",
            "--notify-from",
            FROM,
            "--yes",
            "--output",
            "json",
        ];
        args.extend_from_slice(extra);
        run(&admin, &args)
    };
    // A reminder window that opens at once: the delivering run owes it too.
    let soon = [
        "--older-than",
        "0s",
        "--deactivate-after",
        "14d",
        "--warn-before",
        "15d",
    ];

    // The plan says which mails a rotation would send, and sends none.
    let out = run(
        &admin,
        &[
            "fleet",
            "plan",
            "--accounts",
            "all",
            "--encrypt",
            "--notify-from",
            FROM,
            "--older-than",
            "0s",
            "--deactivate-after",
            "14d",
            "--warn-before",
            "15d",
            "--output",
            "json",
        ],
    );
    assert_code(&out, 254);
    let v = json(&out);
    assert_eq!(notices(&v, "m-ed"), ["Delivered", "Reminder"]);
    assert!(moto.sent_mail().is_empty(), "a plan sends nothing");

    // The delivering run: a Delivered and a Reminder mail to each owner with an address.
    let out = rotate(&soon);
    assert_code(&out, 254); // the locked account
    let v = json(&out);
    for user in ["m-ed", "d-rsa", "d-late"] {
        assert_eq!(row(&v, user)["Action"], "Deliver", "{user}");
        assert_eq!(notices(&v, user), ["Delivered", "Reminder"], "{user}");
    }
    assert_eq!(row(&v, "m-quiet")["Action"], "Deliver");
    assert!(notices(&v, "m-quiet").is_empty());
    let note = row(&v, "m-quiet")["NoticeNote"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        note.contains("no tag email") && note.contains("tag-user"),
        "{note}"
    );
    assert!(row(&v, "m-quiet")["Error"].is_null(), "noted, not failed");
    let mail = moto.sent_mail();
    assert_eq!(mail.len(), 6, "{mail:#?}");
    assert!(mail.iter().all(|m| m.from == FROM));
    for (user, address) in [
        ("m-ed", "m-ed@example.com"),
        ("d-rsa", "d-rsa@example.com"),
        ("d-late", "d-late@example.com"),
    ] {
        let got = to(&mail, address);
        assert_eq!(got.len(), 2, "{address}: {got:#?}");
        let (subject, body) = &got[0];
        assert!(subject.contains(user), "{subject}");
        assert!(
            body.contains("aws-rotate-keys pickup -p PROFILE --region us-east-1"),
            "{body}"
        );
        assert!(body.contains(" on 20"), "the deadline: {body}");
    }

    // Again: nothing more is owed, nothing is sent.
    let out = rotate(&soon);
    assert_code(&out, 254);
    let v = json(&out);
    assert!(notices(&v, "m-ed").is_empty() && notices(&v, "d-late").is_empty());
    assert_eq!(moto.sent_mail().len(), 6, "each event once");

    // Pickups: m-ed with OpenSSH's default file; d-rsa first with a wrong key.
    let ed_home = home_of(&moto, &m_ed);
    let ssh = ed_home.path().join(".ssh");
    std::fs::create_dir_all(&ssh).expect("~/.ssh");
    std::fs::copy(&ed_private, ssh.join("id_ed25519")).expect("copied");
    assert_code(&run(&ed_home, &["pickup", "--output", "json"]), 0);
    let rsa_home = home_of(&moto, &d_rsa);
    let before = rsa_home.credentials();
    let wrong = ["pickup", "--identity", &*ed_private.to_string_lossy()];
    let out = run(&rsa_home, &wrong);
    assert_code(&out, 255);
    assert!(text(&out.stderr).contains("could not be decrypted"));
    assert_eq!(
        rsa_home.credentials(),
        before,
        "a wrong key changes nothing"
    );
    let right = ["pickup", "--identity", &*rsa_private.to_string_lossy()];
    assert_code(&run(&rsa_home, &right), 0);
    assert_ne!(rsa_home.credentials(), before);
    assert_eq!(moto.list_access_keys_in(&dev, "d-rsa").len(), 1);

    // The deadline passes for d-late: its old key is deactivated, and it is told so, once
    // (the keys just made are not due: --older-than 1d).
    for round in 0..2 {
        let out = rotate(&["--older-than", "1d", "--deactivate-after", "0s"]);
        assert_code(&out, 254);
        let v = json(&out);
        let want: &[&str] = if round == 0 { &["Deactivated"] } else { &[] };
        assert_eq!(notices(&v, "d-late"), want, "round {round}");
    }
    let keys = moto.list_access_keys_in(&dev, "d-late");
    assert!(
        keys.iter()
            .any(|k| k.id == d_late.id && k.status == "Inactive"),
        "{keys:?}"
    );
    let mail = moto.sent_mail();
    assert_eq!(mail.len(), 7, "{mail:#?}");
    let last = to(&mail, "d-late@example.com");
    assert_eq!(last.len(), 3);
    assert!(last[2].0.contains("deactivated"), "{}", last[2].0);
    assert!(last[2].1.contains(&d_late.id), "names the old key");

    // No secret in any mail: not the old keys', not the installed ones', not the armour.
    let secrets = [
        m_ed.secret.clone(),
        m_quiet.secret.clone(),
        d_rsa.secret.clone(),
        d_late.secret.clone(),
        secret_in(&ed_home),
        secret_in(&rsa_home),
    ];
    for m in &mail {
        for text in [&m.subject, &m.body] {
            assert!(!text.contains("AGE ENCRYPTED") && !text.contains("SecretAccessKey"));
            for s in &secrets {
                assert!(!text.contains(s.as_str()), "a secret in {m:#?}");
            }
        }
    }
}

#[test]
fn notice_options_are_checked_before_any_request() {
    let moto = Moto::start();
    moto.create_user("n-admin");
    let admin = home_of(&moto, &moto.create_access_key("n-admin"));
    let template = admin.path().join("mail.txt");
    std::fs::write(&template, "[delivered]\nSubject: {user}\n\nyour {secret}\n").expect("a file");
    let template = template.to_string_lossy().into_owned();
    for (args, says) in [
        (
            vec!["--warn-before", "3d"],
            "--warn-before shapes the owners' mails: give --notify-from",
        ),
        (
            vec!["--notify-from", FROM, "--warn-before", "3d"],
            "give --deactivate-after too",
        ),
        (vec!["--notify-from", "nobody"], "is not an address"),
        (
            vec!["--notify-from", FROM, "--notify-template", &template],
            "{secret} is not a placeholder",
        ),
        (
            vec![
                "--notify-from",
                FROM,
                "--notify-template",
                "/nonexistent/mail.txt",
            ],
            "could not be read",
        ),
    ] {
        let seq = moto.log().len();
        let mut all = vec!["fleet", "plan"];
        all.extend(args.iter().copied());
        let out = run(&admin, &all);
        assert_code(&out, 252);
        assert!(
            text(&out.stderr).contains(says),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert_eq!(moto.log().len(), seq, "{args:?}: no request");
    }
}

/// SES refuses a mail over the account's 24-hour quota with the `Throttling` code of its
/// per-second rate, but a retry minutes later meets the same refusal: the mail is tried once,
/// the row says why, and the key is delivered all the same (a later run sends the mail).
#[test]
fn a_used_up_daily_sending_quota_is_not_retried() {
    let moto = Moto::start();
    moto.tag_user("moto-admin", "aws-rotate-keys:exempt", "harness");
    moto.create_user_with_policy("q-admin", "all");
    let admin = home_of(&moto, &moto.create_access_key("q-admin"));
    moto.create_user_with_policy("q-owner", "all");
    moto.create_access_key("q-owner");
    moto.tag_user("q-owner", "email", "q-owner@example.com");
    moto.verify_email(FROM);
    moto.add_fault(
        Fault::new(
            "SendEmail",
            FaultKind::Error {
                status: 400,
                code: "Throttling".into(),
                message: "Daily message quota exceeded.".into(),
            },
        )
        .forever(),
    );
    let seq = moto.log().last().map_or(0, |e| e.seq);
    let out = run(
        &admin,
        &[
            "fleet",
            "rotate",
            "--notify-from",
            FROM,
            "--older-than",
            "0s",
            "--yes",
            "--output",
            "json",
        ],
    );
    assert_code(&out, 254);
    let v = json(&out);
    let r = row(&v, "q-owner");
    assert_eq!(r["Action"], "Deliver", "{r}");
    assert!(r["DeliveredAccessKeyId"].is_string(), "delivered: {r}");
    let error = r["Error"].as_str().unwrap_or_default();
    assert!(
        error.contains("Daily message quota exceeded") && error.contains("later run"),
        "{r}"
    );
    let sends = moto
        .log_since(seq)
        .iter()
        .filter(|e| e.action.as_deref() == Some("SendEmail"))
        .count();
    assert_eq!(sends, 1, "retried");
    assert!(moto.sent_mail().is_empty());
}
