//! Every stage of the fleet's table (spec "Stages"), from the facts that decide it: one case
//! per row and per edge, with the stage, the action and the steps it leads to, pinned whole.

use aws_rotate_keys::action::IamUser;
use aws_rotate_keys::fleet::delivery::{DeliveryError, Marker};
use aws_rotate_keys::fleet::report::{ReportKey, ReportRow};
use aws_rotate_keys::fleet::stage::{Facts, Need, Policy, decide};
use aws_rotate_keys::key::{AccessKeyId, KeyMeta, KeyStatus, UserName};
use aws_rotate_keys::time::{Span, Timestamp};

const DAY: u64 = 86_400;
const NOW: Timestamp = Timestamp::from_secs(1_800_000_000);

fn id(s: &str) -> AccessKeyId {
    AccessKeyId::new(s).expect("an id")
}

fn ago(days: u64) -> Timestamp {
    Timestamp::from_secs(1_800_000_000 - (days * DAY) as i64)
}

fn key(name: &str, status: KeyStatus, age_days: u64) -> KeyMeta {
    KeyMeta {
        access_key_id: id(name),
        status,
        create_date: ago(age_days),
        last_used: None,
    }
}

fn facts(name: &str, keys: Vec<KeyMeta>) -> Facts {
    let mut f = Facts::new(IamUser {
        user_name: UserName::new(name),
        arn: format!("arn:aws:iam::123456789012:user/{name}"),
        tags: Vec::new(),
    });
    f.keys = Some(keys);
    f
}

fn delivered(
    deactivated: Option<u64>,
    delivered_days: u64,
) -> Option<Result<Marker, DeliveryError>> {
    Some(Ok(Marker::Delivered {
        access_key_id: id("AKIANEW"),
        replaces: id("AKIAOLD"),
        delivered: ago(delivered_days),
        deactivated: deactivated.map(ago),
        notified: Vec::new(),
    }))
}

use KeyStatus::{Active, Inactive};

fn cases() -> Vec<(&'static str, Facts, Policy)> {
    let p = Policy::default();
    let mut out = Vec::new();
    let mut add = |title, f: Facts, p: &Policy| out.push((title, f, p.clone()));
    add(
        "fresh: a young active key",
        facts("u", vec![key("AKIAOLD", Active, 10)]),
        &p,
    );
    add("fresh: no key at all", facts("u", vec![]), &p);
    add(
        "fresh: an old key that is inactive",
        facts("u", vec![key("AKIAOLD", Inactive, 400)]),
        &p,
    );
    add(
        "due: one old active key",
        facts("u", vec![key("AKIAOLD", Active, 100)]),
        &p,
    );
    add(
        "due: both slots taken, the inactive one makes room",
        facts(
            "u",
            vec![
                key("AKIAOLD", Active, 100),
                key("AKIAINACTIVE", Inactive, 200),
            ],
        ),
        &p,
    );
    add(
        "blocked: two active keys, one due",
        facts(
            "u",
            vec![key("AKIAOLD", Active, 100), key("AKIAOTHER", Active, 5)],
        ),
        &p,
    );
    add(
        "blocked: a name no secret can carry",
        facts("a,b", vec![key("AKIAOLD", Active, 100)]),
        &p,
    );
    let mut f = facts("u", vec![key("AKIAOLD", Active, 100)]);
    f.user.tags = vec![("aws-rotate-keys:exempt".into(), String::new())];
    add("exempt: tagged", f, &p);
    let mut f = facts("u", vec![key("AKIAOLD", Active, 100)]);
    f.in_exempt_group = true;
    add("exempt: in an --exempt-group", f, &p);
    let mut f = facts("u", vec![key("AKIAOLD", Active, 100)]);
    f.caller = true;
    add("caller: the run's own user", f, &p);

    let both = || vec![key("AKIAOLD", Active, 100), key("AKIANEW", Active, 3)];
    let mut f = facts("u", both());
    f.delivery = delivered(None, 3);
    f.last_used = vec![(id("AKIANEW"), None)];
    add("delivered: never used", f, &p);
    let mut f = facts("u", both());
    f.delivery = delivered(None, 20);
    f.last_used = vec![(id("AKIANEW"), None)];
    add(
        "delivered: never used, --deactivate-after passed",
        f,
        &Policy {
            deactivate_after: Some(Span::from_secs(14 * DAY)),
            ..p.clone()
        },
    );
    let mut f = facts("u", both());
    f.delivery = delivered(None, 3);
    f.last_used = vec![(id("AKIANEW"), Some(ago(1)))];
    add("installed: the new key was used", f, &p);
    let mut f = facts("u", both());
    f.delivery = delivered(None, 3);
    f.last_used = vec![(id("AKIANEW"), Some(ago(1)))];
    add(
        "installed, --delete-after 0s: deactivate and delete at once",
        f,
        &Policy {
            delete_after: Span::ZERO,
            ..p.clone()
        },
    );
    let mut f = facts("u", both());
    f.delivery = delivered(None, 20);
    f.last_used = vec![(id("AKIANEW"), None)];
    add(
        "delivered: never used, --deactivate-after passed, --delete-after 0s: the delivery stays",
        f,
        &Policy {
            deactivate_after: Some(Span::from_secs(14 * DAY)),
            delete_after: Span::ZERO,
            ..p.clone()
        },
    );
    let mut f = facts("u", vec![key("AKIANEW", Active, 3)]);
    f.delivery = delivered(None, 3);
    f.last_used = vec![(id("AKIANEW"), Some(ago(1)))];
    add("installed: the old key is gone (picked up)", f, &p);
    let mut f = facts("u", vec![key("AKIANEW", Active, 30)]);
    f.delivery = delivered(Some(10), 30);
    f.last_used = vec![(id("AKIANEW"), None)];
    add(
        "delivered: never used, the old key gone: the delivery waits for its owner",
        f,
        &p,
    );
    let inactive = || vec![key("AKIAOLD", Inactive, 100), key("AKIANEW", Active, 10)];
    let mut f = facts("u", inactive());
    f.delivery = delivered(Some(2), 10);
    add("deactivated: within --delete-after", f, &p);
    let mut f = facts("u", inactive());
    f.delivery = delivered(Some(8), 10);
    f.last_used = vec![(id("AKIANEW"), Some(ago(9)))];
    add("deactivated: --delete-after passed", f, &p);
    let mut f = facts("u", inactive());
    f.delivery = delivered(Some(8), 10);
    f.last_used = vec![(id("AKIANEW"), None)];
    add(
        "deactivated: --delete-after passed, the delivered key never used: the delivery stays",
        f,
        &p,
    );
    let mut f = facts("u", inactive());
    f.delivery = delivered(None, 10);
    add(
        "deactivated: by someone else, the date not recorded yet",
        f,
        &p,
    );
    let mut f = facts("u", vec![key("AKIAOLD", Active, 100)]);
    f.delivery = delivered(None, 3);
    add("blocked: the delivered key is gone", f, &p);
    let mut f = facts("u", vec![key("AKIAOTHER", Active, 3)]);
    f.delivery = delivered(None, 3);
    add("blocked: the delivery matches none of the keys", f, &p);
    let mut f = facts("u", vec![key("AKIAOLD", Active, 100)]);
    f.delivery = Some(Err(DeliveryError("not ours".into())));
    add("blocked: a secret this tool did not write", f, &p);

    let pending = |known: Vec<&str>| {
        Some(Ok(Marker::Pending {
            replaces: id("AKIAOLD"),
            known_keys: known.into_iter().map(id).collect(),
            started: ago(1),
        }))
    };
    let mut f = facts("u", vec![key("AKIAOLD", Active, 100)]);
    f.delivery = pending(vec!["AKIAOLD"]);
    add("pending, crashed before the create: deliver", f, &p);
    let mut f = facts(
        "u",
        vec![key("AKIAOLD", Active, 100), key("AKIAORPHAN", Active, 1)],
    );
    f.delivery = pending(vec!["AKIAOLD"]);
    add(
        "pending, crashed after the create: the orphan goes, then deliver",
        f,
        &p,
    );
    let mut f = facts(
        "u",
        vec![
            key("AKIAOLD", Active, 100),
            KeyMeta {
                create_date: Timestamp::from_secs(1_800_000_000 - 120),
                ..key("AKIAYOUNG", Active, 0)
            },
        ],
    );
    f.delivery = pending(vec!["AKIAOLD"]);
    add(
        "pending, a key made two minutes ago: the listing may predate its delivery, wait",
        f,
        &p,
    );
    let mut f = facts(
        "u",
        vec![
            key("AKIAOLD", Active, 100),
            key("AKIAINACTIVE", Inactive, 200),
        ],
    );
    f.delivery = pending(vec!["AKIAOLD", "AKIAINACTIVE"]);
    add(
        "pending, crashed before making room: make room, deliver",
        f,
        &p,
    );
    let mut f = facts("u", vec![key("AKIAOLD", Active, 10)]);
    f.delivery = pending(vec!["AKIAOLD"]);
    add("pending, no longer due: the mark goes", f, &p);
    out
}

#[test]
fn the_stage_table() {
    let mut text = String::new();
    for (title, f, p) in cases() {
        let v = decide(&f, &p, NOW).expect("every fact given");
        text.push_str(&format!(
            "{title}\n  stage {:?}, action {:?}\n  steps {:?}\n{}",
            v.stage,
            v.act,
            v.steps,
            v.reason
                .map(|r| format!("  reason {r}\n"))
                .unwrap_or_default()
        ));
    }
    insta::assert_snapshot!(text);
}

#[test]
fn decide_asks_for_what_it_needs() {
    let p = Policy::default();
    let mut f = facts("u", vec![key("AKIAOLD", Active, 100)]);
    f.keys = None;
    assert_eq!(decide(&f, &p, NOW), Err(Need::Keys));
    // The report spares the listing of a user it shows as not due, never of one it shows due.
    f.report = Some(ReportRow {
        user: "u".into(),
        arn: String::new(),
        keys: [
            Some(ReportKey {
                active: true,
                last_rotated: Some(ago(10)),
                last_used: None,
            }),
            None,
        ],
    });
    assert!(decide(&f, &p, NOW).is_ok());
    if let Some(r) = f.report.as_mut() {
        r.keys[0] = Some(ReportKey {
            active: true,
            last_rotated: Some(ago(100)),
            last_used: None,
        });
    }
    assert_eq!(decide(&f, &p, NOW), Err(Need::Keys));
    // `status` lists every key, and asks when each was last used...
    let mut f = facts("u", vec![key("AKIAOLD", Active, 10)]);
    f.detailed = true;
    assert_eq!(decide(&f, &p, NOW), Err(Need::LastUsed(id("AKIAOLD"))));
    // ...unless the report shows the key (a slot rotated in the second the key was made):
    // then the report's date is shown, and not asked for.
    let slot = |created: Timestamp, used: Option<Timestamp>| ReportKey {
        active: true,
        last_rotated: Some(created),
        last_used: used,
    };
    let used = Timestamp::from_secs(ago(1).as_micros() / 1_000_000);
    f.report = Some(ReportRow {
        user: "u".into(),
        arn: String::new(),
        keys: [Some(slot(ago(10), Some(used))), None],
    });
    assert!(decide(&f, &p, NOW).is_ok());
    let shown = |f: &Facts| f.shown_last_use(&key("AKIAOLD", Active, 10));
    assert_eq!(shown(&f), Some(Some(used)));
    // Not in `plan` or `rotate`, whose rows show only what IAM answered.
    f.detailed = false;
    assert_eq!(shown(&f), None);
    f.detailed = true;
    // Two slots of that second: which is the key's is unknown, and IAM is asked.
    f.report = Some(ReportRow {
        user: "u".into(),
        arn: String::new(),
        keys: [Some(slot(ago(10), Some(used))), Some(slot(ago(10), None))],
    });
    assert_eq!(decide(&f, &p, NOW), Err(Need::LastUsed(id("AKIAOLD"))));
    // A key made after the report (no slot of its second) is asked about too.
    f.report = Some(ReportRow {
        user: "u".into(),
        arn: String::new(),
        keys: [Some(slot(ago(20), None)), None],
    });
    assert_eq!(decide(&f, &p, NOW), Err(Need::LastUsed(id("AKIAOLD"))));
    // IAM's answer wins over the report's.
    f.last_used.push((id("AKIAOLD"), None));
    assert_eq!(shown(&f), Some(None));
    // A delivery's key: its last use tells Installed from Delivered.
    let mut f = facts(
        "u",
        vec![key("AKIAOLD", Active, 100), key("AKIANEW", Active, 3)],
    );
    f.delivery = delivered(None, 3);
    assert_eq!(decide(&f, &p, NOW), Err(Need::LastUsed(id("AKIANEW"))));
    // ...and, the old key gone, whether its delivery may go (the secret holds the only copy
    // of an unused key's secret).
    let mut f = facts("u", vec![key("AKIANEW", Active, 3)]);
    f.delivery = delivered(None, 3);
    assert_eq!(decide(&f, &p, NOW), Err(Need::LastUsed(id("AKIANEW"))));
}
