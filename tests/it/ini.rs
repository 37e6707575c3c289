//! The ini module from outside: a differential corpus against botocore itself
//! (`tests/fixtures/ini/`, produced by `tests/oracle/botocore_oracle.py`), rust-ini as an oracle on
//! generated files, the splice property of `KeyEdit`, and "never panics" on arbitrary text.
//!
//! Runs on wasm32-wasip1 too: the fixtures are compiled in (`fixtures/ini/index.rs`), nothing here
//! opens a file.

use std::ops::Range;

use aws_rotate_keys::ini::{
    Document, EditError, Entry, FileKind, KeyEdit, ParseError, ParseErrorKind, Section, SectionKind,
};
use aws_rotate_keys::key::{AccessKeyId, SecretAccessKey};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use serde_json::{Map, Value, json};

/// (name, text, botocore reading it as config, botocore reading it as credentials).
const FIXTURES: &[(&str, &str, &str, &str)] = include!("../fixtures/ini/index.rs");

/// Fixtures where we differ from botocore on purpose (see `src/ini/mod.rs`): botocore refuses the
/// first, and we read it as botocore reads the second.
const DELIBERATE: &[(&str, &str)] = &[("bom-credentials", "basic-credentials")];

// ---------------------------------------------------------------------------------------------
// botocore's view of a document

fn entry_json(e: &Entry) -> Value {
    match e.nested {
        Some(pairs) => Value::Object(
            pairs
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        ),
        None => Value::String(e.value.to_string()),
    }
}

/// What `raw_config_parse` holds for one section: its settings, `[DEFAULT]`'s included.
fn section_json(doc: &Document, s: &Section) -> Value {
    Value::Object(
        doc.settings(s)
            .into_iter()
            .map(|e| (e.key.to_string(), entry_json(&e)))
            .collect(),
    )
}

/// The value `botocore_oracle.py` writes for a file that parses.
fn botocore_view(doc: &Document) -> Value {
    let sections = doc
        .sections()
        .iter()
        .filter(|s| s.kind != SectionKind::Defaults);
    match doc.kind() {
        FileKind::Credentials => Value::Object(
            sections
                .map(|s| (s.header.to_string(), section_json(doc, s)))
                .collect(),
        ),
        FileKind::Config => {
            // `build_profile_map`, with its dict semantics: a later section replaces an earlier
            // one of the same name, and the three maps are set last.
            let (mut profiles, mut sso, mut services, mut rest) =
                (Map::new(), Map::new(), Map::new(), Map::new());
            for s in sections {
                let values = section_json(doc, s);
                match &s.kind {
                    SectionKind::Profile(n) => profiles.insert(n.to_string(), values),
                    SectionKind::SsoSession(n) => sso.insert(n.to_string(), values),
                    SectionKind::Services(n) => services.insert(n.to_string(), values),
                    // botocore drops the prefixed headers that name nothing.
                    _ if ["profile", "sso-session", "services"]
                        .iter()
                        .any(|p| s.header.starts_with(p)) =>
                    {
                        None
                    }
                    _ => rest.insert(s.header.to_string(), values),
                };
            }
            rest.insert("profiles".into(), Value::Object(profiles));
            rest.insert("sso_sessions".into(), Value::Object(sso));
            rest.insert("services".into(), Value::Object(services));
            Value::Object(rest)
        }
    }
}

/// The oracle's `{"error": class, "line": n}` for our error.
fn error_view(err: &ParseError) -> Value {
    let class = match err.kind {
        ParseErrorKind::OutsideSection => "MissingSectionHeaderError",
        ParseErrorKind::Garbage | ParseErrorKind::EmptyKey => "ParsingError",
        ParseErrorKind::DuplicateSection(_) => "DuplicateSectionError",
        ParseErrorKind::DuplicateKey { .. } => "DuplicateOptionError",
        // botocore's `_parse_nested` raises a bare ValueError, with no line.
        ParseErrorKind::BadNested => return json!({ "error": "ValueError" }),
        _ => "unknown",
    };
    json!({ "error": class, "line": err.line })
}

fn our_view(kind: FileKind, text: &str) -> Value {
    match Document::parse(kind, text) {
        Ok(doc) => botocore_view(&doc),
        Err(err) => error_view(&err),
    }
}

fn fixture(name: &str) -> (&'static str, Value, Value) {
    let &(_, text, config, credentials) = FIXTURES
        .iter()
        .find(|f| f.0 == name)
        .unwrap_or_else(|| panic!("no fixture {name}"));
    let parse = |j: &str| serde_json::from_str::<Value>(j).expect("the oracle writes JSON");
    (text, parse(config), parse(credentials))
}

#[test]
fn corpus_is_large_enough() {
    assert!(FIXTURES.len() >= 30, "{} fixtures", FIXTURES.len());
    let errors = FIXTURES
        .iter()
        .filter(|f| f.2.contains("\"error\""))
        .count();
    assert!(errors >= 8, "malformed fixtures: {errors}");
}

#[test]
fn we_read_every_fixture_as_botocore_does() {
    let mut failures = Vec::new();
    for &(name, text, _, _) in FIXTURES {
        let (_, want_config, want_credentials) = fixture(name);
        let twin = DELIBERATE.iter().find(|d| d.0 == name).map(|d| d.1);
        let (want_config, want_credentials) = match twin {
            Some(twin) => {
                // botocore refuses this one; we read it as botocore reads its twin.
                let refused = json!({ "error": "MissingSectionHeaderError", "line": 1 });
                assert_eq!(want_config, refused, "{name}: botocore changed its mind");
                assert_eq!(
                    want_credentials, refused,
                    "{name}: botocore changed its mind"
                );
                let (_, c, k) = fixture(twin);
                (c, k)
            }
            None => (want_config, want_credentials),
        };
        for (kind, want) in [
            (FileKind::Config, want_config),
            (FileKind::Credentials, want_credentials),
        ] {
            let have = our_view(kind, text);
            if have != want {
                failures.push(format!(
                    "{name} as {kind:?}:\n  botocore: {want}\n  we read:  {have}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn fixture_errors_have_lines_and_no_text() {
    for &(name, text, _, _) in FIXTURES {
        if let Err(err) = Document::parse(FileKind::Credentials, text) {
            let line_count = text.split_inclusive(['\n', '\r']).count().max(1);
            assert!(err.line >= 1 && err.line <= line_count, "{name}: {err}");
            let message = err.to_string();
            assert!(message.starts_with(&format!("line {}: ", err.line)));
            for secret in [
                "EXAMPLEKEY",
                "AKIA",
                "not a setting",
                "garbage here",
                "us-west-2",
            ] {
                assert!(!message.contains(secret), "{name}: {message}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Generated files
//
// rust-ini is a fair oracle on this subset, where both grammars mean the same thing: no
// indented lines at all (rust-ini has no continuation lines, configparser does), comments only in
// column 0 (rust-ini reads an indented `#` as a key), keys of `[a-z0-9_]` (rust-ini keeps case,
// configparser lowercases), values of ASCII letters, digits and `/+=._:-` with inner spaces (no
// quotes or backslashes: rust-ini's quote and escape options are turned off, but `\` still escapes
// a line break), unique sections and keys (configparser refuses duplicates; rust-ini merges),
// no `[DEFAULT]` (a plain section to rust-ini), and `\n` or `\r\n` line ends (rust-ini reads a
// lone `\r` inside a line). Lone `\r` and a BOM are checked against our own `\n` reading instead.

#[derive(Debug, Clone)]
struct Setting {
    key: String,
    value: String,
    /// The text between key and value: `=` or `:` with spaces or tabs around it.
    delim: String,
    /// Spaces or tabs after the value.
    trailing: String,
}

#[derive(Debug, Clone)]
struct GenSection {
    name: String,
    settings: Vec<Setting>,
}

#[derive(Debug, Clone)]
struct GenFile {
    sections: Vec<GenSection>,
    /// Per line: the end to use (`\n` or `\r\n`), a comment to add before it, a blank line after it.
    line_ends: Vec<(bool, Option<String>, bool)>,
    final_newline: bool,
}

fn key_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "aws_access_key_id",
            "aws_secret_access_key",
            "region",
            "output",
            "role_arn",
            "source_profile",
            "aws_session_token",
        ])
        .prop_map(String::from),
        2 => "[a-z_][a-z0-9_]{0,11}",
    ]
}

fn value_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9/+=._:-]{0,24}",
        "[A-Za-z0-9]{1,6}( [A-Za-z0-9/:=]{1,6}){0,3}",
        Just(String::new()),
    ]
}

fn setting_strategy() -> impl Strategy<Value = Setting> {
    (
        key_strategy(),
        value_strategy(),
        "[ \t]{0,2}[=:][ \t]{0,2}",
        "[ \t]{0,2}",
    )
        .prop_map(|(key, value, delim, trailing)| Setting {
            key,
            value,
            delim,
            trailing,
        })
}

fn section_strategy() -> impl Strategy<Value = GenSection> {
    (
        "[a-z0-9_-]{1,8}",
        prop::collection::vec(setting_strategy(), 0..6),
    )
        .prop_map(|(name, mut settings)| {
            let mut seen = std::collections::HashSet::new();
            settings.retain(|s| seen.insert(s.key.clone()));
            GenSection { name, settings }
        })
}

fn file_strategy() -> impl Strategy<Value = GenFile> {
    (
        prop::collection::vec(section_strategy(), 0..8),
        prop::collection::vec(
            (
                any::<bool>(),
                prop::option::weighted(0.15, "[#;][ -~]{0,12}"),
                prop::bool::weighted(0.15),
            ),
            64,
        ),
        any::<bool>(),
    )
        .prop_map(|(mut sections, line_ends, final_newline)| {
            let mut seen = std::collections::HashSet::new();
            sections.retain(|s| s.name != "DEFAULT" && seen.insert(s.name.clone()));
            GenFile {
                sections,
                line_ends,
                final_newline,
            }
        })
}

impl GenFile {
    fn header(&self, kind: FileKind, name: &str) -> String {
        match kind {
            FileKind::Credentials => name.to_owned(),
            FileKind::Config if name == "default" => name.to_owned(),
            FileKind::Config => format!("profile {name}"),
        }
    }

    /// The file's text, and the byte span of every value in it.
    fn render(&self, kind: FileKind) -> (String, Vec<Vec<Range<usize>>>) {
        let mut lines: Vec<(String, Option<Range<usize>>)> = Vec::new();
        for s in &self.sections {
            lines.push((format!("[{}]", self.header(kind, &s.name)), None));
            for set in &s.settings {
                // An empty value's span sits after all the spaces that follow the delimiter.
                let start = match set.value.is_empty() {
                    true => set.key.len() + set.delim.len() + set.trailing.len(),
                    false => set.key.len() + set.delim.len(),
                };
                let line = format!("{}{}{}{}", set.key, set.delim, set.value, set.trailing);
                lines.push((line, Some(start..start + set.value.len())));
            }
        }
        let mut text = String::new();
        let mut spans: Vec<Vec<Range<usize>>> = Vec::new();
        let n = lines.len();
        for (i, (line, span)) in lines.into_iter().enumerate() {
            let (crlf, comment, blank) = self.line_ends[i % self.line_ends.len()].clone();
            let end = if crlf { "\r\n" } else { "\n" };
            if let Some(c) = comment {
                text.push_str(&c);
                text.push_str(end);
            }
            match span {
                None => spans.push(Vec::new()),
                Some(r) => {
                    let base = text.len();
                    if let Some(last) = spans.last_mut() {
                        last.push(base + r.start..base + r.end);
                    }
                }
            }
            text.push_str(&line);
            if i + 1 < n || self.final_newline {
                text.push_str(end);
            }
            if blank && i + 1 < n {
                text.push_str(end);
            }
        }
        (text, spans)
    }
}

fn ini_options() -> ini::ParseOption {
    ini::ParseOption {
        enabled_quote: false,
        enabled_escape: false,
        ..ini::ParseOption::default()
    }
}

/// Every (header, key, value, span) we read, for comparisons between two readings.
fn flat(doc: &Document) -> Vec<(String, String, String, Range<usize>, bool)> {
    doc.sections()
        .iter()
        .flat_map(|s| {
            doc.entries(s).map(|e| {
                (
                    s.header.to_string(),
                    e.key.to_string(),
                    e.value.to_string(),
                    e.value_span.clone(),
                    e.multiline,
                )
            })
        })
        .collect()
}

/// Arbitrary text made of the characters that matter to the grammar, and some that do not.
fn grammar_soup() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just("=".to_owned()),
        Just(":".to_owned()),
        Just("\n".to_owned()),
        Just("\r".to_owned()),
        Just("\r\n".to_owned()),
        Just(" ".to_owned()),
        Just("\t".to_owned()),
        Just("#".to_owned()),
        Just(";".to_owned()),
        Just("\"".to_owned()),
        Just("'".to_owned()),
        Just("\\".to_owned()),
        Just("\u{feff}".to_owned()),
        Just("\u{1c}".to_owned()),
        Just("\u{b}".to_owned()),
        Just("\u{3000}".to_owned()),
        Just("DEFAULT".to_owned()),
        Just("profile ".to_owned()),
        Just("aws_access_key_id".to_owned()),
        Just("aws_secret_access_key".to_owned()),
        Just("aws_session_token".to_owned()),
        Just("AKIA".to_owned()),
        "[a-zA-Z0-9]{1,3}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..80).prop_map(|v| v.concat())
}

fn key_edit(from: &str) -> KeyEdit {
    KeyEdit {
        from: AccessKeyId::new(from).expect("a valid id"),
        to_id: AccessKeyId::new("AKIANEWKEY0000000001").expect("a valid id"),
        to_secret: SecretAccessKey::new("new/secret+VALUE=").expect("a valid secret"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        // Integration tests have no lib.rs beside them for proptest's default place.
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/fixtures/ini/proptest-regressions.txt",
        ))),
        ..ProptestConfig::default()
    })]

    /// (a) Generated files parse, and every value we read is what rust-ini reads.
    #[test]
    fn generated_files_read_as_rust_ini_reads(file in file_strategy(), config in any::<bool>()) {
        let kind = if config { FileKind::Config } else { FileKind::Credentials };
        let (text, spans) = file.render(kind);
        let doc = Document::parse(kind, &text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let theirs = ini::Ini::load_from_str_opt(&text, ini_options())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(doc.sections().len(), file.sections.len());
        for ((ours, generated), spans) in doc.sections().iter().zip(&file.sections).zip(&spans) {
            let header = file.header(kind, &generated.name);
            prop_assert_eq!(&ours.header, &header);
            let props = theirs.section(Some(header.as_str()));
            prop_assert!(props.is_some(), "rust-ini has no [{}]", header);
            let props = props.expect("checked");
            prop_assert_eq!(doc.entries(ours).len(), props.len());
            prop_assert_eq!(doc.entries(ours).len(), generated.settings.len());
            for ((entry, set), span) in doc.entries(ours).zip(&generated.settings).zip(spans) {
                prop_assert_eq!(entry.key, &set.key);
                prop_assert_eq!(Some(entry.value), props.get(&set.key));
                prop_assert_eq!(entry.value, &set.value);
                prop_assert_eq!(&entry.value_span, span);
                prop_assert_eq!(&text[span.clone()], set.value.as_str());
                prop_assert!(!entry.multiline);
            }
        }
        let names: Vec<String> = file.sections.iter().map(|s| s.name.clone()).collect();
        prop_assert_eq!(doc.profile_names(), names.iter().map(String::as_str).collect::<Vec<_>>());
        for s in &file.sections {
            for set in &s.settings {
                let got = doc.get(&s.name, &set.key).map(|e| e.value);
                prop_assert_eq!(got, Some(set.value.as_str()));
            }
        }
    }

    /// (a') Line ends do not change what is read: a lone `\r` reads as `\n`, and so does `\r\n`;
    /// a BOM in front changes nothing but the spans.
    #[test]
    fn line_ends_and_bom_do_not_change_values(
        file in file_strategy(),
        ends in prop::collection::vec(prop::sample::select(vec!["\n", "\r", "\r\n"]), 1..16),
    ) {
        let (text, _) = file.render(FileKind::Credentials);
        let lf = text.replace("\r\n", "\n");
        let mut i = 0;
        let mixed: String = lf
            .split_inclusive('\n')
            .map(|line| {
                i += 1;
                match line.strip_suffix('\n') {
                    Some(body) => format!("{body}{}", ends[i % ends.len()]),
                    None => line.to_owned(),
                }
            })
            .collect();
        let values = |doc: &Document| -> Vec<(String, String, String)> {
            flat(doc).into_iter().map(|(h, k, v, _, _)| (h, k, v)).collect()
        };
        let a = Document::parse(FileKind::Credentials, &lf).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let b = Document::parse(FileKind::Credentials, &mixed).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(values(&a), values(&b));
        for (_, _, v, span, _) in flat(&b) {
            prop_assert_eq!(&mixed[span], v.as_str());
        }
        let bom = format!("\u{feff}{mixed}");
        let c = Document::parse(FileKind::Credentials, &bom).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let shifted: Vec<_> = flat(&b)
            .into_iter()
            .map(|(h, k, v, r, m)| (h, k, v, r.start + 3..r.end + 3, m))
            .collect();
        prop_assert_eq!(flat(&c), shifted);
        prop_assert_eq!(c.text(), bom.as_str());
    }

    /// (b) The splice changes the holders' id and secret and not one other byte.
    #[test]
    fn splice_changes_only_the_key_values(
        file in file_strategy(),
        holders in prop::collection::vec((any::<bool>(), any::<bool>(), any::<bool>()), 8),
        default_holds in prop::option::of(any::<bool>()),
        config in any::<bool>(),
    ) {
        const FROM: &str = "AKIAOLDKEY0000000001";
        let kind = if config { FileKind::Config } else { FileKind::Credentials };
        let mut file = file;
        // Make some sections hold FROM (with a secret), some of them also a session token; put
        // FROM in a [DEFAULT] section too, sometimes with a token.
        for (s, &(holds, token, other)) in file.sections.iter_mut().zip(&holders) {
            s.settings.retain(|set| !set.key.starts_with("aws_"));
            let pair = |key: &str, value: &str| Setting {
                key: key.to_owned(),
                value: value.to_owned(),
                delim: if other { " = ".into() } else { ":\t".into() },
                trailing: if token { " ".into() } else { String::new() },
            };
            let id = if holds { FROM } else { "AKIAOTHER00000000001" };
            let at = s.settings.len() / 2;
            s.settings.insert(at, pair("aws_access_key_id", id));
            s.settings.push(pair("aws_secret_access_key", "old/secret+VALUE"));
            if token && other {
                s.settings.push(pair("aws_session_token", "tok"));
            }
        }
        if let Some(token) = default_holds {
            let mut settings = vec![
                Setting { key: "aws_access_key_id".into(), value: FROM.into(), delim: "=".into(), trailing: String::new() },
                Setting { key: "aws_secret_access_key".into(), value: "default-secret".into(), delim: "=".into(), trailing: String::new() },
            ];
            if token {
                settings.push(Setting { key: "aws_security_token".into(), value: "t".into(), delim: "=".into(), trailing: String::new() });
            }
            file.sections.insert(0, GenSection { name: "DEFAULT".into(), settings });
        }
        let (mut text, _) = file.render(kind);
        if kind == FileKind::Config && default_holds.is_some() {
            // The config rendering wrote [profile DEFAULT]; make it configparser's [DEFAULT].
            text = text.replacen("[profile DEFAULT]", "[DEFAULT]", 1);
        }
        let before = Document::parse(kind, &text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let edit = key_edit(FROM);
        let expected_holders: Vec<&Section> = before.key_holders(&edit.from);
        let out = edit.apply(kind, &text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let Some(out) = out.map(|a| a.text) else {
            prop_assert!(expected_holders.is_empty());
            return Ok(());
        };
        prop_assert!(!expected_holders.is_empty());
        // Byte for byte outside the spans.
        let mut spans: Vec<(Range<usize>, &str)> = Vec::new();
        for s in &expected_holders {
            let id = before.entry(s, "aws_access_key_id").expect("a holder has an id");
            let secret = before.entry(s, "aws_secret_access_key").expect("generated with a secret");
            spans.push((id.value_span.clone(), edit.to_id.as_str()));
            spans.push((secret.value_span.clone(), edit.to_secret.expose()));
        }
        spans.sort_by_key(|(r, _)| r.start);
        let mut expected = String::new();
        let mut at = 0;
        for (r, new) in &spans {
            expected.push_str(&text[at..r.start]);
            expected.push_str(new);
            at = r.end;
        }
        expected.push_str(&text[at..]);
        prop_assert_eq!(&out, &expected);
        // Re-read: new values in the holders, the same values everywhere else.
        let after = Document::parse(kind, &out).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(after.key_holders(&edit.from).is_empty());
        prop_assert_eq!(after.key_holders(&edit.to_id).len(), expected_holders.len());
        prop_assert_eq!(after.sections().len(), before.sections().len());
        for (a, b) in before.sections().iter().zip(after.sections()) {
            prop_assert_eq!(&a.header, &b.header);
            let holder = expected_holders.iter().any(|h| std::ptr::eq(*h, a));
            prop_assert_eq!(before.entries(a).len(), after.entries(b).len());
            for (x, y) in before.entries(a).zip(after.entries(b)) {
                prop_assert_eq!(x.key, y.key);
                prop_assert_eq!(x.line, y.line);
                let want = match (holder, x.key) {
                    (true, "aws_access_key_id") => edit.to_id.as_str(),
                    (true, "aws_secret_access_key") => edit.to_secret.expose(),
                    _ => x.value,
                };
                prop_assert_eq!(y.value, want);
            }
        }
    }

    /// (c) Parsing and editing never panic, whatever the text.
    #[test]
    fn arbitrary_text_never_panics(text in ".*", soup in grammar_soup()) {
        for t in [&text, &soup] {
            for kind in [FileKind::Config, FileKind::Credentials] {
                if let Ok(doc) = Document::parse(kind, t) {
                    for name in doc.profile_names() {
                        let _ = doc.get(name, "aws_access_key_id");
                    }
                    for s in doc.sections() {
                        for e in doc.entries(s) {
                            prop_assert!(t.get(e.value_span.clone()).is_some());
                        }
                    }
                }
                let _ = key_edit("AKIA").apply(kind, t);
            }
        }
    }

    /// (b') The splice on messy files: indentation, continuation lines, [DEFAULT], tokens, missing
    /// secrets, every line end. For every key id a file holds, the edit either refuses, or changes
    /// exactly the holders' id and secret values, after which exactly those sections hold the new
    /// key and none the old one.
    #[test]
    fn messy_edits_are_exact_splices(text in messy_file()) {
        for kind in [FileKind::Config, FileKind::Credentials] {
            let Ok(doc) = Document::parse(kind, &text) else { continue };
            let ids: std::collections::BTreeSet<AccessKeyId> = doc
                .sections()
                .iter()
                .flat_map(|s| doc.entries(s))
                .filter(|e| e.key == "aws_access_key_id")
                .filter_map(|e| AccessKeyId::new(e.value))
                .collect();
            for from in ids {
                let edit = KeyEdit { from: from.clone(), ..key_edit("AKIA") };
                let holders = doc.key_holders(&from);
                let out = match edit.apply(kind, &text) {
                    Ok(Some(applied)) => applied.text,
                    Ok(None) => {
                        prop_assert!(holders.is_empty());
                        continue;
                    }
                    Err(EditError::Parse(e)) => return Err(TestCaseError::fail(e.to_string())),
                    Err(_) => continue,
                };
                let mut spans = Vec::new();
                for h in &holders {
                    let id = doc.entry(h, "aws_access_key_id").expect("a holder has an id");
                    let secret = doc.entry(h, "aws_secret_access_key").expect("the edit did not refuse");
                    spans.push((id.value_span.clone(), edit.to_id.as_str()));
                    spans.push((secret.value_span.clone(), edit.to_secret.expose()));
                }
                spans.sort_by_key(|(r, _)| std::cmp::Reverse(r.start));
                let mut expected = text.clone();
                for (r, new) in spans {
                    expected.replace_range(r, new);
                }
                prop_assert_eq!(&out, &expected);
                let after = Document::parse(kind, &out).map_err(|e| TestCaseError::fail(e.to_string()))?;
                let places = |v: Vec<&Section>| v.iter().map(|s| (s.line, s.header.clone())).collect::<Vec<_>>();
                prop_assert_eq!(places(after.key_holders(&edit.to_id)), places(holders));
                prop_assert!(after.key_holders(&from).is_empty());
            }
        }
    }
}

/// Files of plausible lines in implausible arrangements.
fn messy_file() -> impl Strategy<Value = String> {
    let indent = prop::sample::select(vec!["", "", "", "", " ", "\t", "\u{3000}"]);
    // Mostly keys and secrets, sometimes a token beside them.
    let weighted = [
        ("aws_access_key_id", 0.8),
        ("AWS_Secret_Access_Key", 0.8),
        ("aws_session_token", 0.1),
        ("aws_security_token", 0.05),
        ("region", 0.5),
        ("s3", 0.2),
    ];
    let keys = weighted
        .map(|(k, p)| prop::bool::weighted(p).prop_map(move |on| on.then_some(k)))
        .prop_map(|ks| ks.into_iter().flatten().collect::<Vec<_>>())
        .prop_shuffle();
    let value = prop::sample::select(vec![
        "AKIAONE",
        "AKIAONE",
        "AKIATWO",
        "secret/1+x=",
        "",
        "a = b",
        "AKIAONE # note",
    ]);
    let setting = (
        indent.clone(),
        prop::sample::select(vec!["=", " = ", ":", "\t:  ", " ="]),
        value,
        prop::sample::select(vec!["", " ", "\t"]),
        prop::sample::select(vec![
            "",
            "",
            "",
            "",
            "",
            "  continued",
            "\n",
            "# c",
            "  x = y",
        ]),
    );
    let header = prop::sample::select(vec![
        "[default]",
        "[profile a]",
        "[a]",
        "[DEFAULT]",
        "[profile \"c d\"]",
        "[sso-session s]",
    ]);
    let section = (indent, header, keys, prop::collection::vec(setting, 6));
    let end = prop::sample::select(vec!["\n", "\n", "\r\n", "\r"]);
    (
        any::<bool>(),
        prop::collection::vec(section, 0..6),
        prop::collection::vec(end, 8),
        any::<bool>(),
    )
        .prop_map(|(bom, sections, ends, last_end)| {
            let mut lines: Vec<String> = Vec::new();
            for (n, (indent, header, keys, settings)) in sections.into_iter().enumerate() {
                // A number keeps headers apart ([DEFAULT] may repeat; a key repeated across its
                // sections makes a file botocore refuses, which is fine here too).
                let header = match header {
                    "[DEFAULT]" => header.to_owned(),
                    h => format!("{}{n}]", &h[..h.len() - 1]),
                };
                lines.push(format!("{indent}{header}"));
                for (key, (indent, delim, value, trailing, after)) in keys.into_iter().zip(settings)
                {
                    lines.push(format!("{indent}{key}{delim}{value}{trailing}"));
                    lines.extend(
                        after
                            .split('\n')
                            .filter(|l| !l.is_empty())
                            .map(String::from),
                    );
                    if after == "\n" {
                        lines.push(String::new());
                    }
                }
            }
            let mut text = String::from(if bom { "\u{feff}" } else { "" });
            let n = lines.len();
            for (i, line) in lines.into_iter().enumerate() {
                text.push_str(&line);
                if i + 1 < n || last_end {
                    text.push_str(ends[i % ends.len()]);
                }
            }
            text
        })
}

// ---------------------------------------------------------------------------------------------
// A few end-to-end cases that read better as examples

#[test]
fn rotate_a_key_shared_by_both_files() {
    let (credentials, _, _) = fixture("realistic-credentials");
    let (config, _, _) = fixture("realistic-messy");
    let edit = KeyEdit {
        from: AccessKeyId::new("AKIAIOSFODNN7EXAMPLE").expect("valid"),
        to_id: AccessKeyId::new("AKIANEWKEY0000000001").expect("valid"),
        to_secret: SecretAccessKey::new("n3w/S3cret").expect("valid"),
    };
    let applied = edit
        .apply(FileKind::Credentials, credentials)
        .expect("edits")
        .expect("holds the key");
    assert_eq!(applied.profiles, ["default", "shared"]);
    let out = applied.text;
    let doc = Document::parse(FileKind::Credentials, &out).expect("parses");
    for p in ["default", "shared"] {
        assert_eq!(
            doc.get(p, "aws_access_key_id").map(|e| e.value),
            Some("AKIANEWKEY0000000001")
        );
        assert_eq!(
            doc.get(p, "aws_secret_access_key").map(|e| e.value),
            Some("n3w/S3cret")
        );
    }
    assert_eq!(
        doc.get("old-account", "aws_access_key_id").map(|e| e.value),
        Some("AKIAI44QH8DHBEXAMPLE")
    );
    assert_eq!(
        out.replace("AKIANEWKEY0000000001", "AKIAIOSFODNN7EXAMPLE")
            .replace("n3w/S3cret", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        credentials
    );
    let out = edit
        .apply(FileKind::Config, config)
        .expect("edits")
        .expect("holds the key")
        .text;
    let doc = Document::parse(FileKind::Config, &out).expect("parses");
    assert_eq!(
        doc.get("static", "aws_access_key_id").map(|e| e.value),
        Some("AKIANEWKEY0000000001")
    );
    assert_eq!(out.len(), config.len() - 40 + 10);
}

#[test]
fn a_session_profile_is_not_a_holder_and_errors_quote_nothing() {
    let (credentials, _, _) = fixture("realistic-credentials");
    let edit = key_edit("ASIAEXAMPLETEMPKEY01");
    assert_eq!(edit.apply(FileKind::Credentials, credentials), Ok(None));
    let err = key_edit("AKIAIOSFODNN7EXAMPLE")
        .apply(
            FileKind::Credentials,
            "[a]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n",
        )
        .expect_err("no secret");
    assert_eq!(
        err,
        EditError::MissingSecret {
            section: "a".into(),
            line: 2
        }
    );
    assert!(!err.to_string().contains("AKIAIOSFODNN7EXAMPLE"));
}
