//! Where one user's rotation stands, read from IAM and its delivery secret alone, and what the
//! next run does about it: [`decide`]. Pure: the session gathers the facts it asks for.

use serde::Serialize;

use crate::action::{DeletePurpose, IamUser};
use crate::key::{AccessKeyId, KeyMeta, KeyStatus};
use crate::time::{Span, Timestamp};

use super::delivery::{self, DeliveryError, Marker};
use super::report::ReportRow;

/// A user's stage, as the run found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Stage {
    /// No active key older than `--older-than`, no delivery.
    Fresh,
    /// An active key older than `--older-than`, and no delivery yet (or one that was started
    /// and not finished).
    Due,
    /// The delivered key exists and has never been used.
    Delivered,
    /// The delivered key has been used, or the key it replaces is gone.
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
    /// Delete the replaced key (then the delivery secret).
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
}

/// Which facts about a user `decide` still needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// The user's tags.
    Tags,
    /// The user's keys (`ListAccessKeys`).
    Keys,
    /// When this key was last used.
    LastUsed(AccessKeyId),
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
    /// The user's tags, once asked.
    pub tags: Option<Vec<(String, String)>>,
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
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            older_than: Span::from_secs(90 * 86_400),
            deactivate_after: None,
            delete_after: Span::from_secs(7 * 86_400),
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
}

impl Verdict {
    fn idle(stage: Stage) -> Self {
        Self {
            stage,
            act: Act::None,
            steps: Vec::new(),
            reason: None,
        }
    }

    fn blocked(reason: String) -> Self {
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
            tags: None,
            keys: None,
            report: None,
            delivery: None,
            last_used: Vec::new(),
            detailed: false,
        }
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
    if f.caller {
        return Ok(Verdict::idle(Stage::Caller));
    }
    if f.in_exempt_group {
        return Ok(Verdict::idle(Stage::Exempt));
    }
    let tags = f.tags.as_ref().ok_or(Need::Tags)?;
    if tags.iter().any(|(k, _)| k == delivery::EXEMPT_TAG) {
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
            f.last_used_of(&k.access_key_id)?;
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
        })) => {
            let find = |id: &AccessKeyId| keys.iter().find(|k| &k.access_key_id == id);
            match (find(access_key_id), find(replaces)) {
                (None, None) => Ok(Verdict::blocked(format!(
                    "the delivery in {secret} is for {access_key_id}, which replaces {replaces}: the user has neither key. Delete the secret to start again: aws secretsmanager delete-secret --secret-id {secret} --force-delete-without-recovery"
                ))),
                (None, Some(_)) => Ok(Verdict::blocked(format!(
                    "the delivered key {access_key_id} is gone while {replaces} remains. Delete the secret to deliver again: aws secretsmanager delete-secret --secret-id {secret} --force-delete-without-recovery"
                ))),
                (Some(_), None) => Ok(Verdict {
                    stage: Stage::Installed,
                    act: Act::DeleteDelivery,
                    steps: vec![Step::DeleteSecret],
                    reason: None,
                }),
                (Some(_), Some(old)) if !is_active(old) => {
                    let Some(since) = deactivated else {
                        // Deactivated by someone else, or the run that did it stopped before
                        // recording it: the grace period starts now.
                        return Ok(Verdict {
                            stage: Stage::Deactivated,
                            act: Act::None,
                            steps: vec![Step::RecordDeactivation],
                            reason: None,
                        });
                    };
                    if now.since(*since) >= policy.delete_after {
                        Ok(Verdict {
                            stage: Stage::Deactivated,
                            act: Act::DeleteOldKey,
                            steps: vec![
                                Step::DeleteKey(replaces.clone(), DeletePurpose::OldKey),
                                Step::DeleteSecret,
                            ],
                            reason: None,
                        })
                    } else {
                        Ok(Verdict::idle(Stage::Deactivated))
                    }
                }
                (Some(_), Some(_)) => {
                    let used = f.last_used_of(access_key_id)?.is_some();
                    let timed_out = policy
                        .deactivate_after
                        .is_some_and(|d| now.since(*delivered) >= d);
                    let stage = if used {
                        Stage::Installed
                    } else {
                        Stage::Delivered
                    };
                    if !used && !timed_out {
                        return Ok(Verdict::idle(stage));
                    }
                    let mut steps =
                        vec![Step::Deactivate(replaces.clone()), Step::RecordDeactivation];
                    let mut act = Act::DeactivateOldKey;
                    if policy.delete_after == Span::ZERO {
                        steps.push(Step::DeleteKey(replaces.clone(), DeletePurpose::OldKey));
                        steps.push(Step::DeleteSecret);
                        act = Act::DeleteOldKey;
                    }
                    Ok(Verdict {
                        stage,
                        act,
                        steps,
                        reason: None,
                    })
                }
            }
        }
        None => {
            let Some(due) = due_key(keys, policy, now) else {
                return Ok(Verdict::idle(Stage::Fresh));
            };
            if keys.iter().filter(|k| is_active(k)).count() >= 2 {
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

/// A delivery that was started and not finished: delete what it created (its secret is
/// nowhere), then deliver again if the user is still due, else remove the mark.
fn resume_pending(
    keys: &[KeyMeta],
    replaces: &AccessKeyId,
    known_keys: &[AccessKeyId],
    policy: &Policy,
    now: Timestamp,
) -> Verdict {
    let mut steps: Vec<Step> = keys
        .iter()
        .filter(|k| &k.access_key_id != replaces && !known_keys.contains(&k.access_key_id))
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
            }
        }
        _ => {
            steps.push(Step::DeleteSecret);
            Verdict {
                stage: Stage::Due,
                act: Act::DeleteDelivery,
                steps,
                reason: None,
            }
        }
    }
}
