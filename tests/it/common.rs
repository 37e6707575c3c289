//! What the CLI tests share: [`cli_snapshot!`], which runs a command and pins its exit status,
//! stdout and stderr as an inline snapshot, after [`Filters`] that replace what changes from run
//! to run (as uv's `uv_snapshot!` and its `INSTA_FILTERS` do): the temporary HOME, ports, the
//! version, key ids (by name where the test knows them), timestamps and timings.
#![cfg(not(target_family = "wasm"))]

use std::path::Path;
use std::process::Output;

use regex_lite::Regex;

/// Runs `$command` (a `std::process::Command`) and asserts its exit status, stdout and stderr,
/// filtered by `$filters`, against the inline snapshot; gives the raw `Output` back.
macro_rules! cli_snapshot {
    ($filters:expr, $command:expr, @$snapshot:literal) => {{
        let output = $command.output().expect("runs");
        insta::assert_snapshot!($crate::common::shown(&output, &$filters), @$snapshot);
        output
    }};
}

/// Replacements applied to what a command printed, in order: the test's own values first,
/// then the patterns every test shares.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filters {
    exact: Vec<(String, String)>,
}

impl Filters {
    /// The shared patterns, with `home` (the test's HOME, any of its paths) as `[HOME]`.
    pub(crate) fn new(home: &Path) -> Self {
        Self::default().with(&home.display().to_string(), "[HOME]")
    }

    /// `text` wherever it appears becomes `label`.
    pub(crate) fn with(mut self, text: &str, label: &str) -> Self {
        if !text.is_empty() {
            self.exact.push((text.to_owned(), label.to_owned()));
        }
        self
    }

    /// `text`, filtered.
    pub(crate) fn apply(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (from, to) in &self.exact {
            out = out.replace(from.as_str(), to);
        }
        for (pattern, to) in patterns() {
            out = pattern.replace_all(&out, *to).into_owned();
        }
        out
    }
}

/// What changes from run to run, whatever the test.
fn patterns() -> &'static [(Regex, &'static str)] {
    static PATTERNS: std::sync::OnceLock<Vec<(Regex, &'static str)>> = std::sync::OnceLock::new();
    PATTERNS.get_or_init(|| {
        let re = |p: &str| Regex::new(p).expect("a valid pattern");
        vec![
            // The version as a word (escaped: its dots must not match a timestamp's digits).
            (
                re(&format!(
                    r"\b{}\b",
                    regex_lite::escape(env!("CARGO_PKG_VERSION"))
                )),
                "[VERSION]",
            ),
            // Keys a test did not name: moto's ids are AKIA and 16 capitals or digits.
            (re(r"\bAKIA[0-9A-Z]{16}\b"), "[KEY]"),
            (
                re(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)"),
                "[TIME]",
            ),
            (re(r"127\.0\.0\.1:\d+"), "127.0.0.1:[PORT]"),
            // Files the harness makes under target/tmp (a test's CA, say).
            (
                re(&regex_lite::escape(env!("CARGO_TARGET_TMPDIR"))),
                "[TMP]",
            ),
            (re(r"\btls-\d+-\d+\b"), "tls-[N]"),
            // How long a run waited: it depends on the machine.
            (re(r"within \d+m?s\b"), "within [WAIT]"),
            (
                re(r#""PropagationWait": "[^"]*""#),
                r#""PropagationWait": "[WAIT]""#,
            ),
            (re(r#""VerifyAttempts": \d+"#), r#""VerifyAttempts": [N]"#),
        ]
    })
}

/// A command's exit status, stdout and stderr, filtered, as a snapshot shows them.
pub(crate) fn shown(output: &Output, filters: &Filters) -> String {
    let text = |b: &[u8]| filters.apply(&String::from_utf8_lossy(b));
    format!(
        "exit: {}\n----- stdout -----\n{}----- stderr -----\n{}",
        output
            .status
            .code()
            .map_or_else(|| "a signal".to_owned(), |c| c.to_string()),
        text(&output.stdout),
        text(&output.stderr),
    )
}

/// Bytes a command printed, as text.
pub(crate) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The command ended with `want`; else its stdout and stderr are shown.
#[track_caller]
pub(crate) fn assert_code(o: &Output, want: i32) {
    assert_eq!(
        o.status.code(),
        Some(want),
        "stdout:\n{}\nstderr:\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
}
