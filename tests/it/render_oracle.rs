//! Differential: the core's renderers against the `aws` CLI v1's own (awscli.formatter with
//! text.py and table.py), on generated JSON values: nested objects and lists, strings with
//! quotes, tabs, newlines, control, wide and astral characters, integers and floats of every
//! magnitude, booleans and nulls, and lists of records sharing keys as AWS responses have.
//! Every case must render byte for byte as aws renders it, or fail where aws fails.
//!
//! One oracle process (tests/oracle/awscli_render_oracle.py, in the test venv) answers every
//! case over a pipe, so the whole test takes seconds.
// Not on Windows either: they drive the Linux test servers and Python oracles themselves.
#![cfg(not(any(target_family = "wasm", windows)))]
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

use crate::moto;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use aws_rotate_keys::render::{self, OutputFormat, Query, Style};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use serde_json::{Map, Number, Value, json};

struct Oracle {
    _child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

fn oracle() -> &'static Mutex<Oracle> {
    static ORACLE: OnceLock<Mutex<Oracle>> = OnceLock::new();
    ORACLE.get_or_init(|| {
        let python = moto::venv().join("bin/python");
        let script = moto::crate_dir().join("tests/oracle/awscli_render_oracle.py");
        let mut child = Command::new(python)
            .arg(script)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the awscli render oracle");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Mutex::new(Oracle {
            _child: child,
            stdin,
            stdout,
        })
    })
}

/// What aws prints: `Ok(text)`, or `Err(exception)` where aws fails.
fn aws_renders(request: &Value) -> Result<String, String> {
    aws_answers(request).map_err(|(e, _)| e)
}

/// As [`aws_renders`], the error with whether jmespath.py refused the query itself.
fn aws_answers(request: &Value) -> Result<String, (String, bool)> {
    let mut o = oracle().lock().unwrap_or_else(|e| e.into_inner());
    writeln!(o.stdin, "{request}").unwrap();
    o.stdin.flush().unwrap();
    let mut line = String::new();
    o.stdout.read_line(&mut line).unwrap();
    let answer: Value = serde_json::from_str(&line).expect("the oracle answers JSON");
    let syntax = answer.get("syntax") == Some(&Value::Bool(true));
    match (answer.get("ok"), answer.get("error")) {
        (Some(Value::String(s)), _) => Ok(s.clone()),
        (_, Some(e)) => Err((e.to_string(), syntax)),
        _ => panic!("odd oracle answer {line}"),
    }
}

const CHARS: &[char] = &[
    'a', 'b', 'c', 'x', 'y', 'z', 'A', 'B', 'K', 'Z', '0', '1', '9', ' ', ' ', '-', ':', '/', '.',
    '_', '#', '\'', '"', '\\', '\t', '\n', '\r', '\u{1}', '\u{7f}', 'é', 'ß', 'Ω', '日', '本', '±',
    '😀', '\u{a0}', '\u{200b}', '\u{2028}', '\u{feff}', '[', '{', ',', '%',
];
const UPPER: &[char] = &['A', 'B', 'C', 'K', 'M', 'S', 'U', 'Z'];
const LOWER: &[char] = &['a', 'c', 'e', 'i', 'k', 'n', 'r', 's', 't', 'y', '0', '7'];
const POOL: &[&str] = &[
    "UserName",
    "AccessKeyId",
    "Status",
    "CreateDate",
    "Tags",
    "Name",
    "Value",
    "Size",
];

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::collection::vec(prop::sample::select(CHARS), 0..14)
            .prop_map(|v| v.into_iter().collect::<String>()),
        1 => prop::sample::select(&["", "true", "null", "12", "1.5", "2013-06-04T18:17:34+00:00", "AKIAIOSFODNN7EXAMPLE", "Active"][..])
            .prop_map(str::to_owned),
        1 => (1usize..40).prop_map(|n| "word ".repeat(n)),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => (prop::sample::select(UPPER), prop::collection::vec(prop::sample::select(LOWER), 0..9))
            .prop_map(|(c, rest)| std::iter::once(c).chain(rest).collect::<String>()),
        2 => prop::sample::select(POOL).prop_map(str::to_owned),
        1 => text(),
    ]
}

fn number() -> impl Strategy<Value = Value> {
    let float = prop_oneof![
        prop::num::f64::NORMAL | prop::num::f64::SUBNORMAL | prop::num::f64::ZERO,
        (-100_000i32..100_000).prop_map(|i| f64::from(i) / 100.0),
        prop::sample::select(&[1e16, 1e15, 1e-5, 1e-4, 0.1, -0.0, 1e300, 123456789.0][..]),
    ]
    .prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number));
    prop_oneof![
        (-1000i64..1000).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        float,
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        2 => number(),
        4 => text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            2 => prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            3 => prop::collection::vec((key(), inner.clone()), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
            // Records: a list of objects drawing keys from one small pool, as AWS lists are.
            3 => prop::collection::vec(
                    prop::collection::vec((prop::sample::select(POOL).prop_map(str::to_owned), inner), 0..5),
                    1..4,
                )
                .prop_map(|rows| Value::Array(rows.into_iter()
                    .map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>()))
                    .collect())),
        ]
    })
}

fn response() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => prop::collection::vec((key(), value()), 0..4)
            .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        1 => value(),
    ]
}

fn check(format: OutputFormat, title: &str, width: usize, v: &Value) -> Result<(), TestCaseError> {
    let request = json!({"format": format.name(), "title": title, "width": width, "value": v});
    let theirs = aws_renders(&request);
    let ours = render::render(
        v,
        Style {
            format,
            title,
            width,
        },
    );
    match (&ours, &theirs) {
        (Ok(a), Ok(b)) => prop_assert_eq!(a, b, "{} of {}", format, v),
        (Err(_), Err(_)) => {}
        _ => prop_assert!(
            false,
            "{} of {}: ours {:?}, aws {:?}",
            format,
            v,
            ours,
            theirs
        ),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 400,
        // Integration tests have no lib.rs beside them for proptest's default place.
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/render_oracle.txt",
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn json_renders_as_aws(v in response()) {
        check(OutputFormat::Json, "Op", 80, &v)?;
    }

    #[test]
    fn text_renders_as_aws(v in response()) {
        check(OutputFormat::Text, "Op", 80, &v)?;
    }

    #[test]
    fn table_renders_as_aws(
        v in response(),
        width in prop_oneof![Just(80usize), 10usize..220],
        title in prop::sample::select(&["ListAccessKeys", "Op", "日本語のタイトル", "A rather long operation title for a narrow table"][..]),
    ) {
        check(OutputFormat::Table, title, width, &v)?;
    }
}

const QUERIES: &[&str] = &[
    "AccessKeyMetadata",
    "AccessKeyMetadata[0]",
    "AccessKeyMetadata[*].AccessKeyId",
    "AccessKeyMetadata[?Status=='Active']",
    "AccessKeyMetadata[?Status==`Active`]",
    "AccessKeyMetadata[].{Id: AccessKeyId, S: Status}",
    "AccessKeyMetadata[].[Status, UserName]",
    "length(AccessKeyMetadata)",
    "sort_by(AccessKeyMetadata, &CreateDate)[-1]",
    "max_by(AccessKeyMetadata, &CreateDate).AccessKeyId",
    "keys(AccessKeyMetadata[0])",
    "values(AccessKeyMetadata[0])",
    "merge(AccessKeyMetadata[0], `{\"Extra\": 1}`)",
    "to_string(AccessKeyMetadata[0].Size)",
    "sum(AccessKeyMetadata[].Size)",
    "avg(AccessKeyMetadata[].Size)",
    "abs(AccessKeyMetadata[0].Size)",
    "AccessKeyMetadata[0].Size > `3`",
    "Nothing",
];

fn records() -> impl Strategy<Value = Value> {
    let row = (
        prop::sample::select(&["alice", "bob", "日本"][..]),
        "AKIA[0-9]{4}",
        prop::sample::select(&["Active", "Inactive"][..]),
        (2010u32..2030, 1u32..13),
        prop_oneof![
            (-50i64..50).prop_map(Value::from),
            (-500i32..500).prop_map(|i| json!(f64::from(i) / 10.0))
        ],
    )
        .prop_map(|(user, id, status, (y, m), size)| {
            json!({"UserName": user, "AccessKeyId": id, "Status": status,
                   "CreateDate": format!("{y}-{m:02}-01T00:00:00+00:00"), "Size": size})
        });
    prop::collection::vec(row, 0..4).prop_map(|rows| json!({ "AccessKeyMetadata": rows }))
}

/// The text of a backtick literal, as written between the backticks: JSON, jmespath.py's legacy
/// form (JEP 12: text that is not JSON reads as a string, e.g. `` `Active` ``), or text that
/// neither reads. Not NaN, Infinity or numbers beyond f64: Python's json reads those as numbers
/// the crate cannot hold, and `Query::parse` refuses them (its unit tests say so).
fn literal_text() -> impl Strategy<Value = String> {
    const FIXED: &[&str] = &[
        // JSON
        "\"Active\"",
        "1",
        "-3",
        "2.5",
        "1e2",
        " 7 ",
        "true",
        "null",
        "[1, \"a\"]",
        "{\"Extra\": 1}",
        "\"it\\`s\"",
        "\"2013-06-01T00:00:00+00:00\"",
        // legacy: bare words, spaces, punctuation, escapes, nothing at all
        "Active",
        "Inactive",
        "alice",
        "bob",
        "日本",
        " Active",
        "Active ",
        "\t bob",
        "",
        "two words",
        "1 2",
        "Infinity War",
        "2013-06-01T00:00:00+00:00",
        "AKIA0001",
        "it\\`s",
        "a\\nb",
        "say \\\"hi\\\"",
        "\\u00e9",
        "\\\\",
        "-",
        "1.",
        ".5",
        "01",
        "[1,",
        "{a}",
        "tru",
        "\u{a0}\u{1c}Active",
        "é ß",
        // neither: an unescaped quote, a bad escape, a control character
        "\"x",
        " \"a",
        "a\"b",
        "a\\qb",
        "a\tb",
        "\\",
    ];
    // Two differences of the crate that are not about legacy literals are kept out: a backtick
    // comes only escaped (one that ended the literal early could put two literals side by side
    // in a list, which jmespath.py refuses and the crate takes, as it takes `[a b]`), and there
    // is no 0 (`-0` is JSON, an integer 0 to Python and -0.0 to serde_json).
    const PIECES: &[&str] = &[
        "A", "a", "c", "t", "i", "v", "e", "b", "7", "1", "9", " ", " ", "-", ".", ":", "\"", "\\",
        "\\`", "'", "[", "]", "{", "}", ",", "é", "\u{a0}", "\t", "n",
    ];
    prop_oneof![
        2 => prop::sample::select(FIXED).prop_map(str::to_owned),
        1 => prop::collection::vec(prop::sample::select(PIECES), 0..8).prop_map(|v| v.concat()),
    ]
}

/// A query with backtick literals of [`literal_text`]: compared in filters, as plain values, in
/// a list and a hash, beside raw strings and quoted identifiers that hold backticks.
fn legacy_query() -> impl Strategy<Value = String> {
    const TEMPLATES: &[&str] = &[
        "AccessKeyMetadata[?Status==`{}`].AccessKeyId",
        "AccessKeyMetadata[?UserName!=`{}`]",
        "AccessKeyMetadata[?Size==`{}`].Size",
        "`{}`",
        "[`{}`, AccessKeyMetadata[0].Status]",
        "{L: `{}`, N: length(AccessKeyMetadata)}",
        "length(`{}`)",
        "AccessKeyMetadata[?Status=='`a`' || UserName==`{}`].UserName",
        "AccessKeyMetadata[?\"it`s\" == `{}`]",
    ];
    (prop::sample::select(TEMPLATES), literal_text()).prop_map(|(t, lit)| t.replace("{}", &lit))
}

/// `--query q` then json, ours against aws: the same text, or both failing; where jmespath.py
/// refuses the query itself, `Query::parse` must refuse it too, and only then.
fn check_query(q: &str, v: &Value) -> Result<(), TestCaseError> {
    let request = json!({"format": "json", "value": v, "query": q});
    let theirs = aws_answers(&request);
    let parsed = Query::parse(q);
    let ours = parsed
        .clone()
        .map_err(|e| e.to_string())
        .and_then(|q| q.apply(v).map_err(|e| e.to_string()))
        .and_then(|r| {
            render::render(
                &r,
                Style {
                    format: OutputFormat::Json,
                    title: "Op",
                    width: 80,
                },
            )
            .map_err(|e| e.to_string())
        });
    let we_refuse = parsed.as_ref().is_err_and(|e| e.syntax);
    let they_refuse = matches!(theirs, Err((_, true)));
    prop_assert_eq!(
        we_refuse,
        they_refuse,
        "{}: ours {:?}, aws {:?}",
        q,
        parsed.err(),
        theirs
    );
    match (&ours, &theirs) {
        (Ok(a), Ok(b)) => prop_assert_eq!(a, b, "{} on {}", q, v),
        (Err(_), Err(_)) => {}
        _ => prop_assert!(false, "{} on {}: ours {:?}, aws {:?}", q, v, ours, theirs),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 60,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/render_oracle.txt",
        ))),
        ..ProptestConfig::default()
    })]

    /// `--query` then json: our JMESPath (the crate with jmespath.py's order and number types)
    /// against jmespath.py in the aws CLI's formatter.
    #[test]
    fn queries_render_as_aws(v in records()) {
        for q in QUERIES {
            check_query(q, &v)?;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 400,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/render_oracle.txt",
        ))),
        ..ProptestConfig::default()
    })]

    /// Backtick literals that are not JSON read as strings, as jmespath.py's legacy literals do
    /// (``[?Status==`Active`]``); what jmespath.py refuses, `Query::parse` refuses.
    #[test]
    fn legacy_literals_query_as_aws(v in records(), q in legacy_query()) {
        check_query(&q, &v)?;
    }
}

/// The optional YAML oracle: tests/oracle/ruamel_yaml_oracle.py under `RUAMEL_PYTHON`.
fn ruamel() -> Option<&'static Mutex<Oracle>> {
    static RUAMEL: OnceLock<Option<Mutex<Oracle>>> = OnceLock::new();
    RUAMEL
        .get_or_init(|| {
            let python = std::env::var_os("RUAMEL_PYTHON")?;
            let script = moto::crate_dir().join("tests/oracle/ruamel_yaml_oracle.py");
            let mut child = Command::new(python)
                .arg(script)
                .env("PYTHONDONTWRITEBYTECODE", "1")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("start the ruamel YAML oracle");
            let stdin = child.stdin.take().unwrap();
            let stdout = BufReader::new(child.stdout.take().unwrap());
            Some(Mutex::new(Oracle {
                _child: child,
                stdin,
                stdout,
            }))
        })
        .as_ref()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 400,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/render_oracle.txt",
        ))),
        ..ProptestConfig::default()
    })]

    /// YAML against ruamel.yaml's safe dumper as aws CLI v2 sets it up. The test venv has no
    /// ruamel (v1 needs none), so this runs only with RUAMEL_PYTHON set (CI's step f sets it), e.g.
    /// `python -m venv V && V/bin/pip install 'ruamel.yaml==0.17.21' 'ruamel.yaml.clib<=0.2.12'`
    /// then `RUAMEL_PYTHON=V/bin/python cargo test --test render_oracle yaml`; the snapshots in
    /// tests/render_yaml.rs hold the rules where it does not run.
    #[test]
    fn yaml_renders_as_ruamel(v in response(), stream in any::<bool>()) {
        let Some(o) = ruamel() else { return Ok(()) };
        let format = if stream { OutputFormat::YamlStream } else { OutputFormat::Yaml };
        let request = json!({"format": format.name(), "value": v});
        let theirs = {
            let mut o = o.lock().unwrap_or_else(|e| e.into_inner());
            writeln!(o.stdin, "{request}").unwrap();
            o.stdin.flush().unwrap();
            let mut line = String::new();
            o.stdout.read_line(&mut line).unwrap();
            let answer: Value = serde_json::from_str(&line).expect("the oracle answers JSON");
            answer.get("ok").and_then(Value::as_str).map(str::to_owned).ok_or(line)
        };
        let ours = render::render(&v, Style { format, title: "Op", width: 80 });
        prop_assert_eq!(ours.ok(), theirs.ok(), "{} of {}", format, v);
    }
}
