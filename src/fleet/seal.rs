//! `--encrypt`: the delivered key sealed to its owner with age (ASCII armour), so that no
//! administrator, backup or Secrets Manager reader can use it; `pickup` opens it with the
//! owner's identity. The recipient is an `age1…` key or an OpenSSH public key line
//! (`ssh-ed25519`, `ssh-rsa`), from the user's tag [`RECIPIENT_TAG`] or its IAM SSH public key.
//!
//! Pure computation, through the `age` crate. One thing is not passed in: the crate draws its
//! file key and ephemeral keys from the operating system's random source itself (on
//! WebAssembly, WASI's `random_get`) and takes no generator from its caller. Sealed texts
//! therefore differ every time, and tests open them rather than compare them.

use std::io::{Read as _, Write as _};
use std::str::FromStr as _;

use crate::key::Sensitive;

/// The user tag that names the recipient.
pub const RECIPIENT_TAG: &str = "aws-rotate-keys:recipient";
/// The first line of an armoured age file.
pub const ARMOR_BEGIN: &str = "-----BEGIN AGE ENCRYPTED FILE-----";

/// A recipient, checked: what a key is sealed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The key as given (`age1…`, or `ssh-ed25519 AAAA… [comment]`).
    pub text: String,
}

impl Recipient {
    /// Reads a recipient: an `age1…` key, or an `ssh-ed25519` or `ssh-rsa` public key line.
    /// The error says what was wrong, never more than the key's kind.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let ok = if text.starts_with("age1") {
            age::x25519::Recipient::from_str(text)
                .map(|_| ())
                .map_err(|e| format!("not an age public key: {e}"))
        } else if text.starts_with("ssh-ed25519 ") || text.starts_with("ssh-rsa ") {
            age::ssh::Recipient::from_str(text)
                .map(|_| ())
                .map_err(|e| format!("not a usable SSH public key: {e:?}"))
        } else {
            let kind = text.split_whitespace().next().unwrap_or("");
            Err(format!(
                "{kind:?} is neither an age public key (age1…) nor an ssh-ed25519 or ssh-rsa public key"
            ))
        };
        ok.map(|()| Self {
            text: text.to_owned(),
        })
    }

    /// The key's kind, for messages: `age`, `ssh-ed25519` or `ssh-rsa`.
    pub fn kind(&self) -> &str {
        if self.text.starts_with("age1") {
            "age"
        } else {
            self.text.split_whitespace().next().unwrap_or("ssh")
        }
    }

    fn boxed(&self) -> Result<Box<dyn age::Recipient + Send>, String> {
        if self.text.starts_with("age1") {
            age::x25519::Recipient::from_str(&self.text)
                .map(|r| Box::new(r) as Box<dyn age::Recipient + Send>)
                .map_err(|e| e.to_string())
        } else {
            age::ssh::Recipient::from_str(&self.text)
                .map(|r| Box::new(r) as Box<dyn age::Recipient + Send>)
                .map_err(|e| format!("{e:?}"))
        }
    }
}

/// Seals `plaintext` to `recipient`: the armoured age file.
pub fn seal(plaintext: &Sensitive<String>, recipient: &Recipient) -> Result<String, String> {
    let r = recipient.boxed()?;
    let encryptor = age::Encryptor::with_recipients(std::iter::once(&*r as &dyn age::Recipient))
        .map_err(|e| format!("cannot encrypt to the {} key: {e}", recipient.kind()))?;
    let mut out = Vec::new();
    let sealed = (|| {
        let armor =
            age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor)?;
        let mut w = encryptor.wrap_output(armor)?;
        w.write_all(plaintext.expose().as_bytes())?;
        w.finish()?.finish()?;
        Ok::<(), std::io::Error>(())
    })();
    sealed.map_err(|e| format!("encryption failed: {e}"))?;
    String::from_utf8(out).map_err(|e| format!("encryption failed: {e}"))
}

/// True when a secret's value is a sealed delivery.
pub fn is_sealed(value: &str) -> bool {
    value.trim_start().starts_with(ARMOR_BEGIN)
}

/// Opens a sealed delivery with any of `identities`. `Err`: no identity opens it (or it is not
/// an age file); the message never quotes the value.
pub fn open(
    sealed: &str,
    identities: &[Box<dyn age::Identity>],
) -> Result<Sensitive<String>, String> {
    let reader = age::armor::ArmoredReader::new(sealed.trim_start().as_bytes());
    let decryptor =
        age::Decryptor::new(reader).map_err(|e| format!("not a readable age file: {e}"))?;
    let mut r = decryptor
        .decrypt(identities.iter().map(|i| &**i as &dyn age::Identity))
        .map_err(|e| e.to_string())?;
    let mut bytes = zeroize::Zeroizing::new(Vec::new());
    r.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    std::str::from_utf8(&bytes)
        .map(|s| Sensitive::new(s.to_owned()))
        .map_err(|_| "the delivery is not text".to_owned())
}

/// The identities an identity file holds: an age identity file (`AGE-SECRET-KEY-1…` lines) or
/// an unencrypted OpenSSH private key. `Err` says why none could be read; a passphrase-protected
/// key is the shell's to open (it asks at a terminal).
pub fn identities(text: &str, filename: &str) -> Result<Vec<Box<dyn age::Identity>>, String> {
    if text.contains("AGE-SECRET-KEY-1") {
        return age::IdentityFile::from_buffer(text.as_bytes())
            .and_then(|f| {
                f.into_identities()
                    .map_err(|e| std::io::Error::other(e.to_string()))
            })
            .map_err(|e| format!("{filename}: not an age identity file: {e}"));
    }
    match age::ssh::Identity::from_buffer(text.as_bytes(), Some(filename.to_owned())) {
        Ok(age::ssh::Identity::Unencrypted(k)) => {
            Ok(vec![Box::new(age::ssh::Identity::Unencrypted(k))])
        }
        Ok(age::ssh::Identity::Encrypted(_)) => {
            Err(format!("{filename}: the key is protected by a passphrase"))
        }
        Ok(age::ssh::Identity::Unsupported(k)) => Err(format!(
            "{filename}: an SSH key of a kind age cannot use: {k:?}"
        )),
        Err(e) => Err(format!(
            "{filename}: neither an age identity file nor an OpenSSH private key ({e})"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A throwaway identity made for these tests.
    fn age_pair() -> (String, String) {
        let id = age::x25519::Identity::generate();
        let public = id.to_public().to_string();
        let secret = {
            use age::secrecy::ExposeSecret as _;
            id.to_string().expose_secret().to_owned()
        };
        (public, secret)
    }

    #[test]
    fn a_sealed_delivery_opens_with_its_identity_only() {
        let (public, secret) = age_pair();
        let (_, other) = age_pair();
        let r = Recipient::parse(&public).expect("an age key");
        assert_eq!(r.kind(), "age");
        let plain = Sensitive::new(r#"{"SecretAccessKey":"s3cr3t"}"#.to_owned());
        let sealed = seal(&plain, &r).expect("seals");
        assert!(is_sealed(&sealed), "{sealed}");
        assert!(!sealed.contains("s3cr3t"));
        assert_ne!(seal(&plain, &r).expect("seals"), sealed, "fresh randomness");
        let ids = identities(&format!("# a comment\n{secret}\n"), "key.txt").expect("reads");
        assert_eq!(open(&sealed, &ids).expect("opens").expose(), plain.expose());
        let wrong = identities(&other, "other.txt").expect("reads");
        assert!(open(&sealed, &wrong).is_err());
        assert!(open("not age", &ids).is_err());
    }

    #[test]
    fn recipients_are_checked() {
        for bad in [
            "",
            "age1xyz",
            "ssh-dss AAAAB3NzaC1kc3M",
            "ssh-ed25519 AAAA",
            "hello",
        ] {
            assert!(Recipient::parse(bad).is_err(), "{bad:?}");
        }
        let e = Recipient::parse("ecdsa-sha2-nistp256 AAAA x").expect_err("not supported");
        assert!(e.contains("ecdsa-sha2-nistp256"), "{e}");
        assert!(!is_sealed("{\"UserName\":\"a\"}"));
    }
}
