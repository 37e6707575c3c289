//! The journal: a small 0600 file beside the credentials file that makes a rotation survive a
//! crash. It is written before the first change (state `creating`: which keys existed), again as
//! soon as the new secret exists (state `pending`: the new key and secret, before any further
//! request), and once more if the rotation is being undone (state `undoing`). A rerun that finds
//! it finishes or undoes the rotation ([`crate::rotation::Rotation::resume`]).
//!
//! The format is `key = value` lines, so a person who finds the file can read what it is. It
//! holds secrets: its text only ever travels as [`Sensitive`].

use std::fmt::Write as _;

use crate::key::{AccessKeyId, SecretAccessKey, Sensitive, UserName};
use crate::plan::OldKeyAction;
use crate::time::Timestamp;
use compact_str::CompactString;

/// How far the interrupted rotation got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JournalState {
    /// About to remove a key to make room and create the new one; no new secret yet.
    Creating,
    /// The new key exists and its secret is here; files may or may not hold it yet.
    Pending,
    /// The rotation is being undone: files go back to the old key, the new key is deleted.
    Undoing,
}

impl JournalState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Creating => "creating",
            Self::Pending => "pending",
            Self::Undoing => "undoing",
        }
    }
}

/// A newly created key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    /// Its id.
    pub access_key_id: AccessKeyId,
    /// Its secret.
    pub secret: SecretAccessKey,
    /// When IAM created it.
    pub create_date: Timestamp,
}

/// The journal's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Journal {
    /// How far it got.
    pub state: JournalState,
    /// Whose key.
    pub user_name: UserName,
    /// The user's account.
    pub account: CompactString,
    /// Admin mode (`--user-name`): no files change.
    pub admin: bool,
    /// The profiles being rotated.
    pub profiles: Vec<CompactString>,
    /// Admin mode: the profile whose credentials made the calls (to resume with them).
    pub caller_profile: Option<String>,
    /// The key being replaced.
    pub old_access_key_id: Option<AccessKeyId>,
    /// Its secret, to put back into the files if the rotation is undone (not in admin mode).
    pub old_secret: Option<SecretAccessKey>,
    /// What happens to the old key at the end.
    pub old_key_action: OldKeyAction,
    /// The user's keys just before `CreateAccessKey`: any other key found later is an orphan of an
    /// interrupted create.
    pub known_keys: Vec<AccessKeyId>,
    /// The new key, from state `pending` on.
    pub new_key: Option<NewKey>,
    /// When the rotation started.
    pub started: Timestamp,
    /// `--verify-timeout` of the run that started it, so that a resume waits as long.
    pub verify_timeout: Option<crate::time::Span>,
    /// The new key was delivered by an administrator (`pickup`), not created by this rotation:
    /// an undo leaves it alone.
    pub delivered: bool,
}

/// Why a journal could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "journal line {line}: {problem}; move the file aside and check the keys with `aws iam list-access-keys`"
)]
pub struct JournalError {
    /// 1-based line (0 for a missing setting).
    pub line: usize,
    /// What is wrong.
    pub problem: String,
}

impl Journal {
    /// An id for the journal's file name: the old key id, or the user name where there is none.
    pub fn id(&self) -> String {
        match &self.old_access_key_id {
            Some(id) => id.to_string(),
            None => format!("user-{}", self.user_name),
        }
    }

    /// The file's text.
    pub fn render(&self) -> Sensitive<String> {
        let mut s = String::new();
        s.push_str(
            "# aws-rotate-keys journal: a key rotation is in progress, or was interrupted.\n",
        );
        s.push_str("# Run aws-rotate-keys again to finish or undo it. Do not edit or share this file: it holds secrets.\n");
        let mut kv = |k: &str, v: &str| {
            let _ = writeln!(s, "{k} = {v}");
        };
        kv("version", "1");
        kv("state", self.state.as_str());
        kv("user_name", self.user_name.as_str());
        kv("account", &self.account);
        kv("admin", if self.admin { "true" } else { "false" });
        for p in &self.profiles {
            kv("profile", p);
        }
        if let Some(p) = &self.caller_profile {
            kv("caller_profile", p);
        }
        if let Some(id) = &self.old_access_key_id {
            kv("old_access_key_id", id.as_str());
        }
        if let Some(secret) = &self.old_secret {
            kv("old_secret_access_key", secret.expose());
        }
        kv(
            "old_key_action",
            match self.old_key_action {
                OldKeyAction::Delete => "delete",
                OldKeyAction::Deactivate => "deactivate",
                OldKeyAction::Keep => "keep",
            },
        );
        for k in &self.known_keys {
            kv("known_key", k.as_str());
        }
        if let Some(n) = &self.new_key {
            kv("new_access_key_id", n.access_key_id.as_str());
            kv("new_secret_access_key", n.secret.expose());
            kv("new_create_date", &n.create_date.as_millis().to_string());
        }
        kv("started", &self.started.as_millis().to_string());
        if self.delivered {
            kv("delivered", "true");
        }
        if let Some(t) = self.verify_timeout {
            kv("verify_timeout_ms", &t.as_millis().to_string());
        }
        Sensitive::new(s)
    }

    /// Reads a journal's text.
    pub fn parse(text: &str) -> Result<Journal, JournalError> {
        let f = Fields::read(text)?;
        if f.need("version")?.0 != "1" {
            return Err(err(
                f.need("version")?.1,
                "unknown journal version; this aws-rotate-keys is too old for it",
            ));
        }
        let (state, line) = f.need("state")?;
        let state = match state {
            "creating" => JournalState::Creating,
            "pending" => JournalState::Pending,
            "undoing" => JournalState::Undoing,
            _ => return Err(err(line, "unknown state")),
        };
        let (action, line) = f.need("old_key_action")?;
        let old_key_action = match action {
            "delete" => OldKeyAction::Delete,
            "deactivate" => OldKeyAction::Deactivate,
            "keep" => OldKeyAction::Keep,
            _ => return Err(err(line, "unknown old_key_action")),
        };
        let new_key = match (
            f.key_id("new_access_key_id")?,
            f.secret("new_secret_access_key")?,
        ) {
            (Some(access_key_id), Some(secret)) => Some(NewKey {
                access_key_id,
                secret,
                create_date: f.millis("new_create_date")?,
            }),
            (None, None) => None,
            _ => return Err(err(0, "the new key's id and secret must both be present")),
        };
        if state != JournalState::Creating && new_key.is_none() {
            return Err(err(0, "a pending or undoing journal must hold the new key"));
        }
        let admin = match f.need("admin")? {
            ("true", _) => true,
            ("false", _) => false,
            (_, line) => return Err(err(line, "admin must be true or false")),
        };
        let old_access_key_id = f.key_id("old_access_key_id")?;
        // The files' key is what a resumed rotation edits (or puts back) there.
        if !admin && old_access_key_id.is_none() {
            return Err(err(
                0,
                "a journal of a profile's key must name old_access_key_id",
            ));
        }
        Ok(Journal {
            state,
            user_name: UserName::new(f.need("user_name")?.0),
            account: CompactString::new(f.need("account")?.0),
            admin,
            caller_profile: f.get("caller_profile").map(|(v, _)| v.to_owned()),
            old_access_key_id,
            old_secret: f.secret("old_secret_access_key")?,
            old_key_action,
            new_key,
            started: f.millis("started")?,
            verify_timeout: match f.get("verify_timeout_ms") {
                Some((v, line)) => {
                    Some(crate::time::Span::from_millis(v.parse().map_err(|_| {
                        err(line, "verify_timeout_ms is not a number")
                    })?))
                }
                None => None,
            },
            delivered: f.get("delivered").is_some_and(|(v, _)| v == "true"),
            profiles: f.profiles,
            known_keys: f.known_keys,
        })
    }
}

fn err(line: usize, problem: &str) -> JournalError {
    JournalError {
        line,
        problem: problem.to_owned(),
    }
}

/// A journal's lines: the settings that appear once (key, value, line), and the two that repeat.
struct Fields<'a> {
    one: Vec<(&'a str, &'a str, usize)>,
    profiles: Vec<CompactString>,
    known_keys: Vec<AccessKeyId>,
}

impl<'a> Fields<'a> {
    fn read(text: &'a str) -> Result<Self, JournalError> {
        let mut f = Fields {
            one: Vec::new(),
            profiles: Vec::new(),
            known_keys: Vec::new(),
        };
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((k, v)) = line.split_once('=') else {
                return Err(err(i + 1, "expected `key = value`"));
            };
            let (k, v) = (k.trim(), v.trim());
            match k {
                "profile" => f.profiles.push(CompactString::new(v)),
                "known_key" => f
                    .known_keys
                    .push(AccessKeyId::new(v).ok_or_else(|| err(i + 1, "bad key id"))?),
                _ if f.one.iter().any(|(seen, _, _)| *seen == k) => {
                    return Err(err(i + 1, "a setting appears twice"));
                }
                _ => f.one.push((k, v, i + 1)),
            }
        }
        Ok(f)
    }

    fn get(&self, k: &str) -> Option<(&'a str, usize)> {
        self.one
            .iter()
            .find(|(key, _, _)| *key == k)
            .map(|(_, v, line)| (*v, *line))
    }

    fn need(&self, k: &str) -> Result<(&'a str, usize), JournalError> {
        self.get(k).ok_or_else(|| err(0, &format!("missing {k}")))
    }

    fn millis(&self, k: &str) -> Result<Timestamp, JournalError> {
        let (v, line) = self.need(k)?;
        v.parse::<i64>()
            .map(Timestamp::from_millis)
            .map_err(|_| err(line, &format!("{k} is not a number")))
    }

    fn key_id(&self, k: &str) -> Result<Option<AccessKeyId>, JournalError> {
        self.get(k)
            .map(|(v, line)| {
                AccessKeyId::new(v).ok_or_else(|| err(line, &format!("{k} is not a key id")))
            })
            .transpose()
    }

    fn secret(&self, k: &str) -> Result<Option<SecretAccessKey>, JournalError> {
        self.get(k)
            .map(|(v, line)| {
                SecretAccessKey::new(v).ok_or_else(|| err(line, &format!("{k} is not a secret")))
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(state: JournalState) -> Journal {
        Journal {
            state,
            user_name: UserName::new("bob"),
            account: "123456789012".into(),
            admin: false,
            profiles: vec!["default".into(), "my work".into()],
            caller_profile: Some("admin".into()),
            old_access_key_id: AccessKeyId::new("AKIAOLD0000000000000"),
            old_secret: SecretAccessKey::new("old/secret+value"),
            old_key_action: OldKeyAction::Deactivate,
            known_keys: vec![AccessKeyId::new("AKIAOLD0000000000000").expect("valid")],
            new_key: (state != JournalState::Creating).then(|| NewKey {
                access_key_id: AccessKeyId::new("AKIANEW0000000000000").expect("valid"),
                secret: SecretAccessKey::new("new/secret=value").expect("valid"),
                create_date: Timestamp::from_secs(1_700_000_000),
            }),
            started: Timestamp::from_secs(1_699_999_990),
            verify_timeout: Some(crate::time::Span::from_secs(30)),
            delivered: state == JournalState::Pending,
        }
    }

    #[test]
    fn round_trips_in_every_state() {
        for state in [
            JournalState::Creating,
            JournalState::Pending,
            JournalState::Undoing,
        ] {
            let j = sample(state);
            assert_eq!(Journal::parse(j.render().expose()), Ok(j));
        }
    }

    #[test]
    fn refuses_damaged_text() {
        let text = sample(JournalState::Pending).render().expose().clone();
        assert!(Journal::parse(&text.replace("state = pending", "state = maybe")).is_err());
        assert!(Journal::parse(&text.replace("version = 1", "version = 2")).is_err());
        let cut: String = text
            .lines()
            .filter(|l| !l.starts_with("new_secret"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(Journal::parse(&cut).is_err());
        assert!(Journal::parse("garbage").is_err());
        // A profile's rotation without the files' key to edit could not resume: refused, not
        // a panic when the files come to be written.
        let no_old: String = text
            .lines()
            .filter(|l| !l.starts_with("old_access_key_id"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(Journal::parse(&no_old).is_err());
        let admin = no_old.replace("admin = false", "admin = true");
        assert!(Journal::parse(&admin).is_ok(), "admin mode writes no file");
    }
}
