//! The files and journals of a simulated machine, and the shell's file steps done on them as
//! `src/cli/files.rs` does them on disk: the journal written or removed, a key edit applied to a
//! file's text.

use std::collections::BTreeMap;

use crate::action::{Action, Failure, FailureClass, Outcome};
use crate::ini::FileKind;
use crate::profile::AwsFiles;

/// The two files' texts and the journals beside them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Disk {
    /// The config file's text.
    pub config: String,
    /// The credentials file's text.
    pub credentials: String,
    /// Journals by id.
    pub journals: BTreeMap<String, String>,
}

impl Disk {
    /// A disk with these two files and no journal.
    pub fn new(config: impl Into<String>, credentials: impl Into<String>) -> Self {
        Self {
            config: config.into(),
            credentials: credentials.into(),
            journals: BTreeMap::new(),
        }
    }

    /// Both files, parsed.
    pub fn files(&self) -> Result<AwsFiles, String> {
        AwsFiles::parse(&self.config, &self.credentials).map_err(|e| e.to_string())
    }

    /// One file's text.
    pub fn text(&self, file: FileKind) -> &str {
        match file {
            FileKind::Config => &self.config,
            FileKind::Credentials => &self.credentials,
        }
    }

    fn text_mut(&mut self, file: FileKind) -> &mut String {
        match file {
            FileKind::Config => &mut self.config,
            FileKind::Credentials => &mut self.credentials,
        }
    }

    /// A file step of the core, done; `None` for an action that is not one.
    pub fn perform(&mut self, action: &Action) -> Option<Outcome> {
        Some(match action {
            Action::WriteJournal { journal, contents } => {
                self.journals
                    .insert(journal.clone(), contents.expose().clone());
                Outcome::Done
            }
            Action::RemoveJournal { journal } => {
                self.journals.remove(journal);
                Outcome::Done
            }
            Action::UpdateFile { file, edit } => match edit.apply(*file, self.text(*file)) {
                Ok(Some(applied)) => {
                    *self.text_mut(*file) = applied.text;
                    Outcome::Updated {
                        profiles: applied.profiles,
                    }
                }
                Ok(None) => Outcome::Unchanged,
                Err(e) => Outcome::Failed(Failure::new(FailureClass::Io, None, e.to_string())),
            },
            _ => return None,
        })
    }
}
