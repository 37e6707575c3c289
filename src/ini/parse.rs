//! The reader behind [`Document::parse`]: Python 3.11's `RawConfigParser._read` with botocore's
//! settings, then botocore's `raw_config_parse` (nested blocks) and `build_profile_map` (what a
//! header names), followed step by step.
//!
//! It walks the text once, keeping byte spans into it; the only allocations are the header
//! strings too long to be stored inline, the keys that lowercasing changes and the values that
//! continue on later lines (both in a side list), one vector of sections and one of entries
//! (sized from a count of `[` and `=`), and two index tables of plain integers. The common line
//! (blank, a comment, or `key = value` in plain ASCII) is read in one pass; any other line goes
//! through the general rules. For a large file the pages it touches cost as much as the
//! instructions (3.5 to 5 µs a page touched on this machine), hence the small entries and the
//! exact sizes. It does no I/O and must not panic on any `&str`: every index it takes comes
//! from a search in the same text.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Range;

use super::{CompactString, py};
use super::{
    Document, Extras, FileKind, ParseError, ParseErrorKind, RawEntry, Section, SectionKind,
};

/// configparser's `default_section`.
const DEFAULTSECT: &str = "DEFAULT";

/// Above this many entries, duplicate keys of a section are found through a hash set.
const SMALL_SECTION: usize = 16;

/// The hasher of the core's maps: SipHash (the std default) costs more than the rest of a lookup
/// on short keys such as key ids and profile names, and its defence against crafted collisions
/// buys nothing for a file its own user wrote. Words of 8 bytes at a time, then a final mix.
#[derive(Clone, Copy, Default)]
pub struct FastHasher(u64);

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        mix(self.0)
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0 = fold(self.0, bytes);
    }

    fn write_u8(&mut self, b: u8) {
        self.0 = step(self.0, u64::from(b));
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = step(self.0, n as u64);
    }
}

const WORD_K: u64 = 0x9e37_79b9_7f4a_7c15;

/// One word into a running hash.
fn step(h: u64, word: u64) -> u64 {
    (h.rotate_left(5) ^ word).wrapping_mul(WORD_K)
}

/// `bytes` into a running hash, a word at a time (the last word zero-padded, the length first).
fn fold(mut h: u64, bytes: &[u8]) -> u64 {
    h = step(h, bytes.len() as u64);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        h = step(h, crate::swar::word(chunk));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut word = [0; 8];
        word[..rest.len()].copy_from_slice(rest);
        h = step(h, u64::from_le_bytes(word));
    }
    h
}

/// A product's low bits depend only on its factors' low bits, and names such as `p000123` differ
/// in their last bytes: mix (MurmurHash3's finalizer) before a table masks the low bits.
fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// An open-addressing table of section indexes keyed by a name each section gives (its header,
/// or the profile it names). It holds no strings: it compares names through a function from an
/// index to its name, so filling it allocates nothing per section. Each slot keeps 32 bits of its
/// name's hash too, so a probe reads another section's name only when they agree (on a large
/// file, every such read is a cache miss), and slots are 8 bytes so that the table of a
/// 10,000-profile file stays within a core's cache.
#[derive(Clone, Default)]
pub(crate) struct NameIndex {
    /// A power of two long, at most 3/4 full.
    slots: Vec<Slot>,
    len: usize,
}

#[derive(Clone, Copy)]
struct Slot {
    /// A section index, or [`NameIndex::EMPTY`].
    index: u32,
    /// The high half of the name's hash (the low half chooses the slot).
    tag: u32,
}

impl NameIndex {
    const EMPTY: u32 = u32::MAX;
    const VACANT: Slot = Slot {
        index: Self::EMPTY,
        tag: 0,
    };
    /// The most sections a table can index (a file of at least 12 GB would hold more).
    pub(crate) const MAX: usize = Self::EMPTY as usize - 1;

    /// A table with room for `n` names before it grows.
    pub(crate) fn with_capacity(n: usize) -> Self {
        let mut index = Self::default();
        if n > 0 {
            index.slots = vec![Self::VACANT; (n + n / 3 + 1).next_power_of_two().max(16)];
        }
        index
    }

    /// The name's hash, as [`FastHasher`] computes it.
    fn hash(name: &str) -> u64 {
        mix(fold(0, name.as_bytes()))
    }

    /// The index stored for `name`.
    pub(crate) fn get<'s>(&self, name: &str, name_of: impl Fn(usize) -> &'s str) -> Option<usize> {
        let mask = self.slots.len().checked_sub(1)?;
        let hash = Self::hash(name);
        let tag = (hash >> 32) as u32;
        // Truncation on 32-bit targets is fine for a hash.
        let mut i = hash as usize & mask;
        loop {
            let slot = self.slots[i];
            if slot.index == Self::EMPTY {
                return None;
            }
            if slot.tag == tag && name_of(slot.index as usize) == name {
                return Some(slot.index as usize);
            }
            i = (i + 1) & mask;
        }
    }

    /// Stores `index` (at most [`NameIndex::MAX`]) under `name`, returning the index it replaces.
    pub(crate) fn insert<'s>(
        &mut self,
        name: &str,
        index: usize,
        name_of: impl Fn(usize) -> &'s str,
    ) -> Option<usize> {
        self.store(name, index, name_of, true)
    }

    /// The index stored for `name`, if any; else stores `index` (at most [`NameIndex::MAX`])
    /// under it. One probe, where [`NameIndex::get`] then [`NameIndex::insert`] take two.
    pub(crate) fn get_or_insert<'s>(
        &mut self,
        name: &str,
        index: usize,
        name_of: impl Fn(usize) -> &'s str,
    ) -> Option<usize> {
        self.store(name, index, name_of, false)
    }

    /// [`NameIndex::insert`] (`replace`) or [`NameIndex::get_or_insert`].
    #[inline]
    fn store<'s>(
        &mut self,
        name: &str,
        index: usize,
        name_of: impl Fn(usize) -> &'s str,
        replace: bool,
    ) -> Option<usize> {
        debug_assert!(index <= Self::MAX);
        let index = index.min(Self::MAX) as u32;
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            let grown = vec![Self::VACANT; (self.slots.len() * 2).max(16)];
            let old = std::mem::replace(&mut self.slots, grown);
            for slot in old.into_iter().filter(|s| s.index != Self::EMPTY) {
                let hash = Self::hash(name_of(slot.index as usize));
                let i = self.free_slot(hash);
                self.slots[i] = slot;
            }
        }
        let mask = self.slots.len() - 1;
        let hash = Self::hash(name);
        let tag = (hash >> 32) as u32;
        let mut i = hash as usize & mask;
        loop {
            let slot = self.slots[i];
            if slot.index == Self::EMPTY {
                self.slots[i] = Slot { index, tag };
                self.len += 1;
                return None;
            }
            if slot.tag == tag && name_of(slot.index as usize) == name {
                if replace {
                    self.slots[i].index = index;
                }
                return Some(slot.index as usize);
            }
            i = (i + 1) & mask;
        }
    }

    /// The first empty slot on a hash's probe path (while growing: names are distinct).
    fn free_slot(&self, hash: u64) -> usize {
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        while self.slots[i].index != Self::EMPTY {
            i = (i + 1) & mask;
        }
        i
    }
}

/// A `HashMap` with [`FastHasher`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;
/// A `HashSet` with [`FastHasher`].
type FastSet<K> = HashSet<K, BuildHasherDefault<FastHasher>>;

/// Reads `text` as botocore does. See the module docs of [`super`] for the rules.
pub(super) fn parse(kind: FileKind, text: String) -> Result<Document, ParseError> {
    parse_as(kind, text, true)
}

/// [`parse`], reading the common lines by [`Reader::plain_line`] (`plain`), or every line by
/// the general rules only (for the test that the two agree).
fn parse_as(kind: FileKind, text: String, plain: bool) -> Result<Document, ParseError> {
    // Spans and lines are kept in 32 bits.
    if u32::try_from(text.len()).is_err() {
        return Err(ParseError {
            line: 1,
            kind: ParseErrorKind::TooLarge,
        });
    }
    let mut reader = Reader::new(kind, &text);
    reader.plain = plain;
    let bytes = text.as_bytes();
    // The BOM is skipped, not stripped: spans keep pointing into the original text.
    let mut pos = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let mut lineno = 0;
    while pos < bytes.len() {
        // Universal newlines, as Python's text files: `\n`, `\r\n` or a lone `\r` ends a line.
        let end = line_end(bytes, pos);
        let next = match bytes.get(end) {
            Some(b'\r') if bytes.get(end + 1) == Some(&b'\n') => end + 2,
            Some(_) => end + 1,
            None => end,
        };
        lineno += 1;
        reader.line(lineno, pos, end)?;
        pos = next;
    }
    let doc = reader.finish()?;
    Ok(Document { text, ..doc })
}

/// The index of the first `\n` or `\r` at or after `from`, or the length.
fn line_end(bytes: &[u8], from: usize) -> usize {
    crate::swar::find_either(bytes, from, b'\n', b'\r').unwrap_or(bytes.len())
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
    /// Every section's entries, in file order.
    entries: Vec<RawEntry>,
    /// Their strings that are not spans of the text.
    extras: Extras,
    /// Where the current section's entries start in [`Reader::entries`].
    section_start: usize,
    /// The headers seen (never `DEFAULT`): strict mode refuses a second one. Unused for a
    /// credentials file, where [`Reader::profiles`] does the same.
    headers: NameIndex,
    /// Profile name -> the section botocore uses for it.
    profiles: NameIndex,
    /// The first section of each profile name, in file order.
    profile_order: Vec<usize>,
    /// A profile was named by a second section (which botocore uses instead of the first).
    replaced_profile: bool,
    /// The `[DEFAULT]` sections.
    defaults: Vec<usize>,
    /// Keys of the `[DEFAULT]` sections, which count as one for duplicates.
    default_keys: FastSet<CompactString>,
    /// Keys of the current section once it outgrows [`SMALL_SECTION`].
    big_section_keys: FastSet<CompactString>,
    /// The current (non-`DEFAULT`) section had a line with an empty key (`= value`).
    cur_has_empty_key: bool,
    /// The current section is a `[DEFAULT]`.
    cur_defaults: bool,
    /// The first non-fatal error: configparser collects them and raises at the end.
    deferred: Option<ParseError>,
    /// Read the common lines by [`Reader::plain_line`].
    plain: bool,
    /// For nested blocks with a line that has no `=`: entry -> that line.
    bad_nested: FastMap<usize, usize>,
    /// Every entry whose value is a nested block (it starts with a line break), so that finding
    /// them needs no second pass over every entry of a large file.
    nested_blocks: Vec<usize>,
}

impl<'t> Reader<'t> {
    fn new(kind: FileKind, text: &'t str) -> Self {
        // At most one section per `[`: counting them (a vectorized loop) sizes the tables so
        // that a large file does not rehash and copy its way up. A `[` in a value or comment
        // wastes a slot. Likewise, nearly every entry has a `=`.
        let [guess, entries] = crate::swar::count_either(text.as_bytes(), b'[', b'=');
        Self {
            kind,
            text,
            sections: Vec::with_capacity(guess),
            entries: Vec::with_capacity(entries),
            extras: Extras::default(),
            section_start: 0,
            cur: None,
            opt: None,
            indent_level: 0,
            pending_blanks: 0,
            opt_may_nest: false,
            // Only headers that are no profile's (and profiles named twice) go in here: few.
            headers: NameIndex::default(),
            profiles: NameIndex::with_capacity(guess),
            // Nearly every section is a profile.
            profile_order: Vec::with_capacity(guess),
            replaced_profile: false,
            defaults: Vec::new(),
            default_keys: FastSet::default(),
            big_section_keys: FastSet::default(),
            cur_has_empty_key: false,
            cur_defaults: false,
            deferred: None,
            plain: true,
            bad_nested: FastMap::default(),
            nested_blocks: Vec::new(),
        }
    }

    /// One physical line: `text[start..end]`, its terminator excluded.
    fn line(&mut self, lineno: usize, start: usize, end: usize) -> Result<(), ParseError> {
        if self.plain {
            if let Some(read) = self.plain_line(lineno, start, end) {
                return read;
            }
        }
        let text = self.text;
        let raw = &text[start..end];
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
        if let (Some(_), Some(entry)) = (self.cur, self.opt) {
            if indent > self.indent_level {
                self.continuation(lineno, entry, value);
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
        // (Both are ASCII, so a byte search finds them at character boundaries.)
        let Some(delim) = value.bytes().position(|b| b == b'=' || b == b':') else {
            self.defer(lineno, ParseErrorKind::Garbage);
            return Ok(());
        };
        if delim == 0 {
            self.defer(lineno, ParseErrorKind::EmptyKey);
        }
        let written = py::rstrip(&value[..delim]);
        let key = py::lower(written);
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
        // `value` starts at `start + lead`, and the key at its start.
        let key_at = start + lead..start + lead + written.len();
        self.key_line(
            lineno,
            section,
            key_at,
            key,
            span_start..span_start + stripped.len(),
        )
    }

    /// The common line, read without the general rules' passes: blank, a comment, or `key =
    /// value` in a section with an ASCII key, ASCII whitespace around the key and value, and no
    /// continuation. `None` for any other line (a header, a continuation, anything unusual),
    /// which [`Reader::line`] reads in full; where both apply they agree (a property test checks
    /// them against each other).
    #[inline]
    fn plain_line(
        &mut self,
        lineno: usize,
        start: usize,
        end: usize,
    ) -> Option<Result<(), ParseError>> {
        let text = self.text;
        let bytes = text.as_bytes().get(..end)?;
        let mut i = start;
        while i < end && matches!(bytes[i], b' ' | b'\t') {
            i += 1;
        }
        let Some(&first) = bytes.get(i) else {
            // Blank: it joins the current value if a continuation line follows.
            if self.opt.is_some() {
                self.pending_blanks += 1;
            }
            return Some(Ok(()));
        };
        match first {
            b'#' | b';' => return Some(Ok(())),
            // A header, other whitespace, or a character Python may count as whitespace.
            b'[' | 0x80.. => return None,
            b if py::is_ascii_space(b) => return None,
            _ => {}
        }
        let indent = i - start;
        let section = self.cur?;
        if self.opt.is_some() && indent > self.indent_level {
            return None;
        }
        // The key: up to the first delimiter (on this line: else an error, which the general
        // rules report, as they do an empty key), ASCII only.
        let (key_len, lower) = crate::swar::find_delimiter_plain(bytes.get(i..)?)?;
        let j = i + key_len;
        if j == i {
            return None;
        }
        if !lower && !bytes.get(i..j)?.is_ascii() {
            return None;
        }
        let mut key_end = j;
        while py::is_ascii_space(bytes[key_end - 1]) {
            key_end -= 1;
        }
        // The line's end, right-stripped; `j` is a delimiter, so it stays past it.
        let mut e = end;
        while py::is_ascii_space(bytes[e - 1]) {
            e -= 1;
        }
        let mut v = j + 1;
        while v < e && py::is_ascii_space(bytes[v]) {
            v += 1;
        }
        if bytes[e - 1] >= 0x80 || bytes.get(v).is_some_and(|&b| v < e && b >= 0x80) {
            return None;
        }
        self.indent_level = indent;
        let written = text.get(i..key_end)?;
        let key = if !lower {
            Cow::Owned(written.to_ascii_lowercase())
        } else {
            Cow::Borrowed(written)
        };
        let span = if v == e { end..end } else { v..e };
        Some(self.key_line(lineno, section, i..key_end, key, span))
    }

    /// A `key = value` line of `section` (whose delimiter is not the line's first character):
    /// the key as written at `key_at`, lowercased, and the value's span.
    fn key_line(
        &mut self,
        lineno: usize,
        section: usize,
        key_at: Range<usize>,
        key: Cow<'t, str>,
        span: Range<usize>,
    ) -> Result<(), ParseError> {
        let known = super::known(&key)
            .and_then(|k| u8::try_from(k).ok())
            .unwrap_or(RawEntry::UNKNOWN);
        if self.has_key(&key, known) {
            return Err(ParseError {
                line: lineno,
                kind: ParseErrorKind::DuplicateKey {
                    section: self.sections[section].header.to_string(),
                    key: key.into_owned(),
                },
            });
        }
        self.pending_blanks = 0;
        self.remember_key(&key);
        if key.is_empty() {
            // configparser's `optname` is '' now: falsy, so nothing continues it.
            self.opt = None;
            return Ok(());
        }
        self.opt = Some(self.entries.len());
        self.opt_may_nest = span.is_empty();
        // The text is under 4 GiB (checked first), so positions and line numbers fit.
        let narrow = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let key_start = narrow(key_at.start);
        // A key that lowercasing changed, or too long for a span, is kept as a string.
        let key_len = match (key, u16::try_from(key_at.len())) {
            (Cow::Borrowed(_), Ok(len)) => Some(len),
            (key, _) => {
                self.extras.last_or_new(key_start).key = Some(CompactString::from(key));
                None
            }
        };
        self.entries.push(RawEntry {
            key_start,
            start: narrow(span.start),
            len: narrow(span.len()),
            line: narrow(lineno),
            key_len: key_len.unwrap_or(0),
            known,
            flags: if key_len.is_some() {
                0
            } else {
                RawEntry::OWN_KEY
            },
        });
        Ok(())
    }

    /// A line indented deeper than the key line: one more line of the current value.
    fn continuation(&mut self, lineno: usize, entry: usize, piece: &str) {
        let text = self.text;
        let Some(e) = self.entries.get_mut(entry) else {
            return;
        };
        if self.opt_may_nest && !e.multiline() {
            // Its value starts with a line break now: a nested block.
            self.nested_blocks.push(entry);
        }
        let span = e.span();
        e.flags |= RawEntry::MULTILINE;
        let value = self
            .extras
            .last_or_new(e.key_start)
            .value
            .get_or_insert_with(|| text.get(span).unwrap_or_default().to_owned());
        for _ in 0..=self.pending_blanks {
            value.push('\n');
        }
        value.push_str(piece);
        self.pending_blanks = 0;
        if self.opt_may_nest && !nested_piece_ok(piece) {
            self.bad_nested.entry(entry).or_insert(lineno);
        }
    }

    /// A `[header]` line.
    fn header(&mut self, lineno: usize, header: &'t str) -> Result<(), ParseError> {
        self.close_section();
        self.opt = None;
        self.pending_blanks = 0;
        self.cur_has_empty_key = false;
        self.big_section_keys.clear();
        let kind = if header == DEFAULTSECT {
            SectionKind::Defaults
        } else {
            section_kind(self.kind, header)
        };
        let index = self.sections.len();
        if index > NameIndex::MAX {
            return Err(ParseError {
                line: lineno,
                kind: ParseErrorKind::TooManySections,
            });
        }
        if kind == SectionKind::Defaults {
            self.defaults.push(index);
        }
        self.cur = Some(index);
        self.cur_defaults = kind == SectionKind::Defaults;
        self.section_start = self.entries.len();
        let at = u32::try_from(self.section_start).unwrap_or(u32::MAX);
        self.sections.push(Section {
            header: CompactString::new(header),
            line: lineno,
            kind,
            entries: at..at,
        });
        let sections = &self.sections;
        let repeated = match (&sections[index].kind, self.kind) {
            (SectionKind::Defaults, _) => false,
            // In a credentials file the header is the profile name: one table serves both.
            (SectionKind::Profile(name), FileKind::Credentials) => self
                .profiles
                .insert(name, index, |i| profile_name(&sections[i]))
                .is_some(),
            // A header names the same profile each time, so a header seen before is a profile
            // seen before: only the headers of profiles named twice (`[default]` and
            // `[profile default]`) go into the header table, which halves the lookups in a
            // large file.
            (SectionKind::Profile(name), FileKind::Config) => {
                match self
                    .profiles
                    .insert(name, index, |i| profile_name(&sections[i]))
                {
                    // A later section that names the same profile replaces it.
                    Some(earlier) => {
                        self.replaced_profile = true;
                        // Every earlier section of this profile is in the table once the
                        // previous one is (each went in when it replaced the one before).
                        self.headers
                            .insert(&sections[earlier].header, earlier, |i| &sections[i].header);
                        self.headers
                            .insert(header, index, |i| &sections[i].header)
                            .is_some()
                    }
                    None => {
                        self.profile_order.push(index);
                        false
                    }
                }
            }
            _ => self
                .headers
                .insert(header, index, |i| &sections[i].header)
                .is_some(),
        };
        if repeated {
            return Err(ParseError {
                line: lineno,
                kind: ParseErrorKind::DuplicateSection(header.to_owned()),
            });
        }
        if self.kind == FileKind::Credentials && self.sections[index].kind != SectionKind::Defaults
        {
            self.profile_order.push(index);
        }
        Ok(())
    }

    /// Gives the current section its entries: those since its header.
    fn close_section(&mut self) {
        if let Some(section) = self.cur.and_then(|i| self.sections.get_mut(i)) {
            section.entries.end = u32::try_from(self.entries.len()).unwrap_or(u32::MAX);
        }
    }

    /// The current section's entries so far.
    fn current(&self) -> &[RawEntry] {
        self.entries.get(self.section_start..).unwrap_or_default()
    }

    fn defer(&mut self, line: usize, kind: ParseErrorKind) {
        self.deferred.get_or_insert(ParseError { line, kind });
    }

    /// Whether the current section (all of `[DEFAULT]`, for a `[DEFAULT]`) has `key` already.
    /// `known` is its tag (see [`RawEntry::known`]): a key's tag follows from the key, so a
    /// known key is there exactly when its tag is, and an unknown one can only be among the
    /// untagged entries.
    #[inline]
    fn has_key(&self, key: &str, known: u8) -> bool {
        if self.cur_defaults {
            return self.default_keys.contains(key);
        }
        if key.is_empty() {
            return self.cur_has_empty_key;
        }
        let entries = self.current();
        if entries.len() > SMALL_SECTION {
            return self.big_section_keys.contains(key);
        }
        if known != RawEntry::UNKNOWN {
            return entries.iter().any(|e| e.known == known);
        }
        entries
            .iter()
            .any(|e| e.known == RawEntry::UNKNOWN && e.key_in(self.text, &self.extras) == key)
    }

    /// Notes that the current section has `key` now: nothing to do for the common key of a
    /// small section, whose entries are searched instead.
    #[inline]
    fn remember_key(&mut self, key: &str) {
        let count = self.entries.len() - self.section_start;
        if self.cur_defaults || key.is_empty() || count >= SMALL_SECTION {
            self.remember_key_where_noted(key, count);
        }
    }

    /// [`Reader::remember_key`] for `[DEFAULT]`, an empty key, or a section of `count` entries
    /// that has outgrown [`SMALL_SECTION`].
    #[cold]
    fn remember_key_where_noted(&mut self, key: &str, count: usize) {
        if self.cur_defaults {
            self.default_keys.insert(CompactString::new(key));
            return;
        }
        if key.is_empty() {
            self.cur_has_empty_key = true;
            return;
        }
        if count == SMALL_SECTION {
            let entries = self.entries.get(self.section_start..).unwrap_or_default();
            self.big_section_keys.extend(
                entries
                    .iter()
                    .map(|e| CompactString::new(e.key_in(self.text, &self.extras))),
            );
        }
        self.big_section_keys.insert(CompactString::new(key));
    }

    /// The end of `_read` (deferred errors), then `raw_config_parse`'s nested blocks, then the
    /// lookup indexes.
    fn finish(mut self) -> Result<Document, ParseError> {
        self.close_section();
        if let Some(err) = self.deferred.take() {
            return Err(err);
        }
        self.nested()?;
        if self.replaced_profile {
            // The order stays that of the first sections; the sections are the later ones.
            let sections = &self.sections;
            for i in &mut self.profile_order {
                *i = self
                    .profiles
                    .get(profile_name(&sections[*i]), |j| profile_name(&sections[j]))
                    .unwrap_or(*i);
            }
        }
        Ok(Document {
            kind: self.kind,
            // The caller moves the text in.
            text: String::new(),
            sections: self.sections,
            entries: self.entries,
            extras: self.extras,
            profiles: self.profiles,
            profile_order: self.profile_order,
            defaults: self.defaults,
        })
    }

    /// botocore's `raw_config_parse`: every value it reads that starts with `\n` is a nested
    /// block. It reads each section's own options, then the `[DEFAULT]` ones the section does not
    /// override, and stops at the first block with a line that has no `=`.
    fn nested(&mut self) -> Result<(), ParseError> {
        if !self.bad_nested.is_empty() {
            self.first_bad_nested()?;
        }
        for &i in &self.nested_blocks {
            if self.bad_nested.contains_key(&i) {
                continue;
            }
            let Some(at) = self.entries.get(i).map(|e| e.key_start) else {
                continue;
            };
            if let Some(extra) = self.extras.get_mut(at) {
                extra.nested = extra.value.as_deref().map(parse_nested);
            }
        }
        Ok(())
    }

    /// The bad nested block botocore trips on first, if any section reads one.
    fn first_bad_nested(&self) -> Result<(), ParseError> {
        let entries = |s: &Section| {
            let (start, end) = (s.entries.start as usize, s.entries.end as usize);
            (start..end).zip(self.entries.get(start..end).unwrap_or_default())
        };
        // Nested blocks of [DEFAULT] are only read through a section that inherits them.
        let mut bad_defaults: Vec<(&str, usize)> = Vec::new();
        for &i in &self.defaults {
            for (j, e) in entries(&self.sections[i]) {
                if let Some(&line) = self.bad_nested.get(&j) {
                    bad_defaults.push((e.key_in(self.text, &self.extras), line));
                }
            }
        }
        for s in &self.sections {
            if s.kind == SectionKind::Defaults {
                continue;
            }
            for (j, _) in entries(s) {
                if let Some(&line) = self.bad_nested.get(&j) {
                    return Err(bad_nested(line));
                }
            }
            for &(key, line) in &bad_defaults {
                if !entries(s).any(|(_, e)| e.key_in(self.text, &self.extras) == key) {
                    return Err(bad_nested(line));
                }
            }
        }
        Ok(())
    }
}

/// The name a profile section gives (empty for any other section).
pub(super) fn profile_name(section: &Section) -> &str {
    match &section.kind {
        SectionKind::Profile(name) => name,
        _ => "",
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
    // A byte search: `]` is ASCII, so where it is found is a char boundary.
    let close = rest.bytes().rposition(|b| b == b']')?;
    (close > 0).then(|| rest.get(..close)).flatten()
}

/// What botocore makes of a (non-`DEFAULT`) header.
fn section_kind(kind: FileKind, header: &str) -> SectionKind {
    match kind {
        // The credentials file is read by `raw_config_parse` alone: a section is a profile.
        FileKind::Credentials => SectionKind::Profile(CompactString::new(header)),
        // `build_profile_map`: prefixes are tested with `startswith`, and the name is the second
        // of exactly two shlex words (the first word is never checked).
        FileKind::Config => {
            // The second shlex word, found in one pass when the header is `PREFIX NAME`.
            let name = |prefix: &str| match py::plain_second_word(header, prefix.len()) {
                Some(name) => Some(CompactString::new(name)),
                None => py::shlex_second_of_two(header),
            };
            if header.starts_with("profile") {
                name("profile").map_or(SectionKind::Other, SectionKind::Profile)
            } else if header.starts_with("sso-session") {
                name("sso-session").map_or(SectionKind::Other, SectionKind::SsoSession)
            } else if header.starts_with("services") {
                name("services").map_or(SectionKind::Other, SectionKind::Services)
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
    let mut pairs: Vec<(String, String)> = Vec::new();
    // The keys as slices of `value`: scanned while the block is short (they are), indexed once
    // it is long enough for an index to pay.
    let mut keys: Vec<&str> = Vec::new();
    let mut index: Option<FastMap<&str, usize>> = None;
    for line in value.split('\n').flat_map(nested_lines) {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let (k, v) = (py::strip(k), py::strip(v));
        let found = match &index {
            Some(index) => index.get(k).copied(),
            None => keys.iter().position(|&key| key == k),
        };
        match found {
            Some(i) => v.clone_into(&mut pairs[i].1),
            None => {
                if let Some(index) = &mut index {
                    index.insert(k, keys.len());
                }
                keys.push(k);
                pairs.push((k.to_owned(), v.to_owned()));
                if index.is_none() && keys.len() > SMALL_SECTION {
                    index = Some(keys.iter().enumerate().map(|(i, &k)| (k, i)).collect());
                }
            }
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Everything a parse gives, values and spans included.
    fn dump(parsed: Result<Document, ParseError>) -> String {
        let doc = match parsed {
            Ok(doc) => doc,
            Err(e) => return format!("error {e:?}"),
        };
        let mut out = String::new();
        for s in doc.sections() {
            out.push_str(&format!("[{}] {} {:?}\n", s.header, s.line, s.kind));
            for e in doc.raw_entries(s) {
                out.push_str(&format!(
                    "{:?}={:?} {} {:?} {} {} {} {} {:?}\n",
                    doc.raw_key(e),
                    doc.raw_value(e),
                    e.line(),
                    e.span(),
                    e.key_start,
                    e.key_len,
                    e.known,
                    e.flags,
                    e.nested_in(&doc.extras),
                ));
            }
        }
        out.push_str(&format!("{:?} {:?}", doc.profile_order, doc.defaults));
        out
    }

    /// Lines made of the pieces where the common-line reading could go wrong: whitespace of every
    /// kind, delimiters, brackets, comment marks, case and non-ASCII letters.
    fn line() -> impl Strategy<Value = String> {
        let piece = prop::sample::select(vec![
            " ",
            "  ",
            "\t",
            "\u{b}",
            "\u{c}",
            "\u{1f}",
            "\u{a0}",
            "\u{3000}",
            "=",
            ":",
            "[",
            "]",
            "#",
            ";",
            "a",
            "Key",
            "KEY",
            "aws_access_key_id",
            "\u{e9}",
            "\u{c9}",
            "x=y",
            "[default]",
            "[profile A]",
            "[DEFAULT]",
            "\u{85}",
            "\"",
        ]);
        prop::collection::vec(piece, 0..6).prop_map(|p| p.concat())
    }

    proptest! {
        #[test]
        fn common_lines_read_as_the_general_rules_read_them(
            lines in prop::collection::vec(line(), 0..12),
            ends in prop::sample::select(vec!["\n", "\r\n", "\r"]),
            credentials in any::<bool>(),
        ) {
            let mut text = String::from("[s]\n");
            for l in &lines {
                text.push_str(l);
                text.push_str(ends);
            }
            let kind = if credentials { FileKind::Credentials } else { FileKind::Config };
            prop_assert_eq!(
                dump(parse_as(kind, text.clone(), true)),
                dump(parse_as(kind, text, false))
            );
        }
    }
}
