//! The few Python string primitives botocore's reading depends on, reimplemented exactly: what
//! `str.isspace()`/`str.strip()`/`re`'s `\s` call whitespace, what `str.splitlines()` calls a line
//! break, what `str.lower()` does in Python 3.11, and `shlex.split()`.
//!
//! These are plain functions on `&str`: no allocation except where a new string is the result, no
//! I/O, and no panics on any input.

use std::borrow::Cow;

use super::CompactString;

/// Python's `str.isspace()` (also `str.strip()` with no argument and `re`'s `\s` on `str`).
///
/// This is Rust's `char::is_whitespace` plus the four separators U+001C..U+001F, which Python
/// counts as whitespace (their bidirectional class is B or S) and Unicode's `White_Space` does not.
pub(super) fn is_space(c: char) -> bool {
    match c {
        '\t'..='\r' | '\u{1c}'..='\u{1f}' | ' ' => true,
        c if c.is_ascii() => false,
        '\u{85}'
        | '\u{a0}'
        | '\u{1680}'
        | '\u{2000}'..='\u{200a}'
        | '\u{2028}'
        | '\u{2029}'
        | '\u{202f}'
        | '\u{205f}'
        | '\u{3000}' => true,
        _ => false,
    }
}

/// `s.strip()`.
pub(super) fn strip(s: &str) -> &str {
    rstrip(lstrip(s))
}

/// Whether an ASCII byte is whitespace to Python.
#[inline]
pub(super) fn is_ascii_space(b: u8) -> bool {
    matches!(b, b'\t'..=b'\r' | 0x1c..=0x1f | b' ')
}

/// `s.lstrip()`.
pub(super) fn lstrip(s: &str) -> &str {
    // ASCII bytes first (the common case); a non-ASCII one needs the full test.
    let n = s.bytes().take_while(|&b| is_ascii_space(b)).count();
    let rest = s.get(n..).unwrap_or_default();
    match rest.as_bytes().first() {
        Some(&b) if b >= 0x80 => rest.trim_start_matches(is_space),
        _ => rest,
    }
}

/// `s.rstrip()`.
pub(super) fn rstrip(s: &str) -> &str {
    let n = s.bytes().rev().take_while(|&b| is_ascii_space(b)).count();
    let rest = s.get(..s.len() - n).unwrap_or_default();
    match rest.as_bytes().last() {
        Some(&b) if b >= 0x80 => rest.trim_end_matches(is_space),
        _ => rest,
    }
}

/// The line breaks of `str.splitlines()` other than `\n` and `\r`: a configparser value never
/// holds those two (the file was split at them), but it can hold these.
pub(super) fn is_inner_line_break(c: char) -> bool {
    matches!(
        c,
        '\u{b}' | '\u{c}' | '\u{1c}' | '\u{1d}' | '\u{1e}' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

/// Letters that gained a lowercase mapping after Unicode 14.0, the version of Python 3.11's
/// `unicodedata`: Python leaves them (and they are not "cased" there), Rust's newer tables map them.
fn is_newer_uppercase(c: char) -> bool {
    matches!(
        c,
        '\u{1c89}'
            | '\u{a7cb}'
            | '\u{a7cc}'
            | '\u{a7ce}'
            | '\u{a7d2}'
            | '\u{a7d4}'
            | '\u{a7da}'
            | '\u{a7dc}'
            | '\u{10d50}'..='\u{10d65}'
            | '\u{16ea0}'..='\u{16eb8}'
    )
}

/// Python 3.11's `str.lower()`, as configparser's `optionxform` applies it to option names.
///
/// Rust's `str::to_lowercase` implements the same full mappings and the same final-sigma rule;
/// only the letters of [`is_newer_uppercase`] differ, so the text is lowercased in pieces between
/// them and they are kept. (Marks assigned after Unicode 14 could still change a final sigma's
/// context; no real key holds one.)
pub(super) fn lower(s: &str) -> Cow<'_, str> {
    if s.is_ascii() {
        return if s.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(s.to_ascii_lowercase())
        } else {
            Cow::Borrowed(s)
        };
    }
    let lowered = if s.chars().any(is_newer_uppercase) {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(i) = rest.find(is_newer_uppercase) {
            out.push_str(&rest[..i].to_lowercase());
            let c = rest[i..].chars().next().unwrap_or_default();
            out.push(c);
            rest = &rest[i + c.len_utf8()..];
        }
        out.push_str(&rest.to_lowercase());
        out
    } else {
        s.to_lowercase()
    };
    if lowered == s {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(lowered)
    }
}

/// Why [`shlex_split`] failed: unbalanced quotes or a trailing backslash, where Python raises
/// `ValueError`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ShlexError;

/// `shlex.split(s)`: POSIX mode, `whitespace_split=True`, no comments.
///
/// Words are separated by runs of space, tab, CR or LF; `'…'` quotes everything literally;
/// `"…"` quotes everything but a backslash before `"` or `\`; a backslash outside quotes escapes
/// the next character; an empty quoted word (`""`) is a word.
pub(super) fn shlex_split(s: &str) -> Result<Vec<String>, ShlexError> {
    fn is_shlex_space(c: char) -> bool {
        matches!(c, ' ' | '\t' | '\r' | '\n')
    }
    let mut words = Vec::new();
    let mut chars = s.chars();
    let mut word = String::new();
    // A word is open once a character or a quote was seen; `""` alone opens an empty word.
    let mut open = false;
    while let Some(c) = chars.next() {
        match c {
            c if is_shlex_space(c) => {
                if open {
                    words.push(std::mem::take(&mut word));
                    open = false;
                }
            }
            '\\' => {
                word.push(chars.next().ok_or(ShlexError)?);
                open = true;
            }
            '\'' => {
                open = true;
                loop {
                    match chars.next().ok_or(ShlexError)? {
                        '\'' => break,
                        c => word.push(c),
                    }
                }
            }
            '"' => {
                open = true;
                loop {
                    match chars.next().ok_or(ShlexError)? {
                        '"' => break,
                        '\\' => match chars.next().ok_or(ShlexError)? {
                            c @ ('"' | '\\') => word.push(c),
                            c => {
                                word.push('\\');
                                word.push(c);
                            }
                        },
                        c => word.push(c),
                    }
                }
            }
            c => {
                word.push(c);
                open = true;
            }
        }
    }
    if open {
        words.push(word);
    }
    Ok(words)
}

/// botocore's `_parse_section`: the second word of `shlex.split(header)` when there are exactly
/// two, else nothing (also when shlex fails).
pub(super) fn shlex_second_of_two(header: &str) -> Option<CompactString> {
    // Without quotes or escapes (the usual `profile NAME`), shlex splits at its whitespace alone.
    if !header.contains(['"', '\'', '\\']) {
        let mut words = header
            .split([' ', '\t', '\r', '\n'])
            .filter(|w| !w.is_empty());
        let (_, second) = (words.next()?, words.next()?);
        return words.next().is_none().then(|| CompactString::new(second));
    }
    let mut words = shlex_split(header).ok()?;
    (words.len() == 2).then(|| words.pop().map(CompactString::from))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_borrows_what_is_lowercase_already() {
        assert!(matches!(lower("aws_access_key_id"), Cow::Borrowed(_)));
        assert!(
            matches!(lower("\u{e9}t\u{e9}"), Cow::Borrowed(_)),
            "lowercase already"
        );
        assert!(matches!(lower("Region"), Cow::Owned(ref s) if s == "region"));
    }

    #[test]
    fn whitespace_is_pythons() {
        // Python: [hex(c) for c in range(0x110000) if chr(c).isspace()]
        let python: Vec<u32> = [
            0x9, 0xa, 0xb, 0xc, 0xd, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680, 0x2000,
            0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028,
            0x2029, 0x202f, 0x205f, 0x3000,
        ]
        .to_vec();
        let ours: Vec<u32> = (0..=0x10ffff_u32)
            .filter_map(char::from_u32)
            .filter(|&c| is_space(c))
            .map(u32::from)
            .collect();
        assert_eq!(ours, python);
        assert_eq!(strip("\u{1c} a b\u{3000}\u{85}"), "a b");
        assert_eq!(
            strip("\u{feff}a"),
            "\u{feff}a",
            "a BOM is not whitespace to Python"
        );
    }

    #[test]
    fn lower_is_python_311() {
        assert_eq!(lower("AWS_Access_Key_ID"), "aws_access_key_id");
        assert_eq!(lower("AΣ"), "aς");
        assert_eq!(lower("AΣB"), "aσb");
        assert_eq!(lower("İ"), "i\u{307}");
        assert_eq!(
            lower("\u{212a}EY"),
            "key",
            "the Kelvin sign lowercases to k"
        );
        // Python 3.11 (Unicode 14) leaves these; the sigma after one is not final there.
        assert_eq!(lower("A\u{1c89}Σ"), "a\u{1c89}σ");
        assert_eq!(lower("AΣ\u{16ea0}"), "aς\u{16ea0}");
        assert_eq!(lower("\u{a7cb}\u{10d50}"), "\u{a7cb}\u{10d50}");
    }

    #[test]
    fn shlex_is_pythons() {
        let ok = |s: &str| shlex_split(s).expect("splits");
        assert_eq!(ok("profile a"), ["profile", "a"]);
        assert_eq!(ok("  profile \t a  "), ["profile", "a"]);
        assert_eq!(ok("profile \"a b\""), ["profile", "a b"]);
        assert_eq!(ok("profile 'a \"b'"), ["profile", "a \"b"]);
        assert_eq!(ok("profile \"\""), ["profile", ""]);
        assert_eq!(ok("profile a\"b c\"d"), ["profile", "ab cd"]);
        assert_eq!(ok("profile a\\ b"), ["profile", "a b"]);
        assert_eq!(ok(r#"profile "a\"b\\c\d""#), ["profile", r#"a"b\c\d"#]);
        assert_eq!(ok(r"profile 'a\b'"), ["profile", r"a\b"]);
        assert_eq!(ok("profile #a"), ["profile", "#a"]);
        assert_eq!(ok(""), Vec::<String>::new());
        assert_eq!(ok("''"), [""]);
        assert_eq!(
            ok("a\u{b}b"),
            ["a\u{b}b"],
            "only space, tab, CR and LF separate"
        );
        assert_eq!(shlex_split("profile \"a"), Err(ShlexError));
        assert_eq!(shlex_split("profile 'a"), Err(ShlexError));
        assert_eq!(shlex_split("profile a\\"), Err(ShlexError));
        assert_eq!(shlex_split("profile \"a\\"), Err(ShlexError));
        for header in [
            "  a  b  ",
            "a\tb\tc",
            " ",
            "",
            "profile a",
            "profile  a\t",
            "profile",
            "profile a b",
            "profile 'a b'",
            "x \"\"",
        ] {
            let words = shlex_split(header).expect("splits");
            let want = (words.len() == 2).then(|| words[1].clone());
            assert_eq!(
                shlex_second_of_two(header).map(String::from),
                want,
                "{header}"
            );
        }
        assert_eq!(shlex_second_of_two("profile \"a"), None);
        // Every string of up to five characters over shlex's special ones: the shortcut for
        // headers without quotes agrees with splitting.
        let alphabet = ['a', 'b', ' ', '\t', '"', '\'', '\\'];
        for len in 0..=5u32 {
            for n in 0..alphabet.len().pow(len) {
                let header: String = (0..len)
                    .map(|i| alphabet[n / alphabet.len().pow(i) % alphabet.len()])
                    .collect();
                let words = shlex_split(&header).ok();
                let want = words.filter(|w| w.len() == 2).map(|mut w| w.remove(1));
                assert_eq!(
                    shlex_second_of_two(&header).map(String::from),
                    want,
                    "{header:?}"
                );
            }
        }
    }
}
