//! One file per command: its arguments and the one function that runs it. What the commands
//! that read the files and talk to AWS share is their [`Context`].

pub(crate) mod completion;
pub(crate) mod fleet;
pub(crate) mod install_alias;
pub(crate) mod list_access_keys;
pub(crate) mod man;
pub(crate) mod pickup;
pub(crate) mod rotate;
pub(crate) mod status;

use std::sync::Arc;

use aws_rotate_keys::action::{Failure, FailureClass};
use aws_rotate_keys::output::{self as core_output, Timestamps};
use aws_rotate_keys::profile::AwsFiles;
use aws_rotate_keys::rotation::Config;
use aws_rotate_keys::session::SessionError;

use super::args::Global;
use super::aws::{Aws, TokenSource};
use super::error::CliError;
use super::files::Paths;
use super::output::Renderer;
use super::settings::Settings;
use super::{driver, prompt};

/// What a command that reads the files and talks to AWS starts from.
pub(crate) struct Context {
    pub(crate) paths: Paths,
    pub(crate) files: AwsFiles,
    pub(crate) settings: Settings,
    pub(crate) aws: Arc<Aws>,
    pub(crate) renderer: Renderer,
}

impl Context {
    /// Reads the files and the settings, and makes the AWS clients. `token_code`: the
    /// command's `--token-code`, else the one given before it.
    pub(crate) fn load(global: &Global, token_code: Option<String>) -> Result<Self, CliError> {
        let paths = Paths::from_env().map_err(|e| CliError::config(format!("{e:#}")))?;
        let files = paths.load()?;
        let settings = Settings::load(global, token_code, &files, &paths)?;
        if settings.connection.no_verify_ssl {
            super::warn(format_args!(
                "--no-verify-ssl: TLS certificates are not verified; anyone on the network path can read and change the requests. Adding certificate verification (--ca-bundle) is strongly advised"
            ));
        }
        let token = settings.token_code.clone();
        let interactive = settings.interactive;
        let token_source: TokenSource = Arc::new(move |serial: &str| match &token {
            Some(t) => Ok(t.clone()),
            None if interactive => prompt::token_code(serial),
            None => Err(Failure::new(
                FailureClass::Usage,
                None,
                format!(
                    "an MFA code for {serial} is needed and there is no terminal to ask for it: pass --token-code CODE"
                ),
            )),
        });
        let aws = Aws::new(settings.connection.clone(), token_source)
            .map_err(|e| CliError::config(format!("{e:#}")))?;
        let renderer = Renderer::new(&settings.printing);
        Ok(Self {
            paths,
            files,
            settings,
            aws: Arc::new(aws),
            renderer,
        })
    }

    /// How the output prints timestamps, with what IAM sent so far.
    pub(crate) fn timestamps(&self) -> Timestamps {
        self.aws.timestamps(self.settings.printing.timestamps)
    }

    /// What the core's output is built with.
    pub(crate) fn output<'a>(
        &self,
        timestamps: &'a Timestamps,
        paths: &'a core_output::FilePaths,
    ) -> core_output::Context<'a> {
        core_output::Context { timestamps, paths }
    }

    /// What the drive loop does the actions with.
    pub(crate) fn io(&self) -> driver::Io {
        driver::Io {
            aws: self.aws.clone(),
            paths: self.paths.clone(),
            debug: self.settings.connection.debug,
            renderer: self.renderer.clone(),
            printing: self.settings.printing.clone(),
        }
    }

    /// The core's timing and retry settings, with a seed for its jitter.
    pub(crate) fn config() -> Config {
        let seed =
            u64::try_from(driver::now().as_micros()).unwrap_or(0) ^ u64::from(std::process::id());
        Config {
            seed,
            ..Config::default()
        }
    }

    /// A session that cannot start: what is wrong, before any request.
    pub(crate) fn session_error(&self, e: SessionError) -> CliError {
        let message = match &e {
            SessionError::File(f) => {
                return CliError::file(self.paths.of(f.file), &f.error);
            }
            other => other.to_string(),
        };
        CliError::new(e.kind().into(), message)
    }
}

/// A request of a command's own that failed, as the `aws` CLI says it.
pub(crate) fn aws_failure(operation: &str, failure: &Failure) -> CliError {
    CliError::new(failure.kind().into(), failure.text(Some(operation)))
}
