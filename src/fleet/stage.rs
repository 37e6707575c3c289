//! Where one user's rotation stands, read from IAM and its delivery secret alone, and what the
//! next run does about it: [`decide`]. Pure: the session gathers the facts it asks for.

use serde::Serialize;

use crate::action::{DeletePurpose, IamUser};
use crate::key::{AccessKeyId, KeyMeta, KeyStatus};
use crate::time::{Span, Timestamp};

use super::delivery::{self, DeliveryError, Marker};
use super::notice::{self, Event};
use super::report::ReportRow;
use super::seal::{self, Recipient};

/// A user's stage, as the run found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Stage {
    /// No active key older than `--older-than`, no delivery.
    Fresh,
    /// An active key older than `--older-than`, and no delivery yet (or one that was started
    /// and not finished).
    Due,
    /// The delivered key exists and has never been used (its delivery stays, even once the key
    /// it replaces is gone, until it is used).
    Delivered,
    /// The delivered key has been used.
    Installed,
    /// The replaced key is inactive.
    Deactivated,
    /// Tagged `aws-rotate-keys:exempt`, or in an `--exempt-group`.
    Exempt,
    /// A decision is needed (the reason says which).
    Blocked,
    /// The user whose credentials the run uses.
    Caller,
}

/// What a run does (or would do) for a user: the spec's `Action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Act {
    /// Nothing.
    None,
    /// Create a key and deliver it (making room, or cleaning up an interrupted delivery, first).
    Deliver,
    /// Deactivate the replaced key.
    DeactivateOldKey,
    /// Delete the replaced key, then the delivery secret if the delivered key has been used
    /// (else the secret stays: it holds the only copy of the delivered key's secret).
    DeleteOldKey,
    /// Delete the delivery secret.
    DeleteDelivery,
}

/// One step of a user's run, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Create the delivery secret, without a value: the mark that a delivery started.
    Mark {
        /// The key being replaced.
        replaces: AccessKeyId,
        /// The user's keys now.
        known_keys: Vec<AccessKeyId>,
    },
    /// Put the secret's resource policy.
    Policy,
    /// Delete a key.
    DeleteKey(AccessKeyId, DeletePurpose),
    /// Create the new key.
    CreateKey,
    /// Store the new key in the secret, and mark it delivered.
    Store {
        /// The key it replaces.
        replaces: AccessKeyId,
    },
    /// Deactivate the replaced key.
    Deactivate(AccessKeyId),
    /// Record in the secret's description when the replaced key was deactivated.
    RecordDeactivation,
    /// Delete the delivery secret.
    DeleteSecret,
    /// `--notify-from`: mail the owner about this event.
    Notify(Event),
    /// Record in the secret's description that the event was mailed.
    RecordNotice(Event),
}

/// Which facts about a user `decide` still needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// The user's keys (`ListAccessKeys`).
    Keys,
    /// When this key was last used.
    LastUsed(AccessKeyId),
    /// `--encrypt`: the user's IAM SSH public keys (ids and status).
    SshKeys,
    /// `--encrypt`: this IAM SSH public key's text.
    SshKey(String),
}

/// What is known of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// The user.
    pub user: IamUser,
    /// The run's caller is this user.
    pub caller: bool,
    /// A member of an `--exempt-group`.
    pub in_exempt_group: bool,
    /// The user's keys, once asked (with `last_used` where asked).
    pub keys: Option<Vec<KeyMeta>>,
    /// The credential report's row, if the report has one.
    pub report: Option<ReportRow>,
    /// The delivery secret's description, if the secret exists (`Err`: not one of ours).
    pub delivery: Option<Result<Marker, DeliveryError>>,
    /// Keys whose last use was asked: `(id, when)`.
    pub last_used: Vec<(AccessKeyId, Option<Timestamp>)>,
    /// `fleet status`: every user's keys and their last use are shown.
    pub detailed: bool,
    /// `--encrypt` without a recipient tag: the user's IAM SSH public keys (id, active), once
    /// listed.
    pub ssh_keys: Option<Vec<(String, bool)>>,
    /// The text of the first active one, once asked: (id, text).
    pub ssh_key: Option<(String, String)>,
}

/// The fleet options that decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// A user is due when it has an active key older than this.
    pub older_than: Span,
    /// Deactivate the replaced key this long after delivery, used or not.
    pub deactivate_after: Option<Span>,
    /// Delete the replaced key this long after it was deactivated.
    pub delete_after: Span,
    /// `--notify-from`: which mails the owners are owed.
    pub notify: Option<NoticePolicy>,
}

/// `--notify-from`'s options that decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticePolicy {
    /// The user tag that holds the owner's address (`--email-tag`).
    pub email_tag: String,
    /// Remind the owner this long before `--deactivate-after`'s deadline (`--warn-before`).
    pub warn_before: Option<Span>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            older_than: Span::from_secs(90 * 86_400),
            deactivate_after: None,
            delete_after: Span::from_secs(7 * 86_400),
            notify: None,
        }
    }
}

/// The decision for one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The stage, as found.
    pub stage: Stage,
    /// What the run does.
    pub act: Act,
    /// The steps, in order (none for plan and status, which only report `act`).
    pub steps: Vec<Step>,
    /// Why the user is blocked, and what unblocks it.
    pub reason: Option<String>,
    /// `--notify-from`: why a mail that was owed is not sent.
    pub notice: Option<String>,
}

impl Verdict {
    fn idle(stage: Stage) -> Self {
        Self {
            stage,
            act: Act::None,
            steps: Vec::new(),
            reason: None,
            notice: None,
        }
    }

    /// Nothing done: a decision is needed, for `reason`.
    pub fn blocked(reason: String) -> Self {
        Self {
            reason: Some(reason),
            ..Self::idle(Stage::Blocked)
        }
    }
}

fn is_active(k: &KeyMeta) -> bool {
    k.status == KeyStatus::Active
}

impl Facts {
    /// A user of whom nothing else is known yet.
    pub fn new(user: IamUser) -> Self {
        Self {
            user,
            caller: false,
            in_exempt_group: false,
            keys: None,
            report: None,
            delivery: None,
            last_used: Vec::new(),
            detailed: false,
            ssh_keys: None,
            ssh_key: None,
        }
    }

    /// When the key was last used, as the run knows it: asked of IAM, else (`fleet status`
    /// only) as the credential report shows it; `None`: not known. The report is up to four
    /// hours old: it spares `fleet status` a request per key, and no stage is decided on it.
    pub fn shown_last_use(&self, k: &KeyMeta) -> Option<Option<Timestamp>> {
        self.last_used
            .iter()
            .find(|(id, _)| id == &k.access_key_id)
            .map(|(_, t)| *t)
            .or_else(|| self.reported_use(k).filter(|_| self.detailed))
    }

    fn reported_use(&self, k: &KeyMeta) -> Option<Option<Timestamp>> {
        self.report.as_ref()?.last_used_of(k.create_date)
    }

    fn last_used_of(&self, id: &AccessKeyId) -> Result<Option<Timestamp>, Need> {
        self.last_used
            .iter()
            .find(|(k, _)| k == id)
            .map(|(_, t)| *t)
            .ok_or_else(|| Need::LastUsed(id.clone()))
    }
}

/// The user's stage and next steps, or the fact still needed to tell.
pub fn decide(f: &Facts, policy: &Policy, now: Timestamp) -> Result<Verdict, Need> {
    let v = decide_stage(f, policy, now)?;
    Ok(match &policy.notify {
        Some(n) => with_notices(f, v, policy, n, now),
        None => v,
    })
}

/// `--notify-from`: the mails the delivery is owed once the verdict's steps are done, each
/// sent and then recorded in the secret's description. They go before the steps that end the
/// delivery (which delete what records them). A mail sent by a run that stops before it
/// records it is sent again by the next run: an owner may get a mail twice, never none.
fn with_notices(
    f: &Facts,
    mut v: Verdict,
    policy: &Policy,
    n: &NoticePolicy,
    now: Timestamp,
) -> Verdict {
    if matches!(v.stage, Stage::Blocked | Stage::Exempt | Stage::Caller) {
        return v;
    }
    let stored = stores(&v);
    let (delivered, deactivated, sent) = match &f.delivery {
        _ if stored => (now, None, &[][..]),
        Some(Ok(Marker::Delivered {
            delivered,
            deactivated,
            notified,
            ..
        })) => (*delivered, *deactivated, &notified[..]),
        _ => return v,
    };
    let deactivated =
        deactivated.or_else(|| v.steps.contains(&Step::RecordDeactivation).then_some(now));
    let used = !stored && v.stage == Stage::Installed;
    let owed = notice::owed(
        notice::Delivery {
            delivered,
            deactivated,
            used,
        },
        policy.deactivate_after,
        n.warn_before,
        sent,
        now,
    );
    if owed.is_empty() {
        return v;
    }
    if let Err(why) = notice::address(&f.user, &n.email_tag) {
        v.notice = Some(why);
        return v;
    }
    let at = v
        .steps
        .iter()
        .position(|s| {
            matches!(
                s,
                Step::DeleteSecret | Step::DeleteKey(_, DeletePurpose::OldKey)
            )
        })
        .unwrap_or(v.steps.len());
    let mails = owed
        .into_iter()
        .flat_map(|e| [Step::Notify(e), Step::RecordNotice(e)]);
    v.steps.splice(at..at, mails);
    v
}

fn decide_stage(f: &Facts, policy: &Policy, now: Timestamp) -> Result<Verdict, Need> {
    if f.caller {
        return Ok(Verdict::idle(Stage::Caller));
    }
    if f.in_exempt_group {
        return Ok(Verdict::idle(Stage::Exempt));
    }
    if f.user.tags.iter().any(|(k, _)| k == delivery::EXEMPT_TAG) {
        return Ok(Verdict::idle(Stage::Exempt));
    }
    let keys = match &f.keys {
        Some(keys) => keys,
        // The report spares the listing of users it shows as not due (never to act on).
        None if !f.detailed
            && f.delivery.is_none()
            && f.report
                .as_ref()
                .is_some_and(|r| !r.shows_due(policy.older_than, now)) =>
        {
            return Ok(Verdict::idle(Stage::Fresh));
        }
        None => return Err(Need::Keys),
    };
    if f.detailed {
        for k in keys {
            if f.reported_use(k).is_none() {
                f.last_used_of(&k.access_key_id)?;
            }
        }
    }
    let name = f.user.user_name.as_str();
    let secret = delivery::secret_name(&f.user.user_name).unwrap_or_default();
    match &f.delivery {
        Some(Err(e)) => Ok(Verdict::blocked(format!(
            "the secret {secret} was not written by this tool: {e}. Delete it (aws secretsmanager delete-secret --secret-id {secret} --force-delete-without-recovery) or exempt the user"
        ))),
        Some(Ok(Marker::Pending {
            replaces,
            known_keys,
            ..
        })) => Ok(resume_pending(keys, replaces, known_keys, policy, now)),
        Some(Ok(Marker::Delivered {
            access_key_id,
            replaces,
            delivered,
            deactivated,
            ..
        })) => delivered_stage(
            f,
            keys,
            &secret,
            (access_key_id, replaces, *delivered, *deactivated),
            policy,
            now,
        ),
        None => {
            let Some(due) = due_key(keys, policy, now) else {
                return Ok(Verdict::idle(Stage::Fresh));
            };
            if keys.iter().filter(|k| is_active(k)).count() >= 2 {
                // A key made minutes ago may be a delivery that the (lagging) listing of the
                // secrets does not show yet: wait for a run that sees it (see LISTING_LAG).
                if keys.iter().any(|k| now.since(k.create_date) < LISTING_LAG) {
                    return Ok(Verdict::idle(Stage::Due));
                }
                return Ok(Verdict::blocked(format!(
                    "{name} has two active keys: deactivate the one not in use (aws iam update-access-key --user-name {name} --access-key-id ID --status Inactive), or exempt the user"
                )));
            }
            if delivery::secret_name(&f.user.user_name).is_none() {
                return Ok(Verdict::blocked(format!(
                    "the name {name} holds a character that a Secrets Manager secret name cannot carry: rotate this user's key with `aws-rotate-keys --user-name {name}` and hand it over yourself, or exempt the user"
                )));
            }
            let known_keys = keys.iter().map(|k| k.access_key_id.clone()).collect();
            let mut steps = vec![
                Step::Mark {
                    replaces: due.clone(),
                    known_keys,
                },
                Step::Policy,
            ];
            steps.extend(deliver_steps(keys, &due));
            Ok(Verdict {
                stage: Stage::Due,
                act: Act::Deliver,
                steps,
                reason: None,
                notice: None,
            })
        }
    }
}

/// `--encrypt`: whom a delivery to this user is sealed to: the user's tag
/// [`seal::RECIPIENT_TAG`], else its first active IAM SSH public key. `Ok(Err(reason))`: none
/// that can be used (the user is then `Blocked`, with what to do).
pub fn recipient(f: &Facts) -> Result<Result<Recipient, String>, Need> {
    let name = f.user.user_name.as_str();
    let fix = format!(
        "tag the user with {tag} = an age (age1…) or ssh-ed25519 public key (aws iam tag-user --user-name {name} --tags Key={tag},Value=KEY), or upload the owner's ssh-rsa public key (aws iam upload-ssh-public-key --user-name {name}), or exempt the user",
        tag = seal::RECIPIENT_TAG
    );
    if let Some((_, value)) = f.user.tags.iter().find(|(k, _)| k == seal::RECIPIENT_TAG) {
        return Ok(Recipient::parse(value).map_err(|e| {
            format!(
                "--encrypt: the tag {} of {name} is {e}; {fix}",
                seal::RECIPIENT_TAG
            )
        }));
    }
    let Some(keys) = &f.ssh_keys else {
        return Err(Need::SshKeys);
    };
    let Some((id, _)) = keys.iter().find(|(_, active)| *active) else {
        return Ok(Err(format!(
            "--encrypt: {name} has no recipient to seal the new key to: {fix}"
        )));
    };
    match &f.ssh_key {
        Some((got, text)) if got == id => Ok(Recipient::parse(text).map_err(|e| {
            format!("--encrypt: the IAM SSH public key {id} of {name} is {e}; {fix}")
        })),
        _ => Err(Need::SshKey(id.clone())),
    }
}

/// True when a verdict stores a new key (its delivery is sealed under `--encrypt`).
pub fn stores(v: &Verdict) -> bool {
    v.steps.iter().any(|s| matches!(s, Step::Store { .. }))
}

/// `--encrypt` and no recipient to seal to (`reason`): the user is blocked and nothing is
/// delivered. What an unfinished delivery left is still undone (the keys it made, whose secret
/// is nowhere, then its mark), so that the wait for a recipient, which may be long, does not
/// hold a key no one can use in one of the user's two slots.
pub fn unsealable(f: &Facts, v: Verdict, reason: String) -> Verdict {
    if !matches!(f.delivery, Some(Ok(Marker::Pending { .. }))) {
        return Verdict::blocked(reason);
    }
    let mut steps: Vec<Step> = v
        .steps
        .into_iter()
        .filter(|s| matches!(s, Step::DeleteKey(_, DeletePurpose::Orphan)))
        .collect();
    steps.push(Step::DeleteSecret);
    Verdict {
        stage: Stage::Blocked,
        act: Act::DeleteDelivery,
        steps,
        reason: Some(reason),
        notice: None,
    }
}

/// The end of a delivery, once its old key was deactivated `--delete-after` ago: the old key
/// goes, then the delivery secret, but only once the delivered key has been used. Until then
/// the secret holds the only copy of the delivered key's secret, which its owner may still
/// install (a pickup that read it before the old key was deactivated finishes from its
/// journal): deleting it would leave a key whose secret is nowhere (promise 10), and deleting
/// the key as well could lock out an owner half-way through its pickup.
fn retire(replaces: &AccessKeyId, used: bool) -> Vec<Step> {
    let mut steps = vec![Step::DeleteKey(replaces.clone(), DeletePurpose::OldKey)];
    if used {
        steps.push(Step::DeleteSecret);
    }
    steps
}

/// A delivery that was made: where its owner stands, from the two keys and the new one's use.
fn delivered_stage(
    f: &Facts,
    keys: &[KeyMeta],
    secret: &str,
    (access_key_id, replaces, delivered, deactivated): (
        &AccessKeyId,
        &AccessKeyId,
        Timestamp,
        Option<Timestamp>,
    ),
    policy: &Policy,
    now: Timestamp,
) -> Result<Verdict, Need> {
    let find = |id: &AccessKeyId| keys.iter().find(|k| &k.access_key_id == id);
    match (find(access_key_id), find(replaces)) {
        (None, None) => Ok(Verdict::blocked(format!(
            "the delivery in {secret} is for {access_key_id}, which replaces {replaces}: the user has neither key. Delete the secret to start again: aws secretsmanager delete-secret --secret-id {secret} --force-delete-without-recovery"
        ))),
        (None, Some(_)) => Ok(Verdict::blocked(format!(
            "the delivered key {access_key_id} is gone while {replaces} remains. Delete the secret to deliver again: aws secretsmanager delete-secret --secret-id {secret} --force-delete-without-recovery"
        ))),
        (Some(_), None) => {
            // Deleted by its owner's pickup, which used the new key first; or by a run
            // after `--delete-after`. Until the new key is used, its secret is only in
            // the delivery: the owner may still install it (from its pickup's journal,
            // or reading the secret some other way).
            if f.last_used_of(access_key_id)?.is_some() {
                Ok(Verdict {
                    stage: Stage::Installed,
                    act: Act::DeleteDelivery,
                    steps: vec![Step::DeleteSecret],
                    reason: None,
                    notice: None,
                })
            } else {
                Ok(Verdict::idle(Stage::Delivered))
            }
        }
        (Some(_), Some(old)) if !is_active(old) => {
            let Some(since) = deactivated else {
                // Deactivated by someone else, or the run that did it stopped before
                // recording it: the grace period starts now.
                return Ok(Verdict {
                    stage: Stage::Deactivated,
                    act: Act::None,
                    steps: vec![Step::RecordDeactivation],
                    reason: None,
                    notice: None,
                });
            };
            if now.since(since) >= policy.delete_after {
                let used = f.last_used_of(access_key_id)?.is_some();
                Ok(Verdict {
                    stage: Stage::Deactivated,
                    act: Act::DeleteOldKey,
                    steps: retire(replaces, used),
                    reason: None,
                    notice: None,
                })
            } else {
                Ok(Verdict::idle(Stage::Deactivated))
            }
        }
        (Some(_), Some(_)) => {
            let used = f.last_used_of(access_key_id)?.is_some();
            let timed_out = policy
                .deactivate_after
                .is_some_and(|d| now.since(delivered) >= d);
            let stage = if used {
                Stage::Installed
            } else {
                Stage::Delivered
            };
            if !used && !timed_out {
                return Ok(Verdict::idle(stage));
            }
            let mut steps = vec![Step::Deactivate(replaces.clone()), Step::RecordDeactivation];
            let mut act = Act::DeactivateOldKey;
            if policy.delete_after == Span::ZERO {
                steps.extend(retire(replaces, used));
                act = Act::DeleteOldKey;
            }
            Ok(Verdict {
                stage,
                act,
                steps,
                reason: None,
                notice: None,
            })
        }
    }
}

/// The active key older than `older_than` (the oldest, if there were two).
fn due_key(keys: &[KeyMeta], policy: &Policy, now: Timestamp) -> Option<AccessKeyId> {
    keys.iter()
        .filter(|k| is_active(k) && now.since(k.create_date) >= policy.older_than)
        .min_by_key(|k| k.create_date)
        .map(|k| k.access_key_id.clone())
}

/// Make room (only an inactive key is ever removed), create, store.
fn deliver_steps(keys: &[KeyMeta], replaces: &AccessKeyId) -> Vec<Step> {
    let mut steps = Vec::new();
    if keys.len() >= 2
        && let Some(inactive) = keys
            .iter()
            .filter(|k| !is_active(k) && &k.access_key_id != replaces)
            .min_by_key(|k| k.create_date)
    {
        steps.push(Step::DeleteKey(
            inactive.access_key_id.clone(),
            DeletePurpose::MakeRoom,
        ));
    }
    steps.push(Step::CreateKey);
    steps.push(Step::Store {
        replaces: replaces.clone(),
    });
    steps
}

/// How far behind the listing of the delivery secrets may be: Secrets Manager's `ListSecrets`
/// "might not reflect changes from the last five minutes"
/// (<https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_ListSecrets.html>),
/// plus a margin for a store's retries and the clocks.
pub const LISTING_LAG: Span = Span::from_secs(10 * 60);

/// A delivery that was started and not finished: delete what it created (its secret is
/// nowhere), then deliver again if the user is still due, else remove the mark.
///
/// The mark was read from a listing that may be minutes old: a run that finished the delivery
/// meanwhile (a crashed run's, or another administrator's) stored a key that would look like
/// an orphan here. A key younger than [`LISTING_LAG`] is therefore never taken for one: the
/// run leaves the user, and a later run, whose listing shows the truth, goes on.
fn resume_pending(
    keys: &[KeyMeta],
    replaces: &AccessKeyId,
    known_keys: &[AccessKeyId],
    policy: &Policy,
    now: Timestamp,
) -> Verdict {
    let orphans: Vec<&KeyMeta> = keys
        .iter()
        .filter(|k| &k.access_key_id != replaces && !known_keys.contains(&k.access_key_id))
        .collect();
    if orphans
        .iter()
        .any(|k| now.since(k.create_date) < LISTING_LAG)
    {
        return Verdict::idle(Stage::Due);
    }
    let mut steps: Vec<Step> = orphans
        .iter()
        .map(|k| Step::DeleteKey(k.access_key_id.clone(), DeletePurpose::Orphan))
        .collect();
    let remaining: Vec<KeyMeta> = keys
        .iter()
        .filter(|k| &k.access_key_id == replaces || known_keys.contains(&k.access_key_id))
        .cloned()
        .collect();
    let two_active = remaining.iter().filter(|k| is_active(k)).count() >= 2;
    match due_key(&remaining, policy, now) {
        Some(due) if !two_active => {
            steps.push(Step::Policy);
            steps.extend(deliver_steps(&remaining, &due));
            Verdict {
                stage: Stage::Due,
                act: Act::Deliver,
                steps,
                reason: None,
                notice: None,
            }
        }
        _ => {
            steps.push(Step::DeleteSecret);
            Verdict {
                stage: Stage::Due,
                act: Act::DeleteDelivery,
                steps,
                reason: None,
                notice: None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 86_400;
    const NOW: Timestamp = Timestamp::from_secs(1_767_225_600);

    fn id(s: &str) -> AccessKeyId {
        AccessKeyId::new(s).expect("an id")
    }

    fn ago(days: u64) -> Timestamp {
        Timestamp::from_micros(NOW.as_micros() - (days * DAY * 1_000_000) as i64)
    }

    fn key(name: &str, active: bool, age: u64) -> KeyMeta {
        KeyMeta {
            access_key_id: id(name),
            status: if active {
                KeyStatus::Active
            } else {
                KeyStatus::Inactive
            },
            create_date: ago(age),
            last_used: None,
        }
    }

    /// alice, tags read, with these keys and this delivery.
    fn facts(keys: Vec<KeyMeta>, delivery: Option<Marker>) -> Facts {
        let mut f = Facts::new(IamUser {
            user_name: crate::key::UserName::new("alice"),
            arn: "arn:aws:iam::123456789012:user/alice".into(),
            tags: Vec::new(),
        });
        f.keys = Some(keys);
        f.delivery = delivery.map(Ok);
        f
    }

    fn policy(deactivate_after: Option<u64>, delete_after: u64) -> Policy {
        Policy {
            older_than: Span::from_secs(90 * DAY),
            deactivate_after: deactivate_after.map(|d| Span::from_secs(d * DAY)),
            delete_after: Span::from_secs(delete_after * DAY),
            notify: None,
        }
    }

    fn delivered(age: u64, deactivated: Option<u64>) -> Marker {
        Marker::Delivered {
            access_key_id: id("AKIANEW"),
            replaces: id("AKIAOLD"),
            delivered: ago(age),
            deactivated: deactivated.map(ago),
            notified: Vec::new(),
        }
    }

    /// Decides, answering the last-use questions from `used`.
    fn decide_with(mut f: Facts, p: &Policy, used: &[(&str, Option<u64>)]) -> Verdict {
        loop {
            match decide(&f, p, NOW) {
                Ok(v) => return v,
                Err(Need::LastUsed(k)) => {
                    let at = used
                        .iter()
                        .find(|(u, _)| id(u) == k)
                        .and_then(|(_, d)| d.map(ago));
                    f.last_used.push((k, at));
                }
                Err(need) => panic!("unexpected need {need:?}"),
            }
        }
    }

    #[test]
    fn a_due_user_is_delivered_to_and_room_is_made_with_an_inactive_key_only() {
        let v = decide_with(
            facts(
                vec![key("AKIAOLD", true, 100), key("AKIAOFF", false, 300)],
                None,
            ),
            &policy(None, 7),
            &[],
        );
        assert_eq!((v.stage, v.act), (Stage::Due, Act::Deliver));
        assert!(
            v.steps
                .contains(&Step::DeleteKey(id("AKIAOFF"), DeletePurpose::MakeRoom))
        );
        let v = decide_with(
            facts(vec![key("AKIAOLD", true, 100), key("AKIAB", true, 5)], None),
            &policy(None, 7),
            &[],
        );
        assert_eq!(v.stage, Stage::Blocked);
    }

    #[test]
    fn an_unused_delivery_waits_for_its_owner_or_for_deactivate_after() {
        let keys = || vec![key("AKIAOLD", true, 100), key("AKIANEW", true, 2)];
        let v = decide_with(
            facts(keys(), Some(delivered(2, None))),
            &policy(None, 7),
            &[],
        );
        assert_eq!((v.stage, v.act), (Stage::Delivered, Act::None));
        let v = decide_with(
            facts(keys(), Some(delivered(20, None))),
            &policy(Some(14), 7),
            &[],
        );
        assert_eq!((v.stage, v.act), (Stage::Delivered, Act::DeactivateOldKey));
        assert_eq!(v.steps[0], Step::Deactivate(id("AKIAOLD")));
        let v = decide_with(
            facts(keys(), Some(delivered(2, None))),
            &policy(None, 7),
            &[("AKIANEW", Some(1))],
        );
        assert_eq!((v.stage, v.act), (Stage::Installed, Act::DeactivateOldKey));
    }

    /// Promise 10: the old key of a delivery that its owner never installed goes after
    /// `--delete-after`, but the delivery secret stays while the delivered key is unused: it
    /// holds the only copy of that key's secret, which the owner may still install.
    #[test]
    fn an_unused_delivery_outlives_its_old_key() {
        let keys = || vec![key("AKIAOLD", false, 100), key("AKIANEW", true, 20)];
        let p = policy(Some(14), 7);
        let v = decide_with(facts(keys(), Some(delivered(20, Some(8)))), &p, &[]);
        assert_eq!((v.stage, v.act), (Stage::Deactivated, Act::DeleteOldKey));
        assert_eq!(
            v.steps,
            vec![Step::DeleteKey(id("AKIAOLD"), DeletePurpose::OldKey)]
        );
        // Used: the delivery goes too.
        let v = decide_with(
            facts(keys(), Some(delivered(20, Some(8)))),
            &p,
            &[("AKIANEW", Some(10))],
        );
        assert_eq!(
            v.steps,
            vec![
                Step::DeleteKey(id("AKIAOLD"), DeletePurpose::OldKey),
                Step::DeleteSecret,
            ]
        );
        // `--delete-after 0s`: in the run that deactivates.
        let v = decide_with(
            facts(
                vec![key("AKIAOLD", true, 100), key("AKIANEW", true, 20)],
                Some(delivered(20, None)),
            ),
            &policy(Some(14), 0),
            &[],
        );
        assert_eq!(
            v.steps,
            vec![
                Step::Deactivate(id("AKIAOLD")),
                Step::RecordDeactivation,
                Step::DeleteKey(id("AKIAOLD"), DeletePurpose::OldKey),
            ]
        );
        // The old key gone and the new one unused: the delivery waits for its owner...
        let gone = || facts(vec![key("AKIANEW", true, 20)], Some(delivered(20, Some(8))));
        let v = decide_with(gone(), &p, &[]);
        assert_eq!(
            (v.stage, v.act, v.steps),
            (Stage::Delivered, Act::None, vec![])
        );
        // ...until the owner uses it (its pickup deleted the old key after using the new one).
        let v = decide_with(gone(), &p, &[("AKIANEW", Some(1))]);
        assert_eq!(
            (v.stage, v.act, v.steps),
            (
                Stage::Installed,
                Act::DeleteDelivery,
                vec![Step::DeleteSecret]
            )
        );
    }

    /// ListSecrets "might not reflect changes from the last five minutes": a pending mark it
    /// shows may be a delivery already stored, whose key would then be taken for an orphan.
    /// A key younger than that lag is not deleted: the run waits, the next one knows.
    #[test]
    fn a_young_key_beside_a_pending_mark_is_not_taken_for_an_orphan() {
        let pending = Marker::Pending {
            replaces: id("AKIAOLD"),
            known_keys: vec![id("AKIAOLD")],
            started: ago(0),
        };
        let minutes_old = KeyMeta {
            create_date: NOW
                .add(Span::ZERO)
                .min(Timestamp::from_secs(1_767_225_600 - 60)),
            ..key("AKIANEW", true, 0)
        };
        let v = decide_with(
            facts(
                vec![key("AKIAOLD", true, 100), minutes_old],
                Some(pending.clone()),
            ),
            &policy(None, 7),
            &[],
        );
        assert_eq!((v.stage, v.act, v.steps), (Stage::Due, Act::None, vec![]));
        // A day old, it is an orphan.
        let v = decide_with(
            facts(
                vec![key("AKIAOLD", true, 100), key("AKIANEW", true, 1)],
                Some(pending),
            ),
            &policy(None, 7),
            &[],
        );
        assert_eq!(
            v.steps[0],
            Step::DeleteKey(id("AKIANEW"), DeletePurpose::Orphan)
        );
        // Nor is a user blocked for two active keys while one is that young: it may be a
        // delivery the listing does not show yet (and "deactivate the one not in use" would
        // name the delivered key).
        let young = KeyMeta {
            create_date: Timestamp::from_secs(1_767_225_600 - 60),
            ..key("AKIANEW", true, 0)
        };
        let v = decide_with(
            facts(vec![key("AKIAOLD", true, 100), young], None),
            &policy(None, 7),
            &[],
        );
        assert_eq!((v.stage, v.act, v.steps), (Stage::Due, Act::None, vec![]));
    }

    fn mailing(p: Policy, warn_before: Option<u64>) -> Policy {
        Policy {
            notify: Some(NoticePolicy {
                email_tag: "email".into(),
                warn_before: warn_before.map(|d| Span::from_secs(d * DAY)),
            }),
            ..p
        }
    }

    fn tagged(mut f: Facts) -> Facts {
        f.user.tags = vec![("email".into(), "alice@example.com".into())];
        f
    }

    fn with_sent(m: Marker, sent: &[Event]) -> Marker {
        match m {
            Marker::Delivered {
                access_key_id,
                replaces,
                delivered,
                deactivated,
                ..
            } => Marker::Delivered {
                access_key_id,
                replaces,
                delivered,
                deactivated,
                notified: sent.to_vec(),
            },
            other => other,
        }
    }

    #[test]
    fn each_mail_follows_the_step_it_tells_of_and_precedes_the_end_of_the_delivery() {
        use Event::*;
        let p = mailing(policy(Some(14), 0), Some(3));
        // A delivery: its mail after the store.
        let v = decide_with(
            tagged(facts(vec![key("AKIAOLD", true, 100)], None)),
            &p,
            &[],
        );
        assert_eq!(
            v.steps[v.steps.len() - 3..],
            [
                Step::Store {
                    replaces: id("AKIAOLD")
                },
                Step::Notify(Delivered),
                Step::RecordNotice(Delivered)
            ]
        );
        // Waiting, mailed: nothing until the reminder's day, then the reminder alone.
        let both = vec![key("AKIAOLD", true, 100), key("AKIANEW", true, 5)];
        let sent = with_sent(delivered(5, None), &[Delivered]);
        let v = decide_with(
            tagged(facts(both.clone(), Some(sent))),
            &p,
            &[("AKIANEW", None)],
        );
        assert!(v.steps.is_empty(), "{v:?}");
        let sent = with_sent(delivered(12, None), &[Delivered]);
        let v = decide_with(
            tagged(facts(both.clone(), Some(sent))),
            &p,
            &[("AKIANEW", None)],
        );
        assert_eq!(
            (v.act, &v.steps[..]),
            (
                Act::None,
                &[Step::Notify(Reminder), Step::RecordNotice(Reminder)][..]
            )
        );
        // The deadline with --delete-after 0s: deactivated, mailed, then the old key goes.
        let sent = with_sent(delivered(15, None), &[Delivered, Reminder]);
        let v = decide_with(
            tagged(facts(both.clone(), Some(sent))),
            &p,
            &[("AKIANEW", None)],
        );
        assert_eq!(
            v.steps,
            [
                Step::Deactivate(id("AKIAOLD")),
                Step::RecordDeactivation,
                Step::Notify(Deactivated),
                Step::RecordNotice(Deactivated),
                Step::DeleteKey(id("AKIAOLD"), DeletePurpose::OldKey),
            ]
        );
        // Installed: no reminder to install, but word that the old key was deactivated.
        let sent = with_sent(delivered(5, None), &[Delivered]);
        let v = decide_with(
            tagged(facts(both.clone(), Some(sent))),
            &p,
            &[("AKIANEW", Some(1))],
        );
        assert!(v.steps.contains(&Step::Notify(Deactivated)), "{v:?}");
        assert!(!v.steps.contains(&Step::Notify(Reminder)), "{v:?}");
        // Everything sent: nothing more, ever.
        let sent = with_sent(delivered(12, Some(1)), &Event::ALL);
        let old_off = vec![key("AKIAOLD", false, 100), key("AKIANEW", true, 12)];
        let v = decide_with(
            tagged(facts(old_off, Some(sent))),
            &mailing(policy(Some(14), 7), Some(3)),
            &[],
        );
        assert!(v.steps.is_empty(), "{v:?}");
    }

    #[test]
    fn a_user_without_an_address_is_noted_and_not_mailed_nor_failed() {
        let p = mailing(policy(None, 7), None);
        let v = decide_with(facts(vec![key("AKIAOLD", true, 100)], None), &p, &[]);
        assert_eq!(v.act, Act::Deliver);
        assert!(
            !v.steps.iter().any(|s| matches!(s, Step::Notify(_))),
            "{v:?}"
        );
        let note = v.notice.expect("a note");
        assert!(
            note.contains("no tag email") && note.contains("tag-user"),
            "{note}"
        );
        // Nothing owed, nothing noted.
        let v = decide_with(facts(vec![key("AKIAOLD", true, 10)], None), &p, &[]);
        assert_eq!((v.stage, v.notice), (Stage::Fresh, None));
        // Without --notify-from, no mail and no note.
        let v = decide_with(
            tagged(facts(vec![key("AKIAOLD", true, 100)], None)),
            &policy(None, 7),
            &[],
        );
        assert!(v.notice.is_none() && !v.steps.iter().any(|s| matches!(s, Step::Notify(_))));
    }

    /// `--encrypt` without a recipient: nothing is delivered, but an unfinished delivery's
    /// orphan key and its mark go (else the wait for a recipient holds a slot with a key whose
    /// secret is nowhere).
    #[test]
    fn a_user_without_a_recipient_is_blocked_and_an_unfinished_delivery_is_undone() {
        let pending = Marker::Pending {
            replaces: id("AKIAOLD"),
            known_keys: vec![id("AKIAOLD")],
            started: ago(1),
        };
        let f = facts(
            vec![key("AKIAOLD", true, 100), key("AKIAORPHAN", true, 1)],
            Some(pending),
        );
        let v = decide_with(f.clone(), &policy(None, 7), &[]);
        assert!(stores(&v), "{v:?}");
        let v = unsealable(&f, v, "no recipient".into());
        assert_eq!(
            (v.stage, v.act, v.reason.as_deref()),
            (Stage::Blocked, Act::DeleteDelivery, Some("no recipient"))
        );
        assert_eq!(
            v.steps,
            [
                Step::DeleteKey(id("AKIAORPHAN"), DeletePurpose::Orphan),
                Step::DeleteSecret
            ]
        );
        // With no delivery started, nothing is done.
        let f = facts(vec![key("AKIAOLD", true, 100)], None);
        let v = decide_with(f.clone(), &policy(None, 7), &[]);
        assert!(stores(&v), "{v:?}");
        assert_eq!(
            unsealable(&f, v, "no recipient".into()),
            Verdict::blocked("no recipient".into())
        );
    }
}
