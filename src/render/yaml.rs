//! `--output yaml` and `yaml-stream`, following the aws CLI v2 (v1 has no YAML).
//!
//! v2's `YAMLDumper` dumps collections with ruamel.yaml's safe dumper in block style
//! (`YAML(typ='safe')`, `default_flow_style = False`), whose emitter is libyaml's (through
//! ruamel.yaml.clib), and a top-level scalar as JSON (ruamel would end it with `...`). So:
//!
//! - mapping keys sorted (the safe representer sorts plain dicts), `key: value`, two spaces
//!   per level, a list under a key not indented further (`key:\n- item`), empty collections as
//!   `[]` and `{}`;
//! - a string is written plain when it cannot be misread: not something the YAML 1.2 resolver
//!   would read as a bool, number, null or timestamp (`'true'`, `'12'`,
//!   `'2013-06-04T18:17:34+00:00'`), no leading or trailing space, no indicator where YAML
//!   gives it a meaning; else single-quoted; and double-quoted with escapes when it holds
//!   characters libyaml does not print (control characters, characters beyond U+FFFF);
//! - long scalars are folded at spaces past column 80, as libyaml does;
//! - a key longer than 128 bytes becomes a complex key (`? key` / `: value`);
//! - `yaml-stream` dumps the response as a one-element list (one document per page in v2;
//!   this tool's answers are a single page).
//!
//! The emitter below follows libyaml's `emitter.c` (MIT) for the subset these values need.

use serde_json::{Map, Value};

use super::py;

const BEST_INDENT: i64 = 2;
const BEST_WIDTH: usize = 80;

/// `--output yaml` of `value`.
pub(crate) fn render(value: &Value) -> String {
    match value {
        Value::Array(_) | Value::Object(_) => dump(value),
        scalar => {
            // v2 writes a bare scalar with `json.dump` and a newline.
            let mut s = py::json_dumps(
                scalar,
                py::JsonStyle {
                    indent: None,
                    ensure_ascii: true,
                    compact: false,
                },
            );
            s.push('\n');
            s
        }
    }
}

/// `--output yaml-stream` of `value`: a one-element list.
pub(crate) fn render_stream(value: &Value) -> String {
    dump(&Value::Array(vec![value.clone()]))
}

fn dump(value: &Value) -> String {
    let mut e = Emitter {
        out: String::new(),
        column: 0,
        whitespace: true,
        indention: true,
        indent: -1,
        indents: Vec::new(),
        open_ended: false,
    };
    e.node(value, Ctx::root());
    // Document end (implicit): a final line break.
    e.write_indent();
    if e.open_ended {
        e.write_indicator("...", true, false, false);
        e.write_indent();
    }
    e.out
}

#[derive(Clone, Copy, Default)]
struct Ctx {
    root: bool,
    mapping: bool,
    simple_key: bool,
}

impl Ctx {
    fn root() -> Self {
        Ctx {
            root: true,
            ..Ctx::default()
        }
    }
}

struct Emitter {
    out: String,
    column: usize,
    whitespace: bool,
    indention: bool,
    indent: i64,
    indents: Vec<i64>,
    open_ended: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Style {
    Plain,
    Single,
    Double,
}

impl Emitter {
    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    fn write_break(&mut self, c: char) {
        if c == '\n' {
            self.put_break();
        } else {
            self.out.push(c);
            self.column = 0;
        }
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        if self.indent < 0 {
            self.indent = if flow { BEST_INDENT } else { 0 };
        } else if !indentless {
            self.indent += BEST_INDENT;
        }
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().unwrap_or(-1);
    }

    fn write_indent(&mut self) {
        let indent = usize::try_from(self.indent.max(0)).unwrap_or(0);
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn write_indicator(
        &mut self,
        indicator: &str,
        need_whitespace: bool,
        is_whitespace: bool,
        is_indention: bool,
    ) {
        if need_whitespace && !self.whitespace {
            self.put(' ');
        }
        for c in indicator.chars() {
            self.put(c);
        }
        self.whitespace = is_whitespace;
        self.indention = self.indention && is_indention;
        self.open_ended = false;
    }

    fn node(&mut self, v: &Value, ctx: Ctx) {
        match v {
            Value::Array(a) => self.sequence(a, ctx),
            Value::Object(m) => self.mapping(m, ctx),
            Value::String(s) => self.scalar(s, true, ctx),
            Value::Null => self.scalar("null", false, ctx),
            Value::Bool(b) => self.scalar(if *b { "true" } else { "false" }, false, ctx),
            // ruamel writes `repr(float).lower()`: `1e+16`, `1.5`.
            Value::Number(n) => self.scalar(&py::number(n).to_lowercase(), false, ctx),
        }
    }

    fn sequence(&mut self, items: &[Value], ctx: Ctx) {
        if items.is_empty() {
            self.write_indicator("[", true, true, false);
            self.write_indicator("]", false, false, false);
            return;
        }
        self.increase_indent(false, ctx.mapping && !self.indention);
        for item in items {
            self.write_indent();
            self.write_indicator("-", true, false, true);
            self.node(item, Ctx::default());
        }
        self.pop_indent();
    }

    fn mapping(&mut self, m: &Map<String, Value>, _ctx: Ctx) {
        if m.is_empty() {
            self.write_indicator("{", true, true, false);
            self.write_indicator("}", false, false, false);
            return;
        }
        self.increase_indent(false, false);
        let mut entries: Vec<(&String, &Value)> = m.iter().collect();
        entries.sort_by(|a, b| a.0.cmp(b.0));
        for (k, v) in entries {
            self.write_indent();
            let value_ctx = Ctx {
                mapping: true,
                ..Ctx::default()
            };
            if is_simple_key(k) {
                self.scalar(
                    k,
                    true,
                    Ctx {
                        mapping: true,
                        simple_key: true,
                        ..Ctx::default()
                    },
                );
                self.write_indicator(":", false, false, false);
            } else {
                self.write_indicator("?", true, false, true);
                self.scalar(k, true, value_ctx);
                self.write_indent();
                self.write_indicator(":", true, false, true);
            }
            self.node(v, value_ctx);
        }
        self.pop_indent();
    }

    fn scalar(&mut self, value: &str, is_str: bool, ctx: Ctx) {
        let a = analyze(value);
        // A string that the resolver would read as another type must be quoted; other scalars
        // are written as their canonical text, which resolves to their own type.
        let plain_implicit = !is_str || !resolves_to_other_type(value);
        let mut style = Style::Plain;
        if ctx.simple_key && a.multiline {
            style = Style::Double;
        }
        if style == Style::Plain
            && (!a.block_plain_allowed || (value.is_empty() && ctx.simple_key) || !plain_implicit)
        {
            style = Style::Single;
        }
        if style == Style::Single && !a.single_quoted_allowed {
            style = Style::Double;
        }
        self.increase_indent(true, false);
        let allow_breaks = !ctx.simple_key;
        match style {
            Style::Plain => self.write_plain(value, allow_breaks, ctx.root),
            Style::Single => self.write_single_quoted(value, allow_breaks),
            Style::Double => self.write_double_quoted(value, allow_breaks),
        }
        self.pop_indent();
    }

    fn write_plain(&mut self, value: &str, allow_breaks: bool, root: bool) {
        let chars: Vec<char> = value.chars().collect();
        if !self.whitespace {
            self.put(' ');
        }
        let (mut spaces, mut breaks) = (false, false);
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && chars.get(i + 1) != Some(&' ')
                {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.whitespace = false;
        self.indention = false;
        if root {
            self.open_ended = true;
        }
    }

    fn write_single_quoted(&mut self, value: &str, allow_breaks: bool) {
        let chars: Vec<char> = value.chars().collect();
        self.write_indicator("'", true, false, false);
        let (mut spaces, mut breaks) = (false, false);
        let last = chars.len().saturating_sub(1);
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i != 0
                    && i != last
                    && chars.get(i + 1) != Some(&' ')
                {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                if c == '\'' {
                    self.put('\'');
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        if breaks {
            self.write_indent();
        }
        self.write_indicator("'", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn write_double_quoted(&mut self, value: &str, allow_breaks: bool) {
        let chars: Vec<char> = value.chars().collect();
        self.write_indicator("\"", true, false, false);
        let mut spaces = false;
        let last = chars.len().saturating_sub(1);
        for (i, &c) in chars.iter().enumerate() {
            if !is_printable(c) || c == '\u{feff}' || is_break(c) || c == '"' || c == '\\' {
                self.put('\\');
                let cp = c as u32;
                match c {
                    '\0' => self.put('0'),
                    '\u{7}' => self.put('a'),
                    '\u{8}' => self.put('b'),
                    '\t' => self.put('t'),
                    '\n' => self.put('n'),
                    '\u{b}' => self.put('v'),
                    '\u{c}' => self.put('f'),
                    '\r' => self.put('r'),
                    '\u{1b}' => self.put('e'),
                    '"' => self.put('"'),
                    '\\' => self.put('\\'),
                    '\u{85}' => self.put('N'),
                    '\u{a0}' => self.put('_'),
                    '\u{2028}' => self.put('L'),
                    '\u{2029}' => self.put('P'),
                    _ => {
                        let hex = if cp <= 0xff {
                            format!("x{cp:02X}")
                        } else if cp <= 0xffff {
                            format!("u{cp:04X}")
                        } else {
                            format!("U{cp:08X}")
                        };
                        for h in hex.chars() {
                            self.put(h);
                        }
                    }
                }
                spaces = false;
            } else if c == ' ' {
                if allow_breaks && !spaces && self.column > BEST_WIDTH && i != 0 && i != last {
                    self.write_indent();
                    if chars.get(i + 1) == Some(&' ') {
                        self.put('\\');
                    }
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
        self.write_indicator("\"", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }
}

/// libyaml's `IS_PRINTABLE`: LF, printable ASCII, and U+00A0..U+FFFD but the surrogates,
/// U+FEFF, U+FFFE and U+FFFF; nothing beyond the Basic Multilingual Plane.
fn is_printable(c: char) -> bool {
    let cp = c as u32;
    cp == 0x0a
        || (0x20..=0x7e).contains(&cp)
        || (0xa0..=0xd7ff).contains(&cp)
        || ((0xe000..=0xfffd).contains(&cp) && cp != 0xfeff)
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_blank_or_end(c: Option<char>) -> bool {
    match c {
        None => true,
        Some(c) => c == ' ' || c == '\t' || is_break(c) || c == '\0',
    }
}

/// `check_simple_key`: a key is written inline unless it spans lines or is longer than 128
/// bytes.
fn is_simple_key(k: &str) -> bool {
    !k.chars().any(is_break) && k.len() <= 128
}

struct Analysis {
    multiline: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
}

/// libyaml's `yaml_emitter_analyze_scalar`, for block context.
fn analyze(value: &str) -> Analysis {
    if value.is_empty() {
        return Analysis {
            multiline: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
        };
    }
    let chars: Vec<char> = value.chars().collect();
    let mut block_indicators = value.starts_with("---") || value.starts_with("...");
    let mut line_breaks = false;
    let mut special = false;
    let (mut leading_space, mut leading_break) = (false, false);
    let (mut trailing_space, mut trailing_break) = (false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let mut preceded_by_whitespace = true;
    let last = chars.len() - 1;
    for (i, &c) in chars.iter().enumerate() {
        let followed_by_whitespace = is_blank_or_end(chars.get(i + 1).copied());
        if i == 0 {
            if matches!(
                c,
                '#' | ','
                    | '['
                    | ']'
                    | '{'
                    | '}'
                    | '&'
                    | '*'
                    | '!'
                    | '|'
                    | '>'
                    | '\''
                    | '"'
                    | '%'
                    | '@'
                    | '`'
            ) {
                block_indicators = true;
            }
            if matches!(c, '?' | ':') && followed_by_whitespace {
                block_indicators = true;
            }
            if c == '-' && followed_by_whitespace {
                block_indicators = true;
            }
        } else {
            if c == ':' && followed_by_whitespace {
                block_indicators = true;
            }
            if c == '#' && preceded_by_whitespace {
                block_indicators = true;
            }
        }
        if !is_printable(c) {
            special = true;
        }
        if is_break(c) {
            line_breaks = true;
        }
        if c == ' ' {
            leading_space |= i == 0;
            trailing_space |= i == last;
            break_space |= previous_break;
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            leading_break |= i == 0;
            trailing_break |= i == last;
            space_break |= previous_space;
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = is_blank_or_end(Some(c));
    }
    let mut block_plain_allowed = true;
    let mut single_quoted_allowed = true;
    if leading_space || leading_break || trailing_space || trailing_break {
        block_plain_allowed = false;
    }
    if break_space {
        block_plain_allowed = false;
        single_quoted_allowed = false;
    }
    if space_break || special {
        block_plain_allowed = false;
        single_quoted_allowed = false;
    }
    if line_breaks || block_indicators {
        block_plain_allowed = false;
    }
    Analysis {
        multiline: line_breaks,
        block_plain_allowed,
        single_quoted_allowed,
    }
}

/// Whether ruamel.yaml's YAML 1.2 resolver reads this plain text as something other than a
/// string: a bool, float, int, null, timestamp, merge key, `=` or `!`/`&`/`*` (resolver.py's
/// `implicit_resolvers` for version 1.2).
fn resolves_to_other_type(s: &str) -> bool {
    let b = s.as_bytes();
    match b.first() {
        None => true, // null
        Some(b't' | b'T' | b'f' | b'F') => {
            matches!(s, "true" | "True" | "TRUE" | "false" | "False" | "FALSE")
        }
        Some(b'~') => s == "~",
        Some(b'n' | b'N') => matches!(s, "null" | "Null" | "NULL"),
        Some(b'<') => s == "<<",
        Some(b'=') => s == "=",
        Some(b'!' | b'&' | b'*') => s.len() == 1,
        Some(b'-' | b'+' | b'.' | b'0'..=b'9') => is_float(b) || is_int(b) || is_timestamp(b),
        Some(_) => false,
    }
}

fn digits(b: &[u8], i: &mut usize, allowed: impl Fn(u8) -> bool) -> usize {
    let start = *i;
    while *i < b.len() && allowed(b[*i]) {
        *i += 1;
    }
    *i - start
}

fn sign(b: &[u8], i: &mut usize) {
    if *i < b.len() && (b[*i] == b'-' || b[*i] == b'+') {
        *i += 1;
    }
}

fn exponent(b: &[u8], i: &mut usize, sign_required: bool) -> bool {
    if *i < b.len() && (b[*i] == b'e' || b[*i] == b'E') {
        let mut j = *i + 1;
        if j < b.len() && (b[j] == b'-' || b[j] == b'+') {
            j += 1;
        } else if sign_required {
            return false;
        }
        if digits(b, &mut j, |c| c.is_ascii_digit()) == 0 {
            return false;
        }
        *i = j;
        true
    } else {
        false
    }
}

fn is_float(b: &[u8]) -> bool {
    let dig_ = |c: u8| c.is_ascii_digit() || c == b'_';
    // [-+]?[0-9][0-9_]*\.[0-9_]*([eE][-+]?[0-9]+)?   and   [-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
    let mut i = 0;
    sign(b, &mut i);
    if i < b.len() && b[i].is_ascii_digit() {
        let mut j = i;
        digits(b, &mut j, dig_);
        if j < b.len() && b[j] == b'.' {
            let mut k = j + 1;
            digits(b, &mut k, dig_);
            let mut e = k;
            if k == b.len() || (exponent(b, &mut e, false) && e == b.len()) {
                return true;
            }
        }
        let mut e = j;
        if exponent(b, &mut e, false) && e == b.len() {
            return true;
        }
    }
    // [-+]?\.[0-9_]+([eE][-+][0-9]+)?   [-+]?\.(inf|Inf|INF)   \.(nan|NaN|NAN)
    let mut i = 0;
    sign(b, &mut i);
    if i < b.len() && b[i] == b'.' {
        let rest = &b[i + 1..];
        if matches!(rest, b"inf" | b"Inf" | b"INF") {
            return true;
        }
        let mut k = i + 1;
        if digits(b, &mut k, dig_) > 0 {
            let mut e = k;
            if k == b.len() || (exponent(b, &mut e, true) && e == b.len()) {
                return true;
            }
        }
    }
    matches!(b, b".nan" | b".NaN" | b".NAN")
}

fn is_int(b: &[u8]) -> bool {
    let mut i = 0;
    sign(b, &mut i);
    let rest = &b[i..];
    let all = |s: &[u8], f: fn(u8) -> bool| !s.is_empty() && s.iter().all(|&c| f(c));
    if let Some(r) = rest.strip_prefix(b"0b")
        && all(r, |c| c == b'0' || c == b'1' || c == b'_')
    {
        return true;
    }
    if let Some(r) = rest.strip_prefix(b"0x")
        && all(r, |c| c.is_ascii_hexdigit() || c == b'_')
    {
        return true;
    }
    // 0o?[0-7_]+
    if let Some(r) = rest.strip_prefix(b"0o").or_else(|| rest.strip_prefix(b"0"))
        && all(r, |c| (b'0'..=b'7').contains(&c) || c == b'_')
    {
        return true;
    }
    all(rest, |c| c.is_ascii_digit() || c == b'_')
}

fn is_timestamp(b: &[u8]) -> bool {
    let d = |c: u8| c.is_ascii_digit();
    let mut i = 0;
    let n = |i: &mut usize, min: usize, max: usize| -> bool {
        let start = *i;
        while *i < b.len() && *i - start < max && d(b[*i]) {
            *i += 1;
        }
        *i - start >= min
    };
    let lit = |i: &mut usize, c: u8| -> bool {
        if *i < b.len() && b[*i] == c {
            *i += 1;
            true
        } else {
            false
        }
    };
    if !(n(&mut i, 4, 4) && lit(&mut i, b'-')) {
        return false;
    }
    // YYYY-MM-DD exactly.
    {
        let mut j = i;
        if n(&mut j, 2, 2) && lit(&mut j, b'-') && n(&mut j, 2, 2) && j == b.len() {
            return true;
        }
    }
    if !(n(&mut i, 1, 2) && lit(&mut i, b'-') && n(&mut i, 1, 2)) {
        return false;
    }
    if i < b.len() && (b[i] == b'T' || b[i] == b't') {
        i += 1;
    } else {
        let start = i;
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    if !(n(&mut i, 1, 2)
        && lit(&mut i, b':')
        && n(&mut i, 2, 2)
        && lit(&mut i, b':')
        && n(&mut i, 2, 2))
    {
        return false;
    }
    if lit(&mut i, b'.') {
        while i < b.len() && d(b[i]) {
            i += 1;
        }
    }
    if i == b.len() {
        return true;
    }
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    if lit(&mut i, b'Z') {
        return i == b.len();
    }
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
        if !n(&mut i, 1, 2) {
            return false;
        }
        if lit(&mut i, b':') && !n(&mut i, 2, 2) {
            return false;
        }
        return i == b.len();
    }
    false
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn v2_formatter_test_cases() {
        // aws-cli v2 tests/unit/test_formatter.py: TestYAMLDumper and TestStreamedYAMLFormatter.
        assert_eq!(render(&json!(1)), "1\n");
        assert_eq!(render(&json!(1.2)), "1.2\n");
        assert_eq!(render(&json!(true)), "true\n");
        assert_eq!(render(&json!("foo")), "\"foo\"\n");
        assert_eq!(render(&json!({"key": "val"})), "key: val\n");
        assert_eq!(render(&json!(["val1", "val2"])), "- val1\n- val2\n");
        assert_eq!(
            render_stream(&json!({"TableNames": ["MyTable"]})),
            "- TableNames:\n  - MyTable\n"
        );
    }

    #[test]
    fn strings_the_resolver_would_misread_are_quoted() {
        for s in [
            "true",
            "False",
            "null",
            "~",
            "",
            "12",
            "-1_0",
            "0x1F",
            "0o17",
            "1.5",
            ".5",
            "1e3",
            ".inf",
            ".NaN",
            "2013-06-04",
            "2013-06-04T18:17:34+00:00",
            "2001-12-14 21:59:43.10 -5",
            "<<",
            "=",
        ] {
            assert!(resolves_to_other_type(s), "{s:?}");
        }
        for s in [
            "yes",
            "on",
            "1.2.3",
            "AKIA",
            "x1",
            "1e",
            "0b",
            "2013-06-04T",
            "-",
            "+.",
            ".",
        ] {
            assert!(!resolves_to_other_type(s), "{s:?}");
        }
    }
}
