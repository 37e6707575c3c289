//! The planner on arbitrary files and key lists: resolving profiles, selecting, deciding and
//! starting a session must never panic, and every plan must keep the room-making rules (spec
//! promise 2): room is made only when both slots are taken, never with the key in use, and a key
//! a profile holds only when `--delete` names it.
//!
//! Input layout: byte 0 = option bits, byte 1 = key-list shape, the rest split at the first NUL
//! into the config text and the credentials text.
#![no_main]

use aws_rotate_keys::key::{AccessKeyId, KeyMeta, KeyStatus, UserName};
use aws_rotate_keys::plan::{self, Decision, Identity, Options, Target};
use aws_rotate_keys::profile::{self, AwsFiles, Selection};
use aws_rotate_keys::rotation::Config;
use aws_rotate_keys::session::{Mode, Request, Session};
use aws_rotate_keys::time::{Span, Timestamp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (bits, shape) = (data[0], data[1]);
    let rest = String::from_utf8_lossy(&data[2..]);
    let (config, credentials) = rest.split_once('\0').unwrap_or((&rest, ""));
    let Ok(files) = AwsFiles::parse(config, credentials) else { return };
    let held = files.held_keys();
    let now = Timestamp::from_secs(1_767_225_600);
    let options = Options {
        delete: if bits & 1 != 0 { held.keys().next().cloned() } else { None },
        keep_old: bits & 2 != 0,
        older_than: (bits & 4 != 0).then(|| Span::from_secs(86_400 * u64::from(shape % 100))),
        yes: bits & 8 != 0,
        verify_timeout: Span::from_secs(120),
    };
    let identity = Identity { account: "123456789012".into(), arn: "arn:aws:iam::123456789012:user/u".into(), user_name: UserName::new("u") };
    let selection = if bits & 16 != 0 { Selection::All } else { Selection::Profiles(vec!["default".into()]) };
    if let Ok(selected) = profile::select(&files, &selection) {
        for c in selected.candidates {
            // The user's keys: the one in use, and maybe another (held or not, active or not).
            let mut keys = vec![KeyMeta {
                access_key_id: c.access_key_id.clone(),
                status: KeyStatus::Active,
                create_date: Timestamp::from_secs(1_700_000_000 + i64::from(shape)),
                last_used: None,
            }];
            if shape & 1 != 0 {
                let other = if shape & 2 != 0 {
                    held.keys().find(|k| **k != c.access_key_id).cloned()
                } else {
                    None
                };
                keys.push(KeyMeta {
                    access_key_id: other.unwrap_or_else(|| AccessKeyId::new("AKIAOTHERFUZZ0000000").expect("valid")),
                    status: if shape & 4 != 0 { KeyStatus::Inactive } else { KeyStatus::Active },
                    create_date: Timestamp::from_secs(1_600_000_000),
                    last_used: None,
                });
            }
            let d = plan::decide(&Target::Profiles(c.clone()), &identity, &keys, &held, &options, now);
            if let Decision::Rotate(p) = d {
                // Distinct ids: a key listed twice counts once.
                let distinct = if keys.len() == 2 && keys[0].access_key_id == keys[1].access_key_id { 1 } else { keys.len() };
                let full = distinct >= plan::KEYS_PER_USER;
                assert_eq!(p.make_room.is_some(), full, "room is made exactly when both slots are taken");
                if let Some(r) = &p.make_room {
                    assert_ne!(r.access_key_id, c.access_key_id, "never the key in use");
                    if held.contains_key(&r.access_key_id) {
                        assert_eq!(options.delete.as_ref(), Some(&r.access_key_id), "a held key only when named");
                    }
                }
            }
        }
    }
    let request = Request {
        selection,
        admin_user: (bits & 32 != 0).then(|| UserName::new("bob")),
        options,
        mode: if bits & 64 != 0 { Mode::Plan } else { Mode::Rotate },
        max_concurrency: 8,
        interactive: bits & 128 != 0,
    };
    if let Ok(mut session) = Session::new(config, credentials, &[], request, Config::default()) {
        // The first actions (no answers needed to ask for them).
        for _ in 0..4 {
            if session.poll_action().is_none() {
                break;
            }
        }
    }
});
