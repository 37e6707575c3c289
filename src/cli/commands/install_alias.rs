//! `install-alias`: adds `rotate-keys = !aws-rotate-keys` under `[toplevel]` of the `aws` CLI's
//! alias file (`~/.aws/cli/alias`, beside the config file), with the core's lossless INI editor:
//! every other byte of the file is kept.

use aws_rotate_keys::ini::SettingEdit;

use crate::cli::error::{CliError, ErrorKind};
use crate::cli::files::{self, Paths};

pub(crate) fn run() -> Result<Option<ErrorKind>, CliError> {
    let paths = Paths::from_env().map_err(|e| CliError::config(format!("{e:#}")))?;
    let dir = paths.config.parent().map_or_else(
        || std::path::PathBuf::from("."),
        std::path::Path::to_path_buf,
    );
    let path = dir.join("cli").join("alias");
    let text = files::read(&path).map_err(|e| CliError::config(format!("{e:#}")))?;
    let edit = SettingEdit {
        section: "toplevel".to_owned(),
        key: "rotate-keys".to_owned(),
        value: "!aws-rotate-keys".to_owned(),
    };
    let added = match edit.apply(&text).map_err(|e| CliError::file(&path, e))? {
        Some(new) => {
            files::write_atomic(&path, &new)?;
            true
        }
        None => false,
    };
    eprintln!(
        "{} {}: now `aws rotate-keys -p PROFILE` runs aws-rotate-keys (use -p: `aws` keeps --profile for itself before an alias)",
        if added { "added to" } else { "already in" },
        path.display()
    );
    Ok(None)
}
