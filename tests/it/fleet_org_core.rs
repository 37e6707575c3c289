//! The organization's run in the core ([`OrgSession`]), against one simulated account per
//! member of a generated organization: listings in pages, an account whose role is refused, a
//! suspended one, accounts named or all, any bound on the accounts at once, requests answered
//! in any order. Checked on every case: at most the bound of accounts have requests in flight,
//! each account's requests are signed by its own signer (the caller's in its own account, the
//! role in the others), every ACTIVE account chosen has its users' rows or its failure, a refused
//! account changes nothing and does not stop the others, and `fleet rotate` without `--yes`
//! asks once, after every account has decided and before any changes anything; a no, or no
//! terminal, changes nothing anywhere.
//!
//! And organizations whose runs crash and restart (200 seeds): 2 to 6 accounts, one maybe with
//! a refused role; users with no key, an inactive one, an active key (due now, later, or never)
//! alone or beside an inactive one, or two active keys; owners who never pick up (no
//! `--deactivate-after`: their key must stay active) and owners who pick up days after their
//! delivery, deleting their old key or leaving it. `fleet rotate --yes` runs days apart, any
//! bound of accounts at once, requests answered in any order, some left in flight; a run is
//! dropped at its n-th request or its n-th change (each request then in flight took effect or
//! did not, unheard), and the next one, an hour or days later, knows only what each account
//! holds; then a last clean run. Checked after every request: no user has more than two keys
//! (no `CreateAccessKey` meets the limit); the key each owner holds is active (promise 9); a
//! request naming a user, key or delivery is signed by that account's signer; at most the bound
//! of accounts have requests in flight. After every run: the refused account is unchanged;
//! every stored delivery is the spec's JSON, readable by its owner with the key it holds, and
//! holds a key of the user with that secret; after a run that ended (no crash), no key a run
//! created has its secret nowhere (a crash's orphan is deleted by the next run: promise 10), no
//! delivery is left pending, and every account has its rows (its own users), with no failure
//! and every step done. After the last run: every due user of every account entered has a
//! delivery of a key replacing the one its owner holds.

use std::collections::{BTreeMap, BTreeSet};

use aws_rotate_keys::action::{Action, DeletePurpose, Failure, FailureClass, OrgAccount, Outcome};
use aws_rotate_keys::error::ErrorKind;
use aws_rotate_keys::fleet::delivery::{self, DeliveredKey, Marker};
use aws_rotate_keys::fleet::org::{Accounts, OrgRequest, OrgSession};
use aws_rotate_keys::fleet::session::{FleetMode, FleetRequest};
use aws_rotate_keys::fleet::stage::{Policy, Stage};
use aws_rotate_keys::key::{AccessKeyId, KeyStatus, UserName};
use aws_rotate_keys::rotation::Config;
use aws_rotate_keys::session::{SessionAction, Signer};
use aws_rotate_keys::sim::fleet::{AwsState, Principal, SimAws};
use aws_rotate_keys::time::{Span, Timestamp};

const NOW: Timestamp = Timestamp::from_secs(1_800_000_000);
const CALLER: &str = "100000000000";

struct Case {
    seed: u64,
    /// Member accounts (the caller's is one more).
    members: usize,
    denied: Option<usize>,
    suspended: Option<usize>,
    named: bool,
    max_accounts: usize,
    page: usize,
    mode: FleetMode,
    yes: bool,
    interactive: bool,
    answer: bool,
}

struct Org {
    sims: BTreeMap<String, SimAws>,
    listed: Vec<OrgAccount>,
    denied: Option<String>,
}

fn account_id(i: usize) -> String {
    format!("{:012}", 200_000_000_000u64 + i as u64)
}

fn org(c: &Case) -> Org {
    let mut sims = BTreeMap::new();
    let mut listed = Vec::new();
    for i in 0..=c.members {
        let id = if i == 0 {
            CALLER.to_owned()
        } else {
            account_id(i)
        };
        let mut aws = SimAws::new(&id, c.seed.wrapping_add(i as u64));
        for u in 0..(1 + (c.seed as usize + i) % 3) {
            let name = format!("u{i}-{u}");
            aws.add_user(&name, "/", Vec::new());
            let age = if u == 0 { 200 } else { 10 };
            aws.add_key(
                &name,
                KeyStatus::Active,
                Timestamp::from_secs(1_800_000_000 - (age * 86_400) as i64),
                None,
            );
        }
        let status = if c.suspended == Some(i) {
            "SUSPENDED"
        } else {
            "ACTIVE"
        };
        listed.push(OrgAccount {
            id: id.clone(),
            name: format!("acct-{i}"),
            status: status.to_owned(),
        });
        sims.insert(id, aws);
    }
    Org {
        sims,
        listed,
        denied: c.denied.map(account_id),
    }
}

fn account_of(role_arn: &str) -> String {
    role_arn.split(':').nth(4).unwrap_or_default().to_owned()
}

/// Runs a case; returns the session at its end and what was seen on the way.
fn run(c: &Case) -> (OrgSession, Org, Seen) {
    let mut o = org(c);
    let caller = Signer::Profile("org-admin".into());
    let accounts = if c.named {
        // Every member by id, and one that is not in the organization.
        let mut ids: Vec<String> = (1..=c.members).map(account_id).collect();
        ids.push("999999999999".into());
        Accounts::Ids(ids)
    } else {
        Accounts::All
    };
    let req = OrgRequest {
        fleet: FleetRequest {
            mode: c.mode,
            policy: Policy {
                older_than: Span::from_secs(90 * 86_400),
                ..Policy::default()
            },
            user_names: Vec::new(),
            exempt_groups: Vec::new(),
            yes: c.yes,
            interactive: c.interactive,
            max_concurrency: 3,
            signer: caller.clone(),
            encrypt: false,
            notify: None,
        },
        accounts,
        role_name: "OrganizationAccountAccessRole".into(),
        max_accounts: c.max_accounts,
    };
    let mut s = OrgSession::new(req, Config::default(), NOW);
    let mut seen = Seen::default();
    let mut now = NOW;
    let mut rng = c.seed | 1;
    for _ in 0..100_000 {
        let mut batch = Vec::new();
        while let Some(a) = s.poll_action() {
            batch.push(a);
        }
        if batch.is_empty() {
            if s.is_done() {
                return (s, o, seen);
            }
            let t = s.poll_timeout().expect("not done: a timeout");
            now = now.max(t);
            s.handle_timeout(now);
            continue;
        }
        // Accounts with requests in flight at once.
        let busy: BTreeSet<String> = batch
            .iter()
            .filter_map(|a| match &a.signer {
                Signer::Role { role_arn, .. } => Some(account_of(role_arn)),
                _ => None,
            })
            .collect();
        seen.most_at_once = seen.most_at_once.max(busy.len());
        // Any order.
        for i in (1..batch.len()).rev() {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            batch.swap(i, (rng % (i as u64 + 1)) as usize);
        }
        for a in batch {
            let outcome = match (&a.signer, &a.action) {
                (_, Action::ConfirmPlan { summary }) => {
                    seen.questions.push(summary.clone());
                    seen.changes_before_question = seen.changes;
                    if c.answer {
                        Outcome::Done
                    } else {
                        Outcome::Declined
                    }
                }
                (Signer::Profile(_), Action::ListAccounts { next_token }) => {
                    seen.list_pages += 1;
                    let start: usize = next_token.as_deref().map_or(0, |t| t.parse().unwrap());
                    let end = (start + c.page).min(o.listed.len());
                    Outcome::Accounts {
                        accounts: o.listed[start..end].to_vec(),
                        next_token: (end < o.listed.len()).then(|| end.to_string()),
                    }
                }
                (Signer::Profile(_), action) => {
                    let aws = o.sims.get_mut(CALLER).expect("the caller's");
                    if SimAws::is_change(action) {
                        seen.changes += 1;
                    }
                    aws.request(&Principal::Role, action, now)
                }
                (Signer::Role { source, role_arn }, action) => {
                    assert_eq!(**source, caller, "a role is assumed with the caller's");
                    let account = account_of(role_arn);
                    assert_ne!(account, CALLER, "the caller's account uses its credentials");
                    assert_eq!(
                        role_arn,
                        &format!("arn:aws:iam::{account}:role/OrganizationAccountAccessRole")
                    );
                    if o.denied.as_deref() == Some(account.as_str()) {
                        Outcome::Failed(Failure {
                            class: FailureClass::AccessDenied,
                            code: Some("AccessDenied".into()),
                            message: format!(
                                "not authorized to perform: sts:AssumeRole on resource: {role_arn}"
                            ),
                            operation: Some("AssumeRole"),
                        })
                    } else {
                        let aws = o.sims.get_mut(&account).expect("a member");
                        if SimAws::is_change(action) {
                            seen.changes += 1;
                        }
                        aws.request(&Principal::Role, action, now)
                    }
                }
                (Signer::Static { .. }, _) => panic!("the caller signs as a profile"),
            };
            s.handle_outcome(a.task, outcome, now);
        }
    }
    panic!("the organization's run does not end");
}

#[derive(Default)]
struct Seen {
    most_at_once: usize,
    questions: Vec<String>,
    changes: usize,
    changes_before_question: usize,
    list_pages: usize,
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for seed in 1..=160u64 {
        let members = (seed % 7) as usize;
        let pick = |k: u64| (members > 0).then(|| 1 + ((seed / k) as usize % members));
        let mode = match seed % 3 {
            0 => FleetMode::Status,
            1 => FleetMode::Plan,
            _ => FleetMode::Rotate,
        };
        out.push(Case {
            seed,
            members,
            denied: pick(3).filter(|_| seed % 2 == 0),
            suspended: pick(5).filter(|_| seed % 5 == 0),
            named: seed % 4 == 0,
            max_accounts: 1 + (seed as usize % 4),
            page: 1 + (seed as usize % 3),
            mode,
            yes: seed % 6 == 2,
            interactive: seed % 11 != 0,
            answer: seed % 7 != 3,
        });
    }
    out
}

#[test]
fn every_account_is_run_within_the_bound_and_asked_once() {
    for c in cases() {
        let (s, o, seen) = run(&c);
        let ctx = format!(
            "seed {} ({} members, denied {:?}, suspended {:?}, named {}, bound {}, {:?}, yes {}, tty {}, answer {})",
            c.seed,
            c.members,
            c.denied,
            c.suspended,
            c.named,
            c.max_accounts,
            c.mode,
            c.yes,
            c.interactive,
            c.answer
        );
        assert!(
            seen.most_at_once <= c.max_accounts,
            "{ctx}: {} at once",
            seen.most_at_once
        );
        assert_eq!(
            seen.list_pages,
            o.listed.len().div_ceil(c.page).max(1),
            "{ctx}: every page"
        );
        let asks = c.mode == FleetMode::Rotate && !c.yes;
        let fatal = s.fatal().cloned();
        let declined = s.declined();
        let kind = s.error_kind();
        let results = s.into_results();
        let ids: Vec<&str> = results.iter().map(|r| r.account_id.as_str()).collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        assert_eq!(ids, sorted, "{ctx}: account order");

        // The accounts run: ACTIVE ones, the caller's among them unless only members were named.
        let active: Vec<&OrgAccount> = o.listed.iter().filter(|a| a.status == "ACTIVE").collect();
        for a in &active {
            if c.named && a.id == CALLER {
                assert!(
                    !ids.contains(&CALLER),
                    "{ctx}: the caller's account was not named"
                );
                continue;
            }
            let r = results.iter().find(|r| r.account_id == a.id);
            let r = r.unwrap_or_else(|| panic!("{ctx}: no result for {}", a.id));
            if o.denied.as_deref() == Some(a.id.as_str()) {
                let f = r.failure.as_ref().expect("a refused account's failure");
                assert!(f.message.contains("AssumeRole"), "{ctx}: {}", f.message);
                assert_eq!(r.kind, Some(ErrorKind::Service), "{ctx}");
                assert!(r.users.is_empty());
            } else if fatal.is_none() {
                assert!(r.failure.is_none(), "{ctx}: {:?}", r.failure);
                for u in &r.users {
                    assert!(
                        u.facts.user.arn.contains(&format!("::{}:", a.id)),
                        "{ctx}: {} in {}",
                        u.facts.user.arn,
                        a.id
                    );
                }
                assert_eq!(r.users.len(), o.sims[&a.id].users.len(), "{ctx}");
            }
        }
        // A suspended account: skipped by `all`, failed when named; an unknown id, failed.
        if let Some(i) = c.suspended {
            let id = account_id(i);
            match results.iter().find(|r| r.account_id == id) {
                Some(r) => {
                    assert!(c.named, "{ctx}: `all` runs only ACTIVE accounts");
                    assert!(
                        r.failure
                            .as_ref()
                            .is_some_and(|f| f.message.contains("SUSPENDED"))
                    );
                }
                None => assert!(!c.named, "{ctx}: a named suspended account gets its row"),
            }
        }
        if c.named {
            let r = results.iter().find(|r| r.account_id == "999999999999");
            assert!(
                r.is_some_and(|r| r.failure.is_some()),
                "{ctx}: the unknown id's row"
            );
        }
        let refused = |id: &String| o.denied.as_ref() == Some(id);
        let must_change = c.mode == FleetMode::Rotate
            && active
                .iter()
                .any(|a| !(refused(&a.id) || (c.named && a.id == CALLER)));

        // Asked once, after every account decided and before any change; a no changes nothing.
        if asks && must_change {
            if c.interactive {
                assert_eq!(seen.questions.len(), 1, "{ctx}: one question");
                assert_eq!(
                    seen.changes_before_question, 0,
                    "{ctx}: a change before the question"
                );
                if !c.answer {
                    assert!(declined, "{ctx}");
                    assert_eq!(seen.changes, 0, "{ctx}: a no changed something");
                } else {
                    assert!(seen.changes > 0, "{ctx}: a yes changed nothing");
                }
            } else {
                assert!(seen.questions.is_empty(), "{ctx}");
                assert_eq!(
                    fatal.as_ref().map(|f| f.kind),
                    Some(ErrorKind::Usage),
                    "{ctx}"
                );
                assert_eq!(seen.changes, 0, "{ctx}: no terminal changed something");
            }
        } else {
            assert!(
                seen.questions.is_empty(),
                "{ctx}: asked {:?}",
                seen.questions
            );
        }
        if c.mode != FleetMode::Rotate {
            assert_eq!(seen.changes, 0, "{ctx}: status and plan change nothing");
        }
        if results.iter().any(|r| r.failure.is_some()) {
            assert!(kind >= Some(ErrorKind::Service), "{ctx}: {kind:?}");
        }
        // Every due user of a run that went ahead was delivered in its own account.
        if c.mode == FleetMode::Rotate && (c.yes || (c.interactive && c.answer)) {
            for r in results.iter().filter(|r| r.failure.is_none()) {
                for u in &r.users {
                    if u.verdict.as_ref().is_some_and(|v| v.stage == Stage::Due) {
                        assert!(
                            u.new_key.is_some(),
                            "{ctx}: {} in {} not delivered",
                            u.facts.user.user_name,
                            r.account_id
                        );
                    }
                }
            }
        }
    }
}

// Crashes and restarts: `fleet rotate --yes` over the organization, run again and again as the
// days pass, the run dropped at any request.

const DAY: u64 = 86_400;
/// Key ids handed out per account: each account's ids are its own, as AWS's are.
const IDS_PER_ACCOUNT: u64 = 1_000;
/// Days after which a key is due (`--older-than`).
const OLDER_THAN: u64 = 90;
/// Initial key ages, in days: some due now, some due during the scenario, some never.
const AGES: [u64; 9] = [5, 30, 70, 85, 89, 91, 120, 200, 400];

/// A deterministic xorshift.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// Whoever uses a user's key: holds one key and its secret. A passive owner never picks up;
/// the others pick up `picks_up` days after the delivery (reading it with the key they hold,
/// checking the new key, switching to it), and delete their old key or leave it to the runs.
struct Owner {
    holds: (AccessKeyId, String),
    picks_up: Option<u64>,
    deletes_old: bool,
}

/// Where a run is dropped: at its n-th request answered, or at its n-th change.
#[derive(Debug, Clone, Copy)]
enum Crash {
    Never,
    AtRequest(usize),
    AtChange(usize),
}

enum RunEnd {
    Crashed,
    Completed(Box<OrgSession>),
}

/// An organization of accounts, their owners, and the administrator's clock.
struct CrashWorld {
    seed: u64,
    org: Org,
    owners: BTreeMap<UserName, Owner>,
    /// Users with two active keys from the start: a person must choose (never rotated).
    blocked: BTreeSet<UserName>,
    max_accounts: usize,
    now: Timestamp,
    rng: Rng,
    /// The refused account as it was at the start.
    refused_state: Option<AwsState>,
    log: Vec<String>,
    stats: CrashStats,
}

#[derive(Default, Debug)]
struct CrashStats {
    runs: usize,
    crashes: usize,
    /// Requests in flight at a crash that took effect (their answers unheard).
    unheard: usize,
    /// Keys whose secret was nowhere after a crash (the next run had to delete them).
    orphans: usize,
    deliveries: usize,
    pickups: usize,
    max_in_flight_accounts: usize,
}

fn ago(now: Timestamp, days: u64) -> Timestamp {
    Timestamp::from_micros(now.as_micros() - (days * DAY * 1_000_000) as i64)
}

fn crash_world(seed: u64) -> CrashWorld {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let members = 1 + rng.below(5);
    let denied = rng.chance(40).then(|| 1 + rng.below(members));
    let mut sims = BTreeMap::new();
    let mut listed = Vec::new();
    let mut owners = BTreeMap::new();
    let mut blocked = BTreeSet::new();
    for i in 0..=members {
        let id = if i == 0 {
            CALLER.to_owned()
        } else {
            account_id(i)
        };
        let mut aws = SimAws::new(&id, seed.wrapping_add(i as u64));
        for _ in 0..i as u64 * IDS_PER_ACCOUNT {
            aws.fresh();
        }
        for u in 0..1 + rng.below(4) {
            let name = format!("u{i}-{u}");
            aws.add_user(&name, "/", Vec::new());
            let key = |aws: &mut SimAws, rng: &mut Rng, status: KeyStatus| {
                let created = ago(NOW, AGES[rng.below(AGES.len())]);
                let (id, secret) = aws.add_key(&name, status, created, None);
                (created, id, secret)
            };
            let mut active = Vec::new();
            match rng.below(10) {
                // No key; an inactive key only.
                0 => {}
                1 => {
                    key(&mut aws, &mut rng, KeyStatus::Inactive);
                }
                // An active key, and an inactive one (room is made for the new key).
                2 | 3 => {
                    key(&mut aws, &mut rng, KeyStatus::Inactive);
                    active.push(key(&mut aws, &mut rng, KeyStatus::Active));
                }
                // Two active keys: blocked (the owner holds the older).
                4 => {
                    active.push(key(&mut aws, &mut rng, KeyStatus::Active));
                    active.push(key(&mut aws, &mut rng, KeyStatus::Active));
                    blocked.insert(UserName::new(&name));
                }
                _ => active.push(key(&mut aws, &mut rng, KeyStatus::Active)),
            }
            active.sort();
            if let Some((_, id, secret)) = active.into_iter().next() {
                let picks_up = rng.chance(40).then(|| rng.below(10) as u64);
                let deletes_old = rng.chance(50);
                owners.insert(
                    UserName::new(&name),
                    Owner {
                        holds: (id, secret),
                        picks_up,
                        deletes_old,
                    },
                );
            }
        }
        listed.push(OrgAccount {
            id: id.clone(),
            name: format!("acct-{i}"),
            status: "ACTIVE".to_owned(),
        });
        sims.insert(id, aws);
    }
    let denied = denied.map(account_id);
    let refused_state = denied.as_ref().map(|d| sims[d].state(None));
    CrashWorld {
        seed,
        org: Org {
            sims,
            listed,
            denied,
        },
        owners,
        blocked,
        max_accounts: 1 + rng.below(4),
        now: NOW,
        rng,
        refused_state,
        log: Vec::new(),
        stats: CrashStats::default(),
    }
}

/// The delivered key in `user`'s delivery secret of `aws`, if it holds one.
fn delivered(aws: &SimAws, user: &UserName) -> Option<DeliveredKey> {
    let name = delivery::secret_name(user)?;
    DeliveredKey::parse(aws.secrets.get(&name)?.value.as_deref()?).ok()
}

impl CrashWorld {
    fn ctx(&self) -> String {
        format!(
            "seed {} ({} accounts, refused {:?}, bound {}):\n  {}",
            self.seed,
            self.org.sims.len(),
            self.org.denied,
            self.max_accounts,
            self.log.join("\n  ")
        )
    }

    fn enterable(&self) -> impl Iterator<Item = (&String, &SimAws)> {
        self.org
            .sims
            .iter()
            .filter(|(id, _)| self.org.denied.as_ref() != Some(*id))
    }

    fn request(&self) -> OrgRequest {
        OrgRequest {
            fleet: FleetRequest {
                mode: FleetMode::Rotate,
                policy: Policy {
                    older_than: Span::from_secs(OLDER_THAN * DAY),
                    ..Policy::default()
                },
                user_names: Vec::new(),
                exempt_groups: Vec::new(),
                yes: true,
                interactive: false,
                max_concurrency: 3,
                signer: Signer::Profile("org-admin".into()),
                encrypt: false,
                notify: None,
            },
            accounts: Accounts::All,
            role_name: "OrganizationAccountAccessRole".into(),
            max_accounts: self.max_accounts,
        }
    }

    /// The account whose AWS answers a request signed by `signer` (the caller's own
    /// credentials: its own account), after checking that the signer is one the run may use.
    fn route(&self, signer: &Signer) -> String {
        match signer {
            Signer::Profile(p) => {
                assert_eq!(p, "org-admin", "{}", self.ctx());
                CALLER.to_owned()
            }
            Signer::Role { source, role_arn } => {
                assert_eq!(
                    **source,
                    Signer::Profile("org-admin".into()),
                    "a role is assumed with the caller's: {}",
                    self.ctx()
                );
                let account = account_of(role_arn);
                assert_ne!(account, CALLER, "the caller's account uses its credentials");
                assert_eq!(
                    role_arn,
                    &format!("arn:aws:iam::{account}:role/OrganizationAccountAccessRole")
                );
                assert!(self.org.sims.contains_key(&account), "{role_arn}");
                account
            }
            Signer::Static { .. } => panic!("the caller signs as a profile: {}", self.ctx()),
        }
    }

    /// The account a request is about, from what it names: a user, a key, a delivery.
    fn about(&self, action: &Action) -> Option<&str> {
        self.org
            .sims
            .iter()
            .find(|(_, aws)| {
                aws.subject(action)
                    .is_some_and(|u| aws.users.contains_key(&u))
            })
            .map(|(id, _)| id.as_str())
    }

    /// A request as the session hands it out: signed by its account's signer only.
    fn polled(&self, a: &SessionAction) {
        if let Action::ConfirmPlan { .. } = a.action {
            panic!("`fleet rotate --yes` asked: {}", self.ctx());
        }
        let account = self.route(&a.signer);
        if let Some(about) = self.about(&a.action) {
            assert_eq!(
                about,
                account,
                "{:?} about a user of {about} is signed by {:?}: {}",
                a.action,
                a.signer,
                self.ctx()
            );
        }
    }

    /// AWS answers (or the role is refused).
    fn execute(&mut self, a: &SessionAction) -> Outcome {
        if let (Signer::Profile(_), Action::ListAccounts { next_token }) = (&a.signer, &a.action) {
            let start: usize = next_token.as_deref().map_or(0, |t| t.parse().unwrap());
            let end = (start + 2).min(self.org.listed.len());
            return Outcome::Accounts {
                accounts: self.org.listed[start..end].to_vec(),
                next_token: (end < self.org.listed.len()).then(|| end.to_string()),
            };
        }
        let account = self.route(&a.signer);
        if self.org.denied.as_ref() == Some(&account) {
            return Outcome::Failed(Failure {
                class: FailureClass::AccessDenied,
                code: Some("AccessDenied".into()),
                message: format!("not authorized to perform: sts:AssumeRole ({account})"),
                operation: Some("AssumeRole"),
            });
        }
        let now = self.now;
        let aws = self.org.sims.get_mut(&account).expect("an account");
        let o = aws.request(&Principal::Role, &a.action, now);
        match (&a.action, &o) {
            (Action::CreateKey { user_name }, Outcome::Failed(f))
                if f.class == FailureClass::LimitExceeded =>
            {
                panic!(
                    "CreateAccessKey for {user_name} of {account}, who has two keys (promise 10): {}",
                    self.ctx()
                );
            }
            (Action::StoreSecret { .. }, Outcome::Done) => self.stats.deliveries += 1,
            _ => {}
        }
        o
    }

    /// After every request: no user has more than two keys; the key each owner holds works.
    fn check_step(&self, after: &dyn std::fmt::Debug) {
        for (account, aws) in &self.org.sims {
            let mut per_user: BTreeMap<&UserName, usize> = BTreeMap::new();
            for k in &aws.keys {
                *per_user.entry(&k.user).or_default() += 1;
            }
            if let Some((u, n)) = per_user.iter().find(|(_, n)| **n > 2) {
                panic!(
                    "{u} of {account} has {n} keys (promise 10), after {after:?}: {}",
                    self.ctx()
                );
            }
            for (user, o) in self
                .owners
                .iter()
                .filter(|(u, _)| aws.users.contains_key(*u))
            {
                let (id, _) = &o.holds;
                let ok = aws
                    .key(id)
                    .is_some_and(|k| k.status == KeyStatus::Active && &k.user == user);
                assert!(
                    ok,
                    "{id}, the key the owner of {user} of {account} holds, is {} after {after:?}: no delivered replacement was used (promise 9): {}",
                    aws.key(id)
                        .map_or_else(|| "gone".to_owned(), |k| k.status.to_string()),
                    self.ctx()
                );
            }
        }
    }

    /// One `fleet rotate --yes` over the organization, dropped where `crash` says: every
    /// request then in flight took effect, or did not, and nobody hears its answer.
    fn run(&mut self, crash: Crash) -> RunEnd {
        self.stats.runs += 1;
        let mut s = OrgSession::new(self.request(), Config::default(), self.now);
        let mut pool: Vec<SessionAction> = Vec::new();
        let (mut answered, mut changes) = (0usize, 0usize);
        for _ in 0..200_000 {
            while let Some(a) = s.poll_action() {
                self.polled(&a);
                pool.push(a);
            }
            let busy: BTreeSet<String> = pool
                .iter()
                .filter(|a| !matches!(a.action, Action::ListAccounts { .. }))
                .map(|a| self.route(&a.signer))
                .collect();
            self.stats.max_in_flight_accounts = self.stats.max_in_flight_accounts.max(busy.len());
            assert!(
                busy.len() <= self.max_accounts,
                "{busy:?} at once: {}",
                self.ctx()
            );
            if pool.is_empty() {
                if s.is_done() {
                    return RunEnd::Completed(Box::new(s));
                }
                let t = s.poll_timeout().expect("not done: a timeout");
                self.now = self.now.max(t);
                s.handle_timeout(self.now);
                continue;
            }
            // Some of the requests in flight are answered, in any order.
            for _ in 0..1 + self.rng.below(pool.len()) {
                let a = pool.swap_remove(self.rng.below(pool.len()));
                answered += 1;
                changes += usize::from(SimAws::is_change(&a.action));
                let dies = match crash {
                    Crash::Never => false,
                    Crash::AtRequest(n) => answered == n,
                    Crash::AtChange(n) => SimAws::is_change(&a.action) && changes == n,
                };
                if dies {
                    pool.push(a);
                    let mut unheard = Vec::new();
                    for a in &pool {
                        if self.rng.chance(50) {
                            self.execute(a);
                            self.check_step(&a.action);
                            unheard.push(a.action.operation().unwrap_or("?"));
                        }
                    }
                    self.stats.crashes += 1;
                    self.stats.unheard += unheard.len();
                    self.log.push(format!(
                        "  crashed ({crash:?}) with {} in flight; took effect: {unheard:?}",
                        pool.len()
                    ));
                    return RunEnd::Crashed;
                }
                self.now = self.now.add(Span::from_secs(1));
                let o = self.execute(&a);
                self.check_step(&a.action);
                s.handle_outcome(a.task, o, self.now);
            }
        }
        panic!("the organization's run does not end: {}", self.ctx());
    }
}

impl CrashWorld {
    /// Every delivery with a value: the spec's JSON, readable by its owner with the key it
    /// holds, naming a key of the user that exists with that secret, replacing the owner's.
    fn check_deliveries(&self) {
        for (account, aws) in self.enterable() {
            for (name, secret) in &aws.secrets {
                let Some(value) = &secret.value else {
                    continue;
                };
                let user = delivery::user_of(name).expect("a delivery's name");
                let json: serde_json::Value = serde_json::from_str(value).expect("JSON");
                let mut fields: Vec<&str> = json
                    .as_object()
                    .expect("an object")
                    .keys()
                    .map(String::as_str)
                    .collect();
                fields.sort_unstable();
                assert_eq!(
                    fields,
                    [
                        "AccessKeyId",
                        "CreateDate",
                        "ReplacesAccessKeyId",
                        "SecretAccessKey",
                        "UserName"
                    ],
                    "{name} of {account}: {}",
                    self.ctx()
                );
                let d = DeliveredKey::parse(value).expect("the spec's JSON");
                assert_eq!(d.user_name, user, "{name} of {account}");
                let owner = self.owners.get(&user).expect("a delivery to a key's owner");
                let (held, held_secret) = &owner.holds;
                assert!(
                    &d.replaces == held || &d.access_key_id == held,
                    "{name} of {account} replaces {}, its owner holds {held}: {}",
                    d.replaces,
                    self.ctx()
                );
                let read = aws.clone().request(
                    &Principal::Key(held.clone(), held_secret.clone()),
                    &Action::GetSecretValue { name: name.clone() },
                    self.now,
                );
                assert!(
                    matches!(&read, Outcome::SecretValue(v) if v.expose() == value),
                    "the owner of {user} of {account} cannot read {name}: {read:?}: {}",
                    self.ctx()
                );
                let key = aws.key(&d.access_key_id);
                assert!(
                    key.is_some_and(|k| k.user == user && k.secret == d.secret.expose()),
                    "{name} of {account} holds {}, which is not a key of {user} with that secret: {}",
                    d.access_key_id,
                    self.ctx()
                );
            }
        }
    }

    /// The keys created by a run whose secret is nowhere: neither in their delivery nor held
    /// by their owner.
    fn orphans(&self, aws: &SimAws) -> Vec<String> {
        aws.keys
            .iter()
            .filter(|k| aws.created.contains(&k.id))
            .filter(|k| {
                let held = self
                    .owners
                    .get(&k.user)
                    .is_some_and(|o| o.holds.0 == k.id && o.holds.1 == k.secret);
                let in_delivery = delivered(aws, &k.user)
                    .is_some_and(|d| d.access_key_id == k.id && d.secret.expose() == k.secret);
                !held && !in_delivery
            })
            .map(|k| format!("{} of {}", k.id, k.user))
            .collect()
    }

    /// After every run: the refused account is as it was; the deliveries read back; a run that
    /// ended left no key whose secret is nowhere, no delivery half done, and every account's
    /// rows, with no failure.
    fn check_run(&mut self, end: &RunEnd) {
        if let (Some(id), Some(before)) = (&self.org.denied, &self.refused_state) {
            assert!(
                self.org.sims[id].state(None) == *before,
                "{id}, whose role is refused, was changed: {}",
                self.ctx()
            );
        }
        self.check_deliveries();
        let mut orphans = 0;
        for (account, aws) in self.enterable() {
            let lost = self.orphans(aws);
            orphans += lost.len();
            if matches!(end, RunEnd::Crashed) {
                continue;
            }
            assert!(
                lost.is_empty(),
                "{account}: {lost:?} exist and their secret is nowhere after a run that ended (promise 10): {}",
                self.ctx()
            );
            for (name, s) in &aws.secrets {
                let marker = s.description.as_deref().map(Marker::parse);
                assert!(
                    !matches!(marker, Some(Ok(Marker::Pending { .. }))),
                    "{name} of {account} is left pending by a run that ended: {}",
                    self.ctx()
                );
            }
        }
        if matches!(end, RunEnd::Crashed) {
            self.stats.orphans += orphans;
            self.log
                .push(format!("  {orphans} key(s) whose secret is nowhere"));
        }
        let RunEnd::Completed(s) = end else {
            return;
        };
        assert!(s.fatal().is_none(), "{:?}: {}", s.fatal(), self.ctx());
        let refused = self.org.denied.is_some();
        assert_eq!(
            s.error_kind(),
            refused.then_some(ErrorKind::Service),
            "{}",
            self.ctx()
        );
        let results = (**s).clone().into_results();
        let ids: Vec<&str> = results.iter().map(|r| r.account_id.as_str()).collect();
        let all: Vec<&str> = self.org.sims.keys().map(String::as_str).collect();
        assert_eq!(ids, all, "every account's result: {}", self.ctx());
        for r in &results {
            let ctx = || format!("{}: {}", r.account_id, self.ctx());
            if self.org.denied.as_ref() == Some(&r.account_id) {
                let f = r.failure.as_ref().expect("a refused account's failure");
                assert!(f.message.contains("AssumeRole"), "{}", ctx());
                assert!(r.users.is_empty(), "{}", ctx());
                continue;
            }
            assert!(r.failure.is_none(), "{:?}: {}", r.failure, ctx());
            let rows: Vec<&UserName> = r.users.iter().map(|u| &u.facts.user.user_name).collect();
            let users: Vec<&UserName> = self.org.sims[&r.account_id].users.keys().collect();
            assert_eq!(rows, users, "{}", ctx());
            for u in &r.users {
                let name = &u.facts.user.user_name;
                assert!(u.error.is_none(), "{name}: {:?}: {}", u.error, ctx());
                let v = u.verdict.as_ref().expect("a stage");
                assert_eq!(u.done, v.steps, "{name} did not do its steps: {}", ctx());
            }
        }
    }

    /// The last run ran clean: every due user of every account it could enter has its
    /// delivery, replacing the key its owner holds.
    fn check_settled(&self, s: &OrgSession, started: Timestamp) {
        for r in s.clone().into_results() {
            let Some(aws) = self.org.sims.get(&r.account_id) else {
                continue;
            };
            for u in &r.users {
                let name = &u.facts.user.user_name;
                if u.verdict.as_ref().is_some_and(|v| v.stage == Stage::Due) {
                    let got = delivered(aws, name).map(|d| d.access_key_id);
                    assert!(
                        u.new_key.is_some() && got == u.new_key,
                        "{name} of {} was due: delivered {:?}, its delivery holds {got:?}: {}",
                        r.account_id,
                        u.new_key,
                        self.ctx()
                    );
                }
            }
        }
        for (account, aws) in self.enterable() {
            for (user, o) in self
                .owners
                .iter()
                .filter(|(u, _)| aws.users.contains_key(*u))
            {
                let held = aws.key(&o.holds.0).expect("held keys stay");
                let due = started.since(held.created) >= Span::from_secs(OLDER_THAN * DAY);
                if !due || self.blocked.contains(user) {
                    continue;
                }
                let d = delivered(aws, user);
                assert!(
                    d.as_ref().is_some_and(|d| d.replaces == held.id),
                    "{user} of {account} is due and has no delivery of a key replacing {} (its delivery: {d:?}): {}",
                    held.id,
                    self.ctx()
                );
            }
        }
    }

    /// Owners who pick up do so once their wait is over: read the delivery with the key they
    /// hold, check the new key works, switch to it, and delete the old key or leave it.
    fn owners_act(&mut self) {
        let now = self.now;
        for aws in self.org.sims.values_mut() {
            for (user, o) in &mut self.owners {
                if !aws.users.contains_key(user) {
                    continue;
                }
                let (Some(wait), Some(name)) = (o.picks_up, delivery::secret_name(user)) else {
                    continue;
                };
                let stored = aws.secrets.get(&name).and_then(|s| s.stored);
                if stored.is_none_or(|t| now.since(t) < Span::from_secs(wait * DAY)) {
                    continue;
                }
                let (old, old_secret) = o.holds.clone();
                let me = Principal::Key(old.clone(), old_secret);
                let read = aws.request(&me, &Action::GetSecretValue { name }, now);
                let Outcome::SecretValue(v) = read else {
                    panic!("the owner of {user} cannot read its delivery: {read:?}");
                };
                let d = DeliveredKey::parse(v.expose()).expect("a delivery");
                if d.replaces != old {
                    continue;
                }
                let verify = Action::VerifyKey {
                    access_key_id: d.access_key_id.clone(),
                    secret: d.secret.clone(),
                };
                let got = aws.request(&me, &verify, now);
                assert!(matches!(got, Outcome::Verified { .. }), "{got:?}");
                o.holds = (d.access_key_id.clone(), d.secret.expose().to_owned());
                self.stats.pickups += 1;
                if o.deletes_old {
                    let delete = Action::DeleteKey {
                        user_name: user.clone(),
                        access_key_id: old,
                        purpose: DeletePurpose::OldKey,
                    };
                    assert_eq!(aws.request(&me, &delete, now), Outcome::Done);
                }
            }
        }
    }
}

/// A scenario: runs that may crash, days apart (an hour or days after a crash), the owners
/// acting between them; then a last clean run.
fn crash_scenario(seed: u64) -> CrashStats {
    let mut w = crash_world(seed);
    let runs = 3 + w.rng.below(4);
    for n in 0..=runs {
        let last = n == runs;
        let crash = match w.rng.below(20) {
            _ if last => Crash::Never,
            0..=5 => Crash::AtRequest(1 + w.rng.below(200)),
            6..=13 => Crash::AtChange(1 + w.rng.below(8)),
            _ => Crash::Never,
        };
        let started = w.now;
        w.log.push(format!(
            "day {}: fleet rotate --yes ({crash:?})",
            started.since(NOW).whole_days()
        ));
        let end = w.run(crash);
        w.check_run(&end);
        if last {
            let RunEnd::Completed(s) = &end else {
                panic!("the last run has no crash");
            };
            w.check_settled(s, started);
            break;
        }
        let wait = match end {
            RunEnd::Crashed if w.rng.chance(50) => Span::from_secs(3600),
            RunEnd::Crashed => Span::from_secs((1 + w.rng.below(3) as u64) * DAY),
            RunEnd::Completed(_) => Span::from_secs((1 + w.rng.below(12) as u64) * DAY),
        };
        w.now = w.now.add(wait);
        w.owners_act();
        w.check_step(&"the owners' pickups");
    }
    w.stats
}

#[test]
fn crashed_organization_runs_restart_from_what_each_account_holds() {
    let mut total = CrashStats::default();
    let cases = 200;
    for seed in 1..=cases {
        let s = crash_scenario(seed);
        total.runs += s.runs;
        total.crashes += s.crashes;
        total.unheard += s.unheard;
        total.orphans += s.orphans;
        total.deliveries += s.deliveries;
        total.pickups += s.pickups;
        total.max_in_flight_accounts = total.max_in_flight_accounts.max(s.max_in_flight_accounts);
    }
    eprintln!("{cases} organizations: {total:?}");
    // The scenarios reach what they are for.
    assert!(total.crashes > cases as usize, "{total:?}");
    assert!(total.unheard > 0 && total.orphans > 0, "{total:?}");
    assert!(
        total.pickups > 0 && total.max_in_flight_accounts > 1,
        "{total:?}"
    );
}
