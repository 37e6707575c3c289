//! `status`: one row per profile that holds static keys, from what IAM says of its key (asked
//! once per key: profiles that share a key share its answers), through the core's session like
//! `rotate` (concurrent, retried, the same exit logic).

use clap::Args;

use aws_rotate_keys::output;
use aws_rotate_keys::plan::Options;
use aws_rotate_keys::profile::Selection;
use aws_rotate_keys::session::{Mode, Request, Session};

use super::Context;
use crate::cli::args::Global;
use crate::cli::error::{CliError, ErrorKind};
use crate::cli::{driver, settings};

/// Options of `status`.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// Mark keys older than this as due (`90d`, `12h`).
    #[arg(long, value_name = "DURATION")]
    pub(crate) older_than: Option<String>,
    /// The MFA code for profiles with `mfa_serial` (prompted for on a terminal otherwise).
    #[arg(long, value_name = "CODE")]
    pub(crate) token_code: Option<String>,
}

pub(crate) async fn run(
    global: &Global,
    args: &StatusArgs,
    token_code: Option<String>,
) -> Result<Option<ErrorKind>, CliError> {
    let older_than = args
        .older_than
        .as_deref()
        .map(|v| settings::span("--older-than", v))
        .transpose()?;
    let ctx = Context::load(global, args.token_code.clone().or(token_code))?;
    let (config, credentials) = ctx.paths.read()?;
    let request = Request {
        selection: Selection::All,
        admin_user: None,
        options: Options::default(),
        mode: Mode::Status,
        max_concurrency: 16,
        interactive: ctx.settings.interactive,
    };
    let mut session = Session::new(config, credentials, &[], request, Context::config())
        .map_err(|e| ctx.session_error(e))?;
    driver::drive(&mut session, &ctx.io()).await;
    let ending = session.error_kind().map(ErrorKind::from);
    let results = session.into_results();
    let timestamps = ctx.timestamps();
    let paths = ctx.paths.display();
    let document = output::status(
        &results,
        ctx.output(&timestamps, &paths),
        driver::now(),
        older_than,
    );
    crate::cli::output::with_printing(ctx.renderer.emit(&document), ending)
}
