//! `--encrypt` through the real fleet session against a simulated account: each delivery is
//! sealed to the recipient its user names (the tag first, else the first active IAM SSH
//! public key), opens with that recipient's identity into the spec's JSON for the key the user
//! now has, and with no other test identity; a user whose recipient is missing or unusable is
//! Blocked with what to do, and gets no key and no secret. Runs on WebAssembly too (the fixture
//! key is compiled in).

use std::str::FromStr as _;

use aws_rotate_keys::fleet::delivery::DeliveredKey;
use aws_rotate_keys::fleet::seal::{self, RECIPIENT_TAG};
use aws_rotate_keys::fleet::session::{FleetMode, FleetRequest, FleetSession};
use aws_rotate_keys::fleet::stage::{Policy, Stage};
use aws_rotate_keys::key::{KeyStatus, UserName};
use aws_rotate_keys::rotation::Config;
use aws_rotate_keys::session::Signer;
use aws_rotate_keys::sim::fleet::{Principal, SimAws};
use aws_rotate_keys::time::Timestamp;

const NOW: Timestamp = Timestamp::from_secs(1_800_000_000);
/// A throwaway OpenSSH key made for these tests (not a secret of anyone's).
const SSH_PRIVATE: &str = include_str!("../fixtures/ssh/test_ed25519");
const SSH_PUBLIC: &str = include_str!("../fixtures/ssh/test_ed25519.pub");

fn age_identity() -> (String, age::x25519::Identity) {
    let id = age::x25519::Identity::generate();
    (id.to_public().to_string(), id)
}

fn opens(sealed: &str, id: Box<dyn age::Identity>) -> Option<String> {
    seal::open(sealed, &[id]).ok().map(|p| p.expose().clone())
}

#[test]
fn each_delivery_opens_for_the_recipient_its_user_names_and_no_other() {
    let (tag_public, tag_identity) = age_identity();
    let (_, stranger) = age_identity();
    // An inactive key comes first: the active one is the recipient.
    let other_ssh_public =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ7mW0Zb3xL1wqY8m0Zc1Q9b5s4Y8kq9nq0m9iYy8y1x other";
    let mut aws = SimAws::new("123456789012", 7);
    let old = Timestamp::from_secs(1_800_000_000 - 200 * 86_400);
    for (user, tags) in [
        (
            "tagged",
            vec![(RECIPIENT_TAG.to_owned(), tag_public.clone())],
        ),
        ("sshed", Vec::new()),
        (
            "badtag",
            vec![(RECIPIENT_TAG.to_owned(), "ssh-dss AAAAB3".to_owned())],
        ),
        ("nobody", Vec::new()),
        ("inactive-ssh", Vec::new()),
    ] {
        aws.add_user(user, "/", tags);
        aws.add_key(user, KeyStatus::Active, old, None);
    }
    aws.ssh_keys.insert(
        UserName::new("sshed"),
        vec![
            ("APKAOLD".into(), false, other_ssh_public.to_owned()),
            ("APKANEW".into(), true, SSH_PUBLIC.trim().to_owned()),
        ],
    );
    aws.ssh_keys.insert(
        UserName::new("inactive-ssh"),
        vec![("APKAOFF".into(), false, SSH_PUBLIC.trim().to_owned())],
    );
    let req = FleetRequest {
        mode: FleetMode::Rotate,
        policy: Policy::default(),
        user_names: Vec::new(),
        exempt_groups: Vec::new(),
        yes: true,
        interactive: false,
        max_concurrency: 4,
        signer: Signer::Profile("admin".into()),
        encrypt: true,
        notify: None,
    };
    let mut s = FleetSession::new(req, Config::default(), NOW);
    let mut now = NOW;
    for _ in 0..10_000 {
        let mut batch = Vec::new();
        while let Some(a) = s.poll_action() {
            batch.push(a);
        }
        if batch.is_empty() {
            if s.is_done() {
                break;
            }
            now = now.max(s.poll_timeout().expect("a timeout"));
            s.handle_timeout(now);
            continue;
        }
        for a in batch {
            let o = aws.request(&Principal::Role, &a.action, now);
            s.handle_outcome(a.task, o, now);
        }
    }
    assert!(s.is_done());
    let results = s.into_results();
    let row = |u: &str| {
        results
            .iter()
            .find(|r| r.facts.user.user_name.as_str() == u)
            .unwrap_or_else(|| panic!("no row for {u}"))
    };
    let secret = |u: &str| {
        aws.secrets
            .get(&format!("aws-rotate-keys/{u}"))
            .and_then(|s| s.value.clone())
    };
    let ssh_identity = || -> Box<dyn age::Identity> {
        seal::identities(SSH_PRIVATE, "test_ed25519")
            .expect("the fixture reads")
            .pop()
            .expect("one identity")
    };

    for (user, right, wrong) in [
        (
            "tagged",
            Box::new(tag_identity.clone()) as Box<dyn age::Identity>,
            vec![
                Box::new(stranger.clone()) as Box<dyn age::Identity>,
                ssh_identity(),
            ],
        ),
        (
            "sshed",
            ssh_identity(),
            vec![
                Box::new(stranger.clone()) as Box<dyn age::Identity>,
                Box::new(tag_identity.clone()) as Box<dyn age::Identity>,
            ],
        ),
    ] {
        let r = row(user);
        assert_eq!(r.error, None, "{user}");
        let new_key = r
            .new_key
            .clone()
            .unwrap_or_else(|| panic!("{user}: delivered"));
        let sealed = secret(user).unwrap_or_else(|| panic!("{user}: a value"));
        assert!(seal::is_sealed(&sealed), "{user}: {sealed}");
        assert!(
            !sealed.contains(new_key.as_str()),
            "{user}: the key id is sealed too"
        );
        let plain =
            opens(&sealed, right).unwrap_or_else(|| panic!("{user}: its identity opens it"));
        let d = DeliveredKey::parse(&plain).expect("the spec's JSON");
        assert_eq!(d.access_key_id, new_key, "{user}");
        assert!(
            aws.keys_of(&UserName::new(user))
                .iter()
                .any(|k| k.id == new_key)
        );
        for w in wrong {
            assert!(
                opens(&sealed, w).is_none(),
                "{user}: another identity opened it"
            );
        }
    }
    for (user, says) in [
        ("badtag", "ssh-dss"),
        ("nobody", "no recipient"),
        ("inactive-ssh", "no recipient"),
    ] {
        let r = row(user);
        let v = r.verdict.as_ref().expect("decided");
        assert_eq!(v.stage, Stage::Blocked, "{user}");
        let reason = v.reason.clone().unwrap_or_default();
        assert!(
            reason.contains(says) && reason.contains(RECIPIENT_TAG),
            "{user}: {reason}"
        );
        assert!(r.new_key.is_none() && secret(user).is_none(), "{user}");
        assert_eq!(
            aws.keys_of(&UserName::new(user)).len(),
            1,
            "{user}: no key made"
        );
    }
    // The public key of the fixture is what the ssh user's delivery names.
    assert!(seal::Recipient::parse(SSH_PUBLIC).is_ok());
    assert!(age::ssh::Recipient::from_str(SSH_PUBLIC.trim()).is_ok());
}
