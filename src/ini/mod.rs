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
//! Hand-written because no crate reads these files losslessly: rust-ini and configparser ports
//! drop comments when they write (zonyitoo/rust-ini#77), and none keeps the byte spans a splice
//! needs.
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
//! - Input is text: a file that is not UTF-8 (where Python raises `UnicodeDecodeError`) must be
//!   refused by whoever reads it.

use std::fmt;
use std::ops::Range;

pub use compact_str::CompactString;
use indexmap::IndexMap;

use crate::key::AccessKeyId;

mod edit;
mod parse;
mod py;
pub use edit::{Applied, EditError, KeyEdit, SettingEdit};

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
    /// Profile name -> index of the section botocore uses for it (the later one), in the file
    /// order of the name's first section.
    profiles: IndexMap<CompactString, usize, foldhash::fast::RandomState>,
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
    /// Where the line after the header starts (a byte offset in the text).
    pub(crate) header_end: usize,
    /// What the header names.
    pub kind: SectionKind,
    /// Its own entries, in file order (`= value` lines with no key are not kept).
    entries: Vec<RawEntry>,
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

/// The settings that classifying and resolving a profile read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// `aws_access_key_id`.
    AccessKeyId,
    /// `aws_secret_access_key`.
    SecretAccessKey,
    /// `aws_session_token`.
    SessionToken,
    /// `aws_security_token` (the older name of the session token).
    SecurityToken,
    /// `web_identity_token_file`.
    WebIdentityTokenFile,
    /// `role_arn`.
    RoleArn,
    /// `source_profile`.
    SourceProfile,
    /// `credential_source`.
    CredentialSource,
    /// `sso_session`.
    SsoSession,
    /// `sso_start_url`.
    SsoStartUrl,
    /// `sso_account_id`.
    SsoAccountId,
    /// `login_session`.
    LoginSession,
    /// `credential_process`.
    CredentialProcess,
    /// `mfa_serial`.
    MfaSerial,
}

impl Setting {
    /// The key as the files spell it (lowercase, as stored).
    pub fn key(self) -> &'static str {
        match self {
            Self::AccessKeyId => "aws_access_key_id",
            Self::SecretAccessKey => "aws_secret_access_key",
            Self::SessionToken => "aws_session_token",
            Self::SecurityToken => "aws_security_token",
            Self::WebIdentityTokenFile => "web_identity_token_file",
            Self::RoleArn => "role_arn",
            Self::SourceProfile => "source_profile",
            Self::CredentialSource => "credential_source",
            Self::SsoSession => "sso_session",
            Self::SsoStartUrl => "sso_start_url",
            Self::SsoAccountId => "sso_account_id",
            Self::LoginSession => "login_session",
            Self::CredentialProcess => "credential_process",
            Self::MfaSerial => "mfa_serial",
        }
    }
}

/// An entry as a [`Document`] stores it: its value as a span of the text, or as a string of its
/// own once continuation lines follow.
#[derive(Clone)]
pub(crate) struct RawEntry {
    /// Lowercased, as configparser stores it.
    key: CompactString,
    /// The value's span on the key's line.
    span: Range<usize>,
    /// 1-based line of the key.
    line: usize,
    /// The whole value (lines joined with `\n`) once a continuation line follows.
    joined: Option<String>,
    /// Its nested pairs, if the value is a well-formed nested block.
    nested: Option<Vec<(String, String)>>,
}

impl RawEntry {
    /// 1-based line of the key.
    pub(crate) fn line(&self) -> usize {
        self.line
    }

    /// Whether continuation lines follow.
    pub(crate) fn multiline(&self) -> bool {
        self.joined.is_some()
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

impl fmt::Debug for RawEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawEntry")
            .field("key", &self.key)
            .field("line", &self.line)
            .field("span", &self.span)
            .finish_non_exhaustive()
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
    /// Parses a file's text as botocore would read it. The document keeps the text (given, or
    /// copied from a `&str`).
    ///
    /// # Errors
    ///
    /// A [`ParseError`] where botocore would raise one (see the module docs), with the 1-based
    /// line of the first offending line.
    pub fn parse(kind: FileKind, text: impl Into<String>) -> Result<Document, ParseError> {
        parse::parse(kind, text.into(), true)
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
        self.profiles.keys().map(CompactString::as_str).collect()
    }

    /// Each profile this file defines, in the file order of its first section, with the
    /// section botocore uses for it (as [`Document::profile_section`] finds it).
    pub fn profiles(&self) -> impl Iterator<Item = (&str, &Section)> {
        self.profiles
            .iter()
            .filter_map(|(name, &i)| Some((name.as_str(), self.sections.get(i)?)))
    }

    /// The section botocore uses for profile `name` (the later one where two map to the name).
    pub fn profile_section(&self, name: &str) -> Option<&Section> {
        self.sections.get(*self.profiles.get(name)?)
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

    /// A section's own entries, in file order. `section` must come from this document.
    pub fn entries<'a>(
        &'a self,
        section: &'a Section,
    ) -> impl DoubleEndedIterator<Item = Entry<'a>> + ExactSizeIterator {
        section.entries.iter().map(|e| self.view(e))
    }

    /// A section's own entry for `key` (lowercase, as stored), ignoring `[DEFAULT]`. `section`
    /// must come from this document.
    pub fn entry<'a>(&'a self, section: &'a Section, key: &str) -> Option<Entry<'a>> {
        self.raw_entry(section, key).map(|e| self.view(e))
    }

    /// A profile's setting: its own entry, else `[DEFAULT]`'s, as configparser does.
    pub fn get(&self, profile: &str, key: &str) -> Option<Entry<'_>> {
        self.lookup(self.profile_section(profile)?, key)
    }

    /// A section's setting as configparser reads it: its own entry, else `[DEFAULT]`'s. `key` is
    /// lowercased first, as configparser's `get` does. `section` must come from this document.
    pub fn lookup<'a>(&'a self, section: &'a Section, key: &str) -> Option<Entry<'a>> {
        self.raw_lookup(section, &py::lower(key))
            .map(|e| self.view(e))
    }

    /// Every setting a section reads, as configparser's `options()` lists them: its own entries in
    /// file order, then the `[DEFAULT]` ones it does not override. `section` must come from this
    /// document.
    pub fn settings<'a>(&'a self, section: &'a Section) -> Vec<Entry<'a>> {
        let own = &section.entries;
        let mut all: Vec<Entry<'a>> = own.iter().map(|e| self.view(e)).collect();
        if section.kind != SectionKind::Defaults {
            for d in self.defaults() {
                all.extend(
                    d.entries
                        .iter()
                        .filter(|e| !own.iter().any(|o| o.key == e.key))
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
            .filter(|s| self.held_key(s) == Some(id.as_str()))
            .collect()
    }

    /// The key id a section holds as a key edit sees it (see [`Document::key_holders`]).
    pub(crate) fn held_key<'a>(&'a self, section: &'a Section) -> Option<&'a str> {
        let e = self.raw_entry(section, Setting::AccessKeyId.key())?;
        (!self.has_session_token(section)).then(|| self.raw_value(e))
    }

    /// Whether a section reads an `aws_session_token` or `aws_security_token` (see
    /// [`Document::key_holders`]).
    pub(crate) fn has_session_token(&self, section: &Section) -> bool {
        [Setting::SessionToken, Setting::SecurityToken]
            .iter()
            .any(|s| self.raw_lookup(section, s.key()).is_some())
    }

    pub(crate) fn defaults(&self) -> impl Iterator<Item = &Section> {
        self.defaults.iter().filter_map(|&i| self.sections.get(i))
    }

    /// Whether `e` is one of `section`'s own entries (not a `[DEFAULT]`'s).
    pub(crate) fn owns(section: &Section, e: &RawEntry) -> bool {
        section.entries.iter().any(|own| std::ptr::eq(own, e))
    }

    /// A section's own stored entry for `key` (as stored: lowercase).
    pub(crate) fn raw_entry<'a>(&self, section: &'a Section, key: &str) -> Option<&'a RawEntry> {
        section.entries.iter().find(|e| e.key == key)
    }

    /// [`Document::lookup`] for a key already lowercase, on the stored entries.
    pub(crate) fn raw_lookup<'a>(
        &'a self,
        section: &'a Section,
        key: &str,
    ) -> Option<&'a RawEntry> {
        self.raw_entry(section, key)
            .or_else(|| self.defaults().find_map(|d| self.raw_entry(d, key)))
    }

    /// A stored entry's value. `e` must come from this document.
    pub(crate) fn raw_value<'a>(&'a self, e: &'a RawEntry) -> &'a str {
        match &e.joined {
            Some(joined) => joined,
            None => self.text.get(e.span.clone()).unwrap_or_default(),
        }
    }

    /// A stored entry as the public [`Entry`]. `e` must come from this document.
    pub(crate) fn view<'a>(&'a self, e: &'a RawEntry) -> Entry<'a> {
        Entry {
            key: &e.key,
            value: self.raw_value(e),
            line: e.line,
            value_span: e.span.clone(),
            multiline: e.multiline(),
            nested: e.nested.as_deref(),
        }
    }
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
    fn parse_keeps_the_text_given_or_borrowed() {
        let text = "[a]\nAWS_Access_Key_ID = AKIA1\nk = one\n  two\n";
        let owned = Document::parse(FileKind::Credentials, text.to_owned()).expect("parses");
        let borrowed = creds(text);
        for doc in [&owned, &borrowed] {
            assert_eq!(doc.text(), text);
            assert_eq!(value(doc, "a", "aws_access_key_id"), Some("AKIA1"));
            assert_eq!(value(doc, "a", "k"), Some("one\ntwo"));
        }
        assert_eq!(
            Document::parse(FileKind::Credentials, "k = v\n").map(|_| ()),
            Err(ParseError {
                line: 1,
                kind: ParseErrorKind::OutsideSection
            })
        );
    }

    #[test]
    fn settings_are_read_by_their_lowercase_key() {
        let doc = creds("[a]\nRole_ARN = r\nMFA_Serial = m\n");
        let a = doc.profile_section("a").expect("a profile");
        for (setting, want) in [(Setting::RoleArn, "r"), (Setting::MfaSerial, "m")] {
            let e = doc.raw_lookup(a, setting.key()).expect("set");
            assert_eq!(doc.raw_value(e), want);
        }
        assert!(doc.raw_lookup(a, Setting::SourceProfile.key()).is_none());
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
        assert!(Document::parse(FileKind::Config, format!("{bad}[a]\ns3 = x\n")).is_ok());
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
