//! End to end at a terminal: the binary runs in a pseudo-terminal (`tests/support/pty_run.py`,
//! Python's stdlib `pty`, so nothing beyond the test venv is needed) against moto behind the
//! fault proxy. The prompt that agrees to a removal, the progress line while a new key
//! propagates, and the colour of warnings appear there, and only there.
#![cfg(all(not(target_family = "wasm"), feature = "cli"))]
#![allow(clippy::disallowed_methods, clippy::unwrap_used)]

#[path = "support/moto.rs"]
mod moto;

use std::os::unix::fs::PermissionsExt as _;
use std::process::Output;

use moto::{AccessKey, Home, Json, Moto};

/// What a run in the pseudo-terminal showed.
#[derive(Debug)]
struct Tty {
    status: i32,
    /// Everything written to the terminal (stdout and stderr), escape sequences included.
    output: String,
    timed_out: Option<String>,
}

/// Runs the binary in `home`, in a pseudo-terminal, with `env` added and `args`. `steps`: each
/// regex is waited for in turn, then its answer (if any) is typed, then Enter.
fn tty(home: &Home, env: &[(&str, &str)], args: &[&str], steps: &[(&str, Option<&str>)]) -> Tty {
    let mut c = home.command_for(moto::venv().join("bin/python"));
    c.arg(moto::crate_dir().join("tests/support/pty_run.py"))
        .args(["--timeout", "30"]);
    for (regex, answer) in steps {
        c.arg("--expect").arg(regex);
        if let Some(a) = answer {
            c.arg("--send").arg(a);
        }
    }
    c.arg("--")
        .arg(env!("CARGO_BIN_EXE_aws-rotate-keys"))
        .args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("run pty_run.py");
    assert!(
        out.status.success(),
        "pty_run.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j = Json::parse(String::from_utf8_lossy(&out.stdout).trim()).expect("pty_run.py JSON");
    let t = Tty {
        status: j.get("status").and_then(Json::as_f64).unwrap_or(-1.0) as i32,
        output: j
            .get("output")
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_owned(),
        timed_out: j.get("timed_out").and_then(Json::as_str).map(str::to_owned),
    };
    assert!(t.timed_out.is_none(), "{t:#?}");
    t
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn mutations(moto: &Moto) -> Vec<String> {
    moto.log()
        .into_iter()
        .filter(|e| e.is_mutating())
        .filter_map(|e| e.action)
        .collect()
}

fn key_ids(moto: &Moto, user: &str) -> Vec<String> {
    moto.list_access_keys(user)
        .into_iter()
        .map(|k| k.id)
        .collect()
}

/// What the question says of key `id`: the line that names it and the next one.
fn prompt_entry(output: &str, id: &str) -> String {
    let prompt = output.split("[y/N]").next().unwrap_or("");
    let lines: Vec<&str> = prompt.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.contains(id) && !l.contains("Delete"))
        .unwrap_or_else(|| panic!("no line for {id} in the question:\n{output}"));
    lines[i..(i + 2).min(lines.len())].join("\n")
}

const YELLOW_WARNING: &str = "\x1b[33maws-rotate-keys: warning:\x1b[0m";

/// Alice with her key in two profiles and an inactive spare that no profile holds: both slots
/// are taken, and the policy proposes the spare.
fn two_keys(moto: &Moto) -> (AccessKey, AccessKey, Home, String) {
    moto.create_user("alice");
    let spare = moto.create_access_key("alice");
    moto.update_access_key("alice", &spare.id, "Inactive");
    let k = moto.create_access_key("alice");
    let creds = format!(
        "{}{}",
        k.credentials_profile("default"),
        k.credentials_profile("work")
    );
    let home = moto.home("", &creds);
    (k, spare, home, creds)
}

#[test]
fn the_prompt_shows_both_keys_and_yes_rotates() {
    let moto = Moto::start();
    let (k, spare, home, _) = two_keys(&moto);
    // Readable by others: the run says so in a warning, yellow on a terminal.
    std::fs::set_permissions(
        home.credentials_path(),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let t = tty(
        &home,
        &[],
        &[],
        &[(&format!("Delete {}[^\n]*\\[y/N\\]", spare.id), Some("y"))],
    );
    assert_eq!(t.status, 0, "{t:#?}");
    // Both keys, each with its status, age, last use and the profiles that hold it.
    let old = prompt_entry(&t.output, &k.id);
    assert!(
        old.contains("Active") && old.contains("default, work") && old.contains("last used 20"),
        "the key in use: {old:?}"
    );
    let proposed = prompt_entry(&t.output, &spare.id);
    assert!(
        proposed.contains("Inactive")
            && proposed.contains("no profile")
            && proposed.contains("never used"),
        "the spare: {proposed:?}"
    );
    for line in [&old, &proposed] {
        assert!(line.contains(" s old"), "an age: {line:?}");
    }
    // Yes: the spare made room, the old key went after the new one worked.
    let ids = key_ids(&moto, "alice");
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert!(!ids.contains(&spare.id) && !ids.contains(&k.id));
    assert!(home.credentials().contains(&ids[0]));
    assert!(
        t.output.contains(&format!("{YELLOW_WARNING} ")) && t.output.contains("readable by others"),
        "{t:#?}"
    );
}

#[test]
fn the_prompt_answered_no_or_interrupted_changes_nothing() {
    let moto = Moto::start();
    let (k, spare, home, creds) = two_keys(&moto);
    let question = format!("Delete {}[^\n]*\\[y/N\\]", spare.id);
    let t = tty(&home, &[], &[], &[(&question, Some("n"))]);
    // A decision that was not given: the spec's 252, and what to do instead.
    assert_eq!(t.status, 252, "{t:#?}");
    assert!(t.output.contains("--yes"), "{t:#?}");
    assert!(mutations(&moto).is_empty(), "{:?}", mutations(&moto));
    assert_eq!(home.credentials(), creds);
    let mut ids = key_ids(&moto, "alice");
    ids.sort();
    let mut want = vec![k.id.clone(), spare.id.clone()];
    want.sort();
    assert_eq!(ids, want);
    // Ctrl-C at the question: 130 at once, nothing changed.
    let t = tty(&home, &[], &[], &[(&question, Some("^C"))]);
    assert_eq!(t.status, 130, "{t:#?}");
    assert!(mutations(&moto).is_empty(), "{:?}", mutations(&moto));
    assert_eq!(home.credentials(), creds);
}

#[test]
fn progress_while_the_new_key_propagates_shows_on_a_terminal_only() {
    let moto = Moto::start();
    let k = moto.user_with_key("alice");
    let home = moto.home("", &k.credentials_profile("default"));
    moto.set_delay(3.0);
    let t = tty(
        &home,
        &[],
        &[],
        &[("waiting for the new key to work: 2 s", None)],
    );
    assert_eq!(t.status, 0, "{t:#?}");
    // The line is rewritten in place, then erased.
    let last = t.output.rfind("waiting for the new key to work").unwrap();
    assert!(t.output[last..].contains("\r\x1b[2K"), "{t:#?}");
    // Without a terminal: the same wait, no progress line.
    let out: Output = home.command().output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        moto.log()
            .iter()
            .filter(|e| e.intervened.as_deref() == Some("delay"))
            .count()
            >= 2,
        "both runs waited for their new key"
    );
    assert!(
        !text(&out.stderr).contains("waiting"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn warnings_are_yellow_on_a_terminal_unless_colour_is_off() {
    let moto = Moto::start();
    let k = moto.user_with_key("alice");
    let home = moto.home("", &k.credentials_profile("default"));
    // --no-verify-ssl warns at once; the command then lists the keys over plain HTTP.
    let args = ["--no-verify-ssl", "list-access-keys"];
    let warned = |output: &str| {
        assert!(output.contains(&k.id), "the command ran: {output:?}");
        assert!(
            output.contains("warning:") && output.contains("not verified"),
            "{output:?}"
        );
    };
    for (env, extra) in [(&[][..], &[][..]), (&[][..], &["--color", "auto"][..])] {
        let t = tty(&home, env, &[extra, &args[..]].concat(), &[]);
        warned(&t.output);
        assert!(t.output.contains(YELLOW_WARNING), "{extra:?}: {t:#?}");
    }
    for (env, extra) in [
        (&[][..], &["--color", "off"][..]),
        (&[("NO_COLOR", "1")][..], &[][..]),
    ] {
        let t = tty(&home, env, &[extra, &args[..]].concat(), &[]);
        warned(&t.output);
        assert!(!t.output.contains('\x1b'), "{env:?} {extra:?}: {t:#?}");
    }
    // Not a terminal: plain, unless colour is asked for.
    let out = home.command().args(args).output().unwrap();
    warned(&format!("{}{}", text(&out.stdout), text(&out.stderr)));
    assert!(!text(&out.stderr).contains('\x1b'), "{}", text(&out.stderr));
    let out = home
        .command()
        .args(["--color", "on"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        text(&out.stderr).contains(YELLOW_WARNING),
        "{}",
        text(&out.stderr)
    );
}
