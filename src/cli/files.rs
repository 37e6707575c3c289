//! The shell's file system: where the `aws` files are, reading them, the lock that serializes
//! runs, the journals, and atomic 0600 replacement (through symlinks, keeping the link).
//!
//! Every write goes to a sibling temporary file created 0600, is flushed to disk, renamed over
//! the target, and the directory is flushed too: a crash leaves either the old or the new file,
//! never a mix (spec promise 4).
//!
//! On Windows there are no mode bits: a file written here gets the ACL its directory hands down,
//! as a file the `aws` CLI writes does (`%USERPROFILE%\.aws` is the user's, SYSTEM's and the
//! Administrators' only). The rename is `MoveFileExW` with `MOVEFILE_REPLACE_EXISTING`, which
//! NTFS journals; a directory cannot be flushed there, so that step is Unix's alone.
#![allow(clippy::disallowed_methods)] // the shell is where files are read and written

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
#[cfg(unix)]
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use aws_rotate_keys::action::{Action, Failure, FailureClass, Outcome};
use aws_rotate_keys::ini::FileKind;
use aws_rotate_keys::output::FilePaths;
use aws_rotate_keys::profile::AwsFiles;

use super::error::CliError;

/// Where the two files are.
#[derive(Debug, Clone, Default)]
pub(crate) struct Paths {
    pub(crate) config: PathBuf,
    pub(crate) credentials: PathBuf,
}

impl Paths {
    /// `AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/config` and `~/.aws/credentials`.
    pub(crate) fn from_env() -> Result<Self> {
        let home = || -> Result<PathBuf> {
            home_dir().with_context(|| {
                format!(
                    "{HOME_VARIABLES} not set: set it, or AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE"
                )
            })
        };
        let pick = |var: &str, default: &str| -> Result<PathBuf> {
            match std::env::var_os(var).filter(|v| !v.is_empty()) {
                Some(v) => Ok(expand_tilde(&PathBuf::from(v), home)?),
                None => Ok(home()?.join(".aws").join(default)),
            }
        };
        Ok(Self {
            config: pick("AWS_CONFIG_FILE", "config")?,
            credentials: pick("AWS_SHARED_CREDENTIALS_FILE", "credentials")?,
        })
    }

    /// The two paths as the output names them.
    pub(crate) fn display(&self) -> FilePaths {
        FilePaths {
            config: self.config.display().to_string(),
            credentials: self.credentials.display().to_string(),
        }
    }

    /// Both files' text (a missing file is empty).
    pub(crate) fn read(&self) -> Result<(String, String), CliError> {
        let read = |path: &Path| read(path).map_err(|e| CliError::config(format!("{e:#}")));
        Ok((read(&self.config)?, read(&self.credentials)?))
    }

    /// Both files, read and parsed.
    pub(crate) fn load(&self) -> Result<AwsFiles, CliError> {
        let (config, credentials) = self.read()?;
        AwsFiles::parse(config, credentials).map_err(|e| CliError::file(self.of(e.file), e.error))
    }

    pub(crate) fn of(&self, file: FileKind) -> &Path {
        match file {
            FileKind::Config => &self.config,
            FileKind::Credentials => &self.credentials,
        }
    }

    fn journal_prefix(&self) -> String {
        format!("{}.aws-rotate-keys-", file_name(&self.credentials))
    }

    /// The journal of a rotation: beside the credentials file.
    pub(crate) fn journal(&self, id: &str) -> PathBuf {
        dir_of(&self.credentials).join(format!("{}{id}.journal", self.journal_prefix()))
    }

    /// The lock file: beside the credentials file.
    pub(crate) fn lock(&self) -> PathBuf {
        dir_of(&self.credentials).join(format!(
            "{}.aws-rotate-keys.lock",
            file_name(&self.credentials)
        ))
    }

    /// Every journal beside the credentials file: `(id, text)`.
    pub(crate) fn journals(&self) -> Result<Vec<(String, String)>> {
        let dir = dir_of(&self.credentials);
        let prefix = self.journal_prefix();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(e).with_context(|| format!("reading the directory {}", dir.display()));
            }
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(id) = name
                .strip_prefix(&prefix)
                .and_then(|r| r.strip_suffix(".journal"))
            {
                let text = fs::read_to_string(entry.path())
                    .with_context(|| format!("reading the journal {}", entry.path().display()))?;
                out.push((id.to_owned(), text));
            }
        }
        out.sort();
        Ok(out)
    }
}

/// What names the home directory, for messages.
#[cfg(windows)]
const HOME_VARIABLES: &str = "USERPROFILE (or HOMEDRIVE and HOMEPATH) is";
#[cfg(not(windows))]
const HOME_VARIABLES: &str = "HOME is";

/// The user's home directory, as the `aws` CLI finds it (Python's `os.path.expanduser`): `HOME`
/// on Unix; on Windows `USERPROFILE`, else `HOMEDRIVE` and `HOMEPATH` (Python 3.8 and later
/// ignore `HOME` there, which Git Bash and MSYS set to a path of their own).
pub(crate) fn home_dir() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if cfg!(windows) {
        var("USERPROFILE").map(PathBuf::from).or_else(|| {
            let mut drive = var("HOMEDRIVE")?;
            drive.push(var("HOMEPATH")?);
            Some(PathBuf::from(drive))
        })
    } else {
        var("HOME").map(PathBuf::from)
    }
}

fn expand_tilde(p: &Path, home: impl Fn() -> Result<PathBuf>) -> Result<PathBuf> {
    match p.strip_prefix("~") {
        Ok(rest) => Ok(home()?.join(rest)),
        Err(_) => Ok(p.to_path_buf()),
    }
}

fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(
        || "credentials".to_owned(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn dir_of(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A file's text; a missing file is empty. Non-UTF-8 text is an error naming the file.
pub(crate) fn read(path: &Path) -> Result<String> {
    match fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map_err(|_| {
            anyhow::anyhow!(
                "{}: the file is not UTF-8 text; fix its encoding",
                path.display()
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Performs a file action of the core (the journal, a key edit) and says how it went; `None`
/// for an action that is not about files.
pub(crate) fn execute(paths: &Paths, action: &Action, debug: bool) -> Option<Outcome> {
    let failed =
        |e: anyhow::Error| Outcome::Failed(Failure::new(FailureClass::Io, None, format!("{e:#}")));
    let log = |what: std::fmt::Arguments<'_>| {
        if debug {
            eprintln!("debug: {what}");
        }
    };
    Some(match action {
        Action::WriteJournal { journal, contents } => {
            let path = paths.journal(journal);
            log(format_args!("write journal {}", path.display()));
            write_atomic(&path, contents.expose()).map_or_else(failed, |_| Outcome::Done)
        }
        Action::RemoveJournal { journal } => {
            let path = paths.journal(journal);
            log(format_args!("remove journal {}", path.display()));
            remove(&path).map_or_else(failed, |()| Outcome::Done)
        }
        Action::UpdateFile { file, edit } => {
            let path = paths.of(*file);
            let updated = (|| -> Result<Outcome> {
                let text = read(path)?;
                let Some(applied) = edit
                    .apply(*file, &text)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
                else {
                    return Ok(Outcome::Unchanged);
                };
                log(format_args!(
                    "update {} ({} -> {})",
                    path.display(),
                    edit.from,
                    edit.to_id
                ));
                let w = write_atomic(path, &applied.text)?;
                if let Some(mode) = w.tightened_from {
                    super::warn(format_args!(
                        "{} was readable by others (mode {mode:o}); it is now 0600",
                        path.display()
                    ));
                }
                Ok(Outcome::Updated {
                    profiles: applied.profiles,
                })
            })();
            updated.unwrap_or_else(failed)
        }
        _ => return None,
    })
}

/// The file a path finally names, following symlinks (the link itself is kept).
fn final_target(path: &Path) -> PathBuf {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match fs::read_link(&p) {
            Ok(t) => {
                p = if t.is_absolute() {
                    t
                } else {
                    dir_of(&p).join(t)
                }
            }
            Err(_) => break,
        }
    }
    p
}

/// What a write did besides writing.
#[derive(Debug, Default)]
pub(crate) struct Written {
    /// The file had a mode wider than 0600; the new one is 0600.
    pub(crate) tightened_from: Option<u32>,
}

/// Replaces `path` with `text` atomically, mode 0600.
pub(crate) fn write_atomic(path: &Path, text: &str) -> Result<Written> {
    let target = final_target(path);
    let dir = dir_of(&target);
    fs::create_dir_all(&dir)
        .with_context(|| format!("creating the directory {}", dir.display()))?;
    let written = Written {
        tightened_from: wider_than_owner(&target),
    };
    let tmp = dir.join(format!(
        ".{}.aws-rotate-keys-{}.tmp",
        file_name(&target),
        std::process::id()
    ));
    let result = (|| -> io::Result<()> {
        let mut f =
            owner_only(OpenOptions::new().write(true).create(true).truncate(true)).open(&tmp)?;
        // The mode given to open() is filtered by the umask; make sure it is 0600 exactly.
        #[cfg(unix)]
        f.set_permissions(fs::Permissions::from_mode(0o600))?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, &target)?;
        sync_dir(&dir)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("writing {}", target.display()));
    }
    Ok(written)
}

/// Removes a file (a journal) and makes that durable. A missing file is fine.
pub(crate) fn remove(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("removing {}", path.display())),
    }
    sync_dir(&dir_of(path)).with_context(|| format!("flushing the directory of {}", path.display()))
}

/// Makes a rename or removal in `dir` durable (Unix: the directory's entry is flushed; Windows
/// cannot open a directory as a file, and NTFS journals the rename itself).
fn sync_dir(dir: &Path) -> io::Result<()> {
    if cfg!(unix) {
        File::open(dir)?.sync_all()
    } else {
        Ok(())
    }
}

/// Options that create a file readable by its owner only: mode 0600 on Unix; on Windows the
/// directory's inherited ACL (see the top of this file).
fn owner_only(options: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    options.mode(0o600);
    options
}

/// The mode of an existing file that others may read or write (Unix only).
fn wider_than_owner(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    if let Ok(meta) = fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Some(mode);
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    None
}

/// The lock that keeps two runs from interleaving (spec promise 5), held until dropped.
pub(crate) struct Lock {
    _file: File,
}

impl Lock {
    /// Takes the lock, waiting for another run to finish; `on_wait` is called once if it must wait.
    pub(crate) fn take(path: &Path, on_wait: impl FnOnce()) -> Result<Lock> {
        let dir = dir_of(path);
        fs::create_dir_all(&dir)
            .with_context(|| format!("creating the directory {}", dir.display()))?;
        let file = owner_only(
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false),
        )
        .open(path)
        .with_context(|| format!("opening the lock file {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                on_wait();
                file.lock()
                    .with_context(|| format!("waiting for the lock {}", path.display()))?;
            }
            Err(fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("locking {}", path.display()));
            }
        }
        Ok(Lock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("target")
            .join("tmp")
            .join(format!("files-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).expect("scratch dir");
        d
    }

    #[cfg(unix)]
    #[test]
    fn atomic_write_is_0600_and_keeps_symlinks() {
        let d = scratch("symlink");
        let real = d.join("real-credentials");
        fs::write(&real, "old").expect("write");
        fs::set_permissions(&real, fs::Permissions::from_mode(0o644)).expect("chmod");
        let link = d.join("credentials");
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        let w = write_atomic(&link, "new").expect("atomic write");
        assert_eq!(w.tightened_from, Some(0o644));
        assert!(
            fs::symlink_metadata(&link)
                .expect("meta")
                .file_type()
                .is_symlink(),
            "the link stays a link"
        );
        assert_eq!(fs::read_to_string(&real).expect("read"), "new");
        assert_eq!(
            fs::metadata(&real).expect("meta").permissions().mode() & 0o777,
            0o600
        );
        let leftovers: Vec<_> = fs::read_dir(&d)
            .expect("ls")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name())
            .collect();
        assert_eq!(leftovers.len(), 2, "no temporary file left: {leftovers:?}");
    }

    #[test]
    fn new_files_are_created_0600() {
        let d = scratch("new");
        let p = d.join("sub").join("credentials");
        write_atomic(&p, "x").expect("write");
        #[cfg(unix)]
        assert_eq!(
            fs::metadata(&p).expect("meta").permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn a_write_replaces_the_file_and_leaves_no_temporary() {
        let d = scratch("replace");
        let p = d.join("credentials");
        write_atomic(&p, "old").expect("first write");
        write_atomic(&p, "new").expect("second write");
        assert_eq!(fs::read_to_string(&p).expect("read"), "new");
        let names: Vec<_> = fs::read_dir(&d)
            .expect("ls")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("credentials")]);
    }

    #[test]
    fn journals_are_found_beside_the_credentials_file() {
        let d = scratch("journals");
        let paths = Paths {
            config: d.join("config"),
            credentials: d.join("credentials"),
        };
        write_atomic(&paths.journal("AKIAOLD"), "text").expect("write");
        assert_eq!(
            paths.journals().expect("list"),
            vec![("AKIAOLD".to_owned(), "text".to_owned())]
        );
        remove(&paths.journal("AKIAOLD")).expect("remove");
        assert!(paths.journals().expect("list").is_empty());
    }
}
