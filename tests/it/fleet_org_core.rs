//! The organization's run in the core ([`OrgSession`]), against one simulated account per
//! member of a generated organization: listings in pages, an account whose role is refused, a
//! suspended one, accounts named or all, any bound on the accounts at once, requests answered
//! in any order. Checked on every case: at most the bound of accounts have requests in flight,
//! each account's requests are signed by its own signer (the caller's in its own account, the
//! role in the others), every ACTIVE account chosen has its users' rows or its failure, a refused
//! account changes nothing and does not stop the others, and `fleet rotate` without `--yes`
//! asks once, after every account has decided and before any changes anything; a no, or no
//! terminal, changes nothing anywhere.

use std::collections::{BTreeMap, BTreeSet};

use aws_rotate_keys::action::{Action, Failure, FailureClass, OrgAccount, Outcome};
use aws_rotate_keys::error::ErrorKind;
use aws_rotate_keys::fleet::org::{Accounts, OrgRequest, OrgSession};
use aws_rotate_keys::fleet::session::{FleetMode, FleetRequest};
use aws_rotate_keys::fleet::stage::{Policy, Stage};
use aws_rotate_keys::key::KeyStatus;
use aws_rotate_keys::rotation::Config;
use aws_rotate_keys::session::Signer;
use aws_rotate_keys::sim::fleet::{Principal, SimAws};
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
