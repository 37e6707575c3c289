//! How Python turns a JSON-like value into text, as far as the aws CLI's renderers depend on it:
//! `str()` and `repr()` of values (text and table cells), `repr()` of floats, `json.dumps` with
//! and without `ensure_ascii`, and the column width that awscli/table.py measures.
//!
//! Pure functions of the value; the Unicode tables come from Python's own `unicodedata`
//! (`scripts/gen-unicode-tables.py`).

use serde_json::{Map, Number, Value};

use super::unicode::{NON_PRINTABLE, WIDE};

fn in_ranges(table: &[(u32, u32)], c: char) -> bool {
    let cp = u32::from(c);
    table
        .binary_search_by(|&(lo, hi)| {
            if hi < cp {
                std::cmp::Ordering::Less
            } else if lo > cp {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// awscli/table.py's `get_text_length`: East Asian Wide, Fullwidth and Ambiguous characters
/// count two columns, every other code point one.
pub(crate) fn text_length(s: &str) -> usize {
    s.chars()
        .map(|c| if in_ranges(WIDE, c) { 2 } else { 1 })
        .sum()
}

/// Python's `str.isprintable()` for one character.
fn is_printable(c: char) -> bool {
    !in_ranges(NON_PRINTABLE, c)
}

/// `repr(float)`: the shortest digits that read back to the same float, in positional notation
/// when the decimal exponent is in -4..16, else in scientific notation with a two-digit exponent
/// at least (`1e-05`, `1e+16`); positional always has a fraction (`2.0`).
pub(crate) fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    let (digits, decpt) = shortest_digits(f.abs());
    let sign = if f.is_sign_negative() { "-" } else { "" };
    if !(-4 < decpt && decpt <= 16) {
        let exp = decpt - 1;
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{frac}e{esign}{:02}", exp.abs());
    }
    let n = digits.len() as i32;
    let body = if decpt <= 0 {
        format!("0.{}{}", "0".repeat((-decpt) as usize), digits)
    } else if decpt >= n {
        format!("{}{}.0", digits, "0".repeat((decpt - n) as usize))
    } else {
        let (int, frac) = digits.split_at(decpt as usize);
        format!("{int}.{frac}")
    };
    format!("{sign}{body}")
}

/// The shortest digits that read back to `f` (finite, not negative), and where the decimal
/// point goes: `f` = 0.DIGITS x 10^decpt. Where two such digit strings are equally near `f`
/// (an exact tie, such as 22585703881852.8125), the even one, as Python's repr (David Gay's
/// algorithm) and ryu choose; Rust's own formatting rounds such a tie up. serde_json formats
/// with ryu, whose output is read back here.
fn shortest_digits(f: f64) -> (String, i32) {
    if f == 0.0 {
        return ("0".to_owned(), 1);
    }
    let text = serde_json::Number::from_f64(f).map_or_else(|| format!("{f:e}"), |n| n.to_string());
    let (mantissa, exp) = text.split_once(['e', 'E']).unwrap_or((text.as_str(), "0"));
    let exp: i32 = exp.trim_start_matches('+').parse().unwrap_or(0);
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    // mantissa = INT.FRAC x 10^exp = 0.(INT FRAC) x 10^(len(INT) + exp)
    let all = format!("{int}{frac}");
    let lead = all.len() - all.trim_start_matches('0').len();
    let digits = all.trim_matches('0');
    let decpt = i32::try_from(int.len()).unwrap_or(0) + exp - i32::try_from(lead).unwrap_or(0);
    (digits.to_owned(), decpt)
}

/// `str(n)` of a JSON number: an integer as is, a float as `repr`.
pub(crate) fn number(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        i.to_string()
    } else if let Some(u) = n.as_u64() {
        u.to_string()
    } else {
        float_repr(n.as_f64().unwrap_or(f64::NAN))
    }
}

/// Python's `str(value)`: strings as they are, `True`/`False`/`None`, numbers as Python prints
/// them, dicts and lists as their `repr`.
pub(crate) fn str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => repr(other),
    }
}

/// Python's `repr(value)`.
pub(crate) fn repr(v: &Value) -> String {
    let mut out = String::new();
    write_repr(&mut out, v);
    out
}

fn write_repr(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(n) => out.push_str(&number(n)),
        Value::String(s) => write_str_repr(out, s),
        Value::Array(a) => {
            out.push('[');
            for (i, e) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(out, e);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, e)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_str_repr(out, k);
                out.push_str(": ");
                write_repr(out, e);
            }
            out.push('}');
        }
    }
}

/// `repr(str)`: single quotes unless the text has a single quote and no double quote; `\t`,
/// `\n`, `\r`, `\\` and the quote escaped; other characters that are not printable as `\xHH`,
/// `\uHHHH` or `\UHHHHHHHH`.
fn write_str_repr(out: &mut String, s: &str) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            _ if c == quote || c == '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            _ if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            _ if c.is_ascii() || is_printable(c) => out.push(c),
            _ => {
                let cp = c as u32;
                if cp <= 0xff {
                    out.push_str(&format!("\\x{cp:02x}"));
                } else if cp <= 0xffff {
                    out.push_str(&format!("\\u{cp:04x}"));
                } else {
                    out.push_str(&format!("\\U{cp:08x}"));
                }
            }
        }
    }
    out.push(quote);
}

/// `json.dumps(value, indent=indent, ensure_ascii=ensure_ascii)` with the separators Python
/// picks for it: `", "`/`": "` without indent, `","`/`": "` with. `compact` gives
/// `separators=(',', ':')` (what JMESPath's `to_string` uses).
#[derive(Debug, Clone, Copy)]
pub(crate) struct JsonStyle {
    pub(crate) indent: Option<usize>,
    pub(crate) ensure_ascii: bool,
    pub(crate) compact: bool,
}

/// Python's `json.dumps` (see [`JsonStyle`]).
pub(crate) fn json_dumps(v: &Value, style: JsonStyle) -> String {
    let mut out = String::new();
    write_json(&mut out, v, style, 0);
    out
}

fn newline_indent(out: &mut String, style: JsonStyle, level: usize) {
    if let Some(n) = style.indent {
        out.push('\n');
        out.push_str(&" ".repeat(n * level));
    }
}

fn write_json(out: &mut String, v: &Value, style: JsonStyle, level: usize) {
    let item_sep = match (style.compact, style.indent) {
        (true, _) | (false, Some(_)) => ",",
        (false, None) => ", ",
    };
    let key_sep = if style.compact { ":" } else { ": " };
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number(n)),
        Value::String(s) => write_json_str(out, s, style.ensure_ascii),
        Value::Array(a) => {
            if a.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, e) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                newline_indent(out, style, level + 1);
                write_json(out, e, style, level + 1);
            }
            newline_indent(out, style, level);
            out.push(']');
        }
        Value::Object(m) => write_json_object(out, m, style, level, item_sep, key_sep),
    }
}

fn write_json_object(
    out: &mut String,
    m: &Map<String, Value>,
    style: JsonStyle,
    level: usize,
    item_sep: &str,
    key_sep: &str,
) {
    if m.is_empty() {
        out.push_str("{}");
        return;
    }
    out.push('{');
    for (i, (k, e)) in m.iter().enumerate() {
        if i > 0 {
            out.push_str(item_sep);
        }
        newline_indent(out, style, level + 1);
        write_json_str(out, k, style.ensure_ascii);
        out.push_str(key_sep);
        write_json(out, e, style, level + 1);
    }
    newline_indent(out, style, level);
    out.push('}');
}

/// A JSON string as Python's encoder writes it: `\"`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f`, other
/// control characters as `\u00XX`; with `ensure_ascii`, every non-ASCII character as `\uXXXX`
/// (astral ones as a surrogate pair).
fn write_json_str(out: &mut String, s: &str, ensure_ascii: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            _ if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            _ if ensure_ascii && !(' '..='~').contains(&c) => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            _ => out.push(c),
        }
    }
    out.push('"');
}

/// Python's truth value of a JSON value (`if not current`): null, false, zero, and empty
/// strings, lists and dicts are false.
pub(crate) fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn floats_read_as_python_prints_them() {
        for (f, want) in [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (-2.5, "-2.5"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123456789012345680.0, "1.2345678901234568e+17"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (-0.0, "-0.0"),
            (1e300, "1e+300"),
            (12.34, "12.34"),
            // An exact tie between two shortest forms: Python takes the even digit.
            (22_585_703_881_852.812, "22585703881852.812"), // exactly ….8125
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (100.0, "100.0"),
            (0.5, "0.5"),
            (1e-4, "0.0001"),
            (123.456e10, "1234560000000.0"),
        ] {
            assert_eq!(float_repr(f), want, "{f}");
        }
    }

    #[test]
    fn repr_picks_quotes_and_escapes_as_python() {
        assert_eq!(repr(&json!("a'b")), "\"a'b\"");
        assert_eq!(repr(&json!("a'b\"")), "'a\\'b\"'");
        assert_eq!(
            repr(&json!("\t\u{1}\u{7f}é\u{a0}\u{200b}😀")),
            "'\\t\\x01\\x7fé\\xa0\\u200b😀'"
        );
        assert_eq!(
            repr(&json!({"K": [true, null, 1.0, 2]})),
            "{'K': [True, None, 1.0, 2]}"
        );
    }

    #[test]
    fn json_strings_escape_as_python() {
        let style = JsonStyle {
            indent: None,
            ensure_ascii: true,
            compact: true,
        };
        assert_eq!(
            json_dumps(&json!("é😀\u{7f}"), style),
            "\"\\u00e9\\ud83d\\ude00\\u007f\""
        );
        let style = JsonStyle {
            ensure_ascii: false,
            ..style
        };
        assert_eq!(
            json_dumps(&json!("é\u{7f}\u{1f}"), style),
            "\"é\u{7f}\\u001f\""
        );
    }

    #[test]
    fn wide_characters_count_two_columns() {
        assert_eq!(text_length("abc"), 3);
        assert_eq!(text_length("桌子"), 4);
        assert_eq!(text_length("±"), 2); // East Asian Ambiguous
    }
}
