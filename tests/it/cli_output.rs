//! End to end, differential: `aws-rotate-keys list-access-keys` against the real `aws iam
//! list-access-keys` (the aws CLI v1 of the test venv), both pointed at the same moto, both
//! configured with `cli_timestamp_format = iso8601`: byte for byte in json, text and table, with a
//! dozen `--query` expressions, with the table at 40, 80 and 200 columns of a real terminal (a
//! pseudo-terminal: awscli/table.py asks stdout's terminal for its width, 80 when it is not
//! one), and with the format taken from AWS_DEFAULT_OUTPUT and from the profile. Then with
//! `cli_timestamp_format = wire` (the aws CLI v1's `none`): timestamps exactly as IAM sent them,
//! in list-access-keys against `aws iam list-access-keys`, and in status, plan and admin mode's
//! new key against what the aws CLI prints for the same keys.
//!
//! One moto for the file. The aws CLI's answers come from tests/support/aws_batch.py, which runs
//! awscli's own driver for every case in one Python process (the `aws` command spends about a
//! second starting up); two cases are checked against the `aws` command itself.
#![cfg(all(not(target_family = "wasm"), feature = "cli"))]
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

use crate::moto;

use std::process::{Command, Output};

use moto::{Home, Moto};

/// Who runs a case.
#[derive(Clone, Copy, Debug)]
enum Who {
    Ours,
    Aws,
}

/// One comparison: the same arguments (after the command name) for both, an optional terminal
/// width, extra environment.
#[derive(Clone, Debug)]
struct Case {
    name: String,
    args: Vec<String>,
    columns: Option<u16>,
    env: Vec<(&'static str, &'static str)>,
}

impl Case {
    fn new(name: impl Into<String>, args: &[&str]) -> Case {
        Case {
            name: name.into(),
            args: args.iter().map(|s| (*s).to_owned()).collect(),
            columns: None,
            env: Vec::new(),
        }
    }
}

fn command(home: &Home, moto: &Moto, who: Who, case: &Case) -> Command {
    let program = match who {
        Who::Ours => std::path::PathBuf::from(env!("CARGO_BIN_EXE_aws-rotate-keys")),
        Who::Aws => moto::aws_cli_path(),
    };
    let mut c = match case.columns {
        Some(cols) => {
            let mut c = home.command_for(moto::venv().join("bin/python"));
            c.arg(moto::crate_dir().join("tests/support/pty_width.py"))
                .arg(cols.to_string())
                .arg(program);
            c
        }
        None => home.command_for(program),
    };
    c.env("AWS_DEFAULT_REGION", "us-east-1")
        .arg("--endpoint-url")
        .arg(moto.endpoint());
    match who {
        Who::Ours => c.arg("list-access-keys"),
        Who::Aws => c.args(["iam", "list-access-keys"]),
    };
    c.args(&case.args);
    for (k, v) in &case.env {
        c.env(k, v);
    }
    c
}

/// The aws CLI's answer to a case through tests/support/aws_batch.py: awscli's own driver,
/// all cases in one Python process (a second of start-up once, not per case).
fn aws_batch(home: &Home, moto: &Moto, cases: &[Case]) -> Vec<Output> {
    use std::io::{BufRead as _, BufReader, Write as _};
    use std::os::unix::process::ExitStatusExt as _;
    let mut child = home
        .command_for(moto::venv().join("bin/python"))
        .arg(moto::crate_dir().join("tests/support/aws_batch.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut outs = Vec::new();
    for case in cases {
        // The same environment and arguments as the `aws` command would get.
        let c = command(home, moto, Who::Aws, case);
        let env: serde_json::Map<String, serde_json::Value> = c
            .get_envs()
            .filter_map(|(k, v)| Some((k.to_str()?.to_owned(), v?.to_str()?.into())))
            .collect();
        let mut args: Vec<String> = c
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        if case.columns.is_some() {
            args.drain(..3); // pty_width.py COLUMNS aws
        }
        let request = serde_json::json!({"args": args, "env": env, "columns": case.columns});
        writeln!(stdin, "{request}").unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let answer: serde_json::Value = serde_json::from_str(&line).expect("aws_batch answers");
        let text = |k: &str| answer[k].as_str().unwrap_or_default().as_bytes().to_vec();
        let rc = answer["rc"].as_i64().unwrap_or(255) as i32;
        outs.push(Output {
            status: std::process::ExitStatus::from_raw(rc << 8),
            stdout: text("stdout"),
            stderr: text("stderr"),
        });
    }
    drop(stdin);
    let _ = child.wait();
    outs
}

/// Each case: (ours, the aws CLI's).
fn run_all(home: &Home, moto: &Moto, cases: &[Case]) -> Vec<(Output, Output)> {
    let theirs = aws_batch(home, moto, cases);
    let ours: Vec<Output> = std::thread::scope(|s| {
        let handles: Vec<_> = cases
            .iter()
            .map(|case| s.spawn(move || command(home, moto, Who::Ours, case).output().unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    ours.into_iter().zip(theirs).collect()
}

const QUERIES: &[&str] = &[
    "AccessKeyMetadata[0].AccessKeyId",
    "AccessKeyMetadata[-1].Status",
    "AccessKeyMetadata[*].AccessKeyId",
    "AccessKeyMetadata[?Status=='Active']",
    "AccessKeyMetadata[?Status=='Inactive'].AccessKeyId | [0]",
    // The legacy literal of AWS's own examples: not JSON, read as the string "Active".
    "AccessKeyMetadata[?Status==`Active`]",
    "AccessKeyMetadata[?Status==`Inactive`].AccessKeyId",
    "AccessKeyMetadata[].{Id: AccessKeyId, State: Status}",
    "AccessKeyMetadata[].[UserName, Status]",
    "length(AccessKeyMetadata)",
    "sort_by(AccessKeyMetadata, &Status)[].AccessKeyId",
    "max_by(AccessKeyMetadata, &CreateDate).UserName",
    "keys(AccessKeyMetadata[0])",
    "Missing",
];

#[test]
fn list_access_keys_renders_as_the_aws_cli_does() {
    let moto = Moto::start();
    let k = moto.user_with_key("alice");
    let second = moto.create_access_key("alice");
    moto.update_access_key("alice", &second.id, "Inactive");
    let config = "[default]\ncli_timestamp_format = iso8601\n";
    let home = moto.home(config, &k.credentials_profile("default"));
    let text_home = moto.home(
        "[default]\ncli_timestamp_format = iso8601\noutput = text\n",
        &k.credentials_profile("default"),
    );

    let mut cases = Vec::new();
    for format in ["json", "text", "table"] {
        cases.push(Case::new(
            format!("--output {format}"),
            &["--user-name", "alice", "--output", format],
        ));
    }
    for q in QUERIES {
        cases.push(Case::new(
            format!("--query {q}"),
            &["--user-name", "alice", "--query", q],
        ));
    }
    for q in [
        "AccessKeyMetadata[0]",
        "AccessKeyMetadata[*].[AccessKeyId, Status]",
    ] {
        for format in ["text", "table"] {
            cases.push(Case::new(
                format!("--output {format} --query {q}"),
                &["--user-name", "alice", "--output", format, "--query", q],
            ));
        }
    }
    // A one-row section turns vertical when the table is wider than the terminal.
    for cols in [40u16, 80, 200] {
        let mut c = Case::new(
            format!("table of one key on a {cols}-column terminal"),
            &[
                "--user-name",
                "alice",
                "--output",
                "table",
                "--color",
                "off",
                "--query",
                "AccessKeyMetadata[0]",
            ],
        );
        c.columns = Some(cols);
        cases.push(c);
    }
    let mut narrow = Case::new(
        "table on a 40-column terminal",
        &[
            "--user-name",
            "alice",
            "--output",
            "table",
            "--color",
            "off",
        ],
    );
    narrow.columns = Some(40);
    cases.push(narrow);
    let mut env_case = Case::new("AWS_DEFAULT_OUTPUT=table", &["--user-name", "alice"]);
    env_case.env.push(("AWS_DEFAULT_OUTPUT", "table"));
    cases.push(env_case);
    let mut option_beats_env = Case::new(
        "--output text beats AWS_DEFAULT_OUTPUT=table",
        &["--user-name", "alice", "--output", "text"],
    );
    option_beats_env.env.push(("AWS_DEFAULT_OUTPUT", "table"));
    cases.push(option_beats_env);

    let mut results = run_all(&home, &moto, &cases);
    // The profile's `output = text`, and the environment beating it.
    let profile_cases = vec![
        Case::new("profile output = text", &["--user-name", "alice"]),
        {
            let mut c = Case::new(
                "AWS_DEFAULT_OUTPUT=json beats the profile's text",
                &["--user-name", "alice"],
            );
            c.env.push(("AWS_DEFAULT_OUTPUT", "json"));
            c
        },
    ];
    results.extend(run_all(&text_home, &moto, &profile_cases));
    cases.extend(profile_cases);
    // Without a user name, ours finds the caller's user as `aws` does.
    let plain = Case::new("no --user-name", &[]);
    let ours_plain = command(&home, &moto, Who::Ours, &plain).output().unwrap();

    let mut failures = Vec::new();
    // The batch driver prints what the `aws` command prints: checked on a pipe and on a
    // terminal.
    for i in [0, cases.iter().position(|c| c.columns == Some(40)).unwrap()] {
        let real = command(&home, &moto, Who::Aws, &cases[i]).output().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&real.stdout),
            String::from_utf8_lossy(&results[i].1.stdout),
            "{}: the aws command and aws_batch.py differ",
            cases[i].name
        );
    }
    for (case, (ours, theirs)) in cases.iter().zip(&results) {
        let (o, t) = (
            String::from_utf8_lossy(&ours.stdout),
            String::from_utf8_lossy(&theirs.stdout),
        );
        assert!(
            theirs.status.success() && !t.is_empty() || case.name.contains("Missing"),
            "{}: the aws CLI failed ({:?}): {}",
            case.name,
            theirs.status,
            String::from_utf8_lossy(&theirs.stderr)
        );
        if o != t || ours.status.code() != theirs.status.code() {
            failures.push(format!(
                "--- {} (ours {:?}, aws {:?})\nours:\n{o}\naws:\n{t}\nour stderr: {}",
                case.name,
                ours.status.code(),
                theirs.status.code(),
                String::from_utf8_lossy(&ours.stderr)
            ));
        }
    }
    if ours_plain.stdout != results[0].1.stdout {
        failures.push(format!(
            "--- list-access-keys without --user-name\nours:\n{}\naws:\n{}",
            String::from_utf8_lossy(&ours_plain.stdout),
            String::from_utf8_lossy(&results[0].1.stdout)
        ));
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from the aws CLI:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    // The terminal's width reached both: 40 and 200 columns draw the one key differently.
    let widths: Vec<String> = results
        .iter()
        .zip(&cases)
        .filter(|(_, c)| c.columns.is_some())
        .map(|(r, _)| String::from_utf8_lossy(&r.1.stdout).into_owned())
        .collect();
    assert_ne!(
        widths[0], widths[2],
        "40 and 200 columns draw the same table"
    );
}

/// Key ids, secrets and dates replaced by placeholders of the same width.
fn normalize(s: &str) -> String {
    let mut out = String::new();
    for token in s.split_inclusive(['\t', '\n', '"', ' ', '|']) {
        let (word, sep) = match token.char_indices().last() {
            Some((i, c)) if "\t\n\" |".contains(c) => token.split_at(i),
            _ => (token, ""),
        };
        let norm = if word.starts_with("AKIA") && word.len() == 20 {
            "AKIA################".to_owned()
        } else if word.len() == 40
            && word
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '/' || c == '+')
        {
            "S".repeat(40)
        } else if word.len() >= 25 && word.ends_with("+00:00") && word.as_bytes()[4] == b'-' {
            "DATE".to_owned()
        } else {
            word.to_owned()
        };
        out.push_str(&norm);
        out.push_str(sep);
    }
    out
}

#[test]
fn admin_mode_prints_the_new_key_as_create_access_key_does() {
    let moto = Moto::start();
    let admin = moto.user_with_key("admin");
    moto.create_user("bob");
    moto.create_user("carol");
    let home = moto.home(
        "[default]\ncli_timestamp_format = iso8601\n",
        &admin.credentials_profile("default"),
    );
    for (format, user) in [("json", "bob"), ("text", "carol")] {
        let ours = home
            .command()
            .args(["--user-name", user, "--output", format])
            .output()
            .unwrap();
        assert!(
            ours.status.success(),
            "{}",
            String::from_utf8_lossy(&ours.stderr)
        );
        let theirs = home
            .aws()
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .args([
                "iam",
                "create-access-key",
                "--user-name",
                user,
                "--output",
                format,
            ])
            .output()
            .unwrap();
        assert!(theirs.status.success());
        assert_eq!(
            normalize(&String::from_utf8_lossy(&ours.stdout)),
            normalize(&String::from_utf8_lossy(&theirs.stdout)),
            "--output {format}"
        );
    }
    // plan and status in the other formats: rendered, not refused.
    for (cmd, format) in [
        ("plan", "table"),
        ("status", "text"),
        ("plan", "yaml"),
        ("status", "yaml-stream"),
    ] {
        let out = home
            .command()
            .args([cmd, "--output", format])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && !stdout.is_empty(),
            "{cmd} --output {format}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = home
        .command()
        .args([
            "status",
            "--output",
            "text",
            "--query",
            "Profiles[0].Profile",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "default\n");
}

/// The aws CLI v1 of the venv calls the wire format `none` (only its newest releases also
/// accept v2's `wire`); ours takes v2's name. Everything else in the two homes is the same.
const WIRE: &str = "[default]\ncli_timestamp_format = wire\n";
const V1_WIRE: &str = "[default]\ncli_timestamp_format = none\n";

#[test]
fn wire_timestamps_are_printed_as_iam_sent_them_as_the_aws_cli_does() {
    let moto = Moto::start();
    let k = moto.user_with_key("alice");
    let second = moto.create_access_key("alice");
    moto.update_access_key("alice", &second.id, "Inactive");
    let creds = k.credentials_profile("default");
    let ours_home = moto.home(WIRE, &creds);
    let aws_home = moto.home(V1_WIRE, &creds);
    let mut cases: Vec<Case> = ["json", "text", "table"]
        .iter()
        .map(|f| {
            Case::new(
                format!("wire, --output {f}"),
                &["--user-name", "alice", "--output", f],
            )
        })
        .collect();
    cases.push(Case::new(
        "wire, --query of the dates",
        &[
            "--user-name",
            "alice",
            "--query",
            "AccessKeyMetadata[].CreateDate",
        ],
    ));
    let theirs = aws_batch(&aws_home, &moto, &cases);
    let mut failures = Vec::new();
    for (case, theirs) in cases.iter().zip(&theirs) {
        let ours = command(&ours_home, &moto, Who::Ours, case)
            .output()
            .unwrap();
        let (o, t) = (
            String::from_utf8_lossy(&ours.stdout),
            String::from_utf8_lossy(&theirs.stdout),
        );
        assert!(
            theirs.status.success() && t.contains(&k.id) || case.name.contains("query"),
            "{}: the aws CLI failed: {}",
            case.name,
            String::from_utf8_lossy(&theirs.stderr)
        );
        if o != t || ours.status.code() != Some(0) {
            failures.push(format!(
                "--- {}\nours:\n{o}\naws:\n{t}\nour stderr: {}",
                case.name,
                String::from_utf8_lossy(&ours.stderr)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The setting matters: moto's wire form is not the iso8601 one.
    let iso = moto.home("[default]\ncli_timestamp_format = iso8601\n", &creds);
    let ours_iso = command(&iso, &moto, Who::Ours, &cases[0]).output().unwrap();
    assert!(ours_iso.status.success());
    assert_ne!(
        String::from_utf8_lossy(&ours_iso.stdout),
        String::from_utf8_lossy(&theirs[0].stdout),
        "iso8601 and wire print the same: the test cannot tell them apart"
    );
}

fn json_of(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

/// A timestamp's form: its digits as `9`.
fn shape(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_digit() { '9' } else { c })
        .collect()
}

#[test]
fn wire_timestamps_in_status_plan_and_the_new_key_of_admin_mode() {
    let moto = Moto::start();
    let admin = moto.user_with_key("admin");
    moto.create_user("bob");
    let creds = admin.credentials_profile("default");
    let ours = moto.home(WIRE, &creds);
    let aws = moto.home(V1_WIRE, &creds);
    let aws_json = |args: &[&str]| {
        json_of(
            &aws.aws()
                .env("AWS_DEFAULT_REGION", "us-east-1")
                .args(args)
                .args(["--output", "json"])
                .output()
                .unwrap(),
        )
    };
    let ours_json = |args: &[&str]| {
        json_of(
            &ours
                .command()
                .args(args)
                .args(["--output", "json"])
                .output()
                .unwrap(),
        )
    };
    let listed = aws_json(&["iam", "list-access-keys", "--user-name", "admin"]);
    let created = listed["AccessKeyMetadata"][0]["CreateDate"].clone();
    assert!(created.is_string(), "{listed}");

    // status: the key's CreateDate and LastUsed as IAM sent them.
    let status = ours_json(&["status"]);
    let row = &status["Profiles"][0];
    assert_eq!(row["CreateDate"], created, "{status}");
    let last = aws_json(&[
        "iam",
        "get-access-key-last-used",
        "--access-key-id",
        &admin.id,
    ]);
    let theirs = last["AccessKeyLastUsed"]["LastUsedDate"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mine = row["LastUsed"].as_str().unwrap_or_default();
    assert!(!theirs.is_empty(), "{last}");
    assert_eq!(shape(mine), shape(&theirs), "{status}\n{last}");

    // plan: the key to be replaced.
    let plan = ours_json(&["plan"]);
    assert_eq!(plan["Plans"][0]["OldKey"]["CreateDate"], created, "{plan}");

    // Admin mode: the new key's CreateDate as CreateAccessKey sent it (the same text that
    // ListAccessKeys sends for it).
    let new = ours_json(&["--user-name", "bob"]);
    let bobs = aws_json(&["iam", "list-access-keys", "--user-name", "bob"]);
    assert_eq!(
        new["AccessKey"]["CreateDate"], bobs["AccessKeyMetadata"][0]["CreateDate"],
        "{new}\n{bobs}"
    );

    // And none of these is the iso8601 form, which the same commands print by default.
    let iso = moto.home("", &creds);
    let iso_status = json_of(
        &iso.command()
            .args(["status", "--output", "json"])
            .output()
            .unwrap(),
    );
    let iso_created = iso_status["Profiles"][0]["CreateDate"]
        .as_str()
        .unwrap_or_default();
    assert_ne!(
        shape(iso_created),
        shape(created.as_str().unwrap_or_default()),
        "iso8601 and wire look alike: the test cannot tell them apart"
    );
}
