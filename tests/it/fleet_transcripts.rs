//! Transcript snapshots of the fleet session (style guide §6, the rustls idea), in the named
//! scenarios of the fleet's life: the real `FleetSession` driven by the simulated AWS
//! (`sim::fleet`), the owners' pickups between the administrator's runs, and the clock moved on
//! by days. Each transcript lists the requests in order with their answers (secrets never
//! appear), what the owner did, each user's row as `fleet rotate` prints it, and what AWS holds
//! after each run. The fleet promises are checked as it goes (`FleetChecker`): a violation
//! panics with the transcript so far.

use std::fmt::Write as _;

use aws_rotate_keys::fleet::output;
use aws_rotate_keys::fleet::session::FleetMode;
use aws_rotate_keys::fleet::stage::Policy;
use aws_rotate_keys::key::{AccessKeyId, KeyStatus, UserName};
use aws_rotate_keys::output::Timestamps;
use aws_rotate_keys::sim::FaultPlan;
use aws_rotate_keys::sim::fleet::{
    Admin, FleetChecker, FleetRunEnd, FleetRunSpec, FleetWorld, Owner, SimAws,
};
use aws_rotate_keys::time::{Span, Timestamp};

const T0: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z
const DAY: u64 = 86_400;

fn days(n: u64) -> Span {
    Span::from_secs(n * DAY)
}

fn id(s: &str) -> AccessKeyId {
    AccessKeyId::new(s).expect("a key id")
}

/// `day N hh:mm:ss.mmm` since T0.
fn rel(t: Timestamp) -> String {
    let ms = t.as_millis() - T0 * 1000;
    let (d, rest) = (ms / 86_400_000, ms % 86_400_000);
    format!(
        "day {d} {:02}:{:02}:{:02}.{:03}",
        rest / 3_600_000,
        rest / 60_000 % 60,
        rest / 1000 % 60,
        rest % 1000
    )
}

/// The world's trace lines from `from` on, their leading timestamps made relative.
fn lines(world: &FleetWorld, from: usize) -> Vec<String> {
    let trace = world.trace.as_ref().expect("tracing");
    trace[from..]
        .iter()
        .map(|l| match l.split_once(' ') {
            Some((t, rest)) if !l.starts_with(' ') => match Timestamp::parse_iso8601(t) {
                Some(t) => format!("{} {rest}", rel(t)),
                None => l.clone(),
            },
            _ => l.clone(),
        })
        .collect()
}

struct Transcript {
    world: FleetWorld,
    check: FleetChecker,
    faults: FaultPlan,
    policy: Policy,
    log: String,
}

impl Transcript {
    /// A world at T0 administered by a role, with `aws`'s users and these owners.
    fn new(title: &str, aws: SimAws, owners: Vec<Owner>, policy: Policy) -> Self {
        let mut world = FleetWorld::new(aws, Admin::Role, Timestamp::from_secs(T0), 1);
        world.trace = Some(Vec::new());
        world.latency = Span::from_millis(100);
        for o in owners {
            world.owners.insert(o.user.clone(), o);
        }
        let check = FleetChecker::new(&world);
        let mut t = Self {
            world,
            check,
            faults: FaultPlan::default(),
            policy,
            log: String::new(),
        };
        let p = &t.policy;
        let _ = writeln!(
            t.log,
            "# {title}\npolicy: --older-than {} --deactivate-after {} --delete-after {}; the administrator signs as a role",
            p.older_than,
            p.deactivate_after
                .map_or_else(|| "(never)".to_owned(), |d| d.to_string()),
            p.delete_after
        );
        t.state("at the start");
        t
    }

    /// What AWS holds: each user's keys, and the delivery secrets' states.
    fn state(&mut self, when: &str) {
        let aws = &self.world.aws;
        let _ = writeln!(self.log, "\n-- AWS {when}");
        for u in aws.users.keys() {
            let keys: Vec<String> = aws
                .keys_of(u)
                .iter()
                .map(|k| {
                    let used = k
                        .last_used
                        .map_or_else(|| "never used".into(), |t| format!("used {}", rel(t)));
                    format!("{} {} created {} {used}", k.id, k.status, rel(k.created))
                })
                .collect();
            let holds = self
                .world
                .owners
                .get(u)
                .and_then(|o| o.holds.as_ref())
                .map_or_else(|| "nothing".to_owned(), |(k, _)| k.to_string());
            let _ = writeln!(
                self.log,
                "{u}: [{}]; its owner holds {holds}",
                keys.join(", ")
            );
        }
        for (name, s) in &aws.secrets {
            let state = s.description.as_deref().unwrap_or("(no description)");
            let value = if s.value.is_some() {
                "a value"
            } else {
                "no value"
            };
            let _ = writeln!(self.log, "secret {name}: {value}; {state}");
        }
    }

    fn after_minutes(&mut self, n: u64) -> &mut Self {
        self.world.now = self.world.now.add(Span::from_secs(n * 60));
        self
    }

    fn after_days(&mut self, n: u64) -> &mut Self {
        self.world.now = self.world.now.add(days(n));
        self
    }

    /// `n` acts of `user`'s owner.
    fn owner(&mut self, user: &str, n: usize) -> &mut Self {
        let _ = writeln!(self.log);
        for _ in 0..n {
            let from = self.world.trace.as_ref().map_or(0, Vec::len);
            self.world.owner_acts(&UserName::new(user));
            for l in lines(&self.world, from) {
                let _ = writeln!(self.log, "{l}");
            }
        }
        self
    }

    /// `fleet rotate --yes`, or another run.
    fn rotate(&mut self) -> &mut Self {
        let spec = FleetRunSpec::rotate(self.policy.clone());
        self.run(&spec)
    }

    fn run(&mut self, spec: &FleetRunSpec) -> &mut Self {
        let from = self.world.trace.as_ref().map_or(0, Vec::len);
        let end = self.world.run(spec, &mut self.faults, &mut self.check);
        let _ = writeln!(self.log);
        for l in lines(&self.world, from) {
            let _ = writeln!(self.log, "{l}");
        }
        match end {
            Err(v) => panic!("{}\nviolation: {}", self.log, v.0),
            Ok(FleetRunEnd::Crashed) => {
                let _ = writeln!(self.log, "(the run is killed)");
            }
            Ok(FleetRunEnd::Completed { results, .. }) => {
                let out = output::fleet(
                    &results,
                    None,
                    spec.mode,
                    &Timestamps::iso8601(),
                    self.world.now,
                );
                for row in &out.users {
                    let _ = writeln!(
                        self.log,
                        "row: {}",
                        serde_json::to_string(row).expect("a row serializes")
                    );
                }
                for w in output::warnings(&results) {
                    let _ = writeln!(self.log, "warning: {w}");
                }
            }
        }
        self.state("after the run");
        self
    }

    fn finish(&mut self) -> String {
        if let Err(v) = self.check.end(&self.world, &[]) {
            panic!("{}\nviolation at the end: {}", self.log, v.0);
        }
        std::mem::take(&mut self.log)
    }
}

/// alice, with one active key `age` days old that her owner holds.
fn alice(age: u64) -> (SimAws, Owner) {
    let mut aws = SimAws::new("123456789012", 1);
    aws.report_time = Span::ZERO;
    aws.add_user("alice", "/", Vec::new());
    let old = id("AKIAALICEOLD00000001");
    let created = Timestamp::from_secs(T0 - (age * DAY) as i64);
    aws.insert_key(
        "alice",
        old.clone(),
        "alice/old+secret",
        KeyStatus::Active,
        created,
        None,
    );
    let owner = Owner::new("alice", Some((old, "alice/old+secret".to_owned())));
    (aws, owner)
}

fn policy(deactivate_after: Option<u64>, delete_after: u64) -> Policy {
    Policy {
        older_than: days(90),
        deactivate_after: deactivate_after.map(days),
        delete_after: days(delete_after),
        notify: None,
    }
}

#[test]
fn due_user_through_every_stage_to_fresh() {
    let (aws, owner) = alice(120);
    let mut t = Transcript::new(
        "a due user through every stage to Fresh",
        aws,
        vec![owner],
        policy(None, 7),
    );
    t.rotate()
        .after_days(1)
        .owner("alice", 2)
        .after_days(1)
        .rotate()
        .after_days(3)
        .rotate()
        .after_days(5)
        .rotate()
        .after_days(1)
        .rotate();
    insta::assert_snapshot!(t.finish());
}

#[test]
fn no_pickup_and_deactivate_after() {
    let (aws, mut owner) = alice(120);
    owner.picks_up = false;
    let mut t = Transcript::new(
        "the owner never picks up: --deactivate-after 14d",
        aws,
        vec![owner],
        policy(Some(14), 7),
    );
    t.rotate()
        .after_days(7)
        .rotate()
        .after_days(7)
        .rotate()
        .after_days(1)
        .owner("alice", 1)
        .after_days(6)
        .rotate()
        .after_days(1)
        .rotate();
    insta::assert_snapshot!(t.finish());
}

#[test]
fn crash_after_create_access_key() {
    let (aws, owner) = alice(120);
    let mut t = Transcript::new(
        "the run is killed right after CreateAccessKey; a restart a minute later leaves the key alone (the listing of the secrets may be minutes behind, and the key delivered); the next day's run deletes the orphan and delivers again",
        aws,
        vec![owner],
        policy(None, 7),
    );
    t.world.crash_after = Some("CreateAccessKey");
    t.rotate();
    t.after_minutes(1).rotate();
    t.after_days(1).rotate();
    insta::assert_snapshot!(t.finish());
}

#[test]
fn two_active_keys_blocked() {
    let (mut aws, owner) = alice(120);
    aws.insert_key(
        "alice",
        id("AKIAALICENEW00000002"),
        "alice/new+secret",
        KeyStatus::Active,
        Timestamp::from_secs(T0 - (10 * DAY) as i64),
        None,
    );
    let mut t = Transcript::new(
        "two active keys: blocked, nothing changed",
        aws,
        vec![owner],
        policy(None, 7),
    );
    let plan = FleetRunSpec {
        mode: FleetMode::Plan,
        ..FleetRunSpec::rotate(t.policy.clone())
    };
    t.run(&plan).rotate();
    insta::assert_snapshot!(t.finish());
}

#[test]
fn pickup_deletes_the_old_key() {
    let (aws, mut owner) = alice(120);
    owner.deletes_old = true;
    let mut t = Transcript::new(
        "the owner's pickup deletes the old key itself; the next run only removes the delivery",
        aws,
        vec![owner],
        policy(None, 7),
    );
    t.rotate()
        .after_days(1)
        .owner("alice", 3)
        .after_days(1)
        .rotate();
    insta::assert_snapshot!(t.finish());
}

#[test]
fn one_failing_user_does_not_stop_the_others() {
    let (mut aws, alice_owner) = alice(120);
    aws.add_user("bob", "/", Vec::new());
    let bob_key = id("AKIABOBOLD0000000001");
    let created = Timestamp::from_secs(T0 - (200 * DAY) as i64);
    aws.insert_key(
        "bob",
        bob_key.clone(),
        "bob/old+secret",
        KeyStatus::Active,
        created,
        None,
    );
    let bob_owner = Owner::new("bob", Some((bob_key, "bob/old+secret".to_owned())));
    let mut t = Transcript::new(
        "bob's delivery secret cannot be created (an explicit deny, every time): alice is delivered to, bob gets his row with the error, the run exits 254",
        aws,
        vec![alice_owner, bob_owner],
        policy(None, 7),
    );
    t.world.broken.insert(
        UserName::new("bob"),
        aws_rotate_keys::sim::fleet::BrokenUser {
            how: aws_rotate_keys::sim::fleet::Broken::Denied,
            until_run: 1,
            only: Some("CreateSecret"),
        },
    );
    t.rotate();
    let _ = writeln!(t.log, "\n(the deny is lifted)");
    t.after_days(1).rotate();
    insta::assert_snapshot!(t.finish());
}
