//! The fleet promises (9 to 13), checked as invariants on generated fleets driven through the
//! real fleet session by the simulated AWS (`sim::fleet`): users with 0-2 keys of any age and
//! last use, exempt by tag or group, the caller among them or a role, deliveries left in every
//! stage (half-done ones too), owners who pick up (late, or never) and delete their old key or
//! not, between the runs and during them (most run the core's own `pickup`, killed now and then
//! and run again; the others a model of it); throttling, failures before and after a request takes
//! effect, users whose requests always fail, crashes at any step followed by restarts that know
//! only what AWS holds; administrator runs (rotate, plan, status, named users, a declined
//! prompt) over simulated weeks, until every user is settled, then a last clean run.
//!
//! About half the scenarios mail the owners (`--notify-from`, with or without `--warn-before`;
//! some users have no address, or one that is not an address, and some deliveries were mailed
//! about before the simulation): the checker holds each mail to its address, its text, its
//! delivery, and to once per event unless an interruption can make it go again, and at the end
//! to nothing owed left unsent. About one in eight seals the deliveries (`--encrypt`) to an age
//! key or an ssh-ed25519 key in the user's tag, or its IAM SSH public key (some users have
//! none, or an unusable one: Blocked when due), some already sealed before the simulation; the
//! owners' pickups open them with their identities, as the shell does (age is slow-ish in the
//! test profile, and the release run's time is CI's: only a fraction of scenarios seal).
//!
//! The count that matters is user-rotations: a user taken through a stage (Due to Delivered,
//! Delivered to Installed, ... to Fresh), as seen by consecutive runs. `FLEET_SIM_ROTATIONS`
//! sets how many to simulate at least (CI runs 100,000); failures shrink to a minimal fleet,
//! saved under `proptest-regressions/`. `SIM_TRACE=1` prints a failing scenario's requests.

// Tests may read their knobs from the environment; the core may not (clippy.toml).
#![allow(clippy::disallowed_methods)]

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use aws_rotate_keys::fleet::delivery::{self, DeliveredKey, Marker};
use aws_rotate_keys::fleet::notice::{Event, Template};
use aws_rotate_keys::fleet::report::{ReportKey, ReportRow};
use aws_rotate_keys::fleet::seal::{self, RECIPIENT_TAG, Recipient};
use aws_rotate_keys::fleet::session::{FleetMode, Notifier, UserResult};
use aws_rotate_keys::fleet::stage::{Act, NoticePolicy, Policy, Stage};
use aws_rotate_keys::key::{AccessKeyId, KeyStatus, SecretAccessKey, UserName};
use aws_rotate_keys::rotation::Config;
use aws_rotate_keys::sim::fleet::{
    Admin, Broken, BrokenUser, FaultRates, FleetChecker, FleetRunEnd, FleetRunSpec, FleetWorld,
    Owner, ReportSnapshot, SimAws, SimSecret,
};
use aws_rotate_keys::sim::{Fault, FaultPlan, Violation};
use aws_rotate_keys::time::{Span, Timestamp};
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestCaseError, TestRunner};

const DAY: u64 = 86_400;
const T0: i64 = 1_767_225_600; // 2026-01-01
const ACCOUNT: &str = "123456789012";
/// Rounds (owners act, time passes, the administrator runs) before a scenario must settle.
const MAX_ROUNDS: usize = 40;
/// Rounds with faults; later rounds are clean.
const FAULTY_ROUNDS: usize = 8;
/// `--notify-from`.
const FROM: &str = "keys@example.com";
/// Throwaway identities made for these tests (age-keygen; ssh-keygen), not anyone's secrets.
const AGE_IDENTITIES: [&str; 3] = [
    include_str!("../fixtures/age/test_x25519_1.txt"),
    include_str!("../fixtures/age/test_x25519_2.txt"),
    include_str!("../fixtures/age/test_x25519_3.txt"),
];
const SSH_PRIVATE: &str = include_str!("../fixtures/ssh/test_ed25519");
const SSH_PUBLIC: &str = include_str!("../fixtures/ssh/test_ed25519.pub");

/// The public key an age identity file names (`# public key: age1…`).
fn age_public(identity: &str) -> String {
    identity
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .expect("age-keygen names the public key")
        .trim()
        .to_owned()
}

/// Every test identity, with its recipient.
fn keyring() -> Vec<(String, String)> {
    AGE_IDENTITIES
        .iter()
        .map(|id| (age_public(id), (*id).to_owned()))
        .chain([(SSH_PUBLIC.trim().to_owned(), SSH_PRIVATE.to_owned())])
        .collect()
}

fn days(n: u64) -> Span {
    Span::from_secs(n * DAY)
}

fn ago(now: Timestamp, d: u64) -> Timestamp {
    Timestamp::from_micros(now.as_micros() - (d * DAY * 1_000_000) as i64)
}

/// A delivery a user's rotation was left in before the simulation starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Left {
    /// No delivery.
    None,
    /// A pending mark; `orphan`: with the key it created (its secret lost); `policy`: the
    /// resource policy was put; `room`: an inactive key was removed to make room.
    Pending {
        orphan: bool,
        policy: bool,
        room: bool,
    },
    /// Delivered `age` days ago; `used`: picked up (the owner holds the new key).
    Delivered { age: u64, used: bool },
    /// Delivered, the old key inactive since `age` days; `recorded`: the DeactivatedDate is in
    /// the description; `picked`: the owner holds the new key (else it is locked out).
    Deactivated {
        age: u64,
        recorded: bool,
        picked: bool,
    },
    /// Delivered and installed, the old key deleted by its owner.
    OldGone,
    /// A secret of that name that this tool did not write.
    Foreign,
    /// Delivered, but the delivered key is gone.
    Vanished,
}

#[derive(Debug, Clone)]
struct UserSpec {
    /// (active, age in days, last used days ago).
    keys: Vec<(bool, u64, Option<u64>)>,
    left: Left,
    /// 0: plain; 1: a dot; 2: an at sign; 3: a comma (no secret can carry it).
    name_kind: u8,
    path: bool,
    exempt_tag: bool,
    exempt_group: bool,
    other_group: bool,
    holds: bool,
    picks_up: bool,
    delay: u64,
    deletes_old: bool,
    /// The owner runs the core's `pickup` (else the model of it).
    real_pickup: bool,
    broken: Option<BrokenUser>,
    /// `--notify-from`: 0 an address in the `email` tag; 1 one with spaces around it; 2 no
    /// tag; 3 a tag that is not one address.
    email: u8,
    /// `--encrypt`: the recipient: 0-2 the tag, an age key (one of three); 3 the tag, the
    /// ssh-ed25519 key; 4 the IAM SSH public key; 5 the same after an inactive one; 6 none;
    /// 7 a tag that is no usable key.
    recipient: u8,
    /// A delivery left before the simulation was mailed about: 0 never; 1 its Delivered mail;
    /// 2 every mail it was owed.
    mailed: u8,
}

#[derive(Debug, Clone)]
struct Scenario {
    seed: u64,
    users: Vec<UserSpec>,
    /// The administrator is an IAM user (`Some(age of its key)`), else a role.
    admin_user: Option<(u64, bool)>,
    older_than: u64,
    deactivate_after: Option<u64>,
    delete_after: u64,
    page: usize,
    short_pages: bool,
    report_secs: u64,
    list_lag_secs: u64,
    stale_report: bool,
    rates: (u8, u8, u8),
    crashes: Vec<(usize, Fault)>,
    concurrency: usize,
    interleave: bool,
    owner_rate: u8,
    /// `--notify-from`, with `--warn-before` (days) or not.
    notify: Option<Option<u64>>,
    /// `--encrypt`.
    encrypt: bool,
}

fn left() -> impl Strategy<Value = Left> {
    prop_oneof![
        6 => Just(Left::None),
        2 => (any::<bool>(), any::<bool>(), any::<bool>())
            .prop_map(|(orphan, policy, room)| Left::Pending { orphan, policy, room }),
        2 => (0u64..30, any::<bool>()).prop_map(|(age, used)| Left::Delivered { age, used }),
        2 => (0u64..12, any::<bool>(), any::<bool>())
            .prop_map(|(age, recorded, picked)| Left::Deactivated { age, recorded, picked }),
        1 => Just(Left::OldGone),
        1 => Just(Left::Foreign),
        1 => Just(Left::Vanished),
    ]
}

fn broken() -> impl Strategy<Value = Broken> {
    prop_oneof![
        Just(Broken::Denied),
        Just(Broken::FailBefore),
        Just(Broken::LoseAnswer),
        Just(Broken::Throttle),
    ]
}

fn broken_user() -> impl Strategy<Value = BrokenUser> {
    let only = prop_oneof![
        2 => Just(None),
        3 => Just(Some("UpdateSecret")),
        2 => Just(Some("CreateAccessKey")),
        2 => Just(Some("DeleteAccessKey")),
        2 => Just(Some("UpdateAccessKey")),
        1 => Just(Some("ListAccessKeys")),
        1 => Just(Some("GetAccessKeyLastUsed")),
        1 => Just(Some("CreateSecret")),
        1 => Just(Some("PutResourcePolicy")),
        1 => Just(Some("DeleteSecret")),
        2 => Just(Some("SendEmail")),
    ];
    (broken(), 1usize..8, only).prop_map(|(how, until_run, only)| BrokenUser {
        how,
        until_run,
        only,
    })
}

fn user() -> impl Strategy<Value = UserSpec> {
    let key = |active| {
        (
            proptest::bool::weighted(active),
            0u64..400,
            proptest::option::of(0u64..60),
        )
    };
    // A second active key blocks a due user (a person must choose): now and then.
    let keys = prop_oneof![
        1 => Just(Vec::new()),
        3 => key(0.85).prop_map(|k| vec![k]),
        2 => (key(0.85), key(0.3)).prop_map(|(a, b)| vec![a, b]),
    ];
    (
        (
            keys,
            left(),
            prop_oneof![12 => Just(0u8), 1 => Just(1), 1 => Just(2), 1 => Just(3)],
            proptest::bool::weighted(0.2),
        ),
        (
            proptest::bool::weighted(0.08),
            proptest::bool::weighted(0.08),
            proptest::bool::weighted(0.2),
        ),
        (
            proptest::bool::weighted(0.9),
            proptest::bool::weighted(0.75),
            prop_oneof![3 => Just(0u64), 2 => 1u64..6, 1 => 6u64..20],
            any::<bool>(),
            proptest::bool::weighted(0.6),
            proptest::option::weighted(0.25, broken_user()),
        ),
        (
            prop_oneof![6 => Just(0u8), 1 => Just(1), 2 => Just(2), 1 => Just(3)],
            prop_oneof![6 => 0u8..3, 2 => Just(3), 2 => Just(4), 1 => Just(5), 1 => Just(6), 1 => Just(7)],
            0u8..3,
        ),
    )
        .prop_map(
            |(
                (keys, left, name_kind, path),
                (exempt_tag, exempt_group, other_group),
                (holds, picks_up, delay, deletes_old, real_pickup, broken),
                (email, recipient, mailed),
            )| UserSpec {
                keys,
                left,
                name_kind,
                path,
                exempt_tag,
                exempt_group,
                other_group,
                holds,
                picks_up,
                delay,
                deletes_old,
                real_pickup,
                broken,
                email,
                recipient,
                mailed,
            },
        )
}

fn crash() -> impl Strategy<Value = Fault> {
    prop_oneof![Just(Fault::CrashBefore), Just(Fault::CrashAfter)]
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        (
            any::<u64>(),
            proptest::collection::vec(user(), 0..7),
            proptest::option::weighted(0.5, (0u64..200, proptest::bool::weighted(0.2))),
            prop_oneof![Just(90u64), Just(180)],
            proptest::option::weighted(0.5, prop_oneof![Just(3u64), Just(14)]),
            prop_oneof![Just(0u64), Just(3), Just(7)],
        ),
        (
            1usize..5,
            any::<bool>(),
            (
                prop_oneof![2 => Just(0u64), 4 => Just(5), 1 => Just(300)],
                prop_oneof![2 => Just(0u64), 1 => Just(30), 1 => Just(180)],
            ),
            proptest::bool::weighted(0.2),
            (0u8..8, 0u8..8, 0u8..8),
            proptest::collection::vec((0usize..600, crash()), 0..4),
            1usize..6,
            proptest::bool::weighted(0.8),
            0u8..25,
        ),
        (
            proptest::option::weighted(
                0.5,
                prop_oneof![2 => Just(None), 1 => Just(Some(1u64)), 2 => Just(Some(3))],
            ),
            proptest::bool::weighted(0.125),
        ),
    )
        .prop_map(
            |(
                (seed, users, admin_user, older_than, deactivate_after, delete_after),
                (
                    page,
                    short_pages,
                    (report_secs, list_lag_secs),
                    stale_report,
                    rates,
                    crashes,
                    concurrency,
                    interleave,
                    owner_rate,
                ),
                (notify, encrypt),
            )| Scenario {
                seed,
                users,
                admin_user,
                older_than,
                deactivate_after,
                delete_after,
                page,
                short_pages,
                report_secs,
                list_lag_secs,
                stale_report,
                rates,
                crashes,
                concurrency,
                interleave,
                owner_rate,
                notify,
                encrypt,
            },
        )
}

fn name_of(i: usize, kind: u8) -> String {
    match kind {
        1 => format!("u{i}.dev"),
        2 => format!("u{i}@corp"),
        3 => format!("u{i},ext"),
        _ => format!("u{i}"),
    }
}

fn policy_of(sc: &Scenario) -> Policy {
    Policy {
        older_than: days(sc.older_than),
        deactivate_after: sc.deactivate_after.map(days),
        delete_after: days(sc.delete_after),
        notify: sc.notify.map(|warn| NoticePolicy {
            email_tag: "email".into(),
            warn_before: warn.map(days),
        }),
    }
}

/// `fleet rotate --yes` as the scenario runs it: its policy, `--notify-from`, `--encrypt`.
fn rotate_spec(sc: &Scenario, policy: &Policy, groups: &[String]) -> FleetRunSpec {
    let mut spec = FleetRunSpec::rotate(policy.clone());
    spec.exempt_groups = groups.to_vec();
    spec.encrypt = sc.encrypt;
    // The template is read once (every round of every scenario asks for it).
    static TEMPLATE: std::sync::OnceLock<Template> = std::sync::OnceLock::new();
    spec.notify = sc.notify.map(|_| Notifier {
        from: FROM.into(),
        template: TEMPLATE.get_or_init(Template::default_text).clone(),
        region: "eu-west-1".into(),
    });
    spec
}

/// The recipient a user names under `--encrypt` (`None`: none that can be used), and the
/// identity that opens what is sealed to it.
fn recipient_of(u: &UserSpec) -> Option<(String, String)> {
    match u.recipient {
        0..=2 => {
            let id = AGE_IDENTITIES[usize::from(u.recipient)];
            Some((age_public(id), id.to_owned()))
        }
        3..=5 => Some((SSH_PUBLIC.trim().to_owned(), SSH_PRIVATE.to_owned())),
        _ => None,
    }
}

/// A secret that a run of the tool left (with `--encrypt`, when `sealed_to` names a recipient).
fn put_secret(
    aws: &mut SimAws,
    user: &str,
    marker: &Marker,
    value: Option<&DeliveredKey>,
    policy: bool,
    stored: Option<Timestamp>,
    sealed_to: Option<&str>,
) {
    let name = delivery::secret_name(&UserName::new(user)).expect("a name secrets can carry");
    let arn = aws.arn(&UserName::new(user));
    let value = value.map(|k| match sealed_to {
        Some(r) => {
            let r = Recipient::parse(r).expect("a test recipient");
            seal::seal(&k.to_json(), &r).expect("seals")
        }
        None => k.to_json().expose().clone(),
    });
    aws.secrets.insert(
        name,
        SimSecret {
            description: Some(marker.to_description()),
            versions: value
                .iter()
                .map(|v| ("earlier".to_owned(), v.clone()))
                .collect(),
            value,
            policy: policy.then(|| delivery::resource_policy(&arn)),
            stored,
        },
    );
}

/// A key the tool created in an earlier run (it counts as the tool's own).
fn tool_key(
    aws: &mut SimAws,
    user: &str,
    created: Timestamp,
    last_used: Option<Timestamp>,
) -> (AccessKeyId, String) {
    let k = aws.add_key(user, KeyStatus::Active, created, last_used);
    aws.created.insert(k.0.clone());
    k
}

fn delivered(
    user: &str,
    new: &(AccessKeyId, String),
    created: Timestamp,
    replaces: &AccessKeyId,
) -> DeliveredKey {
    DeliveredKey {
        user_name: UserName::new(user),
        access_key_id: new.0.clone(),
        secret: SecretAccessKey::new(&new.1).expect("a secret"),
        create_date: created,
        replaces: replaces.clone(),
    }
}

/// Builds one user: its keys, the delivery it was left in, its owner.
fn build_user(aws: &mut SimAws, sc: &Scenario, name: &str, u: &UserSpec, now: Timestamp) -> Owner {
    let due_age = sc.older_than + 1 + (sc.seed % 200);
    let mut holds: Option<(AccessKeyId, String)> = None;
    let left = if u.name_kind == 3 { Left::None } else { u.left };
    // With --encrypt, a delivery left by an earlier run was sealed to the user's recipient.
    let recipient = recipient_of(u).filter(|_| sc.encrypt);
    let sealed = recipient.as_ref().map(|(r, _)| r.as_str());
    // The mails an earlier run sent (and recorded) about a delivery it left.
    let notified = |deactivated: bool| match (u.mailed, deactivated) {
        (0, _) => Vec::new(),
        (2, true) => vec![Event::Delivered, Event::Deactivated],
        _ => vec![Event::Delivered],
    };
    match left {
        Left::None | Left::Foreign => {
            for &(active, age, used) in &u.keys {
                let status = if active {
                    KeyStatus::Active
                } else {
                    KeyStatus::Inactive
                };
                let used = used.filter(|&d| d < age).map(|d| ago(now, d));
                let k = aws.add_key(name, status, ago(now, age), used);
                if active && holds.is_none() {
                    holds = Some(k);
                }
            }
            if left == Left::Foreign {
                let secret = delivery::secret_name(&UserName::new(name)).expect("a name");
                aws.secrets.insert(
                    secret,
                    SimSecret {
                        description: Some("made by hand".into()),
                        value: Some("{}".into()),
                        policy: None,
                        versions: Vec::new(),
                        stored: Some(ago(now, 40)),
                    },
                );
            }
        }
        Left::Pending {
            orphan,
            policy,
            room,
        } => {
            let old = aws.add_key(
                name,
                KeyStatus::Active,
                ago(now, due_age),
                Some(ago(now, 1)),
            );
            let mut known = vec![old.0.clone()];
            if room {
                // Its inactive key was removed to make room: known, and gone.
                let (gone, _) = aws.fresh();
                known.push(gone);
            } else if !orphan && u.keys.first().is_some_and(|k| !k.0) {
                let (inactive, _) = aws.add_key(name, KeyStatus::Inactive, ago(now, 300), None);
                known.push(inactive);
            }
            if orphan {
                tool_key(aws, name, now.add(Span::from_secs(0)), None);
            }
            let marker = Marker::Pending {
                replaces: old.0.clone(),
                known_keys: known,
                started: now,
            };
            put_secret(aws, name, &marker, None, policy, None, None);
            holds = Some(old);
        }
        Left::Delivered { age, used } => {
            let when = ago(now, age);
            let old = aws.add_key(name, KeyStatus::Active, ago(now, due_age + age), Some(when));
            let new = tool_key(aws, name, when, used.then(|| ago(now, age / 2)));
            let marker = Marker::Delivered {
                access_key_id: new.0.clone(),
                replaces: old.0.clone(),
                delivered: when,
                deactivated: None,
                notified: notified(false),
            };
            put_secret(
                aws,
                name,
                &marker,
                Some(&delivered(name, &new, when, &old.0)),
                true,
                Some(when),
                sealed,
            );
            holds = Some(if used { new } else { old });
        }
        Left::Deactivated {
            age,
            recorded,
            picked,
        } => {
            let when = ago(now, age + 3);
            let off = ago(now, age);
            let old = aws.add_key(
                name,
                KeyStatus::Inactive,
                ago(now, due_age + age),
                Some(when),
            );
            let new = tool_key(aws, name, when, picked.then(|| ago(now, age + 1)));
            let marker = Marker::Delivered {
                access_key_id: new.0.clone(),
                replaces: old.0.clone(),
                delivered: when,
                deactivated: recorded.then(|| off.add(Span::from_secs(60))),
                notified: notified(recorded),
            };
            // The key went inactive at `off` (the run recorded it a minute later).
            if let Some(k) = aws.keys.iter_mut().find(|k| k.id == old.0) {
                k.inactive_since = Some(off);
            }
            put_secret(
                aws,
                name,
                &marker,
                Some(&delivered(name, &new, when, &old.0)),
                true,
                Some(when),
                sealed,
            );
            holds = Some(if picked { new } else { old });
        }
        Left::OldGone => {
            let when = ago(now, 5);
            let (old, _) = aws.fresh();
            let new = tool_key(aws, name, when, Some(ago(now, 4)));
            let marker = Marker::Delivered {
                access_key_id: new.0.clone(),
                replaces: old.clone(),
                delivered: when,
                deactivated: None,
                notified: notified(false),
            };
            put_secret(
                aws,
                name,
                &marker,
                Some(&delivered(name, &new, when, &old)),
                true,
                Some(when),
                sealed,
            );
            holds = Some(new);
        }
        Left::Vanished => {
            let when = ago(now, 5);
            let old = aws.add_key(
                name,
                KeyStatus::Active,
                ago(now, due_age),
                Some(ago(now, 1)),
            );
            let (gone, gone_secret) = aws.fresh();
            let marker = Marker::Delivered {
                access_key_id: gone.clone(),
                replaces: old.0.clone(),
                delivered: when,
                deactivated: None,
                notified: notified(false),
            };
            put_secret(
                aws,
                name,
                &marker,
                Some(&delivered(name, &(gone, gone_secret), when, &old.0)),
                true,
                Some(when),
                sealed,
            );
            holds = Some(old);
        }
    }
    // A key the tool delivered and that was used is its owner's; any other may be nobody's.
    let installed = holds
        .as_ref()
        .is_some_and(|(id, _)| aws.created.contains(id));
    let mut owner = Owner::new(name, holds.filter(|_| u.holds || installed));
    owner.identity = recipient.map(|(_, id)| id);
    owner.picks_up = u.picks_up;
    owner.delay = days(u.delay);
    owner.deletes_old = u.deletes_old;
    if u.real_pickup {
        // The real pickup deletes the old key where the user may: here, where it may not.
        if !u.deletes_old {
            aws.no_delete.insert(UserName::new(name));
        }
        owner = owner.with_files();
    }
    owner
}

fn build(sc: &Scenario) -> FleetWorld {
    let now = Timestamp::from_secs(T0);
    let mut aws = SimAws::new(ACCOUNT, sc.seed);
    aws.page = sc.page;
    aws.short_pages = sc.short_pages;
    aws.report_time = Span::from_secs(sc.report_secs);
    // ListSecrets may be minutes behind: a run restarted a minute after a crash may not see
    // the secret the crashed run created, or may still see one it deleted.
    aws.list_lag = Span::from_secs(sc.list_lag_secs);
    aws.groups.insert("exempt".into(), Vec::new());
    aws.groups.insert("staff".into(), Vec::new());
    let mut owners = BTreeMap::new();
    let mut broken = BTreeMap::new();
    for (i, u) in sc.users.iter().enumerate() {
        let name = name_of(i, u.name_kind);
        let mut tags = vec![("team".to_owned(), "a".to_owned())];
        if u.exempt_tag {
            tags.push((delivery::EXEMPT_TAG.to_owned(), String::new()));
        }
        if sc.notify.is_some() {
            // Each owner's own address (the checker tells whose a mail is by it).
            let address = format!("owner-{i}@example.com");
            match u.email {
                0 => tags.push(("email".into(), address)),
                1 => tags.push(("email".into(), format!("  {address} "))),
                2 => {}
                _ => tags.push(("email".into(), format!("{address}, boss@example.com"))),
            }
        }
        let user = UserName::new(name.as_str());
        if sc.encrypt {
            match (u.recipient, recipient_of(u)) {
                (0..=3, Some((r, _))) => tags.push((RECIPIENT_TAG.into(), r)),
                (4 | 5, Some((r, _))) => {
                    let mut keys = vec![("APKAACTIVE".to_owned(), true, r)];
                    if u.recipient == 5 {
                        // Not the recipient: inactive.
                        let other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ7mW0Zb3xL1wqY8m0Zc1Q9b5s4Y8kq9nq0m9iYy8y1x other";
                        keys.insert(0, ("APKAOLD".into(), false, other.into()));
                    }
                    aws.ssh_keys.insert(user.clone(), keys);
                }
                (7, _) => tags.push((RECIPIENT_TAG.into(), "ssh-dss AAAAB3NzaC1kc3M".into())),
                _ => {}
            }
        }
        aws.add_user(&name, if u.path { "/eng/" } else { "/" }, tags);
        if u.exempt_group {
            aws.groups
                .get_mut("exempt")
                .expect("the group")
                .push(user.clone());
        }
        if u.other_group {
            aws.groups
                .get_mut("staff")
                .expect("the group")
                .push(user.clone());
        }
        owners.insert(user.clone(), build_user(&mut aws, sc, &name, u, now));
        if let Some(b) = u.broken {
            broken.insert(user.clone(), b);
        }
    }
    let admin = match sc.admin_user {
        Some((age, exempt)) => {
            let tags = if exempt {
                vec![(delivery::EXEMPT_TAG.to_owned(), "admin".to_owned())]
            } else {
                Vec::new()
            };
            aws.add_user("admin", "/ops/", tags);
            aws.admins.insert(UserName::new("admin"));
            aws.groups
                .get_mut("staff")
                .expect("the group")
                .push(UserName::new("admin"));
            let (id, secret) = aws.add_key("admin", KeyStatus::Active, ago(now, age), None);
            Admin::User(UserName::new("admin"), id, secret)
        }
        None => Admin::Role,
    };
    if sc.stale_report {
        // A report made an hour ago from another account state: it may show anything, and it
        // names no key ids, so it must never make a run act wrongly.
        let mut rows = aws.report_rows();
        for (i, r) in rows.iter_mut().enumerate() {
            // No keys, a young key, an old key, an old inactive key: true or not.
            let slot = |active, age| {
                Some(ReportKey {
                    active,
                    last_rotated: Some(ago(now, age)),
                    last_used: None,
                })
            };
            r.keys = match (sc.seed >> (2 * (i % 30))) & 3 {
                0 => [None, None],
                1 => [slot(true, 1), None],
                2 => [slot(true, 400), slot(false, 2)],
                _ => [slot(false, 400), None],
            };
        }
        rows.push(ReportRow {
            user: "deleted-user".into(),
            arn: format!("arn:aws:iam::{ACCOUNT}:user/deleted-user"),
            keys: [None, None],
        });
        let hour_ago = Timestamp::from_secs(T0 - 3600);
        aws.report = Some(ReportSnapshot {
            started: hour_ago,
            ready: hour_ago.add(Span::from_secs(60)),
            rows,
        });
    }
    let mut world = FleetWorld::new(aws, admin, now, sc.seed);
    world.keyring = keyring();
    world.owners = owners;
    world.broken = broken;
    world.rates = FaultRates {
        throttle: sc.rates.0,
        fail_before: sc.rates.1,
        lose_answer: sc.rates.2,
    };
    world.interleave = sc.interleave;
    world.owner_rate = sc.owner_rate;
    world.trace = std::env::var_os("SIM_TRACE").map(|_| Vec::new());
    world
}

#[derive(Debug, Default)]
struct Stats {
    scenarios: usize,
    users: usize,
    runs: usize,
    crashes: usize,
    /// A user taken through a stage, as consecutive full runs saw it.
    transitions: usize,
    /// A user taken from a rotation's stages back to Fresh.
    finished: usize,
    plans: usize,
    steps: usize,
    lockouts: usize,
    deactivated: usize,
    stored: usize,
    deleted: BTreeMap<String, usize>,
    pickups: usize,
    blocked: usize,
    /// Scenarios with `--notify-from`, with `--encrypt`.
    notifying: usize,
    encrypting: usize,
    /// Deliveries sealed, and sealed deliveries the owners opened.
    sealed: usize,
    opened: usize,
    /// Mails sent (by event); sent again after an interruption; after a lagging listing.
    mails: BTreeMap<String, usize>,
    mails_again: usize,
    mails_lagging: usize,
    /// Mails about a delivery that had ended since the run's (lagging) listing.
    mails_after_end: usize,
    /// Deliveries left started at the end (users blocked by --encrypt).
    left_pending: usize,
}

/// splitmix64's finalizer: a round's choices from the scenario's seed.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What a user's stage would be, told from AWS alone, where the report could mislead: a user
/// with an active key older than `--older-than` and no delivery is due.
fn truly_due(world: &FleetWorld, user: &UserName, policy: &Policy) -> bool {
    let has_delivery =
        delivery::secret_name(user).is_some_and(|n| world.aws.secrets.contains_key(&n));
    let keys = world.aws.keys_of(user);
    let active = keys
        .iter()
        .filter(|k| k.status == KeyStatus::Active)
        .count();
    !has_delivery
        && active < 2
        && delivery::secret_name(user).is_some()
        && keys.iter().any(|k| {
            k.status == KeyStatus::Active && world.now.since(k.created) >= policy.older_than
        })
}

/// Whether a user needs nothing more from the administrator's runs: Fresh, Exempt, Blocked or
/// the Caller; or Delivered to an owner who will never install it, with no `--deactivate-after`.
fn settled(world: &FleetWorld, r: &UserResult, policy: &Policy, protected: bool) -> bool {
    let Some(v) = &r.verdict else {
        return false;
    };
    if r.error.is_some() || !v.steps.is_empty() {
        return false;
    }
    let user = &r.facts.user.user_name;
    match v.stage {
        Stage::Exempt | Stage::Caller | Stage::Blocked => true,
        Stage::Fresh => protected || !truly_due(world, user, policy),
        Stage::Delivered => {
            // An owner who will never install it: one who does not pick up, holds no key, or
            // holds one that no longer works (and has no pickup under way).
            let works = |id: &AccessKeyId| {
                world
                    .aws
                    .key(id)
                    .is_some_and(|k| k.status == KeyStatus::Active)
            };
            // (A pickup under way finishes, from its journal, even once the held key is dead:
            // see `a_killed_pickup_finishes_after_the_old_key_was_deactivated`.)
            let stuck = world.owners.get(user).is_none_or(|o| {
                o.pickup.is_none()
                    && o.files.as_ref().is_none_or(|f| f.journals.is_empty())
                    && (!o.picks_up || o.holds.as_ref().is_none_or(|(id, _)| !works(id)))
            });
            // Nothing left to deactivate: the old key is gone, or no deadline will come.
            let old_gone = match &r.facts.delivery {
                Some(Ok(Marker::Delivered { replaces, .. })) => world.aws.key(replaces).is_none(),
                _ => false,
            };
            v.act == Act::None && stuck && (old_gone || policy.deactivate_after.is_none())
        }
        _ => false,
    }
}

fn check(sc: &Scenario, stats: &RefCell<Stats>) -> Result<(), TestCaseError> {
    let mut world = build(sc);
    let mut checker = FleetChecker::new(&world);
    let mut faults = FaultPlan {
        faults: sc.crashes.iter().copied().collect(),
        step: 0,
    };
    let policy = policy_of(sc);
    let groups = vec!["exempt".to_owned()];
    let result = simulate(
        sc,
        &mut world,
        &mut checker,
        &mut faults,
        &policy,
        &groups,
        stats,
    );
    if let Err(e) = &result
        && let Some(t) = &world.trace
    {
        eprintln!("{}\n{e}", t.join("\n"));
    }
    result
}

#[allow(clippy::too_many_arguments)]
fn simulate(
    sc: &Scenario,
    world: &mut FleetWorld,
    checker: &mut FleetChecker,
    faults: &mut FaultPlan,
    policy: &Policy,
    groups: &[String],
    stats: &RefCell<Stats>,
) -> Result<(), TestCaseError> {
    let v = |e: Violation| TestCaseError::fail(e.0);
    let mut st = stats.borrow_mut();
    st.scenarios += 1;
    st.users += sc.users.len();
    st.notifying += usize::from(sc.notify.is_some());
    st.encrypting += usize::from(sc.encrypt);
    let mut seen: BTreeMap<UserName, Stage> = BTreeMap::new();
    let protected: Vec<UserName> = world
        .aws
        .users
        .values()
        .filter(|u| u.tags.iter().any(|(k, _)| k == delivery::EXEMPT_TAG))
        .map(|u| u.name.clone())
        .chain(world.aws.groups["exempt"].iter().cloned())
        .chain(matches!(world.admin, Admin::User(..)).then(|| UserName::new("admin")))
        .collect();
    // Users that a person must unblock from the start; a run never blocks another one.
    let may_block: BTreeSet<UserName> = sc
        .users
        .iter()
        .enumerate()
        .filter(|(_, u)| {
            u.name_kind == 3
                || matches!(u.left, Left::Foreign | Left::Vanished)
                || (u.left == Left::None && u.keys.iter().filter(|k| k.0).count() == 2)
                // --encrypt, and no recipient to seal to: a person must give one.
                || (sc.encrypt && recipient_of(u).is_none())
        })
        .map(|(i, u)| UserName::new(name_of(i, u.name_kind)))
        .collect();
    let mut done = false;
    let mut settled_users: BTreeSet<UserName> = BTreeSet::new();
    for round in 0..MAX_ROUNDS {
        if round == FAULTY_ROUNDS {
            world.rates = FaultRates::default();
            world.broken.clear();
            faults.faults.clear();
        }
        // Owners act between the runs.
        let acts = (world.rand() % (2 * world.owners.len() as u64 + 1)) as usize;
        world.owners_act_randomly(acts);
        let pick = mix(sc.seed ^ (round as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut spec = rotate_spec(sc, policy, groups);
        spec.max_concurrency = sc.concurrency;
        spec.config = Config {
            seed: sc.seed.wrapping_add(round as u64),
            ..Config::default()
        };
        // Now and then the administrator looks first: plan and status change nothing.
        if pick.is_multiple_of(4) {
            let mut look = spec.clone();
            look.mode = if pick.is_multiple_of(8) {
                FleetMode::Status
            } else {
                FleetMode::Plan
            };
            st.plans += 1;
            st.runs += 1;
            if let FleetRunEnd::Crashed = world.run(&look, faults, checker).map_err(v)? {
                st.crashes += 1;
            }
        }
        // Some runs are not the whole fleet's, or stop before they act.
        let full = round >= FAULTY_ROUNDS || pick % 7 != 1;
        if !full {
            match (pick >> 8) % 4 {
                0 => {
                    let mut names: Vec<UserName> =
                        world.aws.users.keys().take(2).cloned().collect();
                    names.push(UserName::new("ghost"));
                    spec.user_names = names;
                }
                1 => {
                    spec.yes = false;
                    spec.interactive = true;
                    spec.confirm = (pick >> 12).is_multiple_of(2);
                }
                2 => spec.yes = false,
                _ => spec.exempt_groups.push("exmept".into()),
            }
        }
        let mut restarts = 0;
        let end = loop {
            st.runs += 1;
            match world.run(&spec, faults, checker).map_err(v)? {
                FleetRunEnd::Crashed => {
                    st.crashes += 1;
                    restarts += 1;
                    prop_assert!(restarts < 50, "fifty crashes in a row");
                    // The next attempt: cron's, or a person's, a minute later.
                    world.now = world.now.add(Span::from_secs(60));
                }
                end => break end,
            }
        };
        let FleetRunEnd::Completed { results, fatal, .. } = end else {
            unreachable!("crashes restart")
        };
        if full && fatal.is_none() {
            for r in &results {
                let user = &r.facts.user.user_name;
                if let Some(verdict) = &r.verdict {
                    prop_assert!(
                        verdict.stage != Stage::Blocked || may_block.contains(user),
                        "{user} was blocked by the runs: {:?}",
                        verdict.reason
                    );
                    let before = seen.insert(user.clone(), verdict.stage);
                    if before.is_some_and(|b| b != verdict.stage) {
                        st.transitions += 1;
                        if verdict.stage == Stage::Fresh
                            && matches!(
                                before,
                                Some(
                                    Stage::Due
                                        | Stage::Delivered
                                        | Stage::Installed
                                        | Stage::Deactivated
                                )
                            )
                        {
                            st.finished += 1;
                        }
                    }
                }
                if round >= FAULTY_ROUNDS && settled(world, r, policy, protected.contains(user)) {
                    settled_users.insert(user.clone());
                }
            }
            // Every user has been settled since the faults ended (a user settled early may be
            // due again by now: keys age).
            if round >= FAULTY_ROUNDS && settled_users.len() == results.len() {
                done = true;
                break;
            }
        }
        // Time passes: a day or a week.
        let gap = 1 + world.rand() % 7;
        world.now = world.now.add(days(gap));
    }
    prop_assert!(done, "the fleet did not settle in {MAX_ROUNDS} rounds");
    // A last clean run, then promise 10 at rest.
    world.owners_act_randomly(world.owners.len());
    let spec = rotate_spec(sc, policy, groups);
    st.runs += 1;
    let end = world.run(&spec, faults, checker).map_err(v)?;
    prop_assert!(
        matches!(end, FleetRunEnd::Completed { fatal: None, .. }),
        "{end:?}"
    );
    checker.end(world, groups).map_err(v)?;
    st.steps += checker.steps;
    st.lockouts += checker.counts.lockouts;
    st.deactivated += checker.counts.deactivated;
    st.stored += checker.counts.stored;
    st.sealed += checker.counts.sealed;
    st.opened += world.opened;
    for (e, n) in &checker.counts.mails {
        *st.mails.entry(e.clone()).or_default() += n;
    }
    st.mails_again += checker.counts.mails_again;
    st.mails_lagging += checker.counts.mails_again_lagging;
    st.mails_after_end += checker.counts.mails_after_end;
    for (k, n) in &checker.counts.deleted {
        *st.deleted.entry(k.clone()).or_default() += n;
    }
    st.pickups += world.owners.values().map(|o| o.installed).sum::<usize>();
    if let FleetRunEnd::Completed { results, .. } = &end {
        let blocked: Vec<&UserName> = results
            .iter()
            .filter(|r| {
                r.verdict
                    .as_ref()
                    .is_some_and(|v| v.stage == Stage::Blocked)
            })
            .map(|r| &r.facts.user.user_name)
            .collect();
        st.blocked += blocked.len();
        // Deliveries left started: users blocked by --encrypt (no recipient), whose runs do
        // nothing until a person gives one (see FleetChecker::end).
        st.left_pending += world
            .aws
            .secrets
            .iter()
            .filter(|(name, s)| {
                delivery::user_of(name).is_some_and(|u| blocked.contains(&&u))
                    && s.description
                        .as_deref()
                        .is_some_and(|d| matches!(Marker::parse(d), Ok(Marker::Pending { .. })))
            })
            .count();
    }
    Ok(())
}

#[test]
fn fleet_promises_hold_under_faults_crashes_and_owners() {
    // FLEET_SIM_ROTATIONS: the user-rotations (stage transitions) to simulate at least.
    let wanted: usize = std::env::var("FLEET_SIM_ROTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1500);
    let stats = RefCell::new(Stats::default());
    // A scenario takes a few users through a few stages each: more cases than the count needs
    // are asked for, and those after the count is reached end at once. (One runner, run once:
    // a runner run again repeats its last cases.)
    let mut runner = TestRunner::new(ProptestConfig {
        cases: u32::try_from(wanted.max(100)).unwrap_or(u32::MAX),
        max_shrink_iters: 4096,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/fleet_simulation.txt",
        ))),
        ..ProptestConfig::default()
    });
    let result = runner.run(&scenario(), |sc| {
        if stats.borrow().transitions >= wanted {
            return Ok(());
        }
        check(&sc, &stats)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let s = stats.borrow();
    println!(
        "fleet simulation: {} scenarios ({} with --notify-from, {} with --encrypt), {} users, {} runs ({} plan/status), {} crashes, {} user-rotations ({} to Fresh), {} deliveries stored ({} sealed), {} pickups ({} sealed deliveries opened), {} keys deactivated ({} locking out an owner who had not installed the new key, by --deactivate-after), keys deleted: {:?}, {} users blocked at the end ({} deliveries left started), mails {:?} ({} sent again after an interruption, {} after a lagging listing, {} of them about a delivery ended meanwhile), {} requests checked",
        s.scenarios,
        s.notifying,
        s.encrypting,
        s.users,
        s.runs,
        s.plans,
        s.crashes,
        s.transitions,
        s.finished,
        s.stored,
        s.sealed,
        s.pickups,
        s.opened,
        s.deactivated,
        s.lockouts,
        s.deleted,
        s.blocked,
        s.left_pending,
        s.mails,
        s.mails_again,
        s.mails_lagging,
        s.mails_after_end,
        s.steps
    );
    assert!(
        s.transitions >= wanted,
        "only {} user-rotations simulated, {wanted} wanted",
        s.transitions
    );
}

/// A pickup killed after it journaled the delivered key finishes when run again, even once the
/// old key stopped working (`--deactivate-after` deactivated it meanwhile): it resumes with the
/// journal's key ("a pickup killed at any point and run again finishes", spec "Pickup"). Found
/// by this simulation: the rerun signed with the dead old key, and the owner was locked out.
#[test]
fn a_killed_pickup_finishes_after_the_old_key_was_deactivated() {
    let now = Timestamp::from_secs(T0);
    let mut aws = SimAws::new(ACCOUNT, 1);
    aws.add_user("bob", "/", Vec::new());
    let old = aws.add_key("bob", KeyStatus::Active, ago(now, 100), None);
    let mut world = FleetWorld::new(aws, Admin::Role, now, 1);
    let bob = UserName::new("bob");
    world.owners.insert(
        bob.clone(),
        Owner::new("bob", Some(old.clone())).with_files(),
    );
    let mut checker = FleetChecker::new(&world);
    let mut faults = FaultPlan::default();
    let policy = Policy {
        deactivate_after: Some(days(3)),
        ..Policy::default()
    };
    let spec = FleetRunSpec::rotate(policy);
    world
        .run(&spec, &mut faults, &mut checker)
        .expect("delivered");
    // The owner's pickup reads the delivery, journals it, and is killed.
    world.now = world.now.add(days(1));
    world.kill_pickup_after = Some(4);
    world.owner_acts(&bob);
    let files = |w: &FleetWorld| w.owners[&bob].files.clone().expect("files");
    assert_eq!(files(&world).journals.len(), 1, "journaled");
    // --deactivate-after passes: the old key goes inactive (the new one was never used).
    world.now = world.now.add(days(3));
    world
        .run(&spec, &mut faults, &mut checker)
        .expect("deactivated");
    // The owner runs pickup again: it finishes from its journal with the delivered key.
    world.now = world.now.add(days(1));
    world.owner_acts(&bob);
    let o = &world.owners[&bob];
    assert!(files(&world).journals.is_empty(), "the journal is left");
    assert_ne!(
        o.holds.as_ref().map(|h| &h.0),
        Some(&old.0),
        "the files hold the dead key"
    );
}

/// `--notify-from --encrypt`, with the process killed right after SES took the Delivered mail
/// (before the description recorded it): the next run mails it again (twice, never none, as
/// the checker allows after a crash), and records it; a later run mails nothing more. The
/// delivery is sealed to the age key in the user's tag, and the owner's real pickup opens it
/// with its identity and installs the new key.
#[test]
fn a_mail_cut_off_by_a_crash_goes_again_and_a_sealed_delivery_is_picked_up() {
    let now = Timestamp::from_secs(T0);
    let mut aws = SimAws::new(ACCOUNT, 1);
    let identity = AGE_IDENTITIES[1];
    aws.add_user(
        "bob",
        "/",
        vec![
            ("email".into(), "bob@example.com".into()),
            (RECIPIENT_TAG.into(), age_public(identity)),
        ],
    );
    let old = aws.add_key("bob", KeyStatus::Active, ago(now, 100), None);
    let mut world = FleetWorld::new(aws, Admin::Role, now, 1);
    world.keyring = keyring();
    let bob = UserName::new("bob");
    let mut owner = Owner::new("bob", Some(old.clone())).with_files();
    owner.identity = Some(identity.to_owned());
    world.owners.insert(bob.clone(), owner);
    let mut checker = FleetChecker::new(&world);
    let mut faults = FaultPlan::default();
    let policy = Policy {
        notify: Some(NoticePolicy {
            email_tag: "email".into(),
            warn_before: None,
        }),
        ..Policy::default()
    };
    let mut spec = FleetRunSpec::rotate(policy);
    spec.encrypt = true;
    spec.notify = Some(Notifier {
        from: FROM.into(),
        template: Template::default_text(),
        region: "eu-west-1".into(),
    });
    world.crash_after = Some("SendEmail");
    let end = world
        .run(&spec, &mut faults, &mut checker)
        .expect("promises hold");
    assert!(matches!(end, FleetRunEnd::Crashed), "{end:?}");
    assert_eq!(world.aws.mails.len(), 1);
    let name = delivery::secret_name(&bob).expect("a name");
    let sealed = world.aws.secrets[&name].value.clone().expect("stored");
    assert!(seal::is_sealed(&sealed), "{sealed}");
    // The restart, a minute later, mails again and records; a day later, nothing more.
    for _ in 0..2 {
        world.now = world.now.add(Span::from_secs(60));
        world
            .run(&spec, &mut faults, &mut checker)
            .expect("promises hold");
    }
    world.now = world.now.add(days(1));
    world
        .run(&spec, &mut faults, &mut checker)
        .expect("promises hold");
    let mails: Vec<_> = world
        .aws
        .mails
        .iter()
        .map(|m| (&m.to, &m.subject))
        .collect();
    assert_eq!(mails.len(), 2, "{mails:?}");
    assert!(
        mails
            .iter()
            .all(|(to, s)| *to == "bob@example.com" && s.contains("waiting for bob")),
        "{mails:?}"
    );
    assert_eq!(checker.counts.mails_again, 1);
    let Some(Ok(Marker::Delivered { notified, .. })) = world.aws.secrets[&name]
        .description
        .as_deref()
        .map(Marker::parse)
    else {
        panic!("delivered")
    };
    assert_eq!(notified, [Event::Delivered]);
    // The owner's pickup opens the sealed delivery with its identity and installs the key (it
    // may be killed on the way: the owner runs it again).
    for _ in 0..10 {
        world.owner_acts(&bob);
        if world.owners[&bob].installed > 0 {
            break;
        }
    }
    assert!(world.opened > 0);
    assert!(world.unopened.is_empty(), "{:?}", world.unopened);
    let held = world.owners[&bob].holds.clone().expect("a key");
    assert_ne!(held.0, old.0, "the new key is installed");
    let plain = world.plain_value(&sealed).expect("opens");
    assert!(
        plain.contains(&held.1),
        "the delivery holds the installed key"
    );
    // No other test identity opens it.
    for (r, id) in keyring() {
        if r != age_public(identity) {
            assert!(aws_rotate_keys::sim::fleet::open_sealed(&id, &sealed).is_err());
        }
    }
    checker.end(&world, &[]).expect("promises hold at the end");
}
