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
use std::fmt;
use std::ops::Range;

pub use compact_str::CompactString;

use crate::key::AccessKeyId;

mod edit;
pub(crate) mod parse;
pub use parse::{FastHasher, FastMap};
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
    /// Every section's entries, in file order: a section holds a range of them.
    entries: Vec<RawEntry>,
    /// What the entries that are not spans of the text hold.
    extras: Extras,
    /// Profile name -> index of the section botocore uses for it (the later one).
    profiles: parse::NameIndex,
    /// For each profile, in the file order of its first section: the section botocore uses.
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
    Profile(CompactString),
    /// `[sso-session NAME]` (config).
    SsoSession(CompactString),
    /// `[services NAME]` (config).
    Services(CompactString),
    /// Anything else botocore keeps but does not treat as a profile.
    Other,
}

/// One `[...]` section. Its entries are read through its [`Document`]: [`Document::entries`],
/// [`Document::entry`].
#[derive(Debug, Clone)]
pub struct Section {
    /// The text between the brackets, as configparser reads it.
    pub header: CompactString,
    /// 1-based line of the header.
    pub line: usize,
    /// What the header names.
    pub kind: SectionKind,
    /// Its entries: a range of [`Document`]'s.
    entries: Range<u32>,
}

/// One `key = value` (or `key: value`) entry, as a [`Document`] gives it out.
///
/// Its `Debug` output leaves out the value (and the nested values): it may be a secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Entry<'a> {
    /// Lowercased and trimmed, as configparser's `optionxform`.
    pub key: &'a str,
    /// The value botocore reads: continuation lines joined with `\n`, stripped.
    pub value: &'a str,
    /// 1-based line of the key.
    pub line: usize,
    /// Byte range in the text of the value on the key's own line (stripped); empty where the
    /// value is empty, placed right after the delimiter and its spaces.
    pub value_span: Range<usize>,
    /// True when continuation lines follow (the value spans several lines).
    pub multiline: bool,
    /// For `s3 =` followed by indented `key = value` lines: the nested pairs, keys as written,
    /// a repeated key with its later value. (`None` also for a bad block in `[DEFAULT]` that no
    /// section reads, which botocore never parses.)
    pub nested: Option<&'a [(String, String)]>,
}

/// The settings that classifying and resolving a profile read, in the order of [`known`]. The
/// parser tags each entry with its place here, so that finding one compares a byte, not a string.
pub(crate) const KNOWN: [&str; 14] = [
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "aws_security_token",
    "web_identity_token_file",
    "role_arn",
    "source_profile",
    "credential_source",
    "sso_session",
    "sso_start_url",
    "sso_account_id",
    "login_session",
    "credential_process",
    "mfa_serial",
];

/// The place in [`KNOWN`] of a setting that code reads by name, found while compiling:
/// `const { place("role_arn") }` (a name not in [`KNOWN`] fails the build).
pub(crate) const fn place(key: &str) -> usize {
    let key = key.as_bytes();
    let mut i = 0;
    while i < KNOWN.len() {
        let name = KNOWN[i].as_bytes();
        if name.len() == key.len() {
            let mut j = 0;
            while j < key.len() && name[j] == key[j] {
                j += 1;
            }
            if j == key.len() {
                return i;
            }
        }
        i += 1;
    }
    panic!("not a setting in KNOWN")
}

/// A setting's place in [`KNOWN`] (a `match`, which compiles to a switch on the length): how
/// the parser tags each entry it reads. Code that names a setting uses [`place`] instead.
#[inline(always)]
pub(crate) fn known(key: &str) -> Option<usize> {
    Some(match key {
        "aws_access_key_id" => 0,
        "aws_secret_access_key" => 1,
        "aws_session_token" => 2,
        "aws_security_token" => 3,
        "web_identity_token_file" => 4,
        "role_arn" => 5,
        "source_profile" => 6,
        "credential_source" => 7,
        "sso_session" => 8,
        "sso_start_url" => 9,
        "sso_account_id" => 10,
        "login_session" => 11,
        "credential_process" => 12,
        "mfa_serial" => 13,
        _ => return None,
    })
}

/// An entry as a [`Document`] stores it: 20 bytes, spans of the text. The rare entry that needs
/// a string of its own (a key that lowercasing changes, a value that continues on later lines)
/// keeps it among the document's [`Extras`]. A large file holds tens of thousands of entries,
/// and its parse costs as much in the memory it touches as in instructions.
#[derive(Clone)]
pub(crate) struct RawEntry {
    /// Where the key starts (as written); it also finds the entry's [`Extra`], if any.
    key_start: u32,
    /// The value's span on the key's line.
    start: u32,
    len: u32,
    line: u32,
    /// The key's length as written (right-stripped), when the key is the text's.
    key_len: u16,
    /// The key's place in [`KNOWN`], or [`RawEntry::UNKNOWN`].
    known: u8,
    /// [`RawEntry::OWN_KEY`], [`RawEntry::MULTILINE`].
    flags: u8,
}

/// The part of an entry that is not a span of the text.
#[derive(Clone, Default)]
struct Extra {
    /// The key lowercased, where that changed it (or the key, if too long for a span).
    key: Option<CompactString>,
    /// The whole value, lines joined with `\n`, once a continuation line follows.
    value: Option<String>,
    /// Its nested pairs, if the value is a well-formed nested block.
    nested: Option<Vec<(String, String)>>,
}

/// The [`Extra`]s of a document's entries, by the position of the entry's key, in file order.
#[derive(Clone, Default)]
pub(crate) struct Extras(Vec<(u32, Extra)>);

impl Extras {
    fn get(&self, key_start: u32) -> Option<&Extra> {
        let i = self
            .0
            .binary_search_by_key(&key_start, |(at, _)| *at)
            .ok()?;
        self.0.get(i).map(|(_, x)| x)
    }

    /// The extra of the entry at `key_start`, made if it has none: the last entry's only, so the
    /// list stays in file order.
    fn last_or_new(&mut self, key_start: u32) -> &mut Extra {
        if self.0.last().is_none_or(|(at, _)| *at != key_start) {
            self.0.push((key_start, Extra::default()));
        }
        let last = self.0.len() - 1;
        &mut self.0[last].1
    }

    fn get_mut(&mut self, key_start: u32) -> Option<&mut Extra> {
        let i = self
            .0
            .binary_search_by_key(&key_start, |(at, _)| *at)
            .ok()?;
        self.0.get_mut(i).map(|(_, x)| x)
    }
}

impl RawEntry {
    pub(super) const UNKNOWN: u8 = u8::MAX;
    /// Its key is its [`Extra`]'s.
    const OWN_KEY: u8 = 1;
    /// Its value is its [`Extra`]'s.
    const MULTILINE: u8 = 2;

    /// The key's place in [`KNOWN`], if it is one of them.
    pub(crate) fn known(&self) -> Option<usize> {
        (self.known != Self::UNKNOWN).then_some(usize::from(self.known))
    }

    /// 1-based line of the key.
    pub(crate) fn line(&self) -> usize {
        self.line as usize
    }

    /// Whether continuation lines follow.
    pub(crate) fn multiline(&self) -> bool {
        self.flags & Self::MULTILINE != 0
    }

    pub(super) fn span(&self) -> Range<usize> {
        self.start as usize..self.start as usize + self.len as usize
    }

    /// The key (lowercased), given the document's text and extras.
    pub(super) fn key_in<'a>(&self, text: &'a str, extras: &'a Extras) -> &'a str {
        if self.flags & Self::OWN_KEY != 0 {
            return extras
                .get(self.key_start)
                .and_then(|x| x.key.as_deref())
                .unwrap_or_default();
        }
        let start = self.key_start as usize;
        text.get(start..start + usize::from(self.key_len))
            .unwrap_or_default()
    }

    /// The value, given the document's text and extras.
    fn value_in<'a>(&self, text: &'a str, extras: &'a Extras) -> &'a str {
        if self.multiline() {
            return extras
                .get(self.key_start)
                .and_then(|x| x.value.as_deref())
                .unwrap_or_default();
        }
        text.get(self.span()).unwrap_or_default()
    }

    /// Its nested pairs, given the document's extras.
    fn nested_in<'a>(&self, extras: &'a Extras) -> Option<&'a [(String, String)]> {
        if !self.multiline() {
            return None;
        }
        extras.get(self.key_start)?.nested.as_deref()
    }
}

impl fmt::Debug for Entry<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nested: Option<Vec<&str>> = self
            .nested
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
            .field(
                "entries",
                &self
                    .entries
                    .iter()
                    .map(|e| self.view(e))
                    .collect::<Vec<_>>(),
            )
            .finish()
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
    /// More sections than the reader indexes (over four billion: a file of many gigabytes).
    #[error("too many sections; split the file")]
    TooManySections,
    /// A file of 4 GiB or more (the reader keeps positions in 32 bits).
    #[error(
        "the file is 4 GiB or larger; no aws file is that large, check that it is the right file"
    )]
    TooLarge,
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
        parse::parse(kind, text.to_owned())
    }

    /// [`Document::parse`] of a text the caller gives up: the document keeps it as it is,
    /// instead of a copy (for a large file, a copy costs as much as a tenth of the parse).
    ///
    /// # Errors
    ///
    /// As [`Document::parse`].
    pub fn parse_owned(kind: FileKind, text: String) -> Result<Document, ParseError> {
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

    /// The text, given back.
    pub fn into_text(self) -> String {
        self.text
    }

    /// Every section, in file order.
    pub fn sections(&self) -> &[Section] {
        &self.sections
    }

    /// The profile names this file defines, in file order, each once.
    pub fn profile_names(&self) -> Vec<&str> {
        self.profiles().map(|(name, _)| name).collect()
    }

    /// How many profiles this file defines.
    pub fn profile_count(&self) -> usize {
        self.profile_order.len()
    }

    /// Each profile this file defines, in the file order of its first section, with the
    /// section botocore uses for it (as [`Document::profile_section`] finds it).
    pub fn profiles(&self) -> impl Iterator<Item = (&str, &Section)> {
        self.profile_order.iter().filter_map(|&i| {
            let section = self.sections.get(i)?;
            match &section.kind {
                SectionKind::Profile(name) => Some((name.as_str(), section)),
                _ => None,
            }
        })
    }

    /// The section botocore uses for profile `name` (the later one where two map to the name).
    pub fn profile_section(&self, name: &str) -> Option<&Section> {
        let i = self
            .profiles
            .get(name, |i| parse::profile_name(&self.sections[i]))?;
        self.sections.get(i)
    }

    /// The `[sso-session NAME]` section botocore uses for `name` (the later one, as for profiles).
    /// A scan: files hold a few of these at most.
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

    /// A section's own entries, in file order. `section` must come from this document.
    pub fn entries<'a>(
        &'a self,
        section: &Section,
    ) -> impl DoubleEndedIterator<Item = Entry<'a>> + ExactSizeIterator {
        self.raw_entries(section).iter().map(|e| self.view(e))
    }

    /// A section's own entry for `key` (lowercase, as stored), ignoring `[DEFAULT]`. `section`
    /// must come from this document.
    pub fn entry<'a>(&'a self, section: &Section, key: &str) -> Option<Entry<'a>> {
        self.raw_entry(section, key).map(|e| self.view(e))
    }

    /// A profile's setting: its own entry, else `[DEFAULT]`'s, as configparser does.
    pub fn get(&self, profile: &str, key: &str) -> Option<Entry<'_>> {
        self.lookup(self.profile_section(profile)?, key)
    }

    /// A section's setting as configparser reads it: its own entry, else `[DEFAULT]`'s. `key` is
    /// lowercased first, as configparser's `get` does. `section` must come from this document.
    pub fn lookup<'a>(&'a self, section: &Section, key: &str) -> Option<Entry<'a>> {
        self.raw_lookup(section, &option_key(key))
            .map(|e| self.view(e))
    }

    /// Every setting a section reads, as configparser's `options()` lists them: its own entries in
    /// file order, then the `[DEFAULT]` ones it does not override. `section` must come from this
    /// document.
    pub fn settings<'a>(&'a self, section: &Section) -> Vec<Entry<'a>> {
        let own = self.raw_entries(section);
        let mut all: Vec<Entry<'a>> = own.iter().map(|e| self.view(e)).collect();
        if section.kind != SectionKind::Defaults {
            for d in self.defaults() {
                all.extend(
                    self.raw_entries(d)
                        .iter()
                        .filter(|e| {
                            let key = self.raw_key(e);
                            !own.iter().any(|o| self.raw_key(o) == key)
                        })
                        .map(|e| self.view(e)),
                );
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
                self.raw_entry(s, "aws_access_key_id")
                    .is_some_and(|e| self.raw_value(e) == id.as_str())
                    && !self.has_session_token(s)
            })
            .collect()
    }

    /// Whether a section reads an `aws_session_token` or `aws_security_token` (see
    /// [`Document::key_holders`]).
    pub(crate) fn has_session_token(&self, section: &Section) -> bool {
        // KNOWN[2] and KNOWN[3].
        let token = |s: &Section| {
            self.raw_entries(s)
                .iter()
                .any(|e| matches!(e.known(), Some(2 | 3)))
        };
        token(section) || self.defaults().any(token)
    }

    pub(crate) fn defaults(&self) -> impl Iterator<Item = &Section> {
        self.defaults.iter().map(|&i| &self.sections[i])
    }

    /// A section's stored entries.
    pub(crate) fn raw_entries(&self, section: &Section) -> &[RawEntry] {
        let Range { start, end } = section.entries;
        self.entries
            .get(start as usize..end as usize)
            .unwrap_or_default()
    }

    /// Whether `e` is one of `section`'s own entries (not a `[DEFAULT]`'s). Both must come from
    /// this document.
    pub(crate) fn owns(&self, section: &Section, e: &RawEntry) -> bool {
        self.raw_entries(section)
            .as_ptr_range()
            .contains(&std::ptr::from_ref(e))
    }

    /// A section's own stored entry for `key` (as stored: lowercase).
    pub(crate) fn raw_entry(&self, section: &Section, key: &str) -> Option<&RawEntry> {
        let entries = self.raw_entries(section).iter();
        match known(key) {
            Some(k) => entries.clone().find(|e| e.known() == Some(k)),
            None => entries.clone().find(|e| self.raw_key(e) == key),
        }
    }

    /// [`Document::lookup`] for a key already lowercase, on the stored entries.
    pub(crate) fn raw_lookup(&self, section: &Section, key: &str) -> Option<&RawEntry> {
        self.raw_entry(section, key)
            .or_else(|| self.defaults().find_map(|d| self.raw_entry(d, key)))
    }

    /// A stored entry's value. `e` must come from this document.
    #[inline]
    pub(crate) fn raw_value<'a>(&'a self, e: &'a RawEntry) -> &'a str {
        e.value_in(&self.text, &self.extras)
    }

    /// Whether a stored entry's value is empty, without reading the text (a value on one line is
    /// empty exactly when its span is). `e` must come from this document.
    #[inline]
    pub(crate) fn raw_value_is_empty(&self, e: &RawEntry) -> bool {
        if e.multiline() {
            return self.raw_value(e).is_empty();
        }
        e.len == 0
    }

    /// A stored entry's key (lowercased). `e` must come from this document.
    pub(crate) fn raw_key<'a>(&'a self, e: &'a RawEntry) -> &'a str {
        e.key_in(&self.text, &self.extras)
    }

    /// A stored entry as the public [`Entry`]. `e` must come from this document.
    pub(crate) fn view<'a>(&'a self, e: &'a RawEntry) -> Entry<'a> {
        Entry {
            key: self.raw_key(e),
            value: self.raw_value(e),
            line: e.line(),
            value_span: e.span(),
            multiline: e.multiline(),
            nested: e.nested_in(&self.extras),
        }
    }
}

/// A key as configparser's `optionxform` stores it, borrowing when it already is.
fn option_key(key: &str) -> Cow<'_, str> {
    py::lower(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: &str = "AKIAIOSFODNN7EXAMPLE";

    fn creds(text: &str) -> Document {
        Document::parse(FileKind::Credentials, text).expect("parses")
    }

    fn config(text: &str) -> Document {
        Document::parse(FileKind::Config, text).expect("parses")
    }

    fn err(kind: FileKind, text: &str) -> ParseError {
        Document::parse(kind, text).expect_err("refused")
    }

    fn value<'a>(doc: &'a Document, profile: &str, key: &str) -> Option<&'a str> {
        doc.get(profile, key).map(|e| e.value)
    }

    fn id(s: &str) -> AccessKeyId {
        AccessKeyId::new(s).expect("valid id")
    }

    #[test]
    fn parse_owned_keeps_the_text_and_reads_the_same() {
        let text = "[a]\nAWS_Access_Key_ID = AKIA1\nk = one\n  two\n";
        let owned = Document::parse_owned(FileKind::Credentials, text.to_owned()).expect("parses");
        let borrowed = creds(text);
        assert_eq!(owned.text(), text);
        for doc in [&owned, &borrowed] {
            assert_eq!(value(doc, "a", "aws_access_key_id"), Some("AKIA1"));
            assert_eq!(value(doc, "a", "k"), Some("one\ntwo"));
        }
        assert_eq!(
            Document::parse_owned(FileKind::Credentials, "k = v\n".to_owned()).map(|_| ()),
            Err(ParseError {
                line: 1,
                kind: ParseErrorKind::OutsideSection
            })
        );
    }

    #[test]
    fn known_settings_and_their_places_agree() {
        for (i, key) in KNOWN.iter().enumerate() {
            assert_eq!(known(key), Some(i), "{key}");
            assert_eq!(place(key), i, "{key}");
        }
        assert_eq!(known("region"), None);
        assert_eq!(
            (KNOWN[2], KNOWN[3]),
            ("aws_session_token", "aws_security_token"),
            "has_session_token"
        );
        assert!(KNOWN.len() < usize::from(RawEntry::UNKNOWN));
    }

    #[test]
    fn a_key_too_long_for_a_span_is_kept_whole() {
        let key = "k".repeat(70_000);
        let text = format!("[a]\n{key} = v\nUpper = w\n  more\n");
        let doc = creds(&text);
        assert_eq!(doc.get("a", &key).map(|e| e.value), Some("v"));
        let upper = doc.get("a", "upper").expect("lowercased");
        assert_eq!(
            (upper.key, upper.value, upper.multiline),
            ("upper", "w\nmore", true)
        );
    }

    #[test]
    fn a_stored_entry_is_20_bytes() {
        // A 10,000-profile file stores about 35,000 of them: their size is most of a parse's
        // memory, and the pages it touches are much of its time (benches/plan.rs).
        assert_eq!(std::mem::size_of::<RawEntry>(), 20);
    }

    #[test]
    fn reads_keys_values_lines_and_spans() {
        let text = "[default]\naws_access_key_id = AKIA1\nregion=us-east-1 \t\n";
        let doc = creds(text);
        let s = doc.profile_section("default").expect("a profile");
        assert_eq!((s.header.as_str(), s.line), ("default", 1));
        let e = doc.entries(s).nth(1).expect("two entries");
        assert_eq!((e.key, e.value, e.line), ("region", "us-east-1", 3));
        assert_eq!(&text[e.value_span.clone()], "us-east-1");
        assert!(!e.multiline && e.nested.is_none());
        assert_eq!(doc.text(), text);
        assert_eq!(doc.kind(), FileKind::Credentials);
    }

    #[test]
    fn comments_are_full_lines_only_and_may_be_indented() {
        let doc =
            creds("# top\n;top\n[a]\n  # indented\n\t; tab\nk = v # not a comment\nl = x;y\n");
        let a = doc.profile_section("a").expect("a profile");
        assert_eq!(a.entries.len(), 2);
        assert_eq!(value(&doc, "a", "k"), Some("v # not a comment"));
        assert_eq!(value(&doc, "a", "l"), Some("x;y"));
    }

    #[test]
    fn colon_is_a_delimiter_and_the_first_delimiter_wins() {
        let text = "[a]\nk: v\nurl = https://x:1\nhttps://y = z\nm : n=o\n";
        let doc = creds(text);
        assert_eq!(value(&doc, "a", "k"), Some("v"));
        assert_eq!(value(&doc, "a", "url"), Some("https://x:1"));
        assert_eq!(value(&doc, "a", "https"), Some("//y = z"));
        assert_eq!(value(&doc, "a", "m"), Some("n=o"));
    }

    #[test]
    fn keys_are_lowercased_and_right_stripped() {
        let doc = creds("[a]\nAWS_Access_Key_ID   = AKIA1\nmy key\t: v\n");
        assert_eq!(value(&doc, "a", "aws_access_key_id"), Some("AKIA1"));
        assert_eq!(
            value(&doc, "a", "AWS_ACCESS_KEY_ID"),
            Some("AKIA1"),
            "queries too"
        );
        assert_eq!(value(&doc, "a", "my key"), Some("v"));
    }

    #[test]
    fn continuation_lines_join_and_blank_lines_inside_are_kept() {
        let text = "[a]\nk = one\n  two\n\n    three\n  # dropped comment\n\n\nnext = x\n";
        let doc = creds(text);
        let e = doc.get("a", "k").expect("set");
        assert_eq!(e.value, "one\ntwo\n\nthree");
        assert!(e.multiline);
        assert_eq!(
            &text[e.value_span.clone()],
            "one",
            "the span covers the key line only"
        );
        let next = doc.get("a", "next").expect("set");
        assert!(!next.multiline);
        // Trailing blank lines do not make a value multiline.
        let doc = creds("[a]\nk = v\n\n\n[b]\n");
        assert!(!doc.get("a", "k").expect("set").multiline);
    }

    #[test]
    fn continuation_is_relative_to_the_last_key_lines_indent() {
        // An indented key sets the level: a line at the same indent is a new key.
        let doc = creds("[a]\n  k = 1\n  l = 2\n    m = 3\n");
        assert_eq!(value(&doc, "a", "l"), Some("2\nm = 3"));
        // An indented header after a value continues the value.
        let doc = creds("[a]\nk = v\n  [b]\n");
        assert_eq!(value(&doc, "a", "k"), Some("v\n[b]"));
        assert_eq!(doc.sections().len(), 1);
        // Indentation is counted in characters, with Python's whitespace.
        let doc = creds("[a]\n\u{3000}k = 1\n\u{1c}\u{1c}l = 2\n");
        assert_eq!(value(&doc, "a", "k"), Some("1\nl = 2"));
    }

    #[test]
    fn nested_blocks_are_parsed_as_botocore_does() {
        let text = "[profile a]\ns3 =\n  signature_version = s3v4\n  Addressing_Style=path\n  x = 1\n  x = 2\nregion = r\n";
        let doc = config(text);
        let s3 = doc.get("a", "s3").expect("set");
        let nested = s3.nested.as_ref().expect("nested");
        let pairs: Vec<(&str, &str)> = nested
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("signature_version", "s3v4"),
                ("Addressing_Style", "path"),
                ("x", "2")
            ]
        );
        assert_eq!(
            s3.value_span,
            16..16,
            "empty first line: span after the delimiter"
        );
        assert_eq!(value(&doc, "a", "region"), Some("r"));
        // A line without '=' in a block is an error at that line.
        let e = err(FileKind::Config, "[a]\ns3 =\n  a = 1\n  b: 2\n");
        assert_eq!((e.line, e.kind), (4, ParseErrorKind::BadNested));
        // A value with a first line is not a block, whatever follows.
        let doc = creds("[a]\ns3 = x\n  no equals\n");
        assert_eq!(value(&doc, "a", "s3"), Some("x\nno equals"));
    }

    #[test]
    fn default_section_is_inherited() {
        let text = "[DEFAULT]\nregion = west\noutput = text\n[default]\nregion = east\n[profile p]\n[other]\n";
        let doc = config(text);
        assert_eq!(value(&doc, "default", "region"), Some("east"));
        assert_eq!(value(&doc, "default", "output"), Some("text"));
        assert_eq!(value(&doc, "p", "region"), Some("west"));
        assert_eq!(doc.profile_names(), ["default", "p"]);
        let other = &doc.sections()[3];
        assert_eq!(other.kind, SectionKind::Other);
        let keys: Vec<&str> = doc.settings(other).iter().map(|e| e.key).collect();
        assert_eq!(keys, ["region", "output"]);
        let p = doc.profile_section("p").expect("a profile");
        assert_eq!(doc.lookup(p, "region").map(|e| e.line), Some(2));
        // [default] (lowercase) is an ordinary section: nothing inherits from it.
        let doc = creds("[default]\nregion = x\n[a]\n");
        assert_eq!(value(&doc, "a", "region"), None);
    }

    #[test]
    fn default_may_repeat_but_its_keys_may_not() {
        let doc = creds("[DEFAULT]\na = 1\n[p]\n[DEFAULT]\nb = 2\n");
        assert_eq!(
            (value(&doc, "p", "a"), value(&doc, "p", "b")),
            (Some("1"), Some("2"))
        );
        let e = err(
            FileKind::Credentials,
            "[DEFAULT]\na = 1\n[p]\n[DEFAULT]\nA = 2\n",
        );
        assert_eq!(e.line, 5);
        assert!(
            matches!(e.kind, ParseErrorKind::DuplicateKey { ref section, ref key }
            if section == "DEFAULT" && key == "a")
        );
    }

    #[test]
    fn bad_nested_default_counts_only_where_read() {
        let bad = "[DEFAULT]\ns3 =\n  nope\n";
        assert!(
            Document::parse(FileKind::Config, bad).is_ok(),
            "no section reads it"
        );
        let e = err(FileKind::Config, &format!("{bad}[a]\n"));
        assert_eq!((e.line, e.kind), (3, ParseErrorKind::BadNested));
        assert!(Document::parse(FileKind::Config, &format!("{bad}[a]\ns3 = x\n")).is_ok());
    }

    #[test]
    fn duplicates_are_errors_at_their_line() {
        let e = err(FileKind::Credentials, "[a]\nk = 1\n\n[b]\n[a]\n");
        assert_eq!(
            (e.line, e.kind),
            (5, ParseErrorKind::DuplicateSection("a".into()))
        );
        let e = err(FileKind::Config, "[a]\nk = 1\n# c\nK: 2\n");
        assert_eq!(e.line, 4);
        assert_eq!(
            e.kind,
            ParseErrorKind::DuplicateKey {
                section: "a".into(),
                key: "k".into()
            }
        );
        // Many keys in one section: the hashed path finds duplicates too.
        let mut big = String::from("[a]\n");
        for i in 0..40 {
            big.push_str(&format!("k{i} = v\n"));
        }
        assert!(Document::parse(FileKind::Config, &big).is_ok());
        big.push_str("k7 = again\n");
        assert_eq!(err(FileKind::Config, &big).line, 42);
    }

    #[test]
    fn malformed_lines_are_errors() {
        let e = err(FileKind::Credentials, "# c\n\nk = v\n[a]\n");
        assert_eq!((e.line, e.kind), (3, ParseErrorKind::OutsideSection));
        let e = err(
            FileKind::Credentials,
            "[a]\nk = v\nno delimiter\nbad again\n",
        );
        assert_eq!((e.line, e.kind), (3, ParseErrorKind::Garbage));
        let e = err(FileKind::Credentials, "[a]\n= v\n");
        assert_eq!((e.line, e.kind), (2, ParseErrorKind::EmptyKey));
        let e = err(FileKind::Credentials, "[a]\n[]\n");
        assert_eq!((e.line, e.kind), (2, ParseErrorKind::Garbage));
        // configparser reports bad lines at the end; a fatal error later in the file comes first.
        let e = err(FileKind::Credentials, "[a]\ngarbage\n[b]\n[a]\n");
        assert_eq!(
            (e.line, e.kind),
            (4, ParseErrorKind::DuplicateSection("a".into()))
        );
        // Two empty keys in a section are a duplicate ('' twice).
        let e = err(FileKind::Credentials, "[a]\n= 1\n: 2\n");
        assert_eq!(e.line, 3);
        assert!(matches!(e.kind, ParseErrorKind::DuplicateKey { .. }));
    }

    #[test]
    fn errors_never_quote_the_line() {
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        for text in [
            format!("{secret}\n"),
            format!("[a]\n{secret}\n"),
            format!("[a]\ns3 =\n  {secret}\n[b]\n"),
            format!("[a]\n= {secret}\n"),
        ] {
            let e = Document::parse(FileKind::Config, &text).expect_err("refused");
            assert!(!e.to_string().contains("wJalr"), "{e}");
            assert!(!format!("{e:?}").contains("wJalr"), "{e:?}");
        }
    }

    #[test]
    fn headers_are_read_as_sectcre_matches() {
        let doc = creds("[a] trailing\n[b]c]\n[ spaced ]\n[[x]]\n[]]\n");
        let headers: Vec<&str> = doc.sections().iter().map(|s| s.header.as_str()).collect();
        assert_eq!(headers, ["a", "b]c", " spaced ", "[x]", "]"]);
    }

    #[test]
    fn bom_is_skipped_and_kept() {
        let text = "\u{feff}[default]\r\naws_access_key_id = AKIA1\r\n";
        let doc = creds(text);
        assert_eq!(doc.text(), text);
        let e = doc.get("default", "aws_access_key_id").expect("set");
        assert_eq!(&text[e.value_span.clone()], "AKIA1");
        assert_eq!(e.line, 2);
        // Only at the start: elsewhere U+FEFF is an ordinary character (not whitespace).
        let doc = creds("[a]\nk = \u{feff}v\n");
        assert_eq!(value(&doc, "a", "k"), Some("\u{feff}v"));
    }

    #[test]
    fn crlf_lone_cr_and_no_final_newline() {
        for text in [
            "[a]\r\nk = v\r\n  w\r\nl = x\r\n",
            "[a]\rk = v\r  w\rl = x\r",
            "[a]\nk = v\r\n  w\rl = x",
        ] {
            let doc = creds(text);
            assert_eq!(value(&doc, "a", "k"), Some("v\nw"), "{text:?}");
            assert_eq!(value(&doc, "a", "l"), Some("x"), "{text:?}");
            let l = doc.get("a", "l").expect("set");
            assert_eq!((l.line, &text[l.value_span.clone()]), (4, "x"));
        }
        // "\n\r" is two line ends, so line numbers count it twice.
        let e = err(FileKind::Credentials, "[a]\n\rgarbage\n");
        assert_eq!(e.line, 3);
    }

    #[test]
    fn python_whitespace_includes_the_separators() {
        let text = "[a]\nk =\u{1c} v \u{1f}\nl = \u{a0}x\u{3000}\n\u{1d}\n";
        let doc = creds(text);
        assert_eq!(value(&doc, "a", "k"), Some("v"));
        assert_eq!(value(&doc, "a", "l"), Some("x"));
        let k = doc.get("a", "k").expect("set");
        assert_eq!(&text[k.value_span.clone()], "v");
    }

    #[test]
    fn config_headers_name_profiles_as_build_profile_map_does() {
        let doc = config(concat!(
            "[default]\n[profile a]\n[profile \"b c\"]\n[profile 'd']\n",
            "[profile x y]\n[profilex]\n[profilex e]\n[profile]\n[profile \"open]\n",
            "[ profile f ]\n[profile\tg]\n[preview]\n[sso-session s]\n[services t]\n[sso-session]\n",
        ));
        assert_eq!(doc.profile_names(), ["default", "a", "b c", "d", "e", "g"]);
        let kinds: Vec<&SectionKind> = doc.sections().iter().map(|s| &s.kind).collect();
        assert_eq!(kinds[4], &SectionKind::Other, "[profile x y] names nothing");
        assert_eq!(kinds[5], &SectionKind::Other, "[profilex] names nothing");
        assert_eq!(
            kinds[8],
            &SectionKind::Other,
            "an unbalanced quote names nothing"
        );
        assert_eq!(
            kinds[9],
            &SectionKind::Other,
            "[ profile f ] does not start with profile"
        );
        assert_eq!(kinds[12], &SectionKind::SsoSession("s".into()));
        assert_eq!(kinds[13], &SectionKind::Services("t".into()));
        assert!(doc.sso_session_section("s").is_some());
        assert!(doc.services_section("t").is_some());
        assert!(doc.profile_section("preview").is_none());
    }

    #[test]
    fn the_later_section_wins_a_profile_name() {
        let doc = config("[default]\nregion = a\n[profile default]\noutput = b\n");
        assert_eq!(doc.profile_names(), ["default"]);
        assert_eq!(value(&doc, "default", "region"), None);
        assert_eq!(value(&doc, "default", "output"), Some("b"));
        let doc = config("[profile default]\noutput = b\n[default]\nregion = a\n");
        assert_eq!(value(&doc, "default", "region"), Some("a"));
        assert_eq!(doc.profile_section("default").map(|s| s.line), Some(3));
    }

    #[test]
    fn many_sections_are_indexed_and_repeats_found() {
        for kind in [FileKind::Config, FileKind::Credentials] {
            let header = |i: usize| match kind {
                FileKind::Config => format!("[profile p{i}]\nregion = r{i}\n"),
                FileKind::Credentials => format!("[p{i}]\nregion = r{i}\n"),
            };
            let text: String = (0..3000).map(header).collect();
            let doc = Document::parse(kind, &text).expect("parses");
            assert_eq!(doc.profile_names().len(), 3000);
            for i in [0, 1, 17, 1234, 2999] {
                let s = doc.profile_section(&format!("p{i}")).expect("indexed");
                assert_eq!(s.line, 2 * i + 1);
                assert_eq!(
                    value(&doc, &format!("p{i}"), "region"),
                    Some(format!("r{i}").as_str())
                );
            }
            assert!(doc.profile_section("p3000").is_none());
            let e = err(kind, &format!("{text}{}", header(1234)));
            assert_eq!(
                (e.line, e.kind),
                (
                    6001,
                    ParseErrorKind::DuplicateSection(
                        header(1234)[1..]
                            .split(']')
                            .next()
                            .unwrap_or_default()
                            .to_owned()
                    )
                )
            );
        }
    }

    #[test]
    fn credentials_headers_are_names_verbatim() {
        let doc = creds("[profile a]\n[default]\n[ b ]\n");
        assert_eq!(doc.profile_names(), ["profile a", "default", " b "]);
    }

    #[test]
    fn a_repeated_header_is_refused_even_among_headers_naming_one_profile() {
        let dup = |text: &str| {
            let e = err(FileKind::Config, text);
            match e.kind {
                ParseErrorKind::DuplicateSection(h) => (e.line, h),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(
            dup("[default]\n[profile default]\n[default]\n"),
            (3, "default".to_owned())
        );
        assert_eq!(
            dup("[profile a]\n[profile  a]\n[profile a]\n"),
            (3, "profile a".to_owned())
        );
        assert_eq!(
            dup("[profile a]\n[profile  a]\n[profile   a]\n[profile  a]\n"),
            (4, "profile  a".to_owned())
        );
        assert_eq!(
            dup("[profile a]\nx = 1\n[sso-session a]\n[profile b]\n[sso-session a]\n"),
            (5, "sso-session a".to_owned())
        );
        // Different headers that name one profile: the last one wins, as in botocore.
        let doc = config("[profile a]\nr = 1\n[profile  a]\nr = 2\n[profile   a]\nr = 3\n");
        assert_eq!(value(&doc, "a", "r"), Some("3"));
        assert_eq!(doc.profile_names(), ["a"]);
    }

    #[test]
    fn key_holders_skip_sessions_own_or_inherited() {
        let text = format!(
            "[a]\naws_access_key_id = {K}\n[b]\naws_access_key_id = {K}\naws_session_token = t\n\
             [c]\naws_access_key_id = {K}\naws_security_token =\n[d]\naws_access_key_id = other\n\
             [DEFAULT]\naws_access_key_id = {K}\n"
        );
        let doc = creds(&text);
        let headers: Vec<&str> = doc
            .key_holders(&id(K))
            .iter()
            .map(|s| s.header.as_str())
            .collect();
        assert_eq!(headers, ["a", "DEFAULT"]);
        let doc = creds(&format!(
            "[DEFAULT]\naws_session_token = t\n[a]\naws_access_key_id = {K}\n"
        ));
        assert!(
            doc.key_holders(&id(K)).is_empty(),
            "a token inherited from [DEFAULT] counts"
        );
    }

    #[test]
    fn debug_output_shows_no_values() {
        let doc = creds("[a]\naws_secret_access_key = wJalrXUtnFEMI\ns3 =\n  k = hidden\n");
        let shown = format!("{doc:?}");
        assert!(
            !shown.contains("wJalr") && !shown.contains("hidden"),
            "{shown}"
        );
        assert!(shown.contains("aws_secret_access_key"));
    }

    #[test]
    fn empty_inputs_parse_to_nothing() {
        for text in ["", "\n", "\u{feff}", "# only\n", "  \n\t\r\n"] {
            let doc = creds(text);
            assert!(doc.sections().is_empty() && doc.profile_names().is_empty());
        }
    }

    #[test]
    fn an_empty_value_has_an_empty_span_after_the_spaces() {
        let text = "[a]\nk =   \nl:\n";
        let doc = creds(text);
        assert_eq!(
            doc.get("a", "k").map(|e| e.value_span.clone()),
            Some(10..10)
        );
        assert_eq!(
            doc.get("a", "l").map(|e| e.value_span.clone()),
            Some(13..13)
        );
    }
}
