//! The reader behind [`Document::parse`]: Python 3.11's `RawConfigParser._read` with botocore's
//! settings, then botocore's `raw_config_parse` (nested blocks) and `build_profile_map` (what a
//! header names), followed step by step.
//!
//! It walks the text once, keeping byte spans into it; the only allocations are the owned header,
//! key and value strings a [`Section`] or [`Entry`] holds, and the lookup indexes. It does no I/O
//! and must not panic on any `&str`: every index it takes comes from a search in the same text.

use std::collections::{HashMap, HashSet};

use super::py;
use super::{Document, Entry, FileKind, ParseError, ParseErrorKind, Section, SectionKind};

/// configparser's `default_section`.
const DEFAULTSECT: &str = "DEFAULT";

/// Above this many entries, duplicate keys of a section are found through a hash set.
const SMALL_SECTION: usize = 16;

/// Reads `text` as botocore does. See the module docs of [`super`] for the rules.
pub(super) fn parse(kind: FileKind, text: &str) -> Result<Document, ParseError> {
    let mut reader = Reader::new(kind, text);
    let bytes = text.as_bytes();
    // The BOM is skipped, not stripped: spans keep pointing into the original text.
    let mut pos = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let mut lineno = 0;
    while pos < bytes.len() {
        // Universal newlines, as Python's text files: `\n`, `\r\n` or a lone `\r` ends a line.
        let end = bytes[pos..]
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
            .map_or(bytes.len(), |i| pos + i);
        let next = match bytes.get(end) {
            Some(b'\r') if bytes.get(end + 1) == Some(&b'\n') => end + 2,
            Some(_) => end + 1,
            None => end,
        };
        lineno += 1;
        reader.line(lineno, pos, end)?;
        pos = next;
    }
    reader.finish()
}

/// The state of configparser's `_read` loop, plus what botocore derives afterwards.
struct Reader<'t> {
    kind: FileKind,
    text: &'t str,
    sections: Vec<Section>,
    /// configparser's `cursect`: the section lines now go to.
    cur: Option<usize>,
    /// configparser's `optname` when it is truthy: the entry continuation lines now go to.
    opt: Option<usize>,
    /// configparser's `indent_level`, in characters.
    indent_level: usize,
    /// Blank lines seen since the current entry's last line: they join its value only if a
    /// continuation line follows (configparser appends them, then `rstrip()`s the joined value).
    pending_blanks: usize,
    /// The current entry's first piece was empty, so its value is a nested block if it continues.
    opt_may_nest: bool,
    /// The headers seen (never `DEFAULT`): strict mode refuses a second one.
    headers: HashSet<&'t str>,
    /// Keys of the `[DEFAULT]` sections, which count as one for duplicates.
    default_keys: HashSet<String>,
    /// Keys of the current section once it outgrows [`SMALL_SECTION`].
    big_section_keys: HashSet<String>,
    /// The current (non-`DEFAULT`) section had a line with an empty key (`= value`).
    cur_has_empty_key: bool,
    /// The first non-fatal error: configparser collects them and raises at the end.
    deferred: Option<ParseError>,
    /// For nested blocks with a line that has no `=`: (section, entry) -> that line.
    bad_nested: HashMap<(usize, usize), usize>,
}

impl<'t> Reader<'t> {
    fn new(kind: FileKind, text: &'t str) -> Self {
        Self {
            kind,
            text,
            sections: Vec::new(),
            cur: None,
            opt: None,
            indent_level: 0,
            pending_blanks: 0,
            opt_may_nest: false,
            headers: HashSet::new(),
            default_keys: HashSet::new(),
            big_section_keys: HashSet::new(),
            cur_has_empty_key: false,
            deferred: None,
            bad_nested: HashMap::new(),
        }
    }

    /// One physical line: `text[start..end]`, its terminator excluded.
    fn line(&mut self, lineno: usize, start: usize, end: usize) -> Result<(), ParseError> {
        let text = self.text;
        let raw = &text[start..end];
        let value = py::strip(raw);
        // Full-line comments only (`line.strip().startswith(prefix)`), so indented ones too.
        let comment = value.starts_with('#') || value.starts_with(';');
        if value.is_empty() || comment {
            // empty_lines_in_values=True: a blank line (not a comment) joins the current value.
            if !comment && self.opt.is_some() {
                self.pending_blanks += 1;
            }
            return Ok(());
        }
        let lead = raw.len() - py::lstrip(raw).len();
        let indent = raw[..lead].chars().count();
        if let (Some(section), Some(entry)) = (self.cur, self.opt) {
            if indent > self.indent_level {
                self.continuation(lineno, section, entry, value);
                return Ok(());
            }
        }
        self.indent_level = indent;
        if let Some(header) = section_header(value) {
            return self.header(lineno, header);
        }
        let Some(section) = self.cur else {
            return Err(ParseError {
                line: lineno,
                kind: ParseErrorKind::OutsideSection,
            });
        };
        // OPTCRE: the key runs (non-greedily) to the first '=' or ':'.
        let Some(delim) = value.find(['=', ':']) else {
            self.defer(lineno, ParseErrorKind::Garbage);
            return Ok(());
        };
        if delim == 0 {
            self.defer(lineno, ParseErrorKind::EmptyKey);
        }
        let key = py::lower(py::rstrip(&value[..delim]));
        if self.has_key(section, &key) {
            return Err(ParseError {
                line: lineno,
                kind: ParseErrorKind::DuplicateKey {
                    section: self.sections[section].header.clone(),
                    key,
                },
            });
        }
        // The value's span: past the delimiter and the whitespace after it (to the end of the
        // line for an empty value), then the stripped value.
        let after_delim = start + lead + delim + 1;
        let after = &text[after_delim..end];
        let stripped = py::strip(after);
        let span_start = after_delim + (after.len() - py::lstrip(after).len());
        let span = span_start..span_start + stripped.len();
        self.pending_blanks = 0;
        if key.is_empty() {
            // configparser's `optname` is '' now: falsy, so nothing continues it.
            self.opt = None;
            self.remember_key(section, key);
            return Ok(());
        }
        self.remember_key(section, key.clone());
        let entries = &mut self.sections[section].entries;
        self.opt = Some(entries.len());
        self.opt_may_nest = stripped.is_empty();
        entries.push(Entry {
            key,
            value: stripped.to_owned(),
            line: lineno,
            value_span: span,
            multiline: false,
            nested: None,
        });
        Ok(())
    }

    /// A line indented deeper than the key line: one more line of the current value.
    fn continuation(&mut self, lineno: usize, section: usize, entry: usize, piece: &str) {
        let Some(e) = self
            .sections
            .get_mut(section)
            .and_then(|s| s.entries.get_mut(entry))
        else {
            return;
        };
        for _ in 0..=self.pending_blanks {
            e.value.push('\n');
        }
        e.value.push_str(piece);
        e.multiline = true;
        self.pending_blanks = 0;
        if self.opt_may_nest && !nested_piece_ok(piece) {
            self.bad_nested.entry((section, entry)).or_insert(lineno);
        }
    }

    /// A `[header]` line.
    fn header(&mut self, lineno: usize, header: &'t str) -> Result<(), ParseError> {
        self.opt = None;
        self.pending_blanks = 0;
        self.cur_has_empty_key = false;
        self.big_section_keys.clear();
        let kind = if self.headers.contains(header) {
            return Err(ParseError {
                line: lineno,
                kind: ParseErrorKind::DuplicateSection(header.to_owned()),
            });
        } else if header == DEFAULTSECT {
            SectionKind::Defaults
        } else {
            self.headers.insert(header);
            section_kind(self.kind, header)
        };
        self.cur = Some(self.sections.len());
        self.sections.push(Section {
            header: header.to_owned(),
            line: lineno,
            kind,
            entries: Vec::new(),
        });
        Ok(())
    }

    fn defer(&mut self, line: usize, kind: ParseErrorKind) {
        self.deferred.get_or_insert(ParseError { line, kind });
    }

    fn is_defaults(&self, section: usize) -> bool {
        self.sections[section].kind == SectionKind::Defaults
    }

    /// Whether the current section (all of `[DEFAULT]`, for a `[DEFAULT]`) has `key` already.
    fn has_key(&self, section: usize, key: &str) -> bool {
        if self.is_defaults(section) {
            return self.default_keys.contains(key);
        }
        if key.is_empty() {
            return self.cur_has_empty_key;
        }
        let entries = &self.sections[section].entries;
        if entries.len() <= SMALL_SECTION {
            entries.iter().any(|e| e.key == key)
        } else {
            self.big_section_keys.contains(key)
        }
    }

    fn remember_key(&mut self, section: usize, key: String) {
        if self.is_defaults(section) {
            self.default_keys.insert(key);
            return;
        }
        if key.is_empty() {
            self.cur_has_empty_key = true;
            return;
        }
        let entries = &self.sections[section].entries;
        if entries.len() == SMALL_SECTION {
            self.big_section_keys
                .extend(entries.iter().map(|e| e.key.clone()));
        }
        if entries.len() >= SMALL_SECTION {
            self.big_section_keys.insert(key);
        }
    }

    /// The end of `_read` (deferred errors), then `raw_config_parse`'s nested blocks, then the
    /// lookup indexes.
    fn finish(mut self) -> Result<Document, ParseError> {
        if let Some(err) = self.deferred.take() {
            return Err(err);
        }
        self.nested()?;
        let mut profiles: HashMap<String, usize> = HashMap::new();
        let mut profile_order = Vec::new();
        let mut defaults = Vec::new();
        for (i, section) in self.sections.iter().enumerate() {
            match &section.kind {
                // A later section that maps to the same name wins (a dict update), but the name
                // keeps its first place.
                SectionKind::Profile(name) if profiles.insert(name.clone(), i).is_none() => {
                    profile_order.push(i);
                }
                SectionKind::Defaults => defaults.push(i),
                _ => {}
            }
        }
        Ok(Document {
            kind: self.kind,
            text: self.text.to_owned(),
            sections: self.sections,
            profiles,
            profile_order,
            defaults,
        })
    }

    /// botocore's `raw_config_parse`: every value it reads that starts with `\n` is a nested
    /// block. It reads each section's own options, then the `[DEFAULT]` ones the section does not
    /// override, and stops at the first block with a line that has no `=`.
    fn nested(&mut self) -> Result<(), ParseError> {
        // Nested blocks of [DEFAULT] are only read through a section that inherits them.
        let mut bad_defaults: Vec<(&str, usize)> = Vec::new();
        for (i, s) in self.sections.iter().enumerate() {
            if s.kind == SectionKind::Defaults {
                for (j, e) in s.entries.iter().enumerate() {
                    if let Some(&line) = self.bad_nested.get(&(i, j)) {
                        bad_defaults.push((&e.key, line));
                    }
                }
            }
        }
        for (i, s) in self.sections.iter().enumerate() {
            if s.kind == SectionKind::Defaults {
                continue;
            }
            for j in 0..s.entries.len() {
                if let Some(&line) = self.bad_nested.get(&(i, j)) {
                    return Err(bad_nested(line));
                }
            }
            for &(key, line) in &bad_defaults {
                if !s.entries.iter().any(|e| e.key == key) {
                    return Err(bad_nested(line));
                }
            }
        }
        for (i, s) in self.sections.iter_mut().enumerate() {
            for (j, e) in s.entries.iter_mut().enumerate() {
                if e.value.starts_with('\n') && !self.bad_nested.contains_key(&(i, j)) {
                    e.nested = Some(parse_nested(&e.value));
                }
            }
        }
        Ok(())
    }
}

fn bad_nested(line: usize) -> ParseError {
    ParseError {
        line,
        kind: ParseErrorKind::BadNested,
    }
}

/// SECTCRE `\[(?P<header>.+)\]` applied with `.match()` to the stripped line: a `[`, then the
/// longest run up to a later `]` (anything may follow it), at least one character long.
fn section_header(value: &str) -> Option<&str> {
    let rest = value.strip_prefix('[')?;
    let close = rest.rfind(']')?;
    (close > 0).then(|| &rest[..close])
}

/// What botocore makes of a (non-`DEFAULT`) header.
fn section_kind(kind: FileKind, header: &str) -> SectionKind {
    match kind {
        // The credentials file is read by `raw_config_parse` alone: a section is a profile.
        FileKind::Credentials => SectionKind::Profile(header.to_owned()),
        // `build_profile_map`: prefixes are tested with `startswith`, and the name is the second
        // of exactly two shlex words (the first word is never checked).
        FileKind::Config => {
            let name = || match py::shlex_split(header) {
                Ok(mut words) if words.len() == 2 => words.pop(),
                _ => None,
            };
            if header.starts_with("profile") {
                name().map_or(SectionKind::Other, SectionKind::Profile)
            } else if header.starts_with("sso-session") {
                name().map_or(SectionKind::Other, SectionKind::SsoSession)
            } else if header.starts_with("services") {
                name().map_or(SectionKind::Other, SectionKind::Services)
            } else if header == "default" {
                SectionKind::Profile(header.to_owned())
            } else {
                SectionKind::Other
            }
        }
    }
}

/// The sub-lines of one continuation line as `str.splitlines()` cuts them.
fn nested_lines(piece: &str) -> impl Iterator<Item = &str> {
    piece
        .split(py::is_inner_line_break)
        .map(py::strip)
        .filter(|l| !l.is_empty())
}

/// Whether every sub-line of a continuation line of a nested block has an `=`.
fn nested_piece_ok(piece: &str) -> bool {
    nested_lines(piece).all(|l| l.contains('='))
}

/// botocore's `_parse_nested` on a value known to be well formed: `key = value` pairs, both sides
/// stripped (the key is not lowercased); a repeated key keeps its place and takes the later value.
fn parse_nested(value: &str) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for line in value.split('\n').flat_map(nested_lines) {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let (k, v) = (py::strip(k), py::strip(v));
        match index.get(k) {
            Some(&i) => v.clone_into(&mut pairs[i].1),
            None => {
                index.insert(k, pairs.len());
                pairs.push((k.to_owned(), v.to_owned()));
            }
        }
    }
    pairs
}
