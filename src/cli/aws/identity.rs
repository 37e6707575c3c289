//! `pickup`'s side of `fleet rotate --encrypt`: the owner's identity files are read here, and
//! a passphrase-protected OpenSSH key asks for its passphrase at a terminal, unseen; the core
//! ([`seal`]) opens the sealed delivery with what they hold.

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;

use age::secrecy::SecretString;

use aws_rotate_keys::action::{Failure, FailureClass};
use aws_rotate_keys::fleet::seal;
use aws_rotate_keys::key::Sensitive;

/// The files tried when `--identity` is not given, in order: OpenSSH's default key files.
pub(crate) fn default_files() -> Vec<PathBuf> {
    crate::cli::files::home_dir()
        .map(|h| {
            let ssh = h.join(".ssh");
            vec![ssh.join("id_ed25519"), ssh.join("id_rsa")]
        })
        .unwrap_or_default()
}

/// Asks for a key's passphrase at the terminal (age calls it for an encrypted OpenSSH key).
#[derive(Clone)]
struct Terminal;

impl age::Callbacks for Terminal {
    fn display_message(&self, message: &str) {
        eprintln!("{message}");
    }

    fn confirm(&self, _: &str, _: &str, _: Option<&str>) -> Option<bool> {
        None
    }

    fn request_public_string(&self, _: &str) -> Option<String> {
        None
    }

    fn request_passphrase(&self, description: &str) -> Option<SecretString> {
        if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
            return None;
        }
        let mut e = std::io::stderr();
        let _ = write!(e, "{description}: ");
        let _ = e.flush();
        let line = crate::cli::prompt::read_unseen()?;
        Some(SecretString::from(
            line.trim_end_matches(['\r', '\n']).to_owned(),
        ))
    }
}

/// The identities of one file: the core reads age identity files and unencrypted OpenSSH
/// keys; an encrypted OpenSSH key is opened with the passphrase asked at the terminal.
fn load(text: &str, file: &str) -> Result<Vec<Box<dyn age::Identity>>, String> {
    match seal::identities(text, file) {
        Ok(ids) => Ok(ids),
        Err(e) if e.ends_with("protected by a passphrase") => {
            let id = age::ssh::Identity::from_buffer(text.as_bytes(), Some(file.to_owned()))
                .map_err(|err| format!("{file}: {err}"))?;
            Ok(vec![Box::new(id.with_callbacks(Terminal))])
        }
        Err(e) => Err(e),
    }
}

/// Opens the sealed delivery `name` with the first of `files` that can. A missing default
/// file is skipped; a missing file that was named is a failure. The failure names every file
/// tried and why each failed; nothing is changed.
pub(super) fn open(
    name: &str,
    sealed: &str,
    files: &[(PathBuf, bool)],
) -> Result<Sensitive<String>, Failure> {
    let mut why = Vec::new();
    for (path, named) in files {
        let shown = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => Sensitive::new(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !named => continue,
            Err(e) => {
                why.push(format!("{shown}: {e}"));
                continue;
            }
        };
        let ids = match load(text.expose(), &shown) {
            Ok(ids) => ids,
            Err(e) => {
                why.push(e);
                continue;
            }
        };
        match seal::open(sealed, &ids) {
            Ok(plain) => return Ok(plain),
            Err(e) => why.push(format!("{shown}: {e}")),
        }
    }
    let tried = if why.is_empty() {
        "no identity file was found (~/.ssh/id_ed25519, ~/.ssh/id_rsa)".to_owned()
    } else {
        format!("tried {}", why.join("; "))
    };
    Err(Failure::new(
        FailureClass::Other,
        None,
        format!(
            "the delivery {name} is encrypted to its owner, and it could not be decrypted: {tried}. Nothing was changed: pass the private key that matches the user's recipient with --identity FILE"
        ),
    ))
}
