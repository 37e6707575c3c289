//! A lossless model of the `aws` config and credentials files.
//!
//! CONTRACT (the helper implementing this module keeps these signatures; bodies are to be written).

use std::ops::Range;

use crate::key::{AccessKeyId, SecretAccessKey};

mod edit;
pub use edit::{EditError, KeyEdit};

/// Which of the two files a text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum FileKind {
    /// `~/.aws/config`: `[default]`, `[profile NAME]`, `[sso-session NAME]`, `[services NAME]`.
    Config,
    /// `~/.aws/credentials`: `[NAME]`.
    Credentials,
}

/// A parsed file: the original text plus where every section and value stands in it.
#[derive(Debug, Clone)]
pub struct Document {
    kind: FileKind,
    text: String,
    sections: Vec<Section>,
}

/// What a section header names, as botocore reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionKind {
    /// configparser's `[DEFAULT]`: its values are inherited by every other section.
    Defaults,
    /// A profile: `[default]`/`[profile NAME]` in config, `[NAME]` in credentials.
    Profile(String),
    /// `[sso-session NAME]` (config).
    SsoSession(String),
    /// `[services NAME]` (config).
    Services(String),
    /// Anything else botocore keeps but does not treat as a profile.
    Other,
}

/// One `[...]` section.
#[derive(Debug, Clone)]
pub struct Section {
    /// The text between the brackets, as configparser reads it.
    pub header: String,
    /// 1-based line of the header.
    pub line: usize,
    /// What the header names.
    pub kind: SectionKind,
    /// Its `key = value` entries, in file order.
    pub entries: Vec<Entry>,
}

/// One `key = value` (or `key: value`) entry.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Lowercased and trimmed, as configparser's `optionxform`.
    pub key: String,
    /// The value botocore reads: continuation lines joined with `\n`, stripped.
    pub value: String,
    /// 1-based line of the key.
    pub line: usize,
    /// Byte range in the text of the value on the key's own line (stripped); empty where the
    /// value is empty, placed right after the delimiter and its spaces.
    pub value_span: Range<usize>,
    /// True when continuation lines follow (the value spans several lines).
    pub multiline: bool,
    /// For `s3 =` followed by indented `key = value` lines: the nested pairs.
    pub nested: Option<Vec<(String, String)>>,
}

/// Why a file did not parse. Never quotes the offending line: it may hold a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct ParseError {
    /// 1-based line.
    pub line: usize,
    /// What is wrong there.
    pub kind: ParseErrorKind,
}

/// The kinds of malformed text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// A `key = value` line before any `[section]`.
    #[error("a setting before any [section] header")]
    OutsideSection,
    /// A line that is neither a header, a `key = value`, a comment nor blank.
    #[error("expected `key = value`, a [section] header, a comment or a blank line")]
    Garbage,
    /// `= value` with no key.
    #[error("a setting with no name before '='")]
    EmptyKey,
    /// The same section twice.
    #[error("section [{0}] appears a second time")]
    DuplicateSection(String),
    /// The same key twice in one section.
    #[error("'{key}' appears a second time in section [{section}]")]
    DuplicateKey {
        /// The section's header text.
        section: String,
        /// The key.
        key: String,
    },
    /// A nested block (`s3 =` then indented lines) with a line that has no `=`.
    #[error("a nested setting without '='")]
    BadNested,
}

impl Document {
    /// Parses a file's text as botocore would read it.
    pub fn parse(kind: FileKind, text: &str) -> Result<Document, ParseError> {
        let _ = (kind, text);
        todo!()
    }

    /// Which file this is.
    pub fn kind(&self) -> FileKind {
        self.kind
    }

    /// The original text, unchanged.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Every section, in file order.
    pub fn sections(&self) -> &[Section] {
        &self.sections
    }

    /// The profile names this file defines, in file order, each once.
    pub fn profile_names(&self) -> Vec<&str> {
        todo!()
    }

    /// The section botocore uses for profile `name` (the later one where two map to the name).
    pub fn profile_section(&self, name: &str) -> Option<&Section> {
        let _ = name;
        todo!()
    }

    /// A profile's setting: its own entry, else `[DEFAULT]`'s, as configparser does.
    pub fn get(&self, profile: &str, key: &str) -> Option<&Entry> {
        let _ = (profile, key);
        todo!()
    }

    /// The sections (any kind, `[DEFAULT]` included) whose own `aws_access_key_id` equals `id` and
    /// that hold no `aws_session_token`/`aws_security_token`: the places a key edit changes.
    pub fn key_holders(&self, id: &AccessKeyId) -> Vec<&Section> {
        let _ = id;
        todo!()
    }
}

#[allow(dead_code)]
fn _contract(_: &SecretAccessKey) {}
