//! Splice new key values into a file's text; never re-serialize.
//!
//! [`KeyEdit::apply`] parses the text (so it refuses exactly what botocore refuses), finds the
//! sections that hold the old key id (see [`Document::key_holders`]), and replaces the bytes of
//! two values in each: the id and the secret beside it. Every other byte stays as it was:
//! comments, order, blank lines, spacing around `=` or `:`, `\r\n` or lone `\r` line ends, a
//! missing final newline, a byte order mark.
//!
//! It must not write files, log, or put a secret (old or new) into an error: errors name a
//! section and a line, nothing else.

use std::ops::Range;

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
    ///
    /// A holder's `aws_secret_access_key` must be its own (one inherited from `[DEFAULT]` is
    /// shared with other sections, so it is not changed here) and on one line.
    ///
    /// # Errors
    ///
    /// [`EditError::Parse`] where botocore would not read the file; [`EditError::MissingSecret`]
    /// where a holder has no secret of its own; [`EditError::Multiline`] where the id or secret
    /// continues on the next line. On any error nothing is changed.
    pub fn apply(&self, kind: FileKind, text: &str) -> Result<Option<String>, EditError> {
        let doc = Document::parse(kind, text)?;
        let holders = doc.key_holders(&self.from);
        if holders.is_empty() {
            return Ok(None);
        }
        let mut splices: Vec<(Range<usize>, &str)> = Vec::with_capacity(holders.len() * 2);
        for section in holders {
            let Some(id) = section.entry("aws_access_key_id") else {
                continue; // a holder has one by definition
            };
            if id.multiline {
                return Err(EditError::Multiline { line: id.line });
            }
            let Some(secret) = section.entry("aws_secret_access_key") else {
                return Err(EditError::MissingSecret {
                    section: section.header.clone(),
                    line: id.line,
                });
            };
            if secret.multiline {
                return Err(EditError::Multiline { line: secret.line });
            }
            splices.push((id.value_span.clone(), self.to_id.as_str()));
            splices.push((secret.value_span.clone(), self.to_secret.expose()));
        }
        splices.sort_by_key(|(span, _)| span.start);
        let grow: usize = splices.iter().map(|(_, new)| new.len()).sum();
        let mut out = String::with_capacity(text.len() + grow);
        let mut at = 0;
        for (span, new) in splices {
            // Spans are distinct values, each on its own key line, so they never overlap.
            out.push_str(text.get(at..span.start).unwrap_or_default());
            out.push_str(new);
            at = span.end;
        }
        out.push_str(text.get(at..).unwrap_or_default());
        Ok(Some(out))
    }
}
