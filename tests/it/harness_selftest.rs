//! The end-to-end harness (tests/support/) tested on its own, without the binary: moto with
//! authentication enforced, the proxy's key checks, delay, faults and log, the admin calls, the
//! throwaway HOME, and no process left behind. Each test starts its own moto on free ports, so
//! they run in parallel. Requests through the proxy use the real `aws` CLI v1 where the client
//! matters, and the proxy's one-shot signed GetCallerIdentity where speed does.
// Not on Windows either: they drive the Linux test servers and Python oracles themselves.
#![cfg(not(any(target_family = "wasm", windows)))]
#![allow(clippy::disallowed_methods)]

use crate::moto;

use moto::{Fault, FaultKind, Home, Json, Moto};
use std::process::Output;
use std::time::{Duration, Instant};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn run(mut c: std::process::Command) -> Output {
    c.output().expect("run the aws CLI")
}

/// `aws sts get-caller-identity` through the proxy, one attempt.
fn aws_identity(moto: &Moto, id: &str, secret: &str) -> Output {
    let mut c = moto.aws_with(id, secret);
    c.env("AWS_MAX_ATTEMPTS", "1")
        .args(["sts", "get-caller-identity", "--output", "json"]);
    run(c)
}

#[test]
fn moto_enforces_authentication() {
    let moto = Moto::start();
    let key = moto.user_with_key("alice");
    assert!(
        key.id.starts_with("AKIA") && key.secret.len() == 40,
        "{key:?}"
    );

    // The right secret works, directly and through the proxy.
    let me = moto
        .caller_identity(&key.id, &key.secret)
        .expect("identity");
    assert_eq!(me.arn, "arn:aws:iam::123456789012:user/alice");
    assert_eq!(me.account, "123456789012");
    let via = moto
        .caller_identity_via_proxy(&key.id, &key.secret)
        .expect("identity via proxy");
    assert_eq!(via, me);

    // An unknown key and a wrong secret are refused by moto itself.
    let unknown = moto
        .caller_identity("AKIAIOSFODNN7EXAMPLE", &key.secret)
        .expect_err("unknown key");
    assert_eq!(
        (unknown.status, unknown.code.as_deref()),
        (403, Some("InvalidClientTokenId"))
    );
    let mut wrong = key.secret.clone();
    wrong.replace_range(0..1, if wrong.starts_with('A') { "B" } else { "A" });
    let bad = moto
        .caller_identity(&key.id, &wrong)
        .expect_err("wrong secret");
    assert_eq!(
        (bad.status, bad.code.as_deref()),
        (403, Some("SignatureDoesNotMatch"))
    );

    // A deleted key is refused by moto too (its InvalidClientTokenId, in moto's shape).
    let second = moto.create_access_key("alice");
    moto.delete_access_key("alice", &second.id);
    let gone = moto
        .caller_identity_via_proxy(&second.id, &second.secret)
        .expect_err("deleted");
    assert_eq!(gone.code.as_deref(), Some("InvalidClientTokenId"));
    assert_eq!(moto.list_access_keys("alice").len(), 1);

    // A user without a policy may ask who it is, and nothing else.
    moto.create_user_with_policy("nobody", "none");
    let nobody = moto.create_access_key("nobody");
    moto.caller_identity_via_proxy(&nobody.id, &nobody.secret)
        .expect("GetCallerIdentity is always allowed");
    let mut c = moto.aws(&nobody);
    c.env("AWS_MAX_ATTEMPTS", "1")
        .args(["iam", "list-access-keys"]);
    let out = run(c);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("AccessDenied"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_aws_cli_talks_through_the_proxy() {
    let moto = Moto::start();
    let key = moto.user_with_key("alice");
    let out = aws_identity(&moto, &key.id, &key.secret);
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stderr),
        moto.output_tail()
    );
    let j = Json::parse(&text(&out.stdout)).expect("aws output is JSON");
    assert_eq!(
        j.get("Arn").and_then(Json::as_str),
        Some("arn:aws:iam::123456789012:user/alice")
    );

    // A wrong secret: moto's SignatureDoesNotMatch reaches the client.
    let out = aws_identity(&moto, &key.id, &"x".repeat(40));
    assert_eq!(out.status.code(), Some(255));
    assert!(
        text(&out.stderr).contains("SignatureDoesNotMatch"),
        "{}",
        text(&out.stderr)
    );

    let log = moto.log();
    assert_eq!(log.len(), 2, "{log:#?}");
    for e in &log {
        assert_eq!(e.action.as_deref(), Some("GetCallerIdentity"));
        assert_eq!(e.service.as_deref(), Some("sts"));
        assert_eq!(e.key.as_deref(), Some(key.id.as_str()));
        assert_eq!(e.intervened, None);
    }
    assert_eq!((log[0].status, log[1].status), (Some(200), Some(403)));
    assert!(moto.last_used(&key.id).is_some());
}

#[test]
fn an_inactive_key_is_refused_by_the_proxy() {
    let moto = Moto::start();
    let key = moto.user_with_key("alice");
    moto.update_access_key("alice", &key.id, "Inactive");
    assert_eq!(moto.list_access_keys("alice")[0].status, "Inactive");

    // moto alone would accept it ...
    moto.caller_identity(&key.id, &key.secret)
        .expect("moto accepts inactive keys");
    // ... the proxy answers as AWS does.
    let out = aws_identity(&moto, &key.id, &key.secret);
    assert_eq!(out.status.code(), Some(255));
    assert!(
        text(&out.stderr).contains(
            "An error occurred (InvalidClientTokenId) when calling the GetCallerIdentity operation: \
             The security token included in the request is invalid."
        ),
        "{}",
        text(&out.stderr)
    );
    let e = moto
        .caller_identity_via_proxy(&key.id, &key.secret)
        .expect_err("inactive");
    assert_eq!(
        (e.status, e.code.as_deref()),
        (403, Some("InvalidClientTokenId"))
    );

    // The exact shape, per service.
    let (status, body) = raw_signed(&moto, "sts", &key);
    assert_eq!(status, 403);
    assert!(
        body.starts_with(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <Error>\n    \
         <Type>Sender</Type>\n    <Code>InvalidClientTokenId</Code>\n    \
         <Message>The security token included in the request is invalid.</Message>\n  </Error>\n  \
         <RequestId>"
        ),
        "{body}"
    );
    let (_, body) = raw_signed(&moto, "iam", &key);
    assert!(
        body.starts_with("<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">"),
        "{body}"
    );

    let log = moto.log();
    assert!(
        log.iter()
            .all(|e| e.intervened.as_deref() == Some("inactive") && e.status == Some(403)),
        "{log:#?}"
    );

    // Active again: accepted; and with the check off, an inactive key passes as in moto.
    moto.update_access_key("alice", &key.id, "Active");
    moto.caller_identity_via_proxy(&key.id, &key.secret)
        .expect("active again");
    moto.update_access_key("alice", &key.id, "Inactive");
    moto.set_reject_inactive(false);
    moto.caller_identity_via_proxy(&key.id, &key.secret)
        .expect("check off");
    moto.reset();
    moto.caller_identity_via_proxy(&key.id, &key.secret)
        .expect_err("reset: the check is on again");

    // A status change made by the client through the proxy is seen too.
    moto.update_access_key("alice", &key.id, "Active");
    let other = moto.create_access_key("alice");
    let params = [
        ("UserName", "alice"),
        ("AccessKeyId", key.id.as_str()),
        ("Status", "Inactive"),
    ];
    let (status, body) = moto.signed_call(
        "iam",
        "UpdateAccessKey",
        &params,
        &other.id,
        &other.secret,
        true,
    );
    assert_eq!(status, 200, "{body}");
    moto.caller_identity_via_proxy(&key.id, &key.secret)
        .expect_err("deactivated through the proxy");
    let update = moto
        .log()
        .into_iter()
        .find(|e| e.action.as_deref() == Some("UpdateAccessKey"))
        .expect("logged");
    assert_eq!(update.access_key_id.as_deref(), Some(key.id.as_str()));
    assert_eq!(update.new_key_status.as_deref(), Some("Inactive"));
    assert!(update.is_mutating());
}

/// GetCallerIdentity (sts) or ListAccessKeys (iam) signed by `key`, through the proxy.
fn raw_signed(moto: &Moto, service: &str, key: &moto::AccessKey) -> (u16, String) {
    let action = if service == "sts" {
        "GetCallerIdentity"
    } else {
        "ListAccessKeys"
    };
    moto.signed_call(service, action, &[], &key.id, &key.secret, true)
}

#[test]
fn a_new_key_is_refused_for_the_delay_then_accepted() {
    let moto = Moto::start();
    let old = moto.user_with_key("alice");
    let delay = 2.0;
    moto.set_delay(delay);
    // An admin-made key is not new: no delay.
    let admin_made = moto.create_access_key("alice");
    moto.caller_identity_via_proxy(&admin_made.id, &admin_made.secret)
        .expect("no delay for admin keys");
    moto.delete_access_key("alice", &admin_made.id);

    // The user makes a key through the proxy, as the tool will.
    let mut c = moto.aws(&old);
    c.args([
        "iam",
        "create-access-key",
        "--user-name",
        "alice",
        "--output",
        "json",
    ]);
    let out = run(c);
    let created = Instant::now();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let j = Json::parse(&text(&out.stdout)).expect("JSON");
    let k = j.get("AccessKey").expect("AccessKey");
    let (id, secret) = (
        k.get("AccessKeyId")
            .and_then(Json::as_str)
            .expect("id")
            .to_string(),
        k.get("SecretAccessKey")
            .and_then(Json::as_str)
            .expect("secret")
            .to_string(),
    );

    let mut refused = 0;
    let accepted_after = loop {
        match moto.caller_identity_via_proxy(&id, &secret) {
            Ok(me) => {
                assert!(me.arn.ends_with(":user/alice"));
                break created.elapsed();
            }
            Err(e) => {
                assert_eq!(
                    (e.status, e.code.as_deref()),
                    (403, Some("InvalidClientTokenId"))
                );
                refused += 1;
            }
        }
        assert!(
            created.elapsed() < Duration::from_secs(20),
            "never accepted"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(refused >= 3, "refused only {refused} times");
    // The proxy counts from the CreateAccessKey answer, which came before `created`.
    assert!(
        accepted_after.as_secs_f64() < delay + 2.0,
        "accepted after {accepted_after:?}"
    );

    let log = moto.log();
    let create = log
        .iter()
        .find(|e| e.action.as_deref() == Some("CreateAccessKey"))
        .expect("logged");
    assert_eq!(create.new_key.as_deref(), Some(id.as_str()));
    assert_eq!(create.key.as_deref(), Some(old.id.as_str()));
    assert_eq!(create.user_name.as_deref(), Some("alice"));
    let delayed: Vec<_> = log
        .iter()
        .filter(|e| e.intervened.as_deref() == Some("delay"))
        .collect();
    assert_eq!(delayed.len(), refused);
    assert!(
        delayed
            .iter()
            .all(|e| e.key.as_deref() == Some(id.as_str()))
    );
    // On the proxy's clock: the key was made between the CreateAccessKey request's arrival and
    // its answer; it was refused until `delay` after that, and accepted at the next poll.
    let made = (create.time, create.time + create.ms / 1000.0);
    let first_ok = log
        .iter()
        .find(|e| e.key.as_deref() == Some(id.as_str()) && e.status == Some(200))
        .expect("ok");
    assert!(
        first_ok.time >= made.0 + delay && first_ok.time < made.1 + delay + 1.5,
        "accepted {} s after the creation",
        first_ok.time - made.0
    );
    let last_refused = delayed.last().expect("refused");
    assert!(last_refused.time < made.1 + delay);
    // The old key was never delayed.
    assert!(
        log.iter()
            .filter(|e| e.key.as_deref() == Some(old.id.as_str()))
            .all(|e| e.intervened.is_none())
    );
}

#[test]
fn a_throttle_fault_is_seen_once_then_spent() {
    let moto = Moto::start();
    let key = moto.user_with_key("alice");
    moto.add_fault(Fault::new("GetCallerIdentity", FaultKind::Throttle));
    assert_eq!(moto.faults().len(), 1);

    let e = moto
        .caller_identity_via_proxy(&key.id, &key.secret)
        .expect_err("throttled");
    assert_eq!(
        (e.status, e.code.as_deref(), e.message.as_str()),
        (400, Some("Throttling"), "Rate exceeded")
    );
    moto.caller_identity_via_proxy(&key.id, &key.secret)
        .expect("spent");
    assert_eq!(
        moto.faults()[0].get("count").and_then(Json::as_f64),
        Some(0.0)
    );

    // The aws CLI retries throttling: it succeeds on the second attempt, and the log shows both.
    moto.add_fault(Fault::new("ListAccessKeys", FaultKind::Throttle).key(&key.id));
    let mut c = moto.aws(&key);
    c.args(["iam", "list-access-keys"]);
    let out = run(c);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let log: Vec<_> = moto
        .log()
        .into_iter()
        .filter(|e| e.action.as_deref() == Some("ListAccessKeys"))
        .collect();
    assert_eq!(log.len(), 2, "{log:#?}");
    assert_eq!(
        (log[0].status, log[0].intervened.as_deref()),
        (Some(400), Some("throttle"))
    );
    assert_eq!(
        (log[1].status, log[1].intervened.as_deref()),
        (Some(200), None)
    );

    // A rule for another key does not fire; `*` matches every action; counts add up.
    moto.reset();
    moto.add_fault(
        Fault::new("*", FaultKind::Unavailable)
            .key("AKIAOTHER")
            .forever(),
    );
    moto.add_fault(Fault::new("*", FaultKind::ServerError).count(2));
    for expected in [Some(500), Some(500), None] {
        let r = moto.caller_identity_via_proxy(&key.id, &key.secret);
        assert_eq!(r.err().map(|e| e.status), expected);
    }
}

#[test]
fn other_faults_answer_as_aws_or_close_the_connection() {
    let moto = Moto::start();
    let key = moto.user_with_key("alice");
    let aws = |args: &[&str]| {
        let mut c = moto.aws(&key);
        c.env("AWS_MAX_ATTEMPTS", "1")
            .args(["--cli-read-timeout", "1"])
            .args(args);
        run(c)
    };
    let create = ["iam", "create-access-key", "--user-name", "alice"];

    moto.add_fault(Fault::new("CreateAccessKey", FaultKind::Limit));
    let out = aws(&create);
    assert!(
        text(&out.stderr).contains(
            "An error occurred (LimitExceeded) when calling the CreateAccessKey operation: \
             Cannot exceed quota for AccessKeysPerUser: 2"
        ),
        "{}",
        text(&out.stderr)
    );
    let create_raw = || {
        let params = [("UserName", "alice")];
        moto.signed_call(
            "iam",
            "CreateAccessKey",
            &params,
            &key.id,
            &key.secret,
            true,
        )
    };
    moto.add_fault(Fault::new("CreateAccessKey", FaultKind::Denied));
    let (status, body) = create_raw();
    assert_eq!(status, 403);
    assert!(body.contains("<Code>AccessDenied</Code>"), "{body}");
    assert!(
        body.contains("user/alice is not authorized to perform: iam:CreateAccessKey"),
        "{body}"
    );
    moto.add_fault(Fault::new(
        "CreateAccessKey",
        FaultKind::Error {
            status: 404,
            code: "NoSuchEntity".into(),
            message: "The user with name alice cannot be found.".into(),
        },
    ));
    let (status, body) = create_raw();
    assert_eq!(status, 404);
    assert!(
        body.starts_with("<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">"),
        "{body}"
    );
    assert!(body.contains("<Type>Sender</Type>\n    <Code>NoSuchEntity</Code>\n    <Message>The user with name alice cannot be found.</Message>"), "{body}");

    // close: no answer, and nothing happened.
    moto.add_fault(Fault::new("CreateAccessKey", FaultKind::Close));
    let out = aws(&create);
    assert_eq!(out.status.code(), Some(255), "{}", text(&out.stderr));
    assert_eq!(moto.list_access_keys("alice").len(), 1);

    // after: no answer, but the key was made.
    moto.add_fault(Fault::new("CreateAccessKey", FaultKind::After));
    let out = aws(&create);
    assert_eq!(out.status.code(), Some(255), "{}", text(&out.stderr));
    let keys = moto.list_access_keys("alice");
    assert_eq!(keys.len(), 2);

    // hang: the client's read timeout (1 s) ends it.
    // (The proxy would close after 20 s: the client's own timeout ended it.)
    moto.add_fault(Fault::new("ListAccessKeys", FaultKind::Hang).seconds(20.0));
    let t = Instant::now();
    let out = aws(&["iam", "list-access-keys"]);
    assert_eq!(out.status.code(), Some(255));
    assert!(
        text(&out.stderr).contains("Read timeout"),
        "{}",
        text(&out.stderr)
    );
    assert!(t.elapsed() < Duration::from_secs(15), "{:?}", t.elapsed());

    let log = moto.log();
    let kinds: Vec<_> = log
        .iter()
        .map(|e| (e.intervened.clone(), e.status))
        .collect();
    assert_eq!(
        kinds,
        [
            (Some("limit".to_string()), Some(409)),
            (Some("denied".to_string()), Some(403)),
            (Some("error".to_string()), Some(404)),
            (Some("close".to_string()), None),
            (Some("after".to_string()), None),
            (Some("hang".to_string()), None),
        ]
    );
    assert!(log[..5].iter().all(|e| e.done) && !log[5].done, "{log:#?}");
    let new = keys
        .iter()
        .find(|k| k.id != key.id)
        .expect("the key made by 'after'");
    assert_eq!(log[4].new_key.as_deref(), Some(new.id.as_str()));
}

#[test]
fn the_log_holds_key_ids_and_actions_but_no_secret() {
    let moto = Moto::start();
    let key = moto.user_with_key("alice");
    let mut c = moto.aws(&key);
    c.args([
        "iam",
        "create-access-key",
        "--user-name",
        "alice",
        "--output",
        "json",
    ]);
    let out = run(c);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let created = Json::parse(&text(&out.stdout)).expect("JSON");
    let new_secret = created
        .get("AccessKey")
        .and_then(|k| k.get("SecretAccessKey"))
        .and_then(Json::as_str)
        .expect("secret")
        .to_string();
    let new_id = created
        .get("AccessKey")
        .and_then(|k| k.get("AccessKeyId"))
        .and_then(Json::as_str)
        .expect("id");
    moto.caller_identity_via_proxy(new_id, &new_secret)
        .expect("works");
    let mut c = moto.aws(&key);
    c.args([
        "iam",
        "delete-access-key",
        "--user-name",
        "alice",
        "--access-key-id",
        new_id,
    ]);
    assert!(run(c).status.success());

    let raw = moto.log_text();
    for secret in [&key.secret, &new_secret] {
        assert!(!raw.contains(secret.as_str()), "a secret in the log: {raw}");
        assert!(
            !raw.contains(&secret[..20]),
            "part of a secret in the log: {raw}"
        );
    }
    let log = moto.log();
    let actions: Vec<_> = log
        .iter()
        .map(|e| e.action.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(
        actions,
        ["CreateAccessKey", "GetCallerIdentity", "DeleteAccessKey"]
    );
    let keys: Vec<_> = log.iter().map(|e| e.key.as_deref().unwrap_or("")).collect();
    assert_eq!(keys, [key.id.as_str(), new_id, key.id.as_str()]);
    assert!(
        log.iter()
            .all(|e| e.status == Some(200) && e.time > 1.7e9 && e.done)
    );
    assert!(
        log.windows(2)
            .all(|w| w[0].seq < w[1].seq && w[0].time <= w[1].time)
    );
    assert_eq!(moto.log_since(log[1].seq).len(), 1);
    assert!(log[0].is_mutating() && !log[1].is_mutating() && log[2].is_mutating());
    // Admin calls are not in the log; reset empties it.
    moto.list_access_keys("alice");
    assert_eq!(moto.log().len(), 3);
    moto.reset();
    assert!(moto.log().is_empty());
}

/// `aws ACTION...` through the proxy, signed by a session (botocore's signer, not the proxy's).
fn aws_as_session(moto: &Moto, s: &moto::SessionCredentials, args: &[&str]) -> Output {
    let mut c = moto.aws_with(&s.id, &s.secret);
    c.env("AWS_SESSION_TOKEN", &s.token)
        .env("AWS_MAX_ATTEMPTS", "1")
        .args(args)
        .args(["--output", "json"]);
    run(c)
}

#[test]
fn the_proxy_makes_mfa_sessions_and_checks_what_they_sign() {
    let moto = Moto::start();
    let key = moto.user_with_key("alice");
    let serial = "arn:aws:iam::123456789012:mfa/alice";
    moto.set_mfa_devices(&[(serial, "123456")]);

    // What STS answers to bad MFA input, once moto has accepted the key's signature.
    let err = |serial: Option<&str>, code: Option<&str>| {
        let e = moto
            .get_session_token(&key, serial, code)
            .expect_err("refused");
        (e.status, e.code.unwrap_or_default(), e.message)
    };
    assert_eq!(
        err(Some(serial), Some("654321")),
        (
            403,
            "AccessDenied".to_owned(),
            "MultiFactorAuthentication failed with invalid MFA one time pass code.".to_owned()
        )
    );
    let (status, code, message) = err(Some("arn:aws:iam::123456789012:mfa/bob"), Some("123456"));
    assert_eq!((status, code.as_str()), (403, "AccessDenied"));
    assert!(message.contains("MFA serial number is valid"), "{message}");
    let (status, code, message) = err(Some(serial), None);
    assert_eq!((status, code.as_str()), (403, "AccessDenied"));
    assert!(message.contains("must provide both"), "{message}");
    let (status, code, _) = err(Some(serial), Some("12ab56"));
    assert_eq!((status, code.as_str()), (400, "ValidationError"));
    // A wrong secret: moto's own refusal, before any MFA check.
    let forged = moto::AccessKey {
        secret: "x".repeat(40),
        ..key.clone()
    };
    let e = moto
        .get_session_token(&forged, Some(serial), Some("123456"))
        .expect_err("wrong secret");
    assert_eq!(e.status, 403);
    assert!(moto.sessions().is_empty());

    // The right code: the proxy's own credentials, standing for alice's key.
    let s = moto
        .get_session_token(&key, Some(serial), Some("123456"))
        .expect("a session");
    assert!(s.id.starts_with("ASIA") && s.id.len() == 20, "{s:?}");
    assert!(s.secret.len() == 40 && s.token.len() > 100, "{s:?}");
    assert!(s.expiration.ends_with('Z'), "{s:?}");
    let sessions = moto.sessions();
    assert_eq!(sessions.len(), 1);
    assert_eq!(
        (
            sessions[0].id.as_str(),
            sessions[0].key.as_str(),
            sessions[0].user.as_deref(),
            sessions[0].serial.as_deref()
        ),
        (s.id.as_str(), key.id.as_str(), Some("alice"), Some(serial))
    );
    assert!((800.0..=900.0).contains(&sessions[0].expires_in));

    // Signed by botocore (the aws CLI): IAM and STS answer as alice.
    let out = aws_as_session(&moto, &s, &["iam", "list-access-keys"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&key.id), "{}", text(&out.stdout));
    let out = aws_as_session(&moto, &s, &["sts", "get-caller-identity"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("user/alice"));
    // moto alone does not know the session: it exists in the proxy only.
    let (status, _) = moto.signed_call_with_token(
        "sts",
        "GetCallerIdentity",
        &[],
        &s.id,
        &s.secret,
        Some(&s.token),
        false,
    );
    assert_eq!(status, 403);

    // What AWS refuses: a wrong secret, a wrong or missing token, a session making a session.
    let call = |secret: &str, token: Option<&str>, action: &str| {
        let service = if action == "ListAccessKeys" {
            "iam"
        } else {
            "sts"
        };
        let (status, body) =
            moto.signed_call_with_token(service, action, &[], &s.id, secret, token, true);
        let code = body
            .split_once("<Code>")
            .and_then(|(_, r)| r.split_once("</Code>"))
            .map(|(c, _)| c.to_owned());
        (status, code.unwrap_or(body))
    };
    let refused = |code: &str| (403, code.to_owned());
    assert_eq!(call(&s.secret, Some(&s.token), "ListAccessKeys").0, 200);
    assert_eq!(
        call(&"x".repeat(40), Some(&s.token), "ListAccessKeys"),
        refused("SignatureDoesNotMatch")
    );
    assert_eq!(
        call(&s.secret, Some("IQoJb3JpZ2luX2Vjforged"), "ListAccessKeys"),
        refused("InvalidClientTokenId")
    );
    assert_eq!(
        call(&s.secret, None, "ListAccessKeys"),
        refused("InvalidClientTokenId")
    );
    assert_eq!(
        call(&s.secret, Some(&s.token), "GetSessionToken"),
        refused("AccessDenied")
    );

    // The log: who signed, what it stands for, the MFA verdicts; no secret, token or code.
    let log = moto.log();
    let tokens: Vec<_> = log
        .iter()
        .filter(|e| {
            e.action.as_deref() == Some("GetSessionToken") && e.key.as_deref() == Some(&key.id)
        })
        .map(|e| {
            (
                e.mfa.as_deref(),
                e.intervened.as_deref(),
                e.session.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        tokens,
        [
            (Some("wrong-code"), Some("bad-mfa"), None),
            (Some("unknown-device"), Some("bad-mfa"), None),
            (Some("incomplete"), Some("bad-mfa"), None),
            (Some("bad-format"), Some("bad-mfa"), None),
            (None, None, None),
            (Some("ok"), Some("session"), Some(s.id.as_str())),
        ]
    );
    let by_session: Vec<_> = log
        .iter()
        .filter(|e| e.key.as_deref() == Some(&s.id))
        .map(|e| {
            assert_eq!(e.session_of.as_deref(), Some(key.id.as_str()), "{e:?}");
            (
                e.action.as_deref().unwrap_or(""),
                e.status,
                e.intervened.as_deref().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        by_session,
        [
            ("ListAccessKeys", Some(200), "resigned"),
            ("GetCallerIdentity", Some(200), "resigned"),
            ("ListAccessKeys", Some(200), "resigned"),
            ("ListAccessKeys", Some(403), "bad-signature"),
            ("ListAccessKeys", Some(403), "bad-token"),
            ("ListAccessKeys", Some(403), "bad-token"),
            ("GetSessionToken", Some(403), "session-denied"),
        ]
    );
    let raw = moto.log_text();
    for secret in [&key.secret, &s.secret, &s.token, &"654321".to_owned()] {
        assert!(!raw.contains(secret.as_str()), "{secret} in the log: {raw}");
    }

    // Without devices (reset), any six-digit code passes, unchecked; sessions outlive a reset.
    moto.reset();
    moto.get_session_token(&key, Some(serial), Some("000000"))
        .expect("unchecked");
    moto.get_session_token(&key, None, None)
        .expect("no MFA at all");
    let verdicts: Vec<_> = moto.log().into_iter().map(|e| e.mfa).collect();
    assert_eq!(
        verdicts,
        [Some("unchecked".to_owned()), Some("none".to_owned())]
    );
    assert_eq!(moto.sessions().len(), 3);
}

// ---- Secrets Manager (the fleet), latency, concurrency, moto's auth -------------------------

const SECRET: &str = "aws-rotate-keys/alice";
const INVALID_TOKEN: &str = "The security token included in the request is invalid.";

/// A user whose inline policy allows `actions` on `*`, with one key.
fn fleet_user(moto: &Moto, name: &str, actions: &[&str]) -> moto::AccessKey {
    moto.create_user_with_policy(name, &moto::allow_policy(actions));
    moto.create_access_key(name)
}

/// The text of `<name>…</name>` in an XML answer.
fn element(body: &str, name: &str) -> Option<String> {
    let (_, rest) = body.split_once(&format!("<{name}>"))?;
    let (v, _) = rest.split_once(&format!("</{name}>"))?;
    Some(v.to_string())
}

/// A JSON-protocol error answer's (status, x-amzn-ErrorType, content type, __type, message).
fn json_error(a: &moto::HttpAnswer) -> (u16, String, String, String, String) {
    let j = Json::parse(&a.body).unwrap_or_else(|e| panic!("{e}: {a:?}"));
    let s = |k: &str| j.get(k).and_then(Json::as_str).unwrap_or("").to_string();
    (
        a.status,
        a.header("x-amzn-ErrorType").unwrap_or("").to_string(),
        a.header("Content-Type").unwrap_or("").to_string(),
        s("__type"),
        s("message"),
    )
}

/// GetSecretValue of `SECRET` signed by `key`, through the proxy, its answer as sent.
fn get_secret_raw(moto: &Moto, key: &moto::AccessKey) -> moto::HttpAnswer {
    let payload = format!("{{\"SecretId\":{}}}", moto::json::quote(SECRET));
    moto.signed_json_call(
        "secretsmanager",
        "GetSecretValue",
        &payload,
        &key.id,
        &key.secret,
        None,
        true,
    )
}

#[test]
fn secrets_manager_refuses_an_inactive_or_new_key_through_the_proxy_only() {
    let moto = Moto::start();
    let key = fleet_user(&moto, "alice", &["iam:*", "secretsmanager:GetSecretValue"]);
    moto.create_secret(SECRET, Some("first-value"), Some("for alice"));
    assert_eq!(
        moto.get_secret_value_as(&key, SECRET).as_deref(),
        Ok("first-value")
    );

    // A key made through the proxy is refused for the delay, in the JSON shape.
    moto.set_delay(30.0);
    let (status, body) = moto.signed_call(
        "iam",
        "CreateAccessKey",
        &[("UserName", "alice")],
        &key.id,
        &key.secret,
        true,
    );
    assert_eq!(status, 200, "{body}");
    let new = moto::AccessKey {
        id: element(&body, "AccessKeyId").expect("id"),
        secret: element(&body, "SecretAccessKey").expect("secret"),
        user: "alice".into(),
    };
    let refused = json_error(&get_secret_raw(&moto, &new));
    assert_eq!(
        refused,
        (
            400,
            "UnrecognizedClientException".into(),
            "application/x-amz-json-1.1".into(),
            "UnrecognizedClientException".into(),
            INVALID_TOKEN.into()
        )
    );
    moto.set_delay(0.0);

    // An inactive key: moto lets it read; the proxy refuses it as AWS does.
    moto.update_access_key("alice", &key.id, "Inactive");
    assert_eq!(
        moto.get_secret_value_from_moto(&key, SECRET).as_deref(),
        Ok("first-value"),
        "moto does not simulate the lockout"
    );
    let e = moto
        .get_secret_value_as(&key, SECRET)
        .expect_err("inactive");
    assert_eq!(
        (e.status, e.code.as_deref(), e.message.as_str()),
        (400, Some("UnrecognizedClientException"), INVALID_TOKEN)
    );
    assert_eq!(json_error(&get_secret_raw(&moto, &key)), refused);
    // botocore reads the answer as it reads AWS's.
    let mut c = moto.aws(&key);
    c.env("AWS_MAX_ATTEMPTS", "1").args([
        "secretsmanager",
        "get-secret-value",
        "--secret-id",
        SECRET,
    ]);
    let out = run(c);
    assert_eq!(out.status.code(), Some(255));
    assert!(
        text(&out.stderr).contains(
            "An error occurred (UnrecognizedClientException) when calling the GetSecretValue \
             operation: The security token included in the request is invalid."
        ),
        "{}",
        text(&out.stderr)
    );

    // moto's own refusals (no policy, a wrong secret) come in its XML: translated to JSON.
    moto.create_user_with_policy("nobody", "none");
    let nobody = moto.create_access_key("nobody");
    let (status, kind, ctype, code, message) = json_error(&get_secret_raw(&moto, &nobody));
    assert_eq!(
        (status, kind.as_str(), ctype.as_str(), code.as_str()),
        (
            400,
            "AccessDeniedException",
            "application/x-amz-json-1.1",
            "AccessDeniedException"
        )
    );
    assert!(
        message.contains("user/nobody is not authorized to perform: secretsmanager:GetSecretValue"),
        "{message}"
    );
    let wrong = moto::AccessKey {
        secret: "x".repeat(40),
        ..new.clone()
    };
    moto.update_access_key("alice", &key.id, "Active");
    assert_eq!(
        json_error(&get_secret_raw(&moto, &wrong)).3,
        "InvalidSignatureException"
    );

    let log = moto.log();
    let sm: Vec<_> = log
        .iter()
        .filter(|e| e.service.as_deref() == Some("secretsmanager"))
        .map(|e| {
            (
                e.action.as_deref().unwrap_or(""),
                e.key.clone().unwrap_or_default(),
                e.status,
                e.intervened.as_deref(),
            )
        })
        .collect();
    let aws_cli = (
        "GetSecretValue",
        key.id.clone(),
        Some(400),
        Some("inactive"),
    );
    assert_eq!(
        sm,
        [
            ("GetSecretValue", key.id.clone(), Some(200), None),
            ("GetSecretValue", new.id.clone(), Some(400), Some("delay")),
            (
                "GetSecretValue",
                key.id.clone(),
                Some(400),
                Some("inactive")
            ),
            (
                "GetSecretValue",
                key.id.clone(),
                Some(400),
                Some("inactive")
            ),
            aws_cli,
            ("GetSecretValue", nobody.id.clone(), Some(400), None),
            ("GetSecretValue", new.id.clone(), Some(400), None),
        ]
    );
    assert!(
        log.iter()
            .filter(|e| e.service.as_deref() == Some("secretsmanager"))
            .all(|e| e.secret_id.as_deref() == Some(SECRET) && !e.is_mutating())
    );
}

#[test]
fn secrets_manager_faults_answer_in_the_json_shape() {
    let moto = Moto::start();
    let key = fleet_user(&moto, "alice", &["secretsmanager:*"]);
    moto.create_secret(SECRET, Some("v1"), None);

    moto.add_fault(Fault::new("GetSecretValue", FaultKind::Throttle));
    let throttled = json_error(&get_secret_raw(&moto, &key));
    assert_eq!(
        throttled,
        (
            400,
            "ThrottlingException".into(),
            "application/x-amz-json-1.1".into(),
            "ThrottlingException".into(),
            "Rate exceeded".into()
        )
    );
    assert_eq!(get_secret_raw(&moto, &key).status, 200, "spent");

    let cases = [
        (FaultKind::ServerError, 500, "InternalServiceError"),
        (FaultKind::Unavailable, 503, "ServiceUnavailable"),
        (FaultKind::Denied, 400, "AccessDeniedException"),
        (FaultKind::Limit, 400, "LimitExceededException"),
        (
            FaultKind::Error {
                status: 404,
                code: "ResourceNotFoundException".into(),
                message: "Secrets Manager can't find the specified secret.".into(),
            },
            404,
            "ResourceNotFoundException",
        ),
    ];
    for (kind, status, code) in cases {
        moto.add_fault(Fault::new("GetSecretValue", kind.clone()));
        let (s, header, ctype, ty, message) = json_error(&get_secret_raw(&moto, &key));
        assert_eq!(
            (s, header.as_str(), ctype.as_str(), ty.as_str()),
            (status, code, "application/x-amz-json-1.1", code),
            "{kind:?}"
        );
        if kind == FaultKind::Denied {
            assert_eq!(
                message,
                "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: \
                 secretsmanager:GetSecretValue on resource: aws-rotate-keys/alice because no \
                 identity-based policy allows the secretsmanager:GetSecretValue action"
            );
        }
    }
    // An IAM request still gets IAM's XML.
    moto.add_fault(Fault::new("*", FaultKind::Throttle));
    let (status, body) =
        moto.signed_call("sts", "GetCallerIdentity", &[], &key.id, &key.secret, true);
    assert_eq!(status, 400);
    assert!(body.contains("<Code>Throttling</Code>"), "{body}");

    // after: UpdateSecret (value and description) takes effect, the client hears nothing.
    moto.add_fault(Fault::new("UpdateSecret", FaultKind::After));
    let update = moto.signed_request(
        "secretsmanager",
        "UpdateSecret",
        &format!(
            "{{\"SecretId\":{},\"SecretString\":\"v2\",\"Description\":\"second\",\
             \"ClientRequestToken\":\"00000000-0000-4000-8000-000000000002\"}}",
            moto::json::quote(SECRET)
        ),
        &key.id,
        &key.secret,
    );
    let mut conn = moto.connect();
    assert!(conn.send(&update).is_err(), "no answer");
    let info = moto.describe_secret(SECRET).expect("describe");
    assert_eq!(info.description.as_deref(), Some("second"));
    let mut stages: Vec<_> = info.versions.iter().map(|(_, s)| s.join(",")).collect();
    stages.sort();
    assert_eq!(stages, ["AWSCURRENT", "AWSPREVIOUS"]);
    assert_eq!(moto.get_secret_value_as(&key, SECRET).as_deref(), Ok("v2"));

    let kinds: Vec<_> = moto
        .log()
        .iter()
        .filter(|e| e.service.as_deref() == Some("secretsmanager"))
        .map(|e| (e.intervened.clone().unwrap_or_default(), e.status))
        .collect();
    let kinds: Vec<_> = kinds.iter().map(|(k, s)| (k.as_str(), *s)).collect();
    assert_eq!(
        kinds,
        [
            ("throttle", Some(400)),
            ("", Some(200)),
            ("500", Some(500)),
            ("503", Some(503)),
            ("denied", Some(400)),
            ("limit", Some(400)),
            ("error", Some(404)),
            ("after", None),
            ("", Some(200)),
        ]
    );
}

#[test]
fn the_log_names_secrets_but_never_their_values() {
    let moto = Moto::start();
    let key = fleet_user(&moto, "alice", &["sts:*", "secretsmanager:*"]);
    let (v1, v2, v3) = (
        "value-from-the-admin-9f8e7d",
        "value-put-by-alice-1a2b3c",
        "value-through-a-session-4d5e6f",
    );
    moto.create_secret(SECRET, Some(v1), Some("made by the admin"));
    assert_eq!(moto.get_secret_value_as(&key, SECRET).as_deref(), Ok(v1));

    let call = |action: &str, payload: String| {
        let a = moto.signed_json_call(
            "secretsmanager",
            action,
            &payload,
            &key.id,
            &key.secret,
            None,
            true,
        );
        assert_eq!(a.status, 200, "{action}: {a:?}");
        a
    };
    let q = moto::json::quote;
    call(
        "CreateSecret",
        format!(
            "{{\"Name\":\"aws-rotate-keys/bob\",\"SecretString\":{},\"Description\":\"d\"}}",
            q(v2)
        ),
    );
    call(
        "UpdateSecret",
        format!(
            "{{\"SecretId\":{},\"SecretString\":{},\"Description\":\"d2\",\
             \"ClientRequestToken\":\"00000000-0000-4000-8000-000000000003\"}}",
            q(SECRET),
            q(v2)
        ),
    );
    call("DescribeSecret", format!("{{\"SecretId\":{}}}", q(SECRET)));
    let listed = call(
        "ListSecrets",
        "{\"Filters\":[{\"Key\":\"name\",\"Values\":[\"aws-rotate-keys/\"]}]}".to_string(),
    );
    assert!(listed.body.contains("aws-rotate-keys/bob"), "{listed:?}");

    // A session's request is re-signed with the key it stands for (X-Amz-Target signed, a
    // JSON body), by moto_admin's signer and by botocore's.
    let session = moto.get_session_token(&key, None, None).expect("a session");
    let a = moto.signed_json_call(
        "secretsmanager",
        "PutSecretValue",
        &format!(
            "{{\"SecretId\":{},\"SecretString\":{},\"ClientRequestToken\":\"00000000-0000-4000-8000-000000000004\"}}",
            q(SECRET),
            q(v3)
        ),
        &session.id,
        &session.secret,
        Some(&session.token),
        true,
    );
    assert_eq!(a.status, 200, "{a:?}");
    let out = aws_as_session(
        &moto,
        &session,
        &["secretsmanager", "get-secret-value", "--secret-id", SECRET],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(v3));

    let raw = moto.log_text();
    for v in [v1, v2, v3, &key.secret, &session.secret] {
        assert!(!raw.contains(v), "{v} in the log: {raw}");
    }
    let log: Vec<_> = moto
        .log()
        .into_iter()
        .filter(|e| e.service.as_deref() == Some("secretsmanager"))
        .collect();
    let seen: Vec<_> = log
        .iter()
        .map(|e| {
            (
                e.action.as_deref().unwrap_or(""),
                e.secret_id.as_deref(),
                e.is_mutating(),
                e.session_of.is_some(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("GetSecretValue", Some(SECRET), false, false),
            ("CreateSecret", Some("aws-rotate-keys/bob"), true, false),
            ("UpdateSecret", Some(SECRET), true, false),
            ("DescribeSecret", Some(SECRET), false, false),
            ("ListSecrets", None, false, false),
            ("PutSecretValue", Some(SECRET), true, true),
            ("GetSecretValue", Some(SECRET), false, true),
        ]
    );
    assert!(log.iter().all(|e| e.status == Some(200)), "{log:#?}");
    assert!(
        log[5..]
            .iter()
            .all(|e| e.intervened.as_deref() == Some("resigned")
                && e.key.as_deref() == Some(session.id.as_str())
                && e.session_of.as_deref() == Some(key.id.as_str()))
    );
    // The admin's view: names and descriptions only.
    assert_eq!(
        moto.list_secrets(),
        [
            (SECRET.to_string(), Some("d2".to_string())),
            ("aws-rotate-keys/bob".to_string(), Some("d".to_string())),
        ]
    );
}

#[test]
fn latency_ms_delays_each_aws_request_and_many_clients_overlap() {
    let moto = Moto::start();
    let key = fleet_user(&moto, "alice", &["secretsmanager:GetSecretValue"]);
    moto.create_secret(SECRET, Some("v"), None);
    // One request: at least the latency; the control API not delayed at all (a second is a
    // wide margin for a loaded machine).
    let ms = 1000;
    moto.set_latency_ms(ms);
    assert_eq!(
        moto.config().get("latency_ms").and_then(Json::as_f64),
        Some(ms as f64)
    );
    let t = Instant::now();
    moto.caller_identity_via_proxy(&key.id, &key.secret)
        .expect("identity");
    assert!(
        t.elapsed() >= Duration::from_millis(ms),
        "{:?}",
        t.elapsed()
    );
    let entry = moto.log().pop().expect("logged");
    assert!(entry.ms >= ms as f64, "{entry:?}");
    // An entry is done before its answer leaves the proxy: read at once, it is complete (it
    // once was completed after the answer, and a loaded CI machine read it half-done).
    moto.set_latency_ms(0);
    for _ in 0..20 {
        moto.caller_identity_via_proxy(&key.id, &key.secret)
            .expect("identity");
        let entry = moto.log().pop().expect("logged");
        assert!(entry.done && entry.status == Some(200), "{entry:?}");
    }
    moto.set_latency_ms(ms);
    // The control API is not delayed.
    let t = Instant::now();
    moto.config();
    assert!(t.elapsed() < Duration::from_millis(ms), "{:?}", t.elapsed());

    // 20 clients, each with one keep-alive connection and 3 requests: about 3 latencies in
    // all (0.9 s), where one at a time would take 60 (18 s).
    let ms = 300;
    moto.set_latency_ms(ms);
    let request = moto.signed_request(
        "secretsmanager",
        "GetSecretValue",
        &format!("{{\"SecretId\":{}}}", moto::json::quote(SECRET)),
        &key.id,
        &key.secret,
    );
    let t = Instant::now();
    let answers: Vec<Vec<u16>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|_| {
                s.spawn(|| {
                    let mut conn = moto.connect();
                    (0..3)
                        .map(|_| {
                            let a = conn.send(&request).expect("an answer");
                            assert!(a.body.contains("\"SecretString\""), "{a:?}");
                            a.status
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a client"))
            .collect()
    });
    let took = t.elapsed();
    assert!(answers.iter().flatten().all(|&s| s == 200), "{answers:?}");
    assert!(
        took >= Duration::from_millis(3 * ms) && took < Duration::from_secs(10),
        "{took:?}"
    );
    let log = moto.log();
    assert_eq!(
        log.iter()
            .filter(|e| e.action.as_deref() == Some("GetSecretValue") && e.ms >= ms as f64)
            .count(),
        60
    );
    moto.reset();
    assert_eq!(
        moto.config().get("latency_ms").and_then(Json::as_f64),
        Some(0.0)
    );
}

#[test]
fn moto_enforces_identity_policies_not_resource_policies() {
    let moto = Moto::start();
    assert_eq!(moto.enable_auth(), "0.0", "on since the bootstrap");
    let admin_view = moto.list_access_keys("moto-admin");
    assert_eq!(admin_view.len(), 1);

    moto.create_user_with_policy("nobody", "none");
    let nobody = moto.create_access_key("nobody");
    let list_users =
        |k: &moto::AccessKey| moto.signed_call("iam", "ListUsers", &[], &k.id, &k.secret, true);
    let (status, body) = list_users(&nobody);
    assert_eq!(status, 403);
    assert!(body.contains("<Code>AccessDenied</Code>"), "{body}");
    // The admin still works, and so do the admin calls.
    moto.create_secret(SECRET, Some("v"), None);
    assert_eq!(moto.list_secrets().len(), 1);

    // A group's policy counts for its members; a user's inline policy too.
    moto.create_group("fleet");
    moto.put_group_policy("fleet", "list", &moto::allow_policy(&["iam:ListUsers"]));
    moto.add_user_to_group("nobody", "fleet");
    let (status, body) = list_users(&nobody);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<UserName>nobody</UserName>"), "{body}");
    moto.tag_user("nobody", "aws-rotate-keys:recipient", "age1example");
    let (status, body) = moto.signed_call(
        "iam",
        "ListUserTags",
        &[("UserName", "nobody")],
        &nobody.id,
        &nobody.secret,
        true,
    );
    assert_eq!(
        status, 403,
        "ListUserTags is not in the group's policy: {body}"
    );
    moto.put_user_policy("nobody", "tags", &moto::allow_policy(&["iam:ListUserTags"]));
    let (status, body) = moto.signed_call(
        "iam",
        "ListUserTags",
        &[("UserName", "nobody")],
        &nobody.id,
        &nobody.secret,
        true,
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<Value>age1example</Value>"), "{body}");

    // A resource policy naming the user is stored but not applied: moto still refuses.
    let writer = fleet_user(&moto, "writer", &["secretsmanager:*"]);
    let policy = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\
         {\"AWS\":\"arn:aws:iam::123456789012:user/nobody\"},\"Action\":\
         \"secretsmanager:GetSecretValue\",\"Resource\":\"*\"}]}"
        .to_string();
    let a = moto.signed_json_call(
        "secretsmanager",
        "PutResourcePolicy",
        &format!(
            "{{\"SecretId\":{},\"ResourcePolicy\":{}}}",
            moto::json::quote(SECRET),
            moto::json::quote(&policy)
        ),
        &writer.id,
        &writer.secret,
        None,
        true,
    );
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(moto.get_resource_policy(SECRET), Ok(Some(policy)));
    let e = moto
        .get_secret_value_as(&nobody, SECRET)
        .expect_err("moto ignores resource policies");
    assert_eq!(e.code.as_deref(), Some("AccessDeniedException"));

    // ListSecrets' name filter is a case-sensitive prefix; no value, no version.
    moto.create_secret("AWS-ROTATE-KEYS/upper", Some("v"), None);
    moto.create_secret("other/aws-rotate-keys/x", None, Some("no value"));
    assert_eq!(
        moto.list_secrets_with_prefix("aws-rotate-keys/"),
        [(SECRET.to_string(), None)]
    );
    let empty = moto
        .describe_secret("other/aws-rotate-keys/x")
        .expect("describe");
    assert_eq!(
        (
            empty.description.as_deref(),
            empty.versions.len(),
            empty.last_accessed
        ),
        (Some("no value"), 0, None)
    );
    moto.delete_secret("other/aws-rotate-keys/x")
        .expect("delete");
    let gone = moto
        .describe_secret("other/aws-rotate-keys/x")
        .expect_err("deleted");
    assert_eq!(gone.code.as_deref(), Some("ResourceNotFoundException"));
}

#[test]
fn drop_ends_both_processes_even_when_the_test_panics() {
    let pids = std::sync::Mutex::new((0, 0));
    let r = std::panic::catch_unwind(|| {
        let moto = Moto::start();
        *pids.lock().expect("lock") = moto.pids();
        panic!("a failing test");
    });
    assert!(r.is_err());
    let (a, b) = *pids.lock().expect("lock");
    assert!(a > 0 && b > 0);
    for pid in [a, b] {
        // Killed and reaped: no /proc entry (a zombie would still have one).
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "process {pid} is still there"
        );
    }
}

#[test]
fn home_holds_the_files_and_commands_get_a_clean_environment() {
    let config = "[default]\r\nregion = eu-west-1\r\n# no final newline";
    let creds = "[default]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = s3cr3t\n";
    let home = Home::new("http://127.0.0.1:9", config, creds);
    let dir = home.path().to_path_buf();
    assert!(dir.starts_with(env!("CARGO_TARGET_TMPDIR")));
    assert_eq!(home.config(), config);
    assert_eq!(home.credentials(), creds);
    assert_eq!(home.aws_dir_entries(), ["config", "credentials"]);
    let other = Home::new("http://127.0.0.1:9", "", "");
    assert_ne!(other.path(), home.path());
    assert_eq!(other.config(), "");

    let out = home.command_for("env").output().expect("env");
    let mut env: Vec<String> = text(&out.stdout).lines().map(str::to_string).collect();
    env.sort();
    let d = dir.display();
    let mut want = vec![
        format!("AWS_CONFIG_FILE={d}/.aws/config"),
        "AWS_EC2_METADATA_DISABLED=true".to_string(),
        "AWS_ENDPOINT_URL=http://127.0.0.1:9".to_string(),
        "AWS_PAGER=".to_string(),
        "AWS_REGION=us-east-1".to_string(),
        format!("AWS_SHARED_CREDENTIALS_FILE={d}/.aws/credentials"),
        format!("HOME={d}"),
    ];
    if let Ok(path) = std::env::var("PATH") {
        want.push(format!("PATH={path}"));
    }
    want.sort();
    assert_eq!(env, want);
    let out = home.command_for("pwd").output().expect("pwd");
    assert_eq!(text(&out.stdout).trim(), d.to_string());

    drop(home);
    assert!(!dir.exists());
}

#[test]
fn the_json_reader_reads_what_the_proxy_writes() {
    let j = Json::parse(
        r#" {"a": [1, -2.5e1, true, false, null], "s": "q\"\\\/\n\u00e9\ud83d\ude00", "o": {}, "e": []} "#,
    )
    .expect("parse");
    let a = j.get("a").and_then(Json::as_array).expect("a");
    assert_eq!(a[0].as_f64(), Some(1.0));
    assert_eq!(a[1].as_f64(), Some(-25.0));
    assert_eq!(
        (a[2].as_bool(), a[3].as_bool(), a[4].is_null()),
        (Some(true), Some(false), true)
    );
    assert_eq!(j.get("s").and_then(Json::as_str), Some("q\"\\/\né😀"));
    assert_eq!(j.get("o"), Some(&Json::Obj(vec![])));
    assert_eq!(j.get("missing"), None);
    assert!(Json::parse("{\"a\": 1,}").is_err());
    assert!(Json::parse("[1] x").is_err());
    assert!(Json::parse("\"open").is_err());
    assert_eq!(moto::json::quote("a\"b\\c\n\u{1}"), r#""a\"b\\c\n\u0001""#);
    assert_eq!(
        Json::parse(&moto::json::quote("é\t\""))
            .expect("round trip")
            .as_str(),
        Some("é\t\"")
    );
}
