//! How a run ends: every error the shell stops on is a [`CliError`] of an [`ErrorKind`], and
//! the kind alone sets the exit status, here and nowhere else (the `aws` CLI v2's statuses).

use std::process::ExitCode;

/// What kind of error ended the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    /// A bad command line, or a decision that `--yes`/`--delete` did not give: 252.
    Usage,
    /// Bad or unsupported configuration or files: 253.
    Config,
    /// An error of an AWS service: 254.
    Service,
    /// Anything else: 255.
    Other,
    /// Ctrl-C: 130.
    Interrupted,
    /// stdout was closed (`| head`): not an error, as ripgrep treats it.
    BrokenPipe,
}

impl From<aws_rotate_keys::error::ErrorKind> for ErrorKind {
    fn from(kind: aws_rotate_keys::error::ErrorKind) -> Self {
        use aws_rotate_keys::error::ErrorKind as Core;
        match kind {
            Core::Usage => Self::Usage,
            Core::Config => Self::Config,
            Core::Service => Self::Service,
            Core::Other => Self::Other,
        }
    }
}

/// The exit status of a run that ended with `kind` (`None`: all went well).
pub(crate) fn exit_code(kind: Option<ErrorKind>) -> ExitCode {
    ExitCode::from(match kind {
        None | Some(ErrorKind::BrokenPipe) => 0,
        Some(ErrorKind::Usage) => 252,
        Some(ErrorKind::Config) => 253,
        Some(ErrorKind::Service) => 254,
        Some(ErrorKind::Other) => 255,
        Some(ErrorKind::Interrupted) => 130,
    })
}

/// An error that ends the run: what happened, and what to do next.
#[derive(Debug)]
pub(crate) struct CliError {
    pub(crate) kind: ErrorKind,
    pub(crate) message: String,
    /// What to do about it, where the message does not say.
    pub(crate) hint: Option<String>,
}

impl CliError {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            hint: None,
        }
    }

    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Usage, message)
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, message)
    }

    pub(crate) fn other(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Other, message)
    }

    pub(crate) fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// A file the run cannot read or parse: the configuration is bad, and nothing was changed.
    pub(crate) fn file(path: &std::path::Path, error: impl std::fmt::Display) -> Self {
        Self::config(format!(
            "{}: {error}; fix the file, then run again (nothing was changed)",
            path.display()
        ))
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The shell's plumbing reports with anyhow and context; what reaches the top is an error of
/// kind `Other` (255), unless stdout was closed under us.
impl From<anyhow::Error> for CliError {
    fn from(e: anyhow::Error) -> Self {
        let broken_pipe = e.chain().any(|c| {
            c.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
        });
        let kind = if broken_pipe {
            ErrorKind::BrokenPipe
        } else {
            ErrorKind::Other
        };
        Self::new(kind, format!("{e:#}"))
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        anyhow::Error::from(e).into()
    }
}

/// Prints `error` (and its hint) on stderr as the run ends.
pub(crate) fn report(error: &CliError) {
    if error.kind == ErrorKind::BrokenPipe {
        return;
    }
    eprintln!("aws-rotate-keys: error: {}", error.message);
    if let Some(hint) = &error.hint {
        eprintln!("aws-rotate-keys: hint: {hint}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_the_aws_clis_status() {
        let code = |k| format!("{:?}", exit_code(k));
        assert_eq!(code(None), format!("{:?}", ExitCode::from(0)));
        for (kind, status) in [
            (ErrorKind::Usage, 252),
            (ErrorKind::Config, 253),
            (ErrorKind::Service, 254),
            (ErrorKind::Other, 255),
            (ErrorKind::Interrupted, 130),
            (ErrorKind::BrokenPipe, 0),
        ] {
            assert_eq!(code(Some(kind)), format!("{:?}", ExitCode::from(status)));
        }
    }

    #[test]
    fn a_closed_stdout_is_not_an_error() {
        let e: CliError = anyhow::Error::from(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
            .context("printing the result")
            .into();
        assert_eq!(e.kind, ErrorKind::BrokenPipe);
        let e: CliError = anyhow::anyhow!("something else").into();
        assert_eq!(e.kind, ErrorKind::Other);
    }
}
