//! The simulated IAM and STS: users and keys with IAM's rules (two keys per user,
//! `LimitExceeded`, `NoSuchEntity`, signatures checked against the secret, other users' keys for
//! admins only) and eventual consistency (a new key answers only after a propagation delay, and
//! when `flaky` sometimes a little before it, as different endpoints learn of it at different
//! times). [`SimIam::request`] answers the core's requests as IAM would.

use std::collections::BTreeSet;

use crate::action::{Action, Failure, FailureClass, Outcome};
use crate::key::{AccessKeyId, KeyMeta, KeyStatus, SecretAccessKey, UserName};
use crate::time::{Span, Timestamp};

/// One key in the simulated IAM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimKey {
    /// Whose.
    pub user: UserName,
    /// The id.
    pub id: AccessKeyId,
    /// The secret.
    pub secret: String,
    /// Active or not.
    pub status: KeyStatus,
    /// Created at.
    pub created: Timestamp,
    /// From when STS accepts it everywhere.
    pub valid_from: Timestamp,
}

/// The simulated IAM and STS.
#[derive(Debug, Clone)]
pub struct SimIam {
    /// The account id.
    pub account: String,
    /// Every key.
    pub keys: Vec<SimKey>,
    /// Users allowed to manage other users' keys.
    pub admins: BTreeSet<UserName>,
    /// How long a new key takes to work.
    pub propagation: Span,
    /// Whether a new key sometimes answers early (within the last two seconds of propagation).
    pub flaky: bool,
    /// Keys created through the simulated API.
    pub created: BTreeSet<AccessKeyId>,
    /// Keys that have answered `GetCallerIdentity` at least once.
    pub verified: BTreeSet<AccessKeyId>,
    next_id: u64,
    rng: u64,
}

impl SimIam {
    /// An empty account.
    pub fn new(account: &str, propagation: Span, seed: u64) -> Self {
        Self {
            account: account.to_owned(),
            keys: Vec::new(),
            admins: BTreeSet::new(),
            propagation,
            flaky: true,
            created: BTreeSet::new(),
            verified: BTreeSet::new(),
            next_id: 1,
            rng: seed | 1,
        }
    }

    /// Adds a key that already works (a world's starting state).
    pub fn add_key(
        &mut self,
        user: &str,
        status: KeyStatus,
        created: Timestamp,
    ) -> (AccessKeyId, String) {
        let (id, secret) = self.fresh();
        self.insert_key(user, id.clone(), &secret, status, created);
        (id, secret)
    }

    /// Adds a key that already works, with an id and secret of the caller's choosing (a world
    /// whose ids read well in a transcript, such as `AKIAOLD0000000000001`). The ids this IAM
    /// makes itself (`AKIASIM…`, counted from 1) are not affected.
    pub fn insert_key(
        &mut self,
        user: &str,
        id: AccessKeyId,
        secret: &str,
        status: KeyStatus,
        created: Timestamp,
    ) {
        self.keys.push(SimKey {
            user: UserName::new(user),
            id,
            secret: secret.to_owned(),
            status,
            created,
            valid_from: created,
        });
    }

    pub(super) fn fresh(&mut self) -> (AccessKeyId, String) {
        let n = self.next_id;
        self.next_id += 1;
        let id = AccessKeyId::new(format!("AKIASIM{n:013}")).expect("generated ids are valid");
        let secret = format!("sim/Secret+{n:04}x{:08x}", self.rand() as u32);
        (id, secret)
    }

    fn rand(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    /// A user's keys, as `ListAccessKeys` shows them.
    pub fn list(&self, user: &UserName) -> Vec<KeyMeta> {
        self.keys
            .iter()
            .filter(|k| &k.user == user)
            .map(|k| KeyMeta {
                access_key_id: k.id.clone(),
                status: k.status,
                create_date: k.created,
                last_used: None,
            })
            .collect()
    }

    /// The key with this id.
    pub fn key(&self, id: &AccessKeyId) -> Option<&SimKey> {
        self.keys.iter().find(|k| &k.id == id)
    }

    pub(super) fn arn(&self, user: &UserName) -> String {
        format!("arn:aws:iam::{}:user/{user}", self.account)
    }

    /// STS: who signs with this key, if it works here and now.
    pub(super) fn authenticate(
        &mut self,
        id: &AccessKeyId,
        secret: &str,
        now: Timestamp,
    ) -> Result<UserName, Failure> {
        let denied = || {
            Failure::new(
                FailureClass::NotAuthenticated,
                Some("InvalidClientTokenId"),
                "The security token included in the request is invalid.",
            )
        };
        let flaky = self.flaky;
        let early = flaky && self.rand().is_multiple_of(3);
        let k = self.key(id).ok_or_else(denied)?;
        if k.status != KeyStatus::Active {
            return Err(denied());
        }
        if k.secret != secret {
            return Err(Failure::new(
                FailureClass::NotAuthenticated,
                Some("SignatureDoesNotMatch"),
                "The request signature we calculated does not match the signature you provided.",
            ));
        }
        let in_window =
            now >= k.valid_from || (early && k.valid_from.since(now) <= Span::from_secs(2));
        if !in_window {
            return Err(denied());
        }
        Ok(k.user.clone())
    }

    fn authorize(&self, caller: &UserName, target: &UserName) -> Result<(), Failure> {
        if caller == target || self.admins.contains(caller) {
            Ok(())
        } else {
            Err(Failure::new(
                FailureClass::AccessDenied,
                Some("AccessDenied"),
                format!("User {caller} is not authorized"),
            ))
        }
    }

    /// IAM or STS answering `action`, signed by `caller`'s key (`VerifyKey` signs with its own),
    /// at `now`; `None` for an action that is no request.
    pub fn request(
        &mut self,
        caller: (&AccessKeyId, &str),
        action: &Action,
        now: Timestamp,
    ) -> Option<Outcome> {
        let answer = match action {
            Action::VerifyKey {
                access_key_id,
                secret,
            } => self
                .authenticate(access_key_id, secret.expose(), now)
                .map(|user| {
                    self.verified.insert(access_key_id.clone());
                    Outcome::Verified {
                        arn: self.arn(&user),
                    }
                }),
            Action::Identify => {
                self.authenticate(caller.0, caller.1, now)
                    .map(|user| Outcome::Verified {
                        arn: self.arn(&user),
                    })
            }
            Action::ListKeys { .. }
            | Action::LastUsed { .. }
            | Action::CreateKey { .. }
            | Action::DeleteKey { .. }
            | Action::DeactivateKey { .. } => {
                let caller = self.authenticate(caller.0, caller.1, now);
                let target = match action {
                    Action::LastUsed { access_key_id } => {
                        self.key(access_key_id).map(|k| k.user.clone())
                    }
                    Action::ListKeys { user_name }
                    | Action::CreateKey { user_name }
                    | Action::DeleteKey { user_name, .. }
                    | Action::DeactivateKey { user_name, .. } => Some(user_name.clone()),
                    _ => None,
                };
                caller
                    .and_then(|c| match target {
                        Some(t) => self.authorize(&c, &t),
                        None => Err(no_such_key()),
                    })
                    .and_then(|()| self.change(action, now))
            }
            _ => return None,
        };
        Some(answer.unwrap_or_else(Outcome::Failed))
    }

    /// What an authorized IAM request does.
    fn change(&mut self, action: &Action, now: Timestamp) -> Result<Outcome, Failure> {
        Ok(match action {
            Action::ListKeys { user_name } => Outcome::Keys(self.list(user_name)),
            // Keys are never marked as used here.
            Action::LastUsed { .. } => Outcome::LastUsed(None),
            Action::CreateKey { user_name } => {
                if self.list(user_name).len() >= crate::plan::KEYS_PER_USER {
                    return Err(Failure::new(
                        FailureClass::LimitExceeded,
                        Some("LimitExceeded"),
                        "Cannot exceed quota for AccessKeysPerUser: 2",
                    ));
                }
                let (id, secret) = self.fresh();
                self.keys.push(SimKey {
                    user: user_name.clone(),
                    id: id.clone(),
                    secret: secret.clone(),
                    status: KeyStatus::Active,
                    created: now,
                    valid_from: now.add(self.propagation),
                });
                self.created.insert(id.clone());
                Outcome::KeyCreated {
                    access_key_id: id,
                    secret: SecretAccessKey::new(secret).expect("generated secrets are valid"),
                    create_date: now,
                }
            }
            Action::DeleteKey {
                user_name,
                access_key_id,
                ..
            } => {
                let before = self.keys.len();
                self.keys
                    .retain(|k| !(&k.id == access_key_id && &k.user == user_name));
                if self.keys.len() == before {
                    return Err(no_such_key());
                }
                Outcome::Done
            }
            Action::DeactivateKey {
                user_name,
                access_key_id,
            } => {
                let k = self
                    .keys
                    .iter_mut()
                    .find(|k| &k.id == access_key_id && &k.user == user_name)
                    .ok_or_else(no_such_key)?;
                k.status = KeyStatus::Inactive;
                Outcome::Done
            }
            _ => Outcome::Done,
        })
    }
}

fn no_such_key() -> Failure {
    Failure::new(
        FailureClass::NotFound,
        Some("NoSuchEntity"),
        "The Access Key was not found",
    )
}
