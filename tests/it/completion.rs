//! Tab completion in real shells: the committed scripts under `completions/` are sourced by bash,
//! zsh and fish, which call the binary back; subcommands, options, option values and the
//! profile names of the user's own files must come out.
//!
//! The shells are Debian's `bash`, `zsh` and `fish`. Where one is missing the test says so and
//! passes, unless `ART_REQUIRE_SHELLS` is set (`.ci/run` sets it and installs them).
// Not on Windows: it drives bash, zsh and fish.
#![cfg(not(any(target_family = "wasm", windows)))]
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

const BIN: &str = env!("CARGO_BIN_EXE_aws-rotate-keys");

/// A HOME with profiles in both files, its own for each call: the tests run in parallel, and
/// each removes its HOME when its shell is done.
fn home() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "art-completion-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let aws = dir.join(".aws");
    std::fs::create_dir_all(&aws).expect("a temp dir");
    std::fs::write(
        aws.join("config"),
        "[default]\nregion = eu-west-1\n[profile work]\nregion = us-east-1\n[profile web]\n[sso-session corp]\n",
    )
    .expect("config");
    std::fs::write(
        aws.join("credentials"),
        "[wonder]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = x\n",
    )
    .expect("credentials");
    dir
}

/// Runs `shell args…` with only the binary's directory and the system's on PATH; `None` when
/// the shell is not installed (and that is allowed).
fn shell(shell: &str, args: &[&str]) -> Option<String> {
    let home = home();
    let bin_dir = Path::new(BIN).parent().expect("the binary's directory");
    let out = Command::new(shell)
        .args(args)
        .env_clear()
        .env("HOME", &home)
        .env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output();
    let _ = std::fs::remove_dir_all(&home);
    match out {
        Ok(out) => {
            assert!(
                out.status.success(),
                "{shell}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            Some(String::from_utf8_lossy(&out.stdout).into_owned())
        }
        Err(e) if std::env::var_os("ART_REQUIRE_SHELLS").is_none() => {
            eprintln!("SKIPPED: {shell} is not installed ({e}); apt-get install {shell}");
            None
        }
        Err(e) => panic!("{shell}: {e}"),
    }
}

fn lines(s: &str) -> Vec<&str> {
    s.lines()
        .map(|l| l.split('\t').next().unwrap_or(l))
        .collect()
}

#[test]
fn bash_completes_commands_options_values_and_profiles() {
    let script = r#"
source completions/aws-rotate-keys.bash
complete -p aws-rotate-keys >/dev/null || exit 1
try() {  # the words of the command line, the last one being completed
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_TYPE=9
    local prev="${COMP_WORDS[COMP_CWORD-1]}"
    _clap_complete_aws_rotate_keys aws-rotate-keys "${COMP_WORDS[COMP_CWORD]}" "$prev"
    printf '%s\n' "${COMPREPLY[@]}"; echo ---
}
try aws-rotate-keys li
try aws-rotate-keys --all-pro
try aws-rotate-keys --output y
try aws-rotate-keys -p w
try aws-rotate-keys plan --profile ''
try aws-rotate-keys fleet p
try aws-rotate-keys fleet rotate --exe
"#;
    let Some(out) = shell("bash", &["--norc", "--noprofile", "-c", script]) else {
        return;
    };
    let parts: Vec<Vec<&str>> = out.split("---\n").map(lines).collect();
    assert_eq!(parts[0], ["list-access-keys"], "{out}");
    assert_eq!(parts[1], ["--all-profiles"], "{out}");
    assert_eq!(parts[2], ["yaml", "yaml-stream"], "{out}");
    assert_eq!(parts[3], ["wonder", "work", "web"], "{out}");
    assert_eq!(parts[4], ["wonder", "default", "work", "web"], "{out}");
    assert_eq!(parts[5], ["plan", "policy"], "{out}");
    assert_eq!(parts[6], ["--exempt-group"], "{out}");
}

#[test]
fn fish_completes_commands_options_values_and_profiles() {
    let script = r#"
source completions/aws-rotate-keys.fish
for line in "aws-rotate-keys inst" "aws-rotate-keys --keep" "aws-rotate-keys --color o" "aws-rotate-keys -p w"
    complete -C "$line"
    echo ---
end
"#;
    let Some(out) = shell("fish", &["--no-config", "-c", script]) else {
        return;
    };
    let parts: Vec<Vec<&str>> = out.split("---\n").map(lines).collect();
    assert_eq!(parts[0], ["install-alias"], "{out}");
    assert_eq!(parts[1], ["--keep-old"], "{out}");
    assert_eq!(parts[2], ["on", "off"], "{out}");
    assert_eq!(parts[3], ["wonder", "work", "web"], "{out}");
}

/// zsh: the committed `_aws-rotate-keys` function, run by zsh itself with the `words` and
/// `CURRENT` that its completion system sets, and `_describe` (which draws the menu) replaced by
/// one that prints the candidates.
#[test]
fn zsh_completes_commands_options_values_and_profiles() {
    let script = r#"
compdef() { : }
_describe() { local name=${@[-1]}; print -rl -- ${(P)name} }
source completions/_aws-rotate-keys
try() { words=("$@"); CURRENT=$#; _clap_dynamic_completer_aws_rotate_keys; print -- --- }
try aws-rotate-keys sta
try aws-rotate-keys --verify
try aws-rotate-keys --output ta
try aws-rotate-keys -p w
"#;
    let Some(out) = shell("zsh", &["-f", "-c", script]) else {
        return;
    };
    let parts: Vec<Vec<&str>> = out
        .split("---\n")
        .map(|p| {
            p.lines()
                .map(|l| l.split(':').next().unwrap_or(l))
                .collect()
        })
        .collect();
    assert_eq!(parts[0], ["status"], "{out}");
    assert_eq!(parts[1], ["--verify-timeout"], "{out}");
    assert_eq!(parts[2], ["table"], "{out}");
    assert_eq!(parts[3], ["wonder", "work", "web"], "{out}");
}
