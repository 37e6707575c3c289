//! Splice new values into a file's text; never re-serialize.
//!
//! [`KeyEdit::apply`] parses the text (so it refuses exactly what botocore refuses), finds the
//! sections that hold the old key id (see [`Document::key_holders`]), and replaces the bytes of
//! two values in each: the id and the secret beside it. [`SettingEdit::apply`] adds one
//! `key = value` line to a section (the `aws` CLI's alias file). Every other byte stays as it
//! was: comments, order, blank lines, spacing around `=` or `:`, `\r\n` or lone `\r` line ends,
//! a missing final newline, a byte order mark.
//!
//! It must not write files, log, or put a secret (old or new) into an error: errors name a
//! section and a line, nothing else.

use std::ops::Range;

use crate::key::{AccessKeyId, SecretAccessKey};

use super::{CompactString, Document, FileKind, ParseError, SectionKind, Setting};

/// Replace key `from` by `to_id`/`to_secret` wherever a section holds `from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEdit {
    /// The key id to replace.
    pub from: AccessKeyId,
    /// The new key id.
    pub to_id: AccessKeyId,
    /// The new secret.
    pub to_secret: SecretAccessKey,
}

/// Why an edit could not be made. Never quotes a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EditError {
    /// The text does not parse.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// A section holds the key id but no `aws_secret_access_key`.
    #[error("line {line}: [{section}] has aws_access_key_id but no aws_secret_access_key")]
    MissingSecret {
        /// The section's header text.
        section: String,
        /// 1-based line of its aws_access_key_id.
        line: usize,
    },
    /// The key id or secret spans several lines.
    #[error("line {line}: the value continues on the next line; put it on one line")]
    Multiline {
        /// 1-based line.
        line: usize,
    },
}

/// What [`KeyEdit::apply`] changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The new text.
    pub text: String,
    /// The profiles of the file whose key it was (each once, in file order): those whose own
    /// section held it, and those that read it from `[DEFAULT]`.
    pub profiles: Vec<CompactString>,
}

impl KeyEdit {
    /// Applies the edit to `text`: returns the new text, or `None` when no section holds `from`.
    /// Every byte outside the replaced values is kept.
    ///
    /// A holder's `aws_secret_access_key` must be its own (one inherited from `[DEFAULT]` is
    /// shared with other sections, so it is not changed here) and on one line.
    ///
    /// # Errors
    ///
    /// [`EditError::Parse`] where botocore would not read the file; [`EditError::MissingSecret`]
    /// where a holder has no secret of its own; [`EditError::Multiline`] where the id or secret
    /// continues on the next line. On any error nothing is changed.
    pub fn apply(&self, kind: FileKind, text: &str) -> Result<Option<Applied>, EditError> {
        let doc = Document::parse(kind, text)?;
        let holders = doc.key_holders(&self.from);
        if holders.is_empty() {
            return Ok(None);
        }
        let profiles = doc
            .profiles()
            .filter(|(_, section)| {
                doc.raw_lookup(section, Setting::AccessKeyId.key())
                    .is_some_and(|e| doc.raw_value(e) == self.from.as_str())
                    && !doc.has_session_token(section)
            })
            .map(|(name, _)| CompactString::new(name))
            .collect();
        let mut splices: Vec<(Range<usize>, &str)> = Vec::with_capacity(holders.len() * 2);
        for section in holders {
            let Some(id) = doc.entry(section, "aws_access_key_id") else {
                continue; // a holder has one by definition
            };
            if id.multiline {
                return Err(EditError::Multiline { line: id.line });
            }
            let Some(secret) = doc.entry(section, "aws_secret_access_key") else {
                return Err(EditError::MissingSecret {
                    section: section.header.to_string(),
                    line: id.line,
                });
            };
            if secret.multiline {
                return Err(EditError::Multiline { line: secret.line });
            }
            splices.push((id.value_span.clone(), self.to_id.as_str()));
            splices.push((secret.value_span.clone(), self.to_secret.expose()));
        }
        splices.sort_by_key(|(span, _)| span.start);
        let grow: usize = splices.iter().map(|(_, new)| new.len()).sum();
        let mut out = String::with_capacity(text.len() + grow);
        let mut at = 0;
        for (span, new) in splices {
            // Spans are distinct values, each on its own key line, so they never overlap.
            out.push_str(text.get(at..span.start).unwrap_or_default());
            out.push_str(new);
            at = span.end;
        }
        out.push_str(text.get(at..).unwrap_or_default());
        Ok(Some(Applied {
            text: out,
            profiles,
        }))
    }
}

/// Add `key = value` to `[section]` (made at the end of the text if missing), unless the section
/// has that key already. The text is read as a credentials file is (headers verbatim), which is
/// how configparser reads the `aws` CLI's alias file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingEdit {
    /// The section's header text.
    pub section: String,
    /// The key, as written.
    pub key: String,
    /// The value.
    pub value: String,
}

impl SettingEdit {
    /// The new text, or `None` when the section has the key already (whatever its value). The
    /// line goes right after the section's header, with the line ending the file uses.
    ///
    /// # Errors
    ///
    /// [`EditError::Parse`] where configparser would not read the text.
    pub fn apply(&self, text: &str) -> Result<Option<String>, EditError> {
        let doc = super::parse::parse(FileKind::Credentials, text.to_owned(), false)?;
        let key = super::py::lower(&self.key);
        let section = doc
            .sections()
            .iter()
            .rfind(|s| s.header == self.section && s.kind != SectionKind::Defaults);
        let eol = if text.contains("\r\n") {
            "\r\n"
        } else if text.contains('\r') && !text.contains('\n') {
            "\r"
        } else {
            "\n"
        };
        let line = format!("{} = {}", self.key, self.value);
        let mut out = String::with_capacity(text.len() + line.len() + self.section.len() + 8);
        match section {
            Some(s) if doc.raw_entry(s, &key).is_some() => return Ok(None),
            Some(s) => {
                let (head, tail) = text.split_at(s.header_end);
                out.push_str(head);
                if !ends_a_line(head) {
                    out.push_str(eol);
                }
                out.push_str(&line);
                out.push_str(eol);
                out.push_str(tail);
            }
            None => {
                out.push_str(text);
                if !text.is_empty() && !ends_a_line(text) {
                    out.push_str(eol);
                }
                out.push_str(&format!("[{}]{eol}{line}{eol}", self.section));
            }
        }
        Ok(Some(out))
    }
}

fn ends_a_line(text: &str) -> bool {
    text.ends_with('\n') || text.ends_with('\r')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ini::ParseErrorKind;

    const OLD: &str = "AKIAOLD0000000000001";
    const NEW: &str = "AKIANEW0000000000001";
    const SECRET: &str = "n3w/Secret+Value=";

    fn edit() -> KeyEdit {
        KeyEdit {
            from: AccessKeyId::new(OLD).expect("valid id"),
            to_id: AccessKeyId::new(NEW).expect("valid id"),
            to_secret: SecretAccessKey::new(SECRET).expect("valid secret"),
        }
    }

    fn apply(kind: FileKind, text: &str) -> Result<Option<String>, EditError> {
        edit().apply(kind, text).map(|a| a.map(|a| a.text))
    }

    #[test]
    fn names_every_profile_whose_key_it_was() {
        let text = format!(
            "[default]\naws_access_key_id = {OLD}\naws_secret_access_key = s\n\
             [ci]\naws_access_key_id = {OLD}\naws_secret_access_key = s\n\
             [other]\naws_access_key_id = AKIAOTHER\naws_secret_access_key = o\n\
             [session]\naws_access_key_id = {OLD}\naws_secret_access_key = s\naws_session_token = t\n"
        );
        let applied = edit()
            .apply(FileKind::Credentials, &text)
            .expect("edits")
            .expect("holders");
        assert_eq!(applied.profiles, ["default", "ci"]);
        // A key in [DEFAULT] is the key of every profile that reads it from there.
        let text = format!(
            "[DEFAULT]\naws_access_key_id = {OLD}\naws_secret_access_key = d\n\
             [a]\nregion = x\n[b]\naws_access_key_id = AKIAOTHER\naws_secret_access_key = o\n"
        );
        let applied = edit()
            .apply(FileKind::Credentials, &text)
            .expect("edits")
            .expect("holders");
        assert_eq!(applied.profiles, ["a"]);
    }

    fn alias() -> SettingEdit {
        SettingEdit {
            section: "toplevel".into(),
            key: "rotate-keys".into(),
            value: "!aws-rotate-keys".into(),
        }
    }

    #[test]
    fn a_setting_goes_under_its_header_and_nothing_else_changes() {
        let text = "# my aliases\r\n[toplevel]\r\nwhoami = sts get-caller-identity\r\n\r\n[command s3]\r\nls-all =\r\n  !f() {\r\n    aws s3 ls\r\n  }; f\r\n";
        let out = alias().apply(text).expect("parses").expect("added");
        assert_eq!(
            out,
            text.replace(
                "[toplevel]\r\n",
                "[toplevel]\r\nrotate-keys = !aws-rotate-keys\r\n"
            )
        );
        assert_eq!(alias().apply(&out), Ok(None), "once only");
        // A header on the last line, without a line end.
        assert_eq!(
            alias().apply("[toplevel]").expect("parses"),
            Some("[toplevel]\nrotate-keys = !aws-rotate-keys\n".into())
        );
        // Missing section, missing file, a file without a final line end.
        assert_eq!(
            alias().apply("").expect("parses"),
            Some("[toplevel]\nrotate-keys = !aws-rotate-keys\n".into())
        );
        assert_eq!(
            alias().apply("[command iam]\nx = y").expect("parses"),
            Some("[command iam]\nx = y\n[toplevel]\nrotate-keys = !aws-rotate-keys\n".into())
        );
        // A user's own alias of that name is kept.
        assert_eq!(
            alias().apply("[toplevel]\nRotate-Keys = !other\n"),
            Ok(None)
        );
        // A file configparser refuses is refused, with its line.
        assert!(matches!(
            alias().apply("[toplevel]\na = 1\n[toplevel]\n"),
            Err(EditError::Parse(ParseError { line: 3, .. }))
        ));
    }

    #[test]
    fn replaces_the_id_and_secret_and_nothing_else() {
        let text = format!(
            "# keep me\n[default]\naws_access_key_id={OLD}\n\n; and me\nregion : x\n\
             aws_secret_access_key   :\told-secret   \n[other]\naws_access_key_id = AKIAOTHER\n\
             aws_secret_access_key = other-secret"
        );
        let out = apply(FileKind::Credentials, &text)
            .expect("edits")
            .expect("a holder");
        let want = format!(
            "# keep me\n[default]\naws_access_key_id={NEW}\n\n; and me\nregion : x\n\
             aws_secret_access_key   :\t{SECRET}   \n[other]\naws_access_key_id = AKIAOTHER\n\
             aws_secret_access_key = other-secret"
        );
        assert_eq!(out, want);
    }

    #[test]
    fn keeps_line_ends_and_the_bom() {
        for end in ["\r\n", "\r", "\n"] {
            let text = format!(
                "\u{feff}[a]{end}aws_secret_access_key = s{end}aws_access_key_id = {OLD}{end}"
            );
            let out = apply(FileKind::Credentials, &text)
                .expect("edits")
                .expect("a holder");
            assert_eq!(
                out,
                format!(
                    "\u{feff}[a]{end}aws_secret_access_key = {SECRET}{end}aws_access_key_id = {NEW}{end}"
                )
            );
        }
    }

    #[test]
    fn edits_every_holder_in_either_file_and_default() {
        let text = format!(
            "[DEFAULT]\naws_access_key_id = {OLD}\naws_secret_access_key = d\n\
             [default]\nregion = x\n[profile a]\naws_access_key_id = {OLD}\naws_secret_access_key = a\n\
             [profile s]\naws_access_key_id = {OLD}\naws_secret_access_key = s\naws_session_token = t\n"
        );
        let out = apply(FileKind::Config, &text)
            .expect("edits")
            .expect("holders");
        assert_eq!(out.matches(NEW).count(), 2);
        assert_eq!(out.matches(SECRET).count(), 2);
        assert_eq!(
            out.matches(OLD).count(),
            1,
            "the session profile is left alone"
        );
        let doc = Document::parse(FileKind::Config, &out).expect("parses");
        assert_eq!(
            doc.get("default", "aws_access_key_id").map(|e| e.value),
            Some(NEW)
        );
    }

    #[test]
    fn no_holder_means_no_change() {
        assert_eq!(apply(FileKind::Credentials, ""), Ok(None));
        let text = format!("[a]\naws_access_key_id = {OLD}x\naws_secret_access_key = s\n");
        assert_eq!(apply(FileKind::Credentials, &text), Ok(None));
        // A trailing "comment" is part of the value, so the value is not the id.
        let text = format!("[a]\naws_access_key_id = {OLD} # main\naws_secret_access_key = s\n");
        assert_eq!(apply(FileKind::Credentials, &text), Ok(None));
    }

    #[test]
    fn refuses_a_holder_without_its_own_secret() {
        let text = format!("[a]\nregion = x\naws_access_key_id = {OLD}\n");
        assert_eq!(
            apply(FileKind::Credentials, &text),
            Err(EditError::MissingSecret {
                section: "a".into(),
                line: 3
            })
        );
        let text =
            format!("[DEFAULT]\naws_secret_access_key = s\n[a]\naws_access_key_id = {OLD}\n");
        assert!(matches!(
            apply(FileKind::Credentials, &text),
            Err(EditError::MissingSecret { line: 4, .. })
        ));
    }

    #[test]
    fn refuses_a_multiline_secret() {
        let text = format!("[a]\naws_access_key_id = {OLD}\naws_secret_access_key = s\n  more\n");
        assert_eq!(
            apply(FileKind::Credentials, &text),
            Err(EditError::Multiline { line: 3 })
        );
    }

    #[test]
    fn refuses_what_botocore_refuses() {
        let text = format!("[a]\naws_access_key_id = {OLD}\naws_secret_access_key = s\n[a]\n");
        let e = apply(FileKind::Credentials, &text).expect_err("refused");
        assert!(matches!(e, EditError::Parse(ref p) if p.line == 4
            && p.kind == ParseErrorKind::DuplicateSection("a".into())));
        assert!(e.to_string().starts_with("line 4: "));
    }

    #[test]
    fn fills_an_empty_secret() {
        let text = format!("[a]\naws_access_key_id = {OLD}\naws_secret_access_key =\n");
        let out = apply(FileKind::Credentials, &text)
            .expect("edits")
            .expect("a holder");
        assert_eq!(
            out,
            format!("[a]\naws_access_key_id = {NEW}\naws_secret_access_key ={SECRET}\n")
        );
        let text = format!("[a]\naws_access_key_id = {OLD}\naws_secret_access_key = ");
        let out = apply(FileKind::Credentials, &text)
            .expect("edits")
            .expect("a holder");
        assert!(out.ends_with(&format!("aws_secret_access_key = {SECRET}")));
    }

    #[test]
    fn errors_never_show_secrets() {
        let text =
            format!("[a]\naws_access_key_id = {OLD}\naws_secret_access_key = wJalrX\n  yz\n");
        let e = apply(FileKind::Credentials, &text).expect_err("multiline");
        assert!(!format!("{e} {e:?}").contains("wJalrX"));
        assert!(!format!("{:?}", edit()).contains(SECRET));
    }
}
