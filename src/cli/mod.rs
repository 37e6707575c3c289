//! The shell: reads the command line, the environment and the files, runs the core's
//! [`Session`] against AWS, prints what happened and exits with the `aws` CLI's statuses.
//!
//! Exit statuses (`aws` CLI v2): 0 done · 252 bad command line, or a decision that `--yes` or
//! `--delete` did not give · 253 bad configuration or files · 254 an AWS error · 255 anything
//! else · 130 interrupted.
#![allow(clippy::disallowed_methods)] // the shell reads the environment and the clock

mod args;
mod aws;
mod complete;
mod driver;
mod files;
mod man;
mod no_verify;
mod output;
mod pager;
mod prompt;
mod proxy;
mod tls;

use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use clap::Parser as _;
use serde_json::{Value, json};

use aws_rotate_keys::key::{AccessKeyId, UserName};
use aws_rotate_keys::plan::Options;
use aws_rotate_keys::profile::{self, AwsFiles, Selection};
use aws_rotate_keys::rotation::Config;
use aws_rotate_keys::session::{Mode, Request, Session, SessionError, Signer, TaskOutcome};
use aws_rotate_keys::time::Span;

use aws_rotate_keys::render::{OutputFormat, Query};

use args::{Cli, Command, RotateArgs};

/// An error that ends the run with a given status; the message says what to do next.
#[derive(Debug)]
pub(crate) struct Exit {
    pub(crate) status: u8,
    pub(crate) message: String,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Exit {}

pub(crate) fn exit(status: u8, message: impl Into<String>) -> anyhow::Error {
    Exit {
        status,
        message: message.into(),
    }
    .into()
}

/// Whether warnings are coloured: `--color on`/`off`, else (`auto`) when stderr is a terminal and
/// `NO_COLOR` is unset or empty (no-color.org). Set once the command line is read.
static COLOUR: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

fn auto_colour() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

pub(crate) fn warn(what: std::fmt::Arguments<'_>) {
    if *COLOUR.get_or_init(auto_colour) {
        eprintln!("\x1b[33maws-rotate-keys: warning:\x1b[0m {what}");
    } else {
        eprintln!("aws-rotate-keys: warning: {what}");
    }
}

pub(crate) fn main() -> ExitCode {
    complete::answer_if_asked();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let status = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                _ => 252,
            };
            let _ = e.print();
            return ExitCode::from(status);
        }
    };
    let _ = COLOUR.set(match cli.global.color {
        Some(args::Color::On) => true,
        Some(args::Color::Off) => false,
        Some(args::Color::Auto) | None => auto_colour(),
    });
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("aws-rotate-keys: error: cannot start: {e}");
            return ExitCode::from(255);
        }
    };
    let result = runtime.block_on(async {
        tokio::select! {
            r = run(cli) => r,
            _ = tokio::signal::ctrl_c() => Err(exit(130, "interrupted; run the same command again to finish or undo an interrupted rotation")),
        }
    });
    // A question may still be waiting for a line on stdin (Ctrl-C came first): do not wait for it,
    // but give the terminal its echo back if an MFA prompt had turned it off.
    runtime.shutdown_background();
    prompt::restore_terminal();
    match result {
        Ok(status) => ExitCode::from(status),
        Err(e) => {
            let status = e.downcast_ref::<Exit>().map_or(255, |x| x.status);
            if status == 130 && std::io::stderr().is_terminal() {
                // Off the line of the question or the progress that ^C interrupted.
                eprintln!();
            }
            eprintln!("aws-rotate-keys: error: {e:#}");
            ExitCode::from(status)
        }
    }
}

/// The settings every command shares, with the `aws` CLI's precedence: option, environment,
/// profile, default.
struct Settings {
    profiles: Vec<String>,
    output: output::Renderer,
    conn: aws::Connection,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// An environment variable as it is set: `Some("")` when set to nothing (for the settings where
/// that means "none", as `AWS_PAGER=""`).
fn env_raw(name: &str) -> Option<String> {
    std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
}

fn settings(cli: &Cli, files: &AwsFiles, config_path: &std::path::Path) -> Result<Settings> {
    let g = &cli.global;
    let profiles = if g.profile.is_empty() {
        vec![
            env("AWS_PROFILE")
                .or_else(|| env("AWS_DEFAULT_PROFILE"))
                .unwrap_or_else(|| "default".to_owned()),
        ]
    } else {
        g.profile.clone()
    };
    let first = profiles.first().map(String::as_str).unwrap_or("default");
    let from_profile = |key: &str| -> Option<String> {
        files
            .config
            .get(first, key)
            .map(|e| e.value.to_string())
            .filter(|v| !v.is_empty())
    };
    let format = match g.output {
        Some(o) => o.into(),
        None => match env("AWS_DEFAULT_OUTPUT").or_else(|| from_profile("output")) {
            Some(s) => parse_output(&s)?,
            None => OutputFormat::Json,
        },
    };
    // The pager (awscli v2's chain: AWS_PAGER, the profile's cli_pager, PAGER, `less -R`), where
    // a setting that is present but empty means none.
    let pager = pager::choose(
        g.no_cli_pager,
        env_raw("AWS_PAGER"),
        files
            .config
            .get(first, "cli_pager")
            .map(|e| e.value.to_string()),
        env_raw("PAGER"),
    );
    // Only the profile sets it: the aws CLI has no option or variable for it.
    let timestamps = match files.config.get(first, "cli_timestamp_format") {
        None => output::TimestampFormat::Iso8601,
        Some(e) => output::TimestampFormat::parse(e.value).ok_or_else(|| {
            let hint = if e.value == "none" {
                " (`none` is the aws CLI v1's name for `wire`)"
            } else {
                ""
            };
            exit(
                253,
                format!(
                    "{}, line {}: cli_timestamp_format = {} is not one of wire, iso8601{hint}; fix the file, then run again (nothing was changed)",
                    config_path.display(),
                    e.line,
                    e.value
                ),
            )
        })?,
    };
    let query = g
        .query
        .as_deref()
        .map(Query::parse)
        .transpose()
        .map_err(|e| exit(252, e.to_string()))?;
    let region = g
        .region
        .clone()
        .or_else(|| env("AWS_REGION"))
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .or_else(|| from_profile("region"));
    let ca_bundle = g
        .ca_bundle
        .clone()
        .or_else(|| env("AWS_CA_BUNDLE").map(Into::into))
        .or_else(|| from_profile("ca_bundle").map(Into::into));
    let secs = |v: Option<u64>| {
        v.map(|s| {
            if s == 0 {
                Duration::from_secs(u64::from(u32::MAX))
            } else {
                Duration::from_secs(s)
            }
        })
    };
    Ok(Settings {
        profiles,
        output: output::Renderer::new(format, query, pager, timestamps),
        conn: aws::Connection {
            region,
            endpoint_url: g.endpoint_url.clone(),
            ca_bundle,
            connect_timeout: secs(g.cli_connect_timeout),
            read_timeout: secs(g.cli_read_timeout),
            no_verify_ssl: g.no_verify_ssl,
            debug: g.debug,
        },
    })
}

fn parse_output(s: &str) -> Result<OutputFormat> {
    s.parse::<OutputFormat>().map_err(|_| {
        exit(253, format!("output format '{s}' (from AWS_DEFAULT_OUTPUT or the profile's `output`) is not one of json, text, table, yaml, yaml-stream, off"))
    })
}

fn read_files(paths: &files::Paths) -> Result<(String, String)> {
    let config = files::read(&paths.config).map_err(|e| exit(253, format!("{e:#}")))?;
    let credentials = files::read(&paths.credentials).map_err(|e| exit(253, format!("{e:#}")))?;
    Ok((config, credentials))
}

fn parse_files(paths: &files::Paths, config: String, credentials: String) -> Result<AwsFiles> {
    AwsFiles::parse_owned(config, credentials).map_err(|e| {
        let path = paths.of(e.file);
        exit(
            253,
            format!(
                "{}: {}; fix the file, then run again (nothing was changed)",
                path.display(),
                e.error
            ),
        )
    })
}

async fn run(cli: Cli) -> Result<u8> {
    match &cli.command {
        Some(Command::Completion { shell }) => return completion(*shell),
        Some(Command::Man) => return man(),
        _ => {}
    }
    let paths = files::Paths::from_env().map_err(|e| exit(253, format!("{e:#}")))?;
    if let Some(Command::InstallAlias) = &cli.command {
        return install_alias(&paths);
    }
    let (config, credentials) = read_files(&paths)?;
    let files = parse_files(&paths, config, credentials)?;
    let settings = settings(&cli, &files, &paths.config)?;
    if settings.conn.no_verify_ssl {
        warn(format_args!(
            "--no-verify-ssl: TLS certificates are not verified; anyone on the network path can read and change the requests. Adding certificate verification (--ca-bundle) is strongly advised"
        ));
    }
    // The subcommand's own --token-code, else the one given before it.
    let own = match &cli.command {
        Some(Command::Rotate(r) | Command::Plan(r)) => r.token_code.as_ref(),
        Some(Command::ListAccessKeys { token_code, .. } | Command::Status { token_code, .. }) => {
            token_code.as_ref()
        }
        _ => None,
    };
    let token: Option<String> = own.or(cli.rotate.token_code.as_ref()).cloned();
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let token_source: aws::TokenSource = Arc::new(move |serial: &str| match &token {
        Some(t) => Ok(t.clone()),
        None if interactive => prompt::token_code(serial),
        None => Err(aws_rotate_keys::rotation::Failure::new(
            aws_rotate_keys::rotation::FailureClass::Usage,
            None,
            format!(
                "an MFA code for {serial} is needed and there is no terminal to ask for it: pass --token-code CODE"
            ),
        )),
    });
    let aws = Arc::new(
        aws::Aws::new(
            settings.conn.clone(),
            token_source,
            settings.output.wire.clone(),
        )
        .map_err(|e| exit(253, format!("{e:#}")))?,
    );
    match &cli.command {
        None => {
            rotate(
                &cli,
                &cli.rotate,
                Mode::Rotate,
                &settings,
                &paths,
                aws,
                interactive,
            )
            .await
        }
        Some(Command::Rotate(r)) => {
            rotate(
                &cli,
                &merge(&cli.rotate, r),
                Mode::Rotate,
                &settings,
                &paths,
                aws,
                interactive,
            )
            .await
        }
        Some(Command::Plan(r)) => {
            rotate(
                &cli,
                &merge(&cli.rotate, r),
                Mode::Plan,
                &settings,
                &paths,
                aws,
                interactive,
            )
            .await
        }
        Some(Command::ListAccessKeys { user_name, .. }) => {
            list_access_keys(&settings, &files, &aws, user_name.as_deref()).await
        }
        Some(Command::Status { older_than, .. }) => {
            status(&settings, &paths, &files, &aws, older_than.as_deref()).await
        }
        Some(Command::Completion { .. } | Command::Man | Command::InstallAlias) => Ok(0),
    }
}

/// Options given before the subcommand name count too (`aws-rotate-keys --yes rotate`).
fn merge(top: &RotateArgs, sub: &RotateArgs) -> RotateArgs {
    RotateArgs {
        all_profiles: top.all_profiles || sub.all_profiles,
        yes: top.yes || sub.yes,
        delete: sub.delete.clone().or_else(|| top.delete.clone()),
        keep_old: top.keep_old || sub.keep_old,
        older_than: sub.older_than.clone().or_else(|| top.older_than.clone()),
        verify_timeout: if sub.verify_timeout != "120s" {
            sub.verify_timeout.clone()
        } else {
            top.verify_timeout.clone()
        },
        user_name: sub.user_name.clone().or_else(|| top.user_name.clone()),
        token_code: sub.token_code.clone().or_else(|| top.token_code.clone()),
    }
}

fn span(flag: &str, v: &str) -> Result<Span> {
    v.parse::<Span>()
        .map_err(|e| exit(252, format!("{flag}: {e}")))
}

async fn rotate(
    cli: &Cli,
    r: &RotateArgs,
    mode: Mode,
    settings: &Settings,
    paths: &files::Paths,
    aws: Arc<aws::Aws>,
    interactive: bool,
) -> Result<u8> {
    let options = Options {
        delete: match &r.delete {
            Some(d) => Some(
                AccessKeyId::new(d.clone())
                    .ok_or_else(|| exit(252, format!("--delete {d}: not an access key id")))?,
            ),
            None => None,
        },
        keep_old: r.keep_old,
        older_than: r
            .older_than
            .as_deref()
            .map(|v| span("--older-than", v))
            .transpose()?,
        yes: r.yes,
        verify_timeout: span("--verify-timeout", &r.verify_timeout)?,
    };
    aws.keep_sessions_for(options.verify_timeout);
    if r.user_name.is_none() && env("AWS_ACCESS_KEY_ID").is_some() {
        return Err(exit(
            253,
            "AWS_ACCESS_KEY_ID is set: credentials from the environment are not keys on disk, and they would override the profile's. Unset AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, then run again",
        ));
    }
    let selection = if r.all_profiles {
        Selection::All
    } else {
        Selection::Profiles(settings.profiles.clone())
    };
    // One run at a time: the lock is taken before the files are read for planning.
    let _lock = match mode {
        Mode::Rotate => Some(
            files::Lock::take(&paths.lock(), || {
                if std::io::stderr().is_terminal() {
                    eprintln!(
                        "waiting for another aws-rotate-keys run to finish (lock {})",
                        paths.lock().display()
                    );
                }
            })
            .map_err(|e| exit(255, format!("{e:#}")))?,
        ),
        Mode::Plan => None,
    };
    let (config, credentials) = read_files(paths)?;
    let journals = if mode == Mode::Rotate {
        paths.journals().map_err(|e| exit(253, format!("{e:#}")))?
    } else {
        Vec::new()
    };
    let request = Request {
        selection,
        admin_user: r.user_name.clone().map(UserName::new),
        options,
        mode,
        max_concurrency: 16,
    };
    let seed =
        u64::try_from(driver::now().as_millis()).unwrap_or(0) ^ u64::from(std::process::id());
    let cfg = Config {
        seed,
        ..Config::default()
    };
    let mut session = Session::new_owned(config, credentials, &journals, request, cfg)
        .map_err(|e| session_error(paths, e))?;
    for s in session.skipped_profiles() {
        if cli.global.debug {
            eprintln!("debug: skipping profile {}: {}", s.profile, s.reason);
        }
    }
    let io = driver::Io {
        aws,
        paths: paths.clone(),
        debug: cli.global.debug,
        interactive,
        progress: true,
        output: settings.output.clone(),
    };
    driver::drive(&mut session, &io).await;
    let status = session.exit_status();
    let results = session.into_results();
    let admin = r.user_name.is_some();
    let mut shown = Ok(());
    // Admin mode printed the new key as it was made; the rest is a summary.
    if !(admin && mode == Mode::Rotate) {
        let (title, document) =
            output::results_document(mode == Mode::Plan, &results, &settings.output);
        shown = settings.output.emit(title, &document);
    }
    for res in &results {
        explain(res, interactive);
    }
    with_status(shown, status)
}

/// The exit status of a command whose result could not be printed (a failed `--query`, a pager
/// that could not be started): the printing's error, unless the command failed already; then its
/// own status stands (it says more about the keys), and the printing's error is still told.
fn with_status(shown: Result<()>, status: u8) -> Result<u8> {
    match shown {
        Ok(()) => Ok(status),
        Err(e) if status == 0 => Err(e),
        Err(e) => {
            eprintln!("aws-rotate-keys: error: {e:#}");
            Ok(status)
        }
    }
}

fn session_error(paths: &files::Paths, e: SessionError) -> anyhow::Error {
    let status = e.exit_status();
    let message = match &e {
        SessionError::File(f) => format!(
            "{}: {}; fix the file, then run again (nothing was changed)",
            paths.of(f.file).display(),
            f.error
        ),
        SessionError::Profile(p) => format!("{p}"),
        other => format!("{other}"),
    };
    exit(status, message)
}

/// What went wrong, on stderr, with what to do next.
fn explain(res: &aws_rotate_keys::session::TaskResult, interactive: bool) {
    let who = if res.profiles.is_empty() {
        String::new()
    } else {
        format!("profile {}: ", res.profiles.join(", "))
    };
    match &*res.outcome {
        TaskOutcome::Rotation(rep) => {
            if let Some(e) = &rep.error {
                eprintln!(
                    "aws-rotate-keys: {who}{}",
                    output::aws_error(
                        e.operation.as_deref(),
                        e.failure.code.as_deref(),
                        &e.failure.message
                    )
                );
                let did = match rep.status {
                    aws_rotate_keys::rotation::Status::RolledBack => {
                        "the rotation was undone: the files hold the old key, which still works"
                    }
                    aws_rotate_keys::rotation::Status::Failed => {
                        "no new key was made; the files are unchanged"
                    }
                    aws_rotate_keys::rotation::Status::Incomplete => {
                        "the new key works and is in the files, but the old key is still there"
                    }
                    _ => "",
                };
                if !did.is_empty() {
                    eprintln!("aws-rotate-keys: {who}{did}");
                }
            }
            for todo in &rep.left_to_do {
                eprintln!("aws-rotate-keys: {who}next: {todo}");
            }
        }
        TaskOutcome::Refused(e) => eprintln!("aws-rotate-keys: {who}{e}"),
        TaskOutcome::NeedsConfirmation(p) => {
            let rm = p
                .make_room
                .as_ref()
                .map(|m| format!("{} ({})", m.access_key_id, m.reason))
                .unwrap_or_default();
            if interactive {
                eprintln!(
                    "aws-rotate-keys: {who}not rotated: user {} has two keys and you did not agree to remove {rm}; nothing was changed. Add --yes to accept that removal without a question, or --delete ACCESS_KEY_ID to choose the key",
                    p.user_name
                );
            } else {
                eprintln!(
                    "aws-rotate-keys: {who}user {} has two keys; removing {rm} needs your agreement: run on a terminal, or add --yes to accept, or --delete ACCESS_KEY_ID to choose",
                    p.user_name
                );
            }
        }
        TaskOutcome::Failed { operation, failure } => {
            eprintln!(
                "aws-rotate-keys: {who}{}",
                output::failure_text(operation, failure)
            );
            eprintln!("aws-rotate-keys: {who}nothing was changed");
        }
        TaskOutcome::NotAUser(e) => eprintln!("aws-rotate-keys: {who}{e}"),
        TaskOutcome::Planned(_) | TaskOutcome::Skipped(_) => {}
    }
}

fn signer_for(files: &AwsFiles, profile: &str) -> Result<Signer> {
    match profile::resolve(files, profile) {
        Ok(r) => Ok(Signer::Static {
            profile: Some(profile.into()),
            access_key_id: r.access_key_id,
            secret: r.secret,
            mfa_serial: r.mfa_serial,
        }),
        Err(profile::ProfileError::NotFound { profile }) => Err(exit(
            253,
            format!("the config profile ({profile}) could not be found"),
        )),
        Err(_) => Ok(Signer::Profile(profile.to_owned())),
    }
}

/// 254 for an error of the service, 255 for one that never reached it, 252 for a command line
/// that lacks what a request needs (as the session decides).
fn failure_status(f: &aws_rotate_keys::rotation::Failure) -> u8 {
    use aws_rotate_keys::rotation::FailureClass;
    match f.class {
        FailureClass::Usage => 252,
        // A failure with a service's error code is a service error, whatever the code.
        FailureClass::Other if f.code.is_some() => 254,
        FailureClass::Io | FailureClass::Other => 255,
        _ => 254,
    }
}

fn aws_failure(op: &str, f: &aws_rotate_keys::rotation::Failure) -> anyhow::Error {
    exit(failure_status(f), output::failure_text(op, f))
}

async fn list_access_keys(
    settings: &Settings,
    files: &AwsFiles,
    aws: &aws::Aws,
    user: Option<&str>,
) -> Result<u8> {
    let profile = settings
        .profiles
        .first()
        .map(String::as_str)
        .unwrap_or("default");
    let signer = signer_for(files, profile)?;
    let user = match user {
        Some(u) => UserName::new(u),
        None => {
            let arn = aws
                .identify(&signer)
                .await
                .map_err(|f| aws_failure("GetCallerIdentity", &f))?;
            aws_rotate_keys::plan::Identity::from_arn(&arn)
                .map_err(|e| exit(253, e.to_string()))?
                .user_name
        }
    };
    let keys = aws
        .list_keys_dated(&signer, &user)
        .await
        .map_err(|f| aws_failure("ListAccessKeys", &f))?;
    let rows: Vec<Value> = keys
        .iter()
        .map(|(k, created)| {
            json!({
                "UserName": user.as_str(),
                "AccessKeyId": k.access_key_id.as_str(),
                "Status": k.status.as_str(),
                "CreateDate": settings.output.date(&k.access_key_id, aws::DateField::Created, created.clone()),
            })
        })
        .collect();
    settings
        .output
        .emit("ListAccessKeys", &json!({ "AccessKeyMetadata": rows }))?;
    Ok(0)
}

/// `status`: one row per profile that holds static keys, from the IAM calls of its key (made
/// once per key: profiles that share a key share its answers).
async fn status(
    settings: &Settings,
    paths: &files::Paths,
    files: &AwsFiles,
    aws: &aws::Aws,
    older_than: Option<&str>,
) -> Result<u8> {
    let older_than = older_than.map(|v| span("--older-than", v)).transpose()?;
    let selected = profile::select(files, &Selection::All).map_err(|e| exit(253, e.to_string()))?;
    let now = driver::now();
    let mut rows = Vec::new();
    let mut worst = 0u8;
    for c in &selected.candidates {
        let signer = Signer::Static {
            profile: Some(c.holder.clone()),
            access_key_id: c.access_key_id.clone(),
            secret: c.secret.clone(),
            mfa_serial: c.mfa_serial.clone(),
        };
        // What IAM says of the key: the same for every profile that holds it.
        let mut answers = output::KeyAnswers::default();
        let mut error = None;
        match aws.identify(&signer).await {
            Err(f) => error = Some(("GetCallerIdentity", f)),
            Ok(arn) => match aws_rotate_keys::plan::Identity::from_arn(&arn) {
                Err(e) => {
                    worst = worst.max(253);
                    answers.error = Some(e.to_string());
                }
                Ok(id) => {
                    let user = id.user_name;
                    match aws.list_keys(&signer, &user).await {
                        Err(f) => error = Some(("ListAccessKeys", f)),
                        Ok(keys) => {
                            answers.key = keys
                                .into_iter()
                                .find(|k| k.access_key_id == c.access_key_id);
                        }
                    }
                    if error.is_none() {
                        match aws.last_used(&signer, &c.access_key_id).await {
                            Ok(last) => answers.last_used = Some(last),
                            Err(f) => error = Some(("GetAccessKeyLastUsed", f)),
                        }
                    }
                    answers.user = Some(user);
                }
            },
        }
        if let Some((op, f)) = error {
            worst = worst.max(failure_status(&f));
            answers.error = Some(output::failure_text(op, &f));
        }
        rows.extend(output::status_rows(
            &c.profiles,
            &c.holders,
            &c.access_key_id,
            &answers,
            paths,
            now,
            older_than,
            &settings.output,
        ));
    }
    let (title, document) = output::status_document(rows);
    let shown = settings.output.emit(title, &document);
    with_status(shown, worst)
}

fn completion(shell: args::Shell) -> Result<u8> {
    output::print(&complete::script(shell)?)?;
    Ok(0)
}

fn man() -> Result<u8> {
    output::print(&man::render()?)?;
    Ok(0)
}

/// Adds `rotate-keys = !aws-rotate-keys` under `[toplevel]` of ~/.aws/cli/alias, keeping the rest.
fn install_alias(paths: &files::Paths) -> Result<u8> {
    let dir = paths.config.parent().map_or_else(
        || std::path::PathBuf::from("."),
        std::path::Path::to_path_buf,
    );
    let path = dir.join("cli").join("alias");
    let text = files::read(&path)?;
    let line = "rotate-keys = !aws-rotate-keys";
    let has = text.lines().any(|l| {
        l.split_once('=')
            .is_some_and(|(k, _)| k.trim() == "rotate-keys")
    });
    if !has {
        let mut new = String::new();
        let mut inserted = false;
        for l in text.split_inclusive('\n') {
            new.push_str(l);
            if !inserted && l.trim() == "[toplevel]" {
                if !l.ends_with('\n') {
                    new.push('\n');
                }
                new.push_str(line);
                new.push('\n');
                inserted = true;
            }
        }
        if !inserted {
            if !new.is_empty() && !new.ends_with('\n') {
                new.push('\n');
            }
            new.push_str("[toplevel]\n");
            new.push_str(line);
            new.push('\n');
        }
        files::write_atomic(&path, &new)?;
    }
    eprintln!(
        "{} {}: now `aws rotate-keys -p PROFILE` runs aws-rotate-keys (use -p: `aws` keeps --profile for itself before an alias)",
        if has { "already in" } else { "added to" },
        path.display()
    );
    Ok(0)
}
