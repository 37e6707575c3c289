//! The spec's promises, checked after every step of a simulated run and at the end of a
//! scenario: a [`Violation`] fails the test with what was broken.

use std::collections::{BTreeMap, BTreeSet};

use crate::action::DeletePurpose;
use crate::ini::FileKind;
use crate::key::{AccessKeyId, KeyMeta, KeyStatus, UserName};
use crate::plan::{self, Options, Plan};
use crate::session::{Session, TaskId};

use super::world::{RunSpec, World};

/// A promise broken: the test fails with this message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation(pub String);

/// What the checker remembers across steps and runs.
#[derive(Debug, Clone, Default)]
pub struct Checker {
    /// A secret created and not yet journaled, by task.
    pub(super) unsaved: BTreeMap<TaskId, (AccessKeyId, String)>,
    /// The key each plan proposed to remove to make room, and how often it was removed since.
    pub(super) planned_room: BTreeMap<AccessKeyId, usize>,
    /// Holders (file, section header) of each old key at the start of its rotation.
    pub(super) holders: BTreeMap<AccessKeyId, Vec<(FileKind, String)>>,
    /// Keys in IAM at the very start.
    pub initial_keys: BTreeSet<AccessKeyId>,
    /// Keys that did not work at the very start (a file may hold one: not the tool's doing).
    pub initially_broken: BTreeSet<AccessKeyId>,
    /// New keys handed to the user in admin mode's output (they belong in no file).
    pub delivered: BTreeSet<AccessKeyId>,
    /// Keys deactivated on purpose (`--keep-old`).
    pub deactivated: BTreeSet<AccessKeyId>,
    /// Steps checked.
    pub steps: usize,
}

impl Checker {
    /// When a task's rotation starts: check its plan against the reference policy (promise 2)
    /// and remember what it must do.
    pub(super) fn plan_started(
        &mut self,
        world: &World,
        session: &Session,
        task: TaskId,
        keys: Option<&Vec<KeyMeta>>,
        spec: &RunSpec,
    ) -> Result<(), Violation> {
        let Some(plan) = session.plan(task) else {
            return Ok(());
        };
        let files = world.files().map_err(Violation)?;
        if let Some(keys) = keys {
            let in_use = if plan.admin {
                None
            } else {
                plan.old_key.as_ref().map(|k| &k.access_key_id)
            };
            check_decision(plan, keys, &files.held_keys(), &spec.options, in_use)?;
        }
        if let Some(r) = &plan.make_room {
            self.planned_room.insert(r.access_key_id.clone(), 0);
        }
        if let (Some(old), false) = (&plan.old_key, plan.admin) {
            let hs = files
                .holders(&old.access_key_id)
                .into_iter()
                .map(|h| (h.file, h.section.into_string()))
                .collect();
            self.holders.insert(old.access_key_id.clone(), hs);
        }
        Ok(())
    }

    /// Promises 1 and 2, checked when a key was deleted or deactivated.
    pub(super) fn removal(
        &mut self,
        world: &World,
        id: &AccessKeyId,
        purpose: Option<DeletePurpose>,
        spec: &RunSpec,
    ) -> Result<(), Violation> {
        let files = world.files().map_err(Violation)?;
        let in_files = !files.holders(id).is_empty();
        let named = spec.options.delete.as_ref() == Some(id);
        if in_files && !named {
            return Err(Violation(format!(
                "{id} removed or deactivated ({purpose:?}) while a file holds it"
            )));
        }
        match purpose {
            Some(DeletePurpose::MakeRoom) => {
                let Some(count) = self.planned_room.get_mut(id) else {
                    return Err(Violation(format!(
                        "{id} removed to make room but no plan proposed it"
                    )));
                };
                *count += 1;
                if *count > 1 {
                    return Err(Violation(format!("{id} removed to make room twice")));
                }
            }
            Some(DeletePurpose::Orphan | DeletePurpose::Undo) => {
                if !world.iam.created.contains(id) {
                    return Err(Violation(format!(
                        "{id} deleted as the tool's own key, but the tool did not create it"
                    )));
                }
            }
            Some(DeletePurpose::OldKey) | None => {
                // The replacement must be in every place that held the old key and must have
                // answered as the same user.
                if let Some(holders) = self.holders.get(id) {
                    for (file, section) in holders {
                        let doc = files.document(*file);
                        let Some(s) = doc.sections().iter().find(|s| s.header == section) else {
                            continue;
                        };
                        let Some(e) = doc.entry(s, "aws_access_key_id") else {
                            continue;
                        };
                        let Some(held) = AccessKeyId::new(e.value) else {
                            continue;
                        };
                        if !world.iam.verified.contains(&held) {
                            return Err(Violation(format!(
                                "{id} retired while [{section}] holds {held}, which never answered GetCallerIdentity"
                            )));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// After every step: every key in the files works (exists and is active), except a key the
    /// user named with --delete; no user holds more than two keys.
    pub(super) fn state(&self, world: &World, spec: &RunSpec) -> Result<(), Violation> {
        let files = world
            .files()
            .map_err(|e| Violation(format!("a file no longer parses: {e}")))?;
        for (id, holders) in files.held_keys().iter() {
            if spec.options.delete.as_ref() == Some(id) || self.initially_broken.contains(id) {
                continue;
            }
            let works = world
                .iam
                .key(id)
                .is_some_and(|k| k.status == KeyStatus::Active);
            if !works && (self.initial_keys.contains(id) || world.iam.created.contains(id)) {
                return Err(Violation(format!(
                    "files hold {id} ({holders:?}) but IAM has no active key by that id"
                )));
            }
        }
        let mut per_user: BTreeMap<&UserName, usize> = BTreeMap::new();
        for k in &world.iam.keys {
            *per_user.entry(&k.user).or_insert(0) += 1;
        }
        if per_user.values().any(|&n| n > plan::KEYS_PER_USER) {
            return Err(Violation("a user has more than two keys".into()));
        }
        Ok(())
    }

    /// Promise 8, at the end of a scenario: every place that held a rotated key holds a key that
    /// works with the secret beside it; no key exists that is neither in a file nor was there at
    /// the start; no journal is left.
    pub fn end(&self, world: &World) -> Result<(), Violation> {
        if !world.disk.journals.is_empty() {
            return Err(Violation(format!(
                "journals left: {:?}",
                world.disk.journals.keys().collect::<Vec<_>>()
            )));
        }
        let files = world.files().map_err(Violation)?;
        for (file, section) in self.holders.values().flatten() {
            let doc = files.document(*file);
            let Some(s) = doc.sections().iter().find(|s| s.header == section) else {
                return Err(Violation(format!("section [{section}] disappeared")));
            };
            let get = |k: &str| doc.entry(s, k).map(|e| e.value);
            let (Some(id), Some(secret)) = (get("aws_access_key_id"), get("aws_secret_access_key"))
            else {
                return Err(Violation(format!("[{section}] lost its keys")));
            };
            let works = world.iam.keys.iter().any(|k| {
                k.id.as_str() == id && k.secret == secret && k.status == KeyStatus::Active
            });
            if !works {
                return Err(Violation(format!(
                    "[{section}] in {file:?} holds {id}, which does not work"
                )));
            }
        }
        let held = files.held_keys();
        for k in &world.iam.keys {
            let kept = self.deactivated.contains(&k.id) && k.status == KeyStatus::Inactive;
            if !held.contains_key(&k.id)
                && !self.initial_keys.contains(&k.id)
                && !self.delivered.contains(&k.id)
                && !kept
            {
                return Err(Violation(format!(
                    "{} exists but is in no file and was not there at the start",
                    k.id
                )));
            }
        }
        Ok(())
    }
}

/// Promise 2, checked on every decision with a reference written independently of the planner.
fn check_decision(
    plan: &Plan,
    keys: &[KeyMeta],
    held: &plan::HeldKeys,
    options: &Options,
    in_use: Option<&AccessKeyId>,
) -> Result<(), Violation> {
    let full = keys.len() >= plan::KEYS_PER_USER;
    match (&plan.make_room, full) {
        (Some(_), false) => {
            return Err(Violation(
                "a key removed to make room although a slot was free".into(),
            ));
        }
        (None, true) => {
            return Err(Violation(
                "no room made although both slots are taken".into(),
            ));
        }
        _ => {}
    }
    if let Some(r) = &plan.make_room {
        if Some(&r.access_key_id) == in_use {
            return Err(Violation("the key in use proposed for removal".into()));
        }
        let expected = match &options.delete {
            Some(d) => Some(d.clone()),
            None => {
                let mut free: Vec<&KeyMeta> = keys
                    .iter()
                    .filter(|k| {
                        Some(&k.access_key_id) != in_use && !held.contains_key(&k.access_key_id)
                    })
                    .collect();
                // Inactive before active, then oldest first.
                free.sort_by(|a, b| {
                    let rank = |k: &KeyMeta| u8::from(k.status == KeyStatus::Active);
                    rank(a)
                        .cmp(&rank(b))
                        .then(a.create_date.cmp(&b.create_date))
                        .then(a.access_key_id.cmp(&b.access_key_id))
                });
                free.first().map(|k| k.access_key_id.clone())
            }
        };
        if expected.as_ref() != Some(&r.access_key_id) {
            return Err(Violation(format!(
                "policy chose {} to make room, reference says {expected:?}",
                r.access_key_id
            )));
        }
        if held.contains_key(&r.access_key_id) && options.delete.as_ref() != Some(&r.access_key_id)
        {
            return Err(Violation(
                "a key a profile holds proposed without --delete".into(),
            ));
        }
        if r.needs_confirmation != (!options.yes && options.delete.is_none()) {
            return Err(Violation("needs_confirmation wrong".into()));
        }
    }
    Ok(())
}
