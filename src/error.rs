//! How a run that did not go well ends, in the `aws` CLI's four kinds; the shell maps each to
//! its exit status (252, 253, 254, 255) in one place.

use serde::Serialize;

/// What went wrong, as the exit status tells it. Ordered from least to most serious: a run with
/// several results ends with the most serious kind among them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum ErrorKind {
    /// A bad command line, or a decision that `--yes`/`--delete` did not give (252).
    Usage,
    /// Bad or unsupported configuration or files (253).
    Config,
    /// An AWS service's error (254).
    Service,
    /// Anything else: a lost connection, a file that could not be written (255).
    Other,
}

impl ErrorKind {
    /// The most serious of several kinds (none when there are none).
    pub fn worst(kinds: impl IntoIterator<Item = ErrorKind>) -> Option<ErrorKind> {
        kinds.into_iter().max()
    }
}
