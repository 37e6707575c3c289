//! End to end at a terminal: the binary runs in a pseudo-terminal (`tests/support/pty_run.py`,
//! Python's stdlib `pty`, so nothing beyond the test venv is needed) against moto behind the
//! fault proxy. The prompt that agrees to a removal, the progress line while a new key
//! propagates, the colour of warnings and the pager appear there, and only there.
#![cfg(all(not(target_family = "wasm"), feature = "cli"))]
#![allow(clippy::disallowed_methods, clippy::unwrap_used)]

use crate::moto;

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
    /// Whether the terminal echoed input once the program had ended.
    echo: Option<bool>,
}

/// Runs the binary in `home`, in a pseudo-terminal, with `env` added and `args`. `steps`: each
/// regex is waited for in turn, then its answer (if any) is typed, then Enter.
fn tty(home: &Home, env: &[(&str, &str)], args: &[&str], steps: &[(&str, Option<&str>)]) -> Tty {
    tty_env(home, env, &[], args, steps)
}

/// `tty`, with the variables of `unset` removed from the environment (`AWS_PAGER`, which the
/// harness sets empty).
fn tty_env(
    home: &Home,
    env: &[(&str, &str)],
    unset: &[&str],
    args: &[&str],
    steps: &[(&str, Option<&str>)],
) -> Tty {
    let steps: Vec<_> = steps.iter().map(|&(r, a)| (r, 0.0, a)).collect();
    pty_run(home, env, unset, args, &steps)
}

/// `tty`, where each answer is typed after a pause of so many seconds (the output is read
/// meanwhile, as a person reads before typing).
fn tty_paced(home: &Home, args: &[&str], steps: &[(&str, f64, Option<&str>)]) -> Tty {
    pty_run(home, &[], &[], args, steps)
}

fn pty_run(
    home: &Home,
    env: &[(&str, &str)],
    unset: &[&str],
    args: &[&str],
    steps: &[(&str, f64, Option<&str>)],
) -> Tty {
    let mut c = home.command_for(moto::venv().join("bin/python"));
    c.arg(moto::crate_dir().join("tests/support/pty_run.py"))
        .args(["--timeout", "30"]);
    for (regex, pause, answer) in steps {
        c.arg("--expect").arg(regex);
        if *pause > 0.0 {
            c.arg("--pause").arg(pause.to_string());
        }
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
    for k in unset {
        c.env_remove(k);
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
        echo: j.get("echo").and_then(Json::as_bool),
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

const ALICE_MFA: &str = "arn:aws:iam::123456789012:mfa/alice";

/// Alice's key in `[default]`, whose config has her MFA device, which shows 314159.
fn mfa_home(moto: &Moto) -> (AccessKey, Home, String) {
    let k = moto.user_with_key("alice");
    moto.set_mfa_devices(&[(ALICE_MFA, "314159")]);
    let creds = k.credentials_profile("default");
    let home = moto.home(&format!("[default]\nmfa_serial = {ALICE_MFA}\n"), &creds);
    (k, home, creds)
}

#[test]
fn the_mfa_prompt_names_the_device_and_the_code_typed_rotates() {
    let moto = Moto::start();
    let (k, home, creds) = mfa_home(&moto);
    let prompt = format!("MFA code for {ALICE_MFA}: ");
    // Nothing typed: no session, nothing changed, and the option to use.
    let t = tty(&home, &[], &[], &[(&prompt, Some(""))]);
    assert_eq!(t.status, 252, "{t:#?}");
    assert!(t.output.contains("--token-code"), "{t:#?}");
    assert!(
        moto.log()
            .iter()
            .all(|e| e.action.as_deref() != Some("GetSessionToken"))
    );
    assert_eq!(home.credentials(), creds);
    // The code typed makes the session that rotates the key.
    moto.reset();
    moto.set_mfa_devices(&[(ALICE_MFA, "314159")]);
    let t = tty(&home, &[], &[], &[(&prompt, Some("314159"))]);
    assert_eq!(t.status, 0, "{t:#?}");
    // Typed unseen, as the aws CLI takes it, and the echo is back afterwards.
    assert!(!t.output.contains("314159"), "the code was echoed: {t:#?}");
    assert!(t.output.contains(&format!("{prompt}\r\n")), "{t:#?}");
    assert_eq!(t.echo, Some(true), "{t:#?}");
    let ids = key_ids(&moto, "alice");
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_ne!(ids[0], k.id);
    assert!(home.credentials().contains(&ids[0]));
    moto.assert_rotated_through_a_session(&k.id, ALICE_MFA, &ids[0]);
}

#[test]
fn two_mfa_profiles_are_asked_one_after_the_other() {
    let moto = Moto::start();
    let alice = moto.user_with_key("alice");
    let bob = moto.user_with_key("bob");
    let bob_mfa = "arn:aws:iam::123456789012:mfa/bob";
    // Both devices show the same code, so the answers fit whichever is asked first.
    moto.set_mfa_devices(&[(ALICE_MFA, "271828"), (bob_mfa, "271828")]);
    let creds = format!(
        "{}{}",
        alice.credentials_profile("default"),
        bob.credentials_profile("work")
    );
    let config =
        format!("[default]\nmfa_serial = {ALICE_MFA}\n\n[profile work]\nmfa_serial = {bob_mfa}\n");
    let home = moto.home(&config, &creds);
    let prompt = "MFA code for arn:aws:iam::123456789012:mfa/[a-z]+: ";
    // The first answer comes a second after its question: long enough for both profiles to
    // need their session.
    let t = tty_paced(
        &home,
        &["--all-profiles"],
        &[(prompt, 1.0, Some("271828")), (prompt, 0.0, Some("271828"))],
    );
    assert_eq!(t.status, 0, "{t:#?}");
    // One question at a time: the second is asked once the first is answered (two at once
    // would share the terminal, and one answer would go to either). The code is not echoed; the
    // line it ends is.
    let first = t.output.find("MFA code for").expect("a prompt");
    let second = t.output.rfind("MFA code for").expect("a prompt");
    assert!(
        t.output[first..second].contains('\n'),
        "the second prompt came before the first answer: {t:#?}"
    );
    assert!(!t.output.contains("271828"), "a code was echoed: {t:#?}");
    assert_eq!(t.echo, Some(true), "{t:#?}");
    let serials: Vec<_> = moto
        .log()
        .into_iter()
        .filter(|e| e.mfa.as_deref() == Some("ok"))
        .filter_map(|e| e.serial_number)
        .collect();
    assert_eq!(serials.len(), 2, "{serials:?}");
    assert!(serials.contains(&ALICE_MFA.to_owned()) && serials.contains(&bob_mfa.to_owned()));
    assert_ne!(key_ids(&moto, "alice"), [alice.id.as_str()]);
    assert_ne!(key_ids(&moto, "bob"), [bob.id.as_str()]);
}

#[test]
fn ctrl_c_at_the_mfa_prompt_ends_the_run_at_once_and_changes_nothing() {
    let moto = Moto::start();
    let (k, home, creds) = mfa_home(&moto);
    // Rotation, and the commands that ask IAM without a rotation.
    for args in [&[][..], &["plan"], &["list-access-keys"], &["status"]] {
        let start = std::time::Instant::now();
        let t = tty(
            &home,
            &[],
            args,
            &[(&format!("MFA code for {ALICE_MFA}: "), Some("^C"))],
        );
        let took = start.elapsed();
        assert_eq!(t.status, 130, "{args:?}: {t:#?}");
        assert!(t.output.contains("interrupted"), "{args:?}: {t:#?}");
        // The prompt had turned the echo off: the interrupted run turns it back on.
        assert_eq!(t.echo, Some(true), "{args:?}: {t:#?}");
        assert!(
            took < std::time::Duration::from_secs(10),
            "{args:?}: {took:?}"
        );
    }
    assert!(mutations(&moto).is_empty(), "{:?}", mutations(&moto));
    assert!(
        moto.log()
            .iter()
            .all(|e| e.action.as_deref() != Some("GetSessionToken"))
    );
    assert_eq!(home.credentials(), creds);
    assert_eq!(key_ids(&moto, "alice"), [k.id.as_str()]);
    assert!(
        home.aws_dir_entries()
            .iter()
            .all(|e| !e.contains("journal")),
        "{:?}",
        home.aws_dir_entries()
    );
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

// ---- the pager ---------------------------------------------------------------------------------

/// A pager that keeps what it was given in `HOME/paged-NAME` and the `LESS` it saw in
/// `HOME/less-NAME` ("unset" when it saw none).
fn recorder(home: &Home, name: &str) -> String {
    let dir = home.path().display();
    format!("cat > '{dir}/paged-{name}'; printf %s \"${{LESS-unset}}\" > '{dir}/less-{name}'")
}

fn paged(home: &Home, name: &str) -> Option<String> {
    std::fs::read_to_string(home.path().join(format!("paged-{name}"))).ok()
}

fn less_seen(home: &Home, name: &str) -> Option<String> {
    std::fs::read_to_string(home.path().join(format!("less-{name}"))).ok()
}

/// Which recorders ran in `home`.
fn pagers_used(home: &Home) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(home.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_prefix("paged-"))
                .map(str::to_owned)
        })
        .collect();
    v.sort();
    v
}

/// A run at a terminal in a new HOME: `config` and `env` may name recorders (`R:NAME` becomes
/// `recorder(home, NAME)`); AWS_PAGER is unset unless `env` sets it.
fn paging(
    moto: &Moto,
    creds: &str,
    config: &str,
    env: &[(&str, &str)],
    args: &[&str],
) -> (Home, Tty) {
    let home = moto.home("", creds);
    let fill = |v: &str| match v.strip_prefix("R:") {
        Some(name) => recorder(&home, name),
        None => v.to_owned(),
    };
    let config: String = config
        .lines()
        .map(|l| match l.split_once("= R:") {
            Some((k, name)) => format!("{k}= {}\n", recorder(&home, name)),
            None => format!("{l}\n"),
        })
        .collect();
    home.write(".aws/config", config);
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), fill(v)))
        .collect();
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let unset: &[&str] = if env.iter().any(|(k, _)| k == "AWS_PAGER") {
        &[]
    } else {
        &["AWS_PAGER"]
    };
    let t = tty_env(&home, &env_refs, unset, args, &[]);
    (home, t)
}

/// (what the case shows, the config file with `R:NAME` recorders, the environment, arguments
/// before the command).
type PagerCase<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], &'a [&'a str]);

const LIST_JSON: [&str; 3] = ["list-access-keys", "--output", "json"];

#[test]
fn the_pager_is_chosen_as_the_aws_cli_v2_chooses_it() {
    let moto = Moto::start();
    let k = moto.user_with_key("alice");
    let creds = format!(
        "{}{}",
        k.credentials_profile("default"),
        k.credentials_profile("work")
    );
    // What the command prints without a pager: the pager must get exactly this.
    let plain = moto.home("", &creds);
    let out = plain.command().args(LIST_JSON).output().unwrap();
    let want = text(&out.stdout);
    assert!(want.contains(&k.id), "{want}");

    let all_three = "[default]\ncli_pager = R:cli";
    let cases: &[PagerCase<'_>] = &[
        (
            "AWS_PAGER first",
            all_three,
            &[("AWS_PAGER", "R:aws"), ("PAGER", "R:env")],
            &[],
        ),
        (
            "then the profile's cli_pager",
            all_three,
            &[("PAGER", "R:env")],
            &[],
        ),
        (
            "then PAGER",
            "[default]\noutput = json",
            &[("PAGER", "R:env")],
            &[],
        ),
        (
            "the profile of the run, as for `output`",
            "[default]\ncli_pager = R:cli\n[profile work]\ncli_pager = R:work",
            &[("PAGER", "R:env")],
            &["-p", "work"],
        ),
    ];
    for (name, config, env, extra) in cases {
        let args = [&extra[..], &LIST_JSON[..]].concat();
        let (home, t) = paging(&moto, &creds, config, env, &args);
        assert_eq!(t.status, 0, "{name}: {t:#?}");
        let expected = match *name {
            "AWS_PAGER first" => "aws",
            "then the profile's cli_pager" => "cli",
            "then PAGER" => "env",
            _ => "work",
        };
        assert_eq!(pagers_used(&home), [expected], "{name}");
        assert_eq!(paged(&home, expected).as_deref(), Some(&*want), "{name}");
        // The result went to the pager only; LESS was unset, so the pager got FRX.
        assert!(!t.output.contains(&k.id), "{name}: {t:#?}");
        assert_eq!(less_seen(&home, expected).as_deref(), Some("FRX"), "{name}");
    }

    // Nothing set: `less -R`, found on PATH (here a stand-in that records its arguments).
    let home = moto.home("", &creds);
    let bin = home.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let less = bin.join("less");
    std::fs::write(
        &less,
        "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$HOME/less-args\"\nprintf %s \"${LESS-unset}\" > \"$HOME/less-less\"\nexec cat > \"$HOME/paged-less\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&less, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let t = tty_env(&home, &[("PATH", &path)], &["AWS_PAGER"], &LIST_JSON, &[]);
    assert_eq!(t.status, 0, "{t:#?}");
    assert_eq!(paged(&home, "less").as_deref(), Some(&*want));
    assert_eq!(home.read("less-args"), "-R\n");
    assert_eq!(less_seen(&home, "less").as_deref(), Some("FRX"));

    // LESS already set, even to nothing: left as it is.
    for less in ["-S", ""] {
        let (home, t) = paging(
            &moto,
            &creds,
            "",
            &[("AWS_PAGER", "R:aws"), ("LESS", less)],
            &LIST_JSON,
        );
        assert_eq!(t.status, 0, "{t:#?}");
        assert_eq!(paged(&home, "aws").as_deref(), Some(&*want));
        assert_eq!(
            less_seen(&home, "aws").as_deref(),
            Some(less),
            "LESS={less:?}"
        );
    }
}

#[test]
fn no_pager_when_switched_off_or_not_at_a_terminal() {
    let moto = Moto::start();
    let k = moto.user_with_key("alice");
    let creds = k.credentials_profile("default");
    let cases: &[PagerCase<'_>] = &[
        (
            "--no-cli-pager",
            "[default]\ncli_pager = R:cli",
            &[("AWS_PAGER", "R:aws"), ("PAGER", "R:env")],
            &["--no-cli-pager"],
        ),
        (
            "AWS_PAGER empty",
            "[default]\ncli_pager = R:cli",
            &[("AWS_PAGER", ""), ("PAGER", "R:env")],
            &[],
        ),
        (
            "cli_pager empty",
            "[default]\ncli_pager =",
            &[("PAGER", "R:env")],
            &[],
        ),
        ("PAGER empty", "", &[("PAGER", "")], &[]),
    ];
    for (name, config, env, extra) in cases {
        let args = [&extra[..], &LIST_JSON[..]].concat();
        let (home, t) = paging(&moto, &creds, config, env, &args);
        assert_eq!(t.status, 0, "{name}: {t:#?}");
        assert!(
            pagers_used(&home).is_empty(),
            "{name}: {:?}",
            pagers_used(&home)
        );
        // Printed on the terminal itself.
        assert!(t.output.contains(&k.id), "{name}: {t:#?}");
    }
    // stdout not a terminal (a pipe: cron, a script): never a pager, whatever names one.
    let home = moto.home("[default]\noutput = json\n", &creds);
    let out = home
        .command()
        .env("AWS_PAGER", recorder(&home, "aws"))
        .args(["list-access-keys"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&k.id));
    assert!(pagers_used(&home).is_empty(), "{:?}", pagers_used(&home));
    let out = home
        .command()
        .env_remove("AWS_PAGER")
        .env("PAGER", recorder(&home, "env"))
        .args(["status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("Profiles"));
    assert!(pagers_used(&home).is_empty(), "{:?}", pagers_used(&home));
}

#[test]
fn results_go_through_the_pager_and_warnings_and_new_secrets_do_not() {
    let moto = Moto::start();
    let k = moto.user_with_key("alice");
    moto.create_user("bob");
    let creds = k.credentials_profile("default");
    for (command, marker) in [
        ("status", "\"Profiles\""),
        ("plan", "\"Plans\""),
        ("list-access-keys", "\"AccessKeyMetadata\""),
    ] {
        let (home, t) = paging(
            &moto,
            &creds,
            "",
            &[("AWS_PAGER", "R:aws")],
            &[command, "--output", "json"],
        );
        assert_eq!(t.status, 0, "{command}: {t:#?}");
        let got = paged(&home, "aws").unwrap_or_default();
        assert!(
            got.contains(marker) && got.contains(&k.id),
            "{command}: {got}"
        );
        assert!(!t.output.contains(marker), "{command}: {t:#?}");
    }
    // A warning is not a result: it stays on the terminal.
    let (home, t) = paging(
        &moto,
        &creds,
        "",
        &[("AWS_PAGER", "R:aws")],
        &["--no-verify-ssl", "list-access-keys"],
    );
    assert_eq!(t.status, 0, "{t:#?}");
    let got = paged(&home, "aws").unwrap_or_default();
    assert!(got.contains(&k.id) && !got.contains("warning"), "{got}");
    assert!(
        t.output.contains("warning:") && t.output.contains("not verified"),
        "{t:#?}"
    );
    // Admin mode's new key is printed at once, never paged: the journal, the only other copy
    // of the secret, goes right after.
    let (home, t) = paging(
        &moto,
        &creds,
        "",
        &[("AWS_PAGER", "R:aws")],
        &["--user-name", "bob", "--output", "json"],
    );
    assert_eq!(t.status, 0, "{t:#?}");
    assert!(pagers_used(&home).is_empty(), "{:?}", pagers_used(&home));
    assert!(t.output.contains("\"SecretAccessKey\""), "{t:#?}");
}

#[test]
fn a_pager_that_cannot_start_is_a_configuration_error_and_the_output_is_kept() {
    let moto = Moto::start();
    let k = moto.user_with_key("alice");
    let creds = k.credentials_profile("default");
    for (env, config, source) in [
        (
            &[("AWS_PAGER", "aws-rotate-keys-no-such-pager -x")][..],
            "",
            "AWS_PAGER",
        ),
        (
            &[][..],
            "[default]\ncli_pager = aws-rotate-keys-no-such-pager",
            "cli_pager",
        ),
    ] {
        let (_home, t) = paging(&moto, &creds, config, env, &LIST_JSON);
        assert_eq!(t.status, 253, "{t:#?}");
        let error = t
            .output
            .lines()
            .find(|l| l.contains("error:"))
            .unwrap_or("");
        assert!(
            error.contains("aws-rotate-keys-no-such-pager")
                && error.contains(source)
                && error.contains("AWS_PAGER=\"\"")
                && error.contains("--no-cli-pager"),
            "{t:#?}"
        );
        // The result is not lost: printed without the pager.
        assert!(t.output.contains(&k.id), "{t:#?}");
    }
}

#[test]
fn quitting_the_pager_early_is_quiet() {
    let moto = Moto::start();
    let (config, credentials, _) = moto.many_profiles("user", 20, 20);
    let home = moto.home(&config, &credentials);
    let args = ["status", "--output", "json"];
    // Far more than a pipe holds (64 KiB on Linux) and `head` reads: the writes after the
    // pager quit meet a closed pipe.
    let out = home.command().args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stdout.len() > 160 * 1024, "{} bytes", out.stdout.len());
    let first = text(&out.stdout).lines().next().unwrap_or("").to_owned();
    let quits = format!("head -n 1 > '{}/paged-head'", home.path().display());
    let t = tty_env(&home, &[("AWS_PAGER", &quits)], &[], &args, &[]);
    assert_eq!(t.status, 0, "{t:#?}");
    assert_eq!(
        paged(&home, "head").as_deref(),
        Some(&*format!("{first}\n"))
    );
    // Nothing at all on the terminal: no error, no panic, no "Broken pipe".
    assert_eq!(t.output, "", "{t:#?}");
}

#[test]
fn fleet_rotate_asks_once_and_changes_nothing_unless_told_yes() {
    let moto = Moto::start();
    moto.create_user_with_policy("admin", "all");
    let admin = moto.create_access_key("admin");
    let alice = moto.user_with_key("alice");
    let home = moto.home("", &admin.credentials_profile("default"));
    let args = [
        "fleet",
        "rotate",
        "--older-than",
        "0s",
        "--user-name",
        "alice",
    ];
    let question = r"create and deliver a new key\s+Go ahead\? \[y/N\]";
    let t = tty(&home, &[], &args, &[(question, Some("n"))]);
    assert_eq!(t.status, 252, "{t:#?}");
    assert!(t.output.contains("1 user(s): create and deliver"), "{t:#?}");
    assert!(t.output.contains("nothing was changed"), "{t:#?}");
    assert!(
        mutations(&moto)
            .iter()
            .all(|a| a == "GenerateCredentialReport"),
        "{:?}",
        mutations(&moto)
    );
    assert_eq!(key_ids(&moto, "alice"), std::slice::from_ref(&alice.id));
    let t = tty(&home, &[], &args, &[(question, Some("y"))]);
    assert_eq!(t.status, 0, "{t:#?}");
    assert_eq!(key_ids(&moto, "alice").len(), 2);
    assert!(t.output.contains("\"Deliver\""), "{t:#?}");
}
