//! Access keys as IAM describes them: ids, secrets, status and metadata.
//!
//! The secret type never shows its value through `Debug`, `Display` or serde; the two places that
//! need the raw text (the file splice and the shell's request signer) call [`SecretAccessKey::expose`].
//! Its memory is zeroed when the last copy is dropped.

use std::fmt;
use std::sync::Arc;

use compact_str::CompactString;
use serde::{Serialize, Serializer};
use zeroize::Zeroizing;

use crate::time::Timestamp;

/// An access key id such as `AKIAIOSFODNN7EXAMPLE`. Not a secret: the `aws` CLI prints it freely.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct AccessKeyId(CompactString);

impl AccessKeyId {
    /// Wraps a key id read from a file or an API answer.
    ///
    /// Returns `None` for text that cannot be a key id: empty, or holding whitespace or control
    /// characters (IAM's pattern is `[\w]+`, 16 to 128 characters; the check here is looser so
    /// that test servers with other id shapes still work).
    pub fn new(id: impl AsRef<str>) -> Option<Self> {
        let id = id.as_ref();
        let ok = !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic());
        ok.then(|| Self(CompactString::new(id)))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccessKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A secret access key. Its value is shown only by [`SecretAccessKey::expose`]. Copies share
/// one allocation, which is zeroed when the last of them is dropped.
#[derive(Clone)]
pub struct SecretAccessKey(Arc<Zeroizing<String>>);

impl SecretAccessKey {
    /// Wraps a secret. Returns `None` for text that no file could hold on one line.
    pub fn new(secret: impl AsRef<str>) -> Option<Self> {
        let secret = secret.as_ref();
        // A value that a file cannot hold as itself: botocore strips the whitespace around a
        // value and ends it at a line break.
        let ok = !secret.is_empty()
            && secret.trim() == secret
            && !secret.chars().any(|c| c.is_control());
        ok.then(|| Self(Arc::new(Zeroizing::new(secret.to_owned()))))
    }

    /// The raw secret: for the file splice and the request signer only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl PartialEq for SecretAccessKey {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for SecretAccessKey {}

impl fmt::Debug for SecretAccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretAccessKey(***)")
    }
}

impl fmt::Display for SecretAccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Serialize for SecretAccessKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("[redacted]")
    }
}

/// Text that may hold a secret (a journal's): redacted like [`SecretAccessKey`], and zeroed
/// when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Sensitive<T: zeroize::Zeroize>(Zeroizing<T>);

impl<T: zeroize::Zeroize> Sensitive<T> {
    /// Wraps a value.
    pub fn new(value: T) -> Self {
        Self(Zeroizing::new(value))
    }

    /// The raw value: for writing it to a 0600 file.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T: zeroize::Zeroize> fmt::Debug for Sensitive<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sensitive(***)")
    }
}

impl<T: zeroize::Zeroize> Serialize for Sensitive<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("[redacted]")
    }
}

/// An IAM user name (`UserName` in IAM's API).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct UserName(CompactString);

impl UserName {
    /// Wraps a user name. (Held inline when short, as most are: a run copies a task's user name
    /// into each of its requests.)
    pub fn new(name: impl Into<CompactString>) -> Self {
        Self(name.into())
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// IAM's `statusType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum KeyStatus {
    /// The key signs requests.
    Active,
    /// The key exists (and counts toward the quota of two) but signs nothing.
    Inactive,
    /// In IAM's current model, undocumented: treated like `Inactive`.
    Expired,
}

impl KeyStatus {
    /// The name IAM uses on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "Active",
            Self::Inactive => "Inactive",
            Self::Expired => "Expired",
        }
    }

    /// Parses IAM's wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Active" => Some(Self::Active),
            "Inactive" => Some(Self::Inactive),
            "Expired" => Some(Self::Expired),
            _ => None,
        }
    }
}

impl fmt::Display for KeyStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of `iam:ListAccessKeys`, plus `iam:GetAccessKeyLastUsed` where the shell asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyMeta {
    /// The key's id.
    pub access_key_id: AccessKeyId,
    /// Active, Inactive or Expired.
    pub status: KeyStatus,
    /// When IAM created the key.
    pub create_date: Timestamp,
    /// When the key last signed a request, if the shell asked and IAM knows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_of_any_length_is_exposed_as_given() {
        // ASCII and multi-byte (é is two bytes).
        for len in 1..=60 {
            for unit in ["k", "é"] {
                let text = unit.repeat(len);
                let secret = SecretAccessKey::new(&text).expect("a valid secret");
                assert_eq!(secret.expose(), text);
                let copy = secret.clone();
                assert_eq!(copy.expose(), text);
                assert_eq!(copy, secret);
                assert_ne!(SecretAccessKey::new(format!("{text}x")), Some(secret));
            }
        }
    }

    #[test]
    fn secrets_never_print() {
        let s = SecretAccessKey::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY").expect("valid");
        assert!(!format!("{s:?}").contains("wJalr"));
        assert!(!format!("{s}").contains("wJalr"));
        assert_eq!(
            serde_json::to_string(&s).expect("serializes"),
            "\"[redacted]\""
        );
        let t = Sensitive::new(String::from("secret text"));
        assert!(!format!("{t:?}").contains("secret"));
        assert_eq!(
            serde_json::to_string(&t).expect("serializes"),
            "\"[redacted]\""
        );
    }

    #[test]
    fn secrets_and_ids_refuse_line_breaks() {
        assert!(SecretAccessKey::new("a\nb").is_none());
        assert!(SecretAccessKey::new("").is_none());
        assert!(AccessKeyId::new("AKIA EXAMPLE").is_none());
        assert!(AccessKeyId::new("AKIAEXAMPLE").is_some());
    }
}
