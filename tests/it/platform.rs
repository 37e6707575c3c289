//! The binary of each platform, end to end against moto: what CI runs on the builds it cannot
//! run natively or tests nowhere else (`ART_BIN`: the static musl build; with `ART_BIN_RUNNER`:
//! the Windows build under Wine, the aarch64 build under qemu-user). Without `ART_BIN` they test
//! this build, as part of the suite.
//!
//! Only what holds on every platform is asserted here: Unix modes are `cli.rs`'s, and stderr
//! may carry the runner's own noise.
#![cfg(all(feature = "cli", not(target_family = "wasm")))]
#![allow(clippy::disallowed_methods)] // which binary is under test comes from the environment

use crate::cli::{assert_code, held, mutations, text};
use crate::moto::{Home, Moto};

/// Whether the binary under test is a Windows build (then its files have no Unix modes, and
/// its home is `USERPROFILE`).
fn windows() -> bool {
    std::env::var("ART_BIN").is_ok_and(|b| b.ends_with(".exe"))
}

/// What `.aws/` may hold after a run: the two files and the lock; never a journal or a
/// temporary file.
fn only_the_files_are_left(home: &Home) {
    let left = home.aws_dir_entries();
    assert!(
        left.iter().all(|e| matches!(
            e.as_str(),
            "config" | "credentials" | "credentials.aws-rotate-keys.lock"
        )),
        "{left:?}"
    );
}

#[test]
fn version_is_the_crates() {
    let moto_less = Home::new("http://127.0.0.1:9", "", "");
    let out = moto_less.command().arg("--version").output().unwrap();
    assert_code(&out, 0);
    assert_eq!(
        text(&out.stdout).trim_end(),
        format!("aws-rotate-keys {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn plan_reads_the_account_and_changes_nothing() {
    let moto = Moto::start();
    let k = moto.user_with_key("alice");
    let creds = k.credentials_profile("default");
    let home = moto.home("", &creds);
    let out = home.command().args(["plan", "--yes"]).output().unwrap();
    assert_code(&out, 0);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("\"Status\": \"Planned\"") && stdout.contains(&k.id),
        "{stdout}"
    );
    assert!(mutations(&moto).is_empty(), "{:?}", mutations(&moto));
    assert_eq!(home.credentials(), creds);
}

#[test]
fn rotates_twice_and_keeps_every_other_byte() {
    let moto = Moto::start();
    let k = moto.user_with_key("alice");
    // CRLF line ends, as a Windows editor leaves them, and a comment.
    let creds = format!(
        "; keys\r\n[default]\r\naws_access_key_id = {}\r\naws_secret_access_key = {}\r\n",
        k.id, k.secret
    );
    let home = moto.home("[default]\r\nregion = us-east-1\r\n", &creds);
    let mut before = (k.id.clone(), k.secret.clone());
    // The second run replaces a file the first one wrote.
    for _ in 0..2 {
        let out = home
            .command()
            .args(["--profile", "default"])
            .output()
            .unwrap();
        assert_code(&out, 0);
        let after = home.credentials();
        let now = held(&after, "default");
        assert_ne!(now.0, before.0, "a new key");
        assert!(
            moto.caller_identity(&now.0, &now.1).is_ok(),
            "the new key works"
        );
        assert_eq!(
            after,
            creds.replace(&k.id, &now.0).replace(&k.secret, &now.1),
            "every byte but the two values is kept"
        );
        let keys: Vec<_> = moto
            .list_access_keys("alice")
            .into_iter()
            .map(|k| k.id)
            .collect();
        assert_eq!(keys, vec![now.0.clone()], "the old key is deleted");
        for stream in [&out.stdout, &out.stderr] {
            assert!(!text(stream).contains(&now.1), "no secret printed");
        }
        only_the_files_are_left(&home);
        before = now;
    }
    #[cfg(unix)]
    if !windows() {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(home.credentials_path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

/// Without `AWS_CONFIG_FILE` and `AWS_SHARED_CREDENTIALS_FILE`, the files are the aws CLI's:
/// `~/.aws` under `HOME` on Unix, under `USERPROFILE` on Windows, where `HOME` (which Git Bash
/// sets) is not the home. Wine sets `USERPROFILE` itself, to its prefix's user folder: the
/// files go there for the run, and `HOME` names a folder without them.
#[test]
fn finds_the_files_where_the_aws_cli_does() {
    let moto = Moto::start();
    let k = moto.user_with_key("alice");
    let creds = k.credentials_profile("default");
    let home = moto.home("", &creds);
    let mut cmd = home.command();
    cmd.env_remove("AWS_CONFIG_FILE")
        .env_remove("AWS_SHARED_CREDENTIALS_FILE");
    let aws_dir = if windows() {
        let profile = wine_user_profile();
        let dir = profile.join(".aws");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("credentials"), &creds).unwrap();
        std::fs::write(dir.join("config"), "").unwrap();
        cmd.env("HOME", home.path().join("not-the-home"));
        dir
    } else {
        home.path().join(".aws")
    };
    let out = cmd.args(["--profile", "default"]).output().unwrap();
    let after = std::fs::read_to_string(aws_dir.join("credentials")).unwrap();
    if windows() {
        std::fs::remove_dir_all(&aws_dir).unwrap();
    }
    assert_code(&out, 0);
    let (id, _) = held(&after, "default");
    assert_ne!(id, k.id, "the file under the home was rotated");
}

/// The Unix path of `%USERPROFILE%` in the Wine prefix the runner uses.
fn wine_user_profile() -> std::path::PathBuf {
    let run = |args: &[&str]| {
        let out = std::process::Command::new(args[0])
            .args(&args[1..])
            .env("WINEDEBUG", "-all")
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        text(&out.stdout).trim().to_owned()
    };
    let profile = run(&["wine", "cmd", "/c", "echo %USERPROFILE%"]);
    std::path::PathBuf::from(run(&["winepath", "-u", &profile]))
}
