//! Printing the core's documents: after `--query`, in the chosen `--output` format (both the
//! core's), through the pager on a terminal. What the documents hold is decided in the core
//! ([`aws_rotate_keys::output`]); this only renders and writes them.

use std::io::{IsTerminal as _, Write as _};

use aws_rotate_keys::output::{CreateAccessKeyOutput, Document};
use aws_rotate_keys::render::{self, OutputFormat, Query, Style};

use super::error::{CliError, ErrorKind};
use super::pager::{self, Pager};
use super::settings::Printing;

/// How results are printed: `--output`, `--query`, the width a table must fit, the pager.
#[derive(Debug, Clone)]
pub(crate) struct Renderer {
    format: OutputFormat,
    query: Option<Query>,
    /// The terminal's columns when stdout is a terminal, else 80 (awscli/table.py's
    /// `determine_terminal_width`, which asks stdout's terminal and falls back to 80).
    width: usize,
    /// The pager results go through: only when stdout is a terminal.
    pager: Option<Pager>,
}

impl Renderer {
    pub(crate) fn new(printing: &Printing) -> Self {
        let terminal = std::io::stdout().is_terminal();
        let width = if terminal {
            terminal_size::terminal_size_of(std::io::stdout()).map_or(80, |(w, _)| usize::from(w.0))
        } else {
            80
        };
        Self {
            format: printing.format,
            query: printing.query.clone(),
            width,
            pager: printing.pager.clone().filter(|_| terminal),
        }
    }

    /// True for `--output table` without `--query`: a document may then be grouped for the
    /// eye, as no query sees it.
    pub(crate) fn is_plain_table(&self) -> bool {
        self.format == OutputFormat::Table && self.query.is_none()
    }

    /// A document after `--query`, in the chosen format. A query that fails on the value, or a
    /// shape the format cannot draw, is an error (exit 255, as the `aws` CLI).
    pub(crate) fn render<D: Document>(&self, document: &D) -> Result<String, CliError> {
        if self.format == OutputFormat::Off {
            return Ok(String::new());
        }
        let value = serde_json::to_value(document)
            .map_err(|e| CliError::other(format!("the result could not be rendered: {e}")))?;
        let value = match &self.query {
            Some(q) => q
                .apply(&value)
                .map_err(|e| CliError::other(e.to_string()))?,
            None => value,
        };
        let style = Style {
            format: self.format,
            title: D::TITLE,
            width: self.width,
        };
        render::render(&value, style).map_err(|e| CliError::other(e.to_string()))
    }

    /// Renders and prints a document: through the pager when there is one (stdout is a
    /// terminal). A pager that cannot be started is a configuration error (exit 253, as `aws`
    /// v2's `PagerErrorHandler`), after the text is printed without it: a result is never lost.
    pub(crate) fn emit<D: Document>(&self, document: &D) -> Result<(), CliError> {
        let text = self.render(document)?;
        let Some(p) = self.pager.as_ref().filter(|_| !text.is_empty()) else {
            return print(&text);
        };
        #[allow(clippy::disallowed_methods)] // whether LESS is set decides the pager's flags
        let less_is_set = std::env::var_os("LESS").is_some();
        match p.show(&text, less_is_set) {
            Ok(()) => Ok(()),
            Err(pager::Failure::NotStarted(why)) => {
                print(&text)?;
                Err(CliError::config(p.not_started(&why)))
            }
            Err(pager::Failure::Io(e)) => Err(CliError::other(format!(
                "writing to the pager `{}` (from {}): {e}",
                p.command, p.source
            ))
            .with_hint("pass --no-cli-pager to print without it")),
        }
    }

    /// Admin mode: prints the new key now (and flushes it), before the journal that holds the
    /// only other copy of the secret goes. When the format or query leaves the secret out,
    /// stderr says so: it cannot be read again.
    ///
    /// Never through the pager: the rotation waits for it mid-way, and a pager that fails, or
    /// one that clears the screen when it ends (`less` when `LESS` lacks `X`), would lose the
    /// only copy of the secret once the journal is removed.
    pub(crate) fn print_new_key(&self, document: &CreateAccessKeyOutput) -> Result<(), CliError> {
        let key = &document.access_key;
        let text = self.render(document)?;
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()?;
        if !text.contains(key.secret_access_key.expose()) {
            super::warn(format_args!(
                "the secret access key of {} was not printed (--output {}{}); it cannot be read again: delete the key and make another if you need it",
                key.access_key_id,
                self.format,
                if self.query.is_some() {
                    ", --query"
                } else {
                    ""
                }
            ));
        }
        Ok(())
    }
}

/// Prints `text` on stdout; a closed pipe is not an error.
pub(crate) fn print(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// The exit of a command whose result could not be printed (a failed `--query`, a pager that
/// could not be started): the printing's error, unless the command failed already; then its
/// own kind stands (it says more about the keys), and the printing's error is still told.
pub(crate) fn with_printing(
    shown: Result<(), CliError>,
    ending: Option<ErrorKind>,
) -> Result<Option<ErrorKind>, CliError> {
    match (shown, ending) {
        (Ok(()), ending) => Ok(ending),
        (Err(e), None) => Err(e),
        (Err(e), ending) => {
            super::error::report(&e);
            Ok(ending)
        }
    }
}
