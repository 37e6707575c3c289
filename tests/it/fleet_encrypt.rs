//! `fleet rotate --encrypt` and `pickup --identity` on moto: one user whose tag names an
//! ssh-ed25519 recipient, one with an RSA IAM SSH public key, one with neither (Blocked, with
//! what to do). The delivery secrets hold age armour and no secret; each owner picks up with
//! the matching private key (the ed25519 one from `~/.ssh/id_ed25519`, OpenSSH's default); a
//! wrong key changes nothing and says which file was tried. Keys are made by `ssh-keygen` at
//! test time.
#![cfg(feature = "cli")]
#![allow(clippy::disallowed_methods)] // the test makes its keys with ssh-keygen and reads them

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{assert_code, text};
use crate::moto::{AccessKey, Home, Moto};

/// A key pair made by `ssh-keygen` (no passphrase) in `dir`: the private key's path and the
/// public key's line.
pub(crate) fn keygen(dir: &Path, name: &str, kind: &[&str]) -> (PathBuf, String) {
    let path = dir.join(name);
    let out = Command::new("ssh-keygen")
        .args(kind)
        .args(["-N", "", "-q", "-C", name, "-f"])
        .arg(&path)
        .output()
        .expect("ssh-keygen runs");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let public = std::fs::read_to_string(path.with_extension("pub")).expect("the public key");
    (path, public.trim().to_owned())
}

fn run(home: &Home, args: &[&str]) -> Output {
    home.command().args(args).output().expect("runs")
}

fn owner(moto: &Moto, name: &str) -> (AccessKey, Home) {
    moto.create_user_with_policy(name, "all");
    let k = moto.create_access_key(name);
    let home = moto.home(
        "[default]\nregion = us-east-1\n",
        &k.credentials_profile("default"),
    );
    (k, home)
}

#[test]
fn deliveries_are_sealed_to_their_owners_and_open_with_their_keys_only() {
    let moto = Moto::start();
    moto.tag_user("moto-admin", "aws-rotate-keys:exempt", "harness");
    let (_, admin) = owner(&moto, "fleet-admin");
    let keys = admin.path().join("keys");
    std::fs::create_dir_all(&keys).expect("a folder for the keys");
    let (ed_private, ed_public) = keygen(&keys, "ed", &["-t", "ed25519"]);
    let (rsa_private, rsa_public) = keygen(&keys, "rsa", &["-t", "rsa", "-b", "2048"]);
    let (ed_key, ed_home) = owner(&moto, "ed");
    moto.tag_user("ed", "aws-rotate-keys:recipient", &ed_public);
    let (rsa_key, rsa_home) = owner(&moto, "rsa");
    moto.upload_ssh_public_key("rsa", &rsa_public);
    owner(&moto, "nobody");

    // The plan says who cannot be sealed to, and why.
    let out = run(
        &admin,
        &[
            "fleet",
            "plan",
            "--encrypt",
            "--older-than",
            "0s",
            "--output",
            "json",
        ],
    );
    assert_code(&out, 0);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let row = |v: &serde_json::Value, u: &str| {
        v["Users"]
            .as_array()
            .and_then(|a| a.iter().find(|r| r["UserName"] == u).cloned())
            .unwrap_or_else(|| panic!("no row for {u}: {v}"))
    };
    assert_eq!(row(&v, "ed")["Action"], "Deliver");
    assert_eq!(row(&v, "rsa")["Action"], "Deliver");
    assert_eq!(row(&v, "nobody")["Stage"], "Blocked");
    let reason = row(&v, "nobody")["Reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(reason.contains("aws-rotate-keys:recipient"), "{reason}");
    assert!(reason.contains("upload-ssh-public-key"), "{reason}");

    let out = run(
        &admin,
        &[
            "fleet",
            "rotate",
            "--encrypt",
            "--older-than",
            "0s",
            "--yes",
            "--output",
            "json",
        ],
    );
    assert_code(&out, 0);
    assert!(
        text(&out.stderr).contains("user nobody is blocked"),
        "{}",
        text(&out.stderr)
    );
    for user in ["ed", "rsa"] {
        let value = moto
            .admin_secret_value(&format!("aws-rotate-keys/{user}"))
            .expect("a value");
        assert!(
            value.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"),
            "{value}"
        );
        assert!(
            !value.contains("SecretAccessKey") && !value.contains("AKIA"),
            "{value}"
        );
    }
    assert!(
        moto.list_secrets()
            .iter()
            .all(|(n, _)| n != "aws-rotate-keys/nobody"),
        "a blocked user gets no delivery"
    );

    // ed: OpenSSH's default file opens it.
    let ssh = ed_home.path().join(".ssh");
    std::fs::create_dir_all(&ssh).expect("~/.ssh");
    std::fs::copy(&ed_private, ssh.join("id_ed25519")).expect("copied");
    let out = run(&ed_home, &["pickup", "--output", "json"]);
    assert_code(&out, 0);
    let ed_now = moto.list_access_keys("ed");
    assert_eq!(ed_now.len(), 1, "{ed_now:?}");
    assert_ne!(ed_now[0].id, ed_key.id);
    assert!(ed_home.credentials().contains(&ed_now[0].id));

    // rsa: the wrong key opens nothing and changes nothing; the right one does.
    let before = rsa_home.credentials();
    let out = run(
        &rsa_home,
        &[
            "pickup",
            "--identity",
            &ed_private.display().to_string(),
            "--output",
            "json",
        ],
    );
    assert_code(&out, 255);
    let err = text(&out.stderr);
    assert!(err.contains("could not be decrypted"), "{err}");
    assert!(
        err.contains(&ed_private.display().to_string()),
        "names the file tried: {err}"
    );
    assert_eq!(rsa_home.credentials(), before);
    assert_eq!(moto.list_access_keys("rsa").len(), 2);
    let out = run(
        &rsa_home,
        &[
            "pickup",
            "--identity",
            &rsa_private.display().to_string(),
            "--output",
            "json",
        ],
    );
    assert_code(&out, 0);
    let rsa_now = moto.list_access_keys("rsa");
    assert_eq!(rsa_now.len(), 1, "{rsa_now:?}");
    assert_ne!(rsa_now[0].id, rsa_key.id);
    assert!(rsa_home.credentials().contains(&rsa_now[0].id));
}
