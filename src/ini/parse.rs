//! The reader behind [`Document::parse`]: Python 3.11's `RawConfigParser._read` with botocore's
//! settings, then botocore's `raw_config_parse` (nested blocks) and `build_profile_map` (what a
//! header names), followed step by step. It walks the text once, keeping byte spans into it. It
//! does no I/O and must not panic on any text.

use std::collections::{HashMap, HashSet};

use indexmap::IndexMap;

use super::{CompactString, py};
use super::{Document, FileKind, ParseError, ParseErrorKind, RawEntry, Section, SectionKind};

/// configparser's `default_section`.
const DEFAULTSECT: &str = "DEFAULT";

type Set<T> = HashSet<T, foldhash::fast::RandomState>;

/// Reads `text` as botocore does (see the module docs of [`super`] for the rules); without
/// `botocore`, as configparser alone does (no nested blocks: the `aws` CLI's alias file).
pub(super) fn parse(kind: FileKind, text: String, botocore: bool) -> Result<Document, ParseError> {
    let mut reader = Reader::new(kind, &text);
    reader.botocore = botocore;
    let bytes = text.as_bytes();
    // The BOM is skipped, not stripped: spans keep pointing into the original text.
    let mut pos = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let mut lineno = 0;
    while pos < bytes.len() {
        // Universal newlines, as Python's text files: `\n`, `\r\n` or a lone `\r` ends a line.
        let end = memchr::memchr2(b'\n', b'\r', &bytes[pos..]).map_or(bytes.len(), |i| pos + i);
        let next = match bytes.get(end) {
            Some(b'\r') if bytes.get(end + 1) == Some(&b'\n') => end + 2,
            Some(_) => end + 1,
            None => end,
        };
        lineno += 1;
        reader.line(lineno, pos, end, next)?;
        pos = next;
    }
    let (sections, profiles, defaults) = reader.finish()?;
    Ok(Document {
        kind,
        text,
        sections,
        profiles,
        defaults,
    })
}

/// The state of configparser's `_read` loop, plus what botocore derives afterwards.
struct Reader<'t> {
    kind: FileKind,
    text: &'t str,
    sections: Vec<Section>,
    /// configparser's `cursect`: the section lines now go to.
    cur: Option<usize>,
    /// configparser's `optname` when it is truthy: the entry (of the current section)
    /// continuation lines now go to.
    opt: Option<usize>,
    /// configparser's `indent_level`, in characters.
    indent_level: usize,
    /// Blank lines seen since the current entry's last line: they join its value only if a
    /// continuation line follows (configparser appends them, then `rstrip()`s the joined value).
    pending_blanks: usize,
    /// The current entry's first piece was empty, so its value is a nested block if it continues.
    opt_may_nest: bool,
    /// Every header seen but `DEFAULT`: strict mode refuses a second one.
    headers: Set<CompactString>,
    /// Profile name -> the section botocore uses for it, in the order first named.
    profiles: IndexMap<CompactString, usize, foldhash::fast::RandomState>,
    /// The `[DEFAULT]` sections.
    defaults: Vec<usize>,
    /// Keys of the `[DEFAULT]` sections, which count as one for duplicates.
    default_keys: Set<CompactString>,
    /// Keys of the current section (`[DEFAULT]` uses `default_keys`).
    section_keys: Set<CompactString>,
    /// The first non-fatal error: configparser collects them and raises at the end.
    deferred: Option<ParseError>,
    /// Read nested blocks as botocore does.
    botocore: bool,
    /// For nested blocks with a line that has no `=`: (section, entry) -> that line.
    bad_nested: HashMap<(usize, usize), usize, foldhash::fast::RandomState>,
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
            headers: Set::default(),
            profiles: IndexMap::default(),
            defaults: Vec::new(),
            default_keys: Set::default(),
            section_keys: Set::default(),
            deferred: None,
            botocore: true,
            bad_nested: HashMap::default(),
        }
    }

    /// One physical line: `text[start..end]`, its terminator excluded; the next starts at `next`.
    fn line(
        &mut self,
        lineno: usize,
        start: usize,
        end: usize,
        next: usize,
    ) -> Result<(), ParseError> {
        let raw = &self.text[start..end];
        let unindented = py::lstrip(raw);
        let value = py::rstrip(unindented);
        // Full-line comments only (`line.strip().startswith(prefix)`), so indented ones too.
        let comment = value.starts_with('#') || value.starts_with(';');
        if value.is_empty() || comment {
            // empty_lines_in_values=True: a blank line (not a comment) joins the current value.
            if !comment && self.opt.is_some() {
                self.pending_blanks += 1;
            }
            return Ok(());
        }
        let lead = raw.len() - unindented.len();
        let indent = raw[..lead].chars().count();
        if let (Some(section), Some(entry)) = (self.cur, self.opt)
            && indent > self.indent_level
        {
            self.continuation(lineno, section, entry, value);
            return Ok(());
        }
        self.indent_level = indent;
        if let Some(header) = section_header(value) {
            return self.header(lineno, header, next);
        }
        let Some(section) = self.cur else {
            return Err(ParseError {
                line: lineno,
                kind: ParseErrorKind::OutsideSection,
            });
        };
        // OPTCRE: the key runs (non-greedily) to the first '=' or ':' (ASCII, so a byte search
        // finds them at character boundaries).
        let Some(delim) = value.bytes().position(|b| b == b'=' || b == b':') else {
            self.defer(lineno, ParseErrorKind::Garbage);
            return Ok(());
        };
        if delim == 0 {
            self.defer(lineno, ParseErrorKind::EmptyKey);
        }
        let key = CompactString::from(py::lower(py::rstrip(&value[..delim])));
        // The value's span: past the delimiter and the whitespace after it (to the end of the
        // line for an empty value), then the stripped value. `value` is the stripped line, so
        // what follows its delimiter needs only its left side stripped.
        let after = &value[delim + 1..];
        let stripped = py::lstrip(after);
        let span_start = if stripped.is_empty() {
            end
        } else {
            start + lead + delim + 1 + (after.len() - stripped.len())
        };
        self.key_line(
            lineno,
            section,
            key,
            span_start..span_start + stripped.len(),
        )
    }

    /// A `key = value` line of `section`: the key lowercased, and the value's span.
    fn key_line(
        &mut self,
        lineno: usize,
        section: usize,
        key: CompactString,
        span: std::ops::Range<usize>,
    ) -> Result<(), ParseError> {
        let seen = if self.sections[section].kind == SectionKind::Defaults {
            &mut self.default_keys
        } else {
            &mut self.section_keys
        };
        if !seen.insert(key.clone()) {
            return Err(ParseError {
                line: lineno,
                kind: ParseErrorKind::DuplicateKey {
                    section: self.sections[section].header.to_string(),
                    key: key.into_string(),
                },
            });
        }
        self.pending_blanks = 0;
        if key.is_empty() {
            // configparser's `optname` is '' now: falsy, so nothing continues it.
            self.opt = None;
            return Ok(());
        }
        let entries = &mut self.sections[section].entries;
        self.opt = Some(entries.len());
        self.opt_may_nest = span.is_empty();
        entries.push(RawEntry {
            key,
            span,
            line: lineno,
            joined: None,
            nested: None,
        });
        Ok(())
    }

    /// A line indented deeper than the key line: one more line of the current value.
    fn continuation(&mut self, lineno: usize, section: usize, entry: usize, piece: &str) {
        let text = self.text;
        let Some(e) = self.sections[section].entries.get_mut(entry) else {
            return;
        };
        let joined = e
            .joined
            .get_or_insert_with(|| text.get(e.span.clone()).unwrap_or_default().to_owned());
        for _ in 0..=self.pending_blanks {
            joined.push('\n');
        }
        joined.push_str(piece);
        self.pending_blanks = 0;
        if self.opt_may_nest && !nested_piece_ok(piece) {
            self.bad_nested.entry((section, entry)).or_insert(lineno);
        }
    }

    /// A `[header]` line.
    fn header(&mut self, lineno: usize, header: &str, next: usize) -> Result<(), ParseError> {
        self.opt = None;
        self.pending_blanks = 0;
        self.section_keys.clear();
        let index = self.sections.len();
        let kind = if header == DEFAULTSECT {
            self.defaults.push(index);
            SectionKind::Defaults
        } else {
            if !self.headers.insert(CompactString::new(header)) {
                return Err(ParseError {
                    line: lineno,
                    kind: ParseErrorKind::DuplicateSection(header.to_owned()),
                });
            }
            section_kind(self.kind, header)
        };
        if let SectionKind::Profile(name) = &kind {
            // A later section that names the same profile replaces it, in the first one's place.
            self.profiles.insert(name.clone(), index);
        }
        self.cur = Some(index);
        self.sections.push(Section {
            header: CompactString::new(header),
            line: lineno,
            header_end: next,
            kind,
            entries: Vec::new(),
        });
        Ok(())
    }

    fn defer(&mut self, line: usize, kind: ParseErrorKind) {
        self.deferred.get_or_insert(ParseError { line, kind });
    }

    /// The end of `_read` (deferred errors), then `raw_config_parse`'s nested blocks.
    #[allow(clippy::type_complexity)]
    fn finish(
        mut self,
    ) -> Result<
        (
            Vec<Section>,
            IndexMap<CompactString, usize, foldhash::fast::RandomState>,
            Vec<usize>,
        ),
        ParseError,
    > {
        if let Some(err) = self.deferred.take() {
            return Err(err);
        }
        if !self.botocore {
            return Ok((self.sections, self.profiles, self.defaults));
        }
        self.first_bad_nested()?;
        for (s, section) in self.sections.iter_mut().enumerate() {
            for (i, e) in section.entries.iter_mut().enumerate() {
                // A value that starts with a line break: its first piece was empty.
                let nested_block =
                    e.span.is_empty() && e.joined.as_deref().is_some_and(|v| v.starts_with('\n'));
                if nested_block && !self.bad_nested.contains_key(&(s, i)) {
                    e.nested = e.joined.as_deref().map(parse_nested);
                }
            }
        }
        Ok((self.sections, self.profiles, self.defaults))
    }

    /// botocore's `raw_config_parse` reads each section's own options, then the `[DEFAULT]` ones
    /// the section does not override, and stops at the first nested block with a line that has
    /// no `=`: that block's error, if any section reads one.
    fn first_bad_nested(&self) -> Result<(), ParseError> {
        if self.bad_nested.is_empty() {
            return Ok(());
        }
        // Nested blocks of [DEFAULT] are only read through a section that inherits them.
        let mut bad_defaults: Vec<(&str, usize)> = Vec::new();
        for &d in &self.defaults {
            for (i, e) in self.sections[d].entries.iter().enumerate() {
                if let Some(&line) = self.bad_nested.get(&(d, i)) {
                    bad_defaults.push((&e.key, line));
                }
            }
        }
        for (s, section) in self.sections.iter().enumerate() {
            if section.kind == SectionKind::Defaults {
                continue;
            }
            for i in 0..section.entries.len() {
                if let Some(&line) = self.bad_nested.get(&(s, i)) {
                    return Err(bad_nested(line));
                }
            }
            for &(key, line) in &bad_defaults {
                if !section.entries.iter().any(|e| e.key == key) {
                    return Err(bad_nested(line));
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
        FileKind::Credentials => SectionKind::Profile(CompactString::new(header)),
        // `build_profile_map`: prefixes are tested with `startswith`, and the name is the second
        // of exactly two shlex words (the first word is never checked).
        FileKind::Config => {
            let name = || py::shlex_second_of_two(header);
            if header.starts_with("profile") {
                name().map_or(SectionKind::Other, SectionKind::Profile)
            } else if header.starts_with("sso-session") {
                name().map_or(SectionKind::Other, SectionKind::SsoSession)
            } else if header.starts_with("services") {
                name().map_or(SectionKind::Other, SectionKind::Services)
            } else if header == "default" {
                SectionKind::Profile(CompactString::new(header))
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
    let mut pairs: IndexMap<&str, &str> = IndexMap::new();
    for line in value.split('\n').flat_map(nested_lines) {
        if let Some((k, v)) = line.split_once('=') {
            pairs.insert(py::strip(k), py::strip(v));
        }
    }
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}
