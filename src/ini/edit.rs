//! Splice new key values into a file's text; never re-serialize.

use crate::key::{AccessKeyId, SecretAccessKey};

use super::{Document, FileKind, ParseError};

/// Replace key `from` by `to_id`/`to_secret` wherever a section holds `from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEdit {
    /// The key id to replace.
    pub from: AccessKeyId,
    /// The new key id.
    pub to_id: AccessKeyId,
    /// The new secret.
    pub to_secret: SecretAccessKey,
}

/// Why an edit could not be made. Never quotes a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EditError {
    /// The text does not parse.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// A section holds the key id but no `aws_secret_access_key`.
    #[error("line {line}: [{section}] has aws_access_key_id but no aws_secret_access_key")]
    MissingSecret {
        /// The section's header text.
        section: String,
        /// 1-based line of its aws_access_key_id.
        line: usize,
    },
    /// The key id or secret spans several lines.
    #[error("line {line}: the value continues on the next line; put it on one line")]
    Multiline {
        /// 1-based line.
        line: usize,
    },
}

impl KeyEdit {
    /// Applies the edit to `text`: returns the new text, or `None` when no section holds `from`.
    /// Every byte outside the replaced values is kept.
    pub fn apply(&self, kind: FileKind, text: &str) -> Result<Option<String>, EditError> {
        let _ = (kind, text, Document::parse);
        todo!()
    }
}
