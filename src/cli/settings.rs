//! Every setting of a run, with the `aws` CLI's precedence: option, then environment, then the
//! profile's setting, then the default. This is the one place that reads the environment for a
//! setting (the files' locations and the proxy variables are read where they are used: `files`,
//! and the SDK's HTTP client) and the one place that knows a default.
#![allow(clippy::disallowed_methods)] // the shell reads the environment

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::time::Duration;

use aws_rotate_keys::key::AccessKeyId;
use aws_rotate_keys::output::TimestampFormat;
use aws_rotate_keys::plan::Options;
use aws_rotate_keys::profile::AwsFiles;
use aws_rotate_keys::render::{OutputFormat, Query};
use aws_rotate_keys::time::Span;

use super::args::{Color, Global};
use super::commands::rotate::RotateArgs;
use super::error::CliError;
use super::files::Paths;
use super::pager::{self, Pager};

/// `--verify-timeout`'s default.
const VERIFY_TIMEOUT: &str = "120s";
/// `--cli-connect-timeout` and `--cli-read-timeout`'s default, in seconds.
const TIMEOUT_SECONDS: u64 = 60;

/// A variable of the environment that is set to something.
pub(crate) fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// A variable as it is set: `Some("")` when set to nothing (for the settings where that means
/// "none", as `AWS_PAGER=""`).
fn env_raw(name: &str) -> Option<String> {
    std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
}

/// The profiles the command line names: `--profile` (repeatable), else `AWS_PROFILE`, else
/// `AWS_DEFAULT_PROFILE`, else `default`.
pub(crate) fn profiles(global: &Global) -> Vec<String> {
    if global.profile.is_empty() {
        vec![
            env("AWS_PROFILE")
                .or_else(|| env("AWS_DEFAULT_PROFILE"))
                .unwrap_or_else(|| "default".to_owned()),
        ]
    } else {
        global.profile.clone()
    }
}

/// Whether warnings are coloured: `--color on`/`off`, else (`auto`) when stderr is a terminal and
/// `NO_COLOR` is unset or empty (no-color.org).
pub(crate) fn colour(global: &Global) -> bool {
    match global.color {
        Some(Color::On) => true,
        Some(Color::Off) => false,
        Some(Color::Auto) | None => env("NO_COLOR").is_none() && std::io::stderr().is_terminal(),
    }
}

/// Whether a question can be asked: stdin and stderr are a terminal.
pub(crate) fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// How to reach AWS.
#[derive(Debug, Clone, Default)]
pub(crate) struct Connection {
    pub(crate) region: Option<String>,
    pub(crate) endpoint_url: Option<String>,
    /// PEM certificates that replace the system's trusted roots.
    pub(crate) ca_bundle: Option<PathBuf>,
    pub(crate) connect_timeout: Duration,
    pub(crate) read_timeout: Duration,
    /// `--no-verify-ssl`: accept any server certificate.
    pub(crate) no_verify_ssl: bool,
    /// `--debug`: log every request (never a secret) to stderr.
    pub(crate) debug: bool,
    /// `--profile` named the profile: a credential chain uses that profile's credentials alone,
    /// never the environment's (`AWS_ACCESS_KEY_ID`), as the `aws` CLI does.
    pub(crate) profile_only: bool,
    /// The two files, for the SDK's own reading of a profile (region, role, `credential_process`):
    /// the files this run reads, wherever the SDK would look by itself (it takes `HOME` before
    /// `USERPROFILE` on Windows, where the `aws` CLI takes `USERPROFILE` alone).
    pub(crate) files: Paths,
}

/// How results are printed.
#[derive(Debug, Clone)]
pub(crate) struct Printing {
    pub(crate) format: OutputFormat,
    pub(crate) query: Option<Query>,
    /// The pager the settings name (used only when stdout is a terminal).
    pub(crate) pager: Option<Pager>,
    pub(crate) timestamps: TimestampFormat,
}

/// The settings of a command that reads the files: the first profile's settings count.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) profiles: Vec<String>,
    pub(crate) printing: Printing,
    pub(crate) connection: Connection,
    /// `--token-code`.
    pub(crate) token_code: Option<String>,
    pub(crate) interactive: bool,
}

impl Settings {
    /// The settings from the command line, the environment and the files (`paths` names them in
    /// messages, and to the SDK). `token_code`: the command's own `--token-code`, else the
    /// one before it.
    pub(crate) fn load(
        global: &Global,
        token_code: Option<String>,
        files: &AwsFiles,
        paths: &Paths,
    ) -> Result<Self, CliError> {
        let profiles = profiles(global);
        let first = profiles.first().map(String::as_str).unwrap_or("default");
        let from_profile = |key: &str| {
            files
                .config
                .get(first, key)
                .map(|e| e.value.to_owned())
                .filter(|v| !v.is_empty())
        };
        let format = match global.output {
            Some(o) => o.into(),
            None => match env("AWS_DEFAULT_OUTPUT").or_else(|| from_profile("output")) {
                Some(s) => s.parse::<OutputFormat>().map_err(|_| {
                    CliError::config(format!(
                        "output format '{s}' (from AWS_DEFAULT_OUTPUT or the profile's `output`) is not one of json, text, table, yaml, yaml-stream, off"
                    ))
                })?,
                None => OutputFormat::Json,
            },
        };
        // awscli v2's chain, where a setting that is present but empty means no pager.
        let pager = pager::choose(
            global.no_cli_pager,
            env_raw("AWS_PAGER"),
            files
                .config
                .get(first, "cli_pager")
                .map(|e| e.value.to_owned()),
            env_raw("PAGER"),
        );
        // Only the profile sets it: the aws CLI has no option or variable for it.
        let timestamps = match files.config.get(first, "cli_timestamp_format") {
            None => TimestampFormat::Iso8601,
            Some(e) => TimestampFormat::parse(e.value).ok_or_else(|| {
                let hint = if e.value == "none" {
                    " (`none` is the aws CLI v1's name for `wire`)"
                } else {
                    ""
                };
                CliError::config(format!(
                    "{}, line {}: cli_timestamp_format = {} is not one of wire, iso8601{hint}; fix the file, then run again (nothing was changed)",
                    paths.config.display(),
                    e.line,
                    e.value
                ))
            })?,
        };
        let query = global
            .query
            .as_deref()
            .map(Query::parse)
            .transpose()
            .map_err(|e| CliError::usage(e.to_string()))?;
        let region = global
            .region
            .clone()
            .or_else(|| env("AWS_REGION"))
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .or_else(|| from_profile("region"));
        let ca_bundle = global
            .ca_bundle
            .clone()
            .or_else(|| env("AWS_CA_BUNDLE").map(Into::into))
            .or_else(|| from_profile("ca_bundle").map(Into::into));
        // 0 means no limit, as in the aws CLI.
        let seconds = |v: Option<u64>| match v.unwrap_or(TIMEOUT_SECONDS) {
            0 => Duration::from_secs(u64::from(u32::MAX)),
            s => Duration::from_secs(s),
        };
        Ok(Self {
            profiles,
            printing: Printing {
                format,
                query,
                pager,
                timestamps,
            },
            connection: Connection {
                region,
                endpoint_url: global.endpoint_url.clone(),
                ca_bundle,
                connect_timeout: seconds(global.cli_connect_timeout),
                read_timeout: seconds(global.cli_read_timeout),
                no_verify_ssl: global.no_verify_ssl,
                debug: global.debug,
                profile_only: !global.profile.is_empty(),
                files: paths.clone(),
            },
            token_code,
            interactive: interactive(),
        })
    }

    /// The profile whose settings and credentials a one-profile command uses.
    pub(crate) fn first_profile(&self) -> &str {
        self.profiles
            .first()
            .map(String::as_str)
            .unwrap_or("default")
    }
}

/// A duration option (`90d`, `120s`), named in the message when it does not parse.
pub(crate) fn span(flag: &str, value: &str) -> Result<Span, CliError> {
    value
        .parse::<Span>()
        .map_err(|e| CliError::usage(format!("{flag}: {e}")))
}

/// The options of `rotate` and `plan`, with their defaults.
pub(crate) fn rotate_options(args: &RotateArgs) -> Result<Options, CliError> {
    let delete = match &args.delete {
        Some(d) => Some(
            AccessKeyId::new(d)
                .ok_or_else(|| CliError::usage(format!("--delete {d}: not an access key id")))?,
        ),
        None => None,
    };
    Ok(Options {
        delete,
        keep_old: args.keep_old,
        older_than: args
            .older_than
            .as_deref()
            .map(|v| span("--older-than", v))
            .transpose()?,
        yes: args.yes,
        verify_timeout: span(
            "--verify-timeout",
            args.verify_timeout.as_deref().unwrap_or(VERIFY_TIMEOUT),
        )?,
    })
}

/// Credentials in the environment (`AWS_ACCESS_KEY_ID`), which would override any profile's.
pub(crate) fn environment_credentials() -> bool {
    env("AWS_ACCESS_KEY_ID").is_some()
}
