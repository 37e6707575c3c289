//! A lossless model of the `aws` config and credentials files: [`Document::parse`] reads a file's
//! text exactly as botocore (and so the `aws` CLI) reads it, and remembers where every header, key
//! and value stands, so that [`KeyEdit`] can change a value by splicing bytes instead of writing the
//! file anew.
//!
//! This module reads text it is given and returns text; it must not touch the file system, the
//! environment or the clock, and it never re-serializes a file: comments, order, blank lines,
//! spacing and line endings are the user's. Its errors carry a line number and never quote a line
//! or a value, since either may hold a secret (for the same reason [`Entry`]'s `Debug` output
//! leaves values out).
//!
//! # What is read, and why exactly so
//!
//! The truth is botocore's `configloader` on top of Python 3.11's `configparser.RawConfigParser`
//! with its defaults; the rules below follow their sources line by line, and the differential
//! corpus in `tests/fixtures/ini/` holds every rule against botocore itself.
//!
//! - Lines end at `\n`, `\r\n` or a lone `\r` (Python's universal newlines).
//! - "Whitespace" is Python's (`str.strip()`, `re`'s `\s`): Rust's plus U+001C..U+001F.
//! - A line whose stripped text starts with `#` or `;` is a comment, indented or not; there are no
//!   inline comments (`key = a # b` reads `a # b`). A blank or comment line never ends a value.
//! - A line indented deeper (in characters) than the last key or header line continues the
//!   current value; blank lines in between are kept, trailing ones dropped: the value is the
//!   stripped pieces joined with `\n`.
//! - A header is `[` + the longest text up to a later `]`, on the stripped line; anything after
//!   that `]` is ignored (`[a] x` is section `a`, `[a]b]` is `a]b`), and `[]` is not a header.
//! - A setting's key runs to the first `=` or `:` and is right-stripped and lowercased
//!   (`optionxform`); the value is the rest of the line, stripped.
//! - Strict mode: a section or a key (per section) twice is an error, raised at once; a line
//!   before the first header is an error, raised at once; a line that is no setting, or `= value`
//!   with no key, is an error reported at the end of the file (the first such line), unless a
//!   fatal one comes first.
//! - `[DEFAULT]` (exact case) is not a section of its own: its settings are inherited by every
//!   other section that does not set them. It may appear more than once, but its keys may not.
//! - botocore's `raw_config_parse`: a value that starts with a line break (`s3 =` followed by
//!   indented lines) is a nested block of `key = value` lines (split at the first `=`, both sides
//!   stripped, the key not lowercased; Python's `splitlines()` line breaks apply inside it); a
//!   line there without `=` is an error (botocore's `ValueError`), but only where a section
//!   reads the value, so a bad block in `[DEFAULT]` counts only when a section inherits it.
//! - botocore's `build_profile_map` (config file): `[default]` is profile `default`; a header that
//!   starts with `profile` (also `profilex`), `sso-session` or `services` names the second word of
//!   exactly two `shlex.split` words (`[profile "a b"]` is `a b`, `[profile a b]` and `[profilex]`
//!   name nothing, an unbalanced quote names nothing); the later of two sections that name the
//!   same profile wins (`[profile default]` after `[default]` replaces it). Credentials file:
//!   `[NAME]` is profile `NAME`, verbatim.
//!
//! # Deliberate differences from botocore
//!
//! - A UTF-8 byte order mark at the start is skipped (and kept in the text). Python opens the file
//!   as plain UTF-8, keeps U+FEFF as a character of line 1, and fails with
//!   `MissingSectionHeaderError`; Notepad writes such files, and reading them does no harm.
//! - botocore reports a bad nested block without a line; we name the line of the first sub-line
//!   without `=`.
//! - Option names are lowercased as Python 3.11 (Unicode 14.0) does, with a table of the letters
//!   that gained lowercase forms since; a mark assigned after Unicode 14 next to a final sigma
//!   could still lowercase differently. No real key is affected.
//! - Input is a `&str`: a file that is not UTF-8 (where Python raises `UnicodeDecodeError`) must be
//!   refused by whoever reads it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

use crate::key::AccessKeyId;

mod edit;
mod parse;
mod py;
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
///
/// Its `Debug` output shows the structure, not the text or any value.
#[derive(Clone)]
pub struct Document {
    kind: FileKind,
    text: String,
    sections: Vec<Section>,
    /// Profile name -> index of the section botocore uses for it (the later one).
    profiles: HashMap<String, usize>,
    /// Indexes of the first section naming each profile, in file order.
    profile_order: Vec<usize>,
    /// Indexes of the `[DEFAULT]` sections, in file order.
    defaults: Vec<usize>,
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
///
/// Its `Debug` output leaves out the value (and the nested values): it may be a secret.
#[derive(Clone)]
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

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nested: Option<Vec<&str>> = self
            .nested
            .as_ref()
            .map(|pairs| pairs.iter().map(|(k, _)| k.as_str()).collect());
        f.debug_struct("Entry")
            .field("key", &self.key)
            .field("value", &format_args!("<{} bytes>", self.value.len()))
            .field("line", &self.line)
            .field("value_span", &self.value_span)
            .field("multiline", &self.multiline)
            .field("nested_keys", &nested)
            .finish()
    }
}

impl fmt::Debug for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Document")
            .field("kind", &self.kind)
            .field("text", &format_args!("<{} bytes>", self.text.len()))
            .field("sections", &self.sections)
            .finish()
    }
}

impl Section {
    /// The section's own entry for `key` (lowercase, as stored), ignoring `[DEFAULT]`.
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key == key)
    }
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
    ///
    /// # Errors
    ///
    /// A [`ParseError`] where botocore would raise one (see the module docs), with the 1-based
    /// line of the first offending line.
    pub fn parse(kind: FileKind, text: &str) -> Result<Document, ParseError> {
        parse::parse(kind, text)
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
        self.profile_order
            .iter()
            .filter_map(|&i| match &self.sections[i].kind {
                SectionKind::Profile(name) => Some(name.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The section botocore uses for profile `name` (the later one where two map to the name).
    pub fn profile_section(&self, name: &str) -> Option<&Section> {
        self.profiles.get(name).map(|&i| &self.sections[i])
    }

    /// The `[sso-session NAME]` section botocore uses for `name` (the later one, as for profiles).
    pub fn sso_session_section(&self, name: &str) -> Option<&Section> {
        self.sections
            .iter()
            .rev()
            .find(|s| matches!(&s.kind, SectionKind::SsoSession(n) if n == name))
    }

    /// The `[services NAME]` section botocore uses for `name` (the later one, as for profiles).
    pub fn services_section(&self, name: &str) -> Option<&Section> {
        self.sections
            .iter()
            .rev()
            .find(|s| matches!(&s.kind, SectionKind::Services(n) if n == name))
    }

    /// A profile's setting: its own entry, else `[DEFAULT]`'s, as configparser does.
    pub fn get(&self, profile: &str, key: &str) -> Option<&Entry> {
        self.lookup(self.profile_section(profile)?, key)
    }

    /// A section's setting as configparser reads it: its own entry, else `[DEFAULT]`'s. `key` is
    /// lowercased first, as configparser's `get` does. `section` must come from this document.
    pub fn lookup<'a>(&'a self, section: &'a Section, key: &str) -> Option<&'a Entry> {
        let key = option_key(key);
        section
            .entry(&key)
            .or_else(|| self.defaults().find_map(|d| d.entry(&key)))
    }

    /// Every setting a section reads, as configparser's `options()` lists them: its own entries in
    /// file order, then the `[DEFAULT]` ones it does not override. `section` must come from this
    /// document.
    pub fn settings<'a>(&'a self, section: &'a Section) -> Vec<&'a Entry> {
        let mut all: Vec<&Entry> = section.entries.iter().collect();
        if section.kind != SectionKind::Defaults {
            for d in self.defaults() {
                all.extend(d.entries.iter().filter(|e| section.entry(&e.key).is_none()));
            }
        }
        all
    }

    /// The sections (any kind, `[DEFAULT]` included) whose own `aws_access_key_id` equals `id` and
    /// that hold no `aws_session_token`/`aws_security_token`: the places a key edit changes.
    ///
    /// A token counts where botocore would read one: the section's own, or one inherited from
    /// `[DEFAULT]`, even if empty (botocore then sends no token, but such a profile is still not
    /// a plain IAM-user key, and refusing is the safe side).
    pub fn key_holders(&self, id: &AccessKeyId) -> Vec<&Section> {
        self.sections
            .iter()
            .filter(|s| {
                s.entry("aws_access_key_id")
                    .is_some_and(|e| e.value == id.as_str())
                    && self.lookup(s, "aws_session_token").is_none()
                    && self.lookup(s, "aws_security_token").is_none()
            })
            .collect()
    }

    fn defaults(&self) -> impl Iterator<Item = &Section> {
        self.defaults.iter().map(|&i| &self.sections[i])
    }
}

/// A key as configparser's `optionxform` stores it, borrowing when it already is.
fn option_key(key: &str) -> Cow<'_, str> {
    if key.bytes().any(|b| b.is_ascii_uppercase() || !b.is_ascii()) {
        Cow::Owned(py::lower(key))
    } else {
        Cow::Borrowed(key)
    }
}
