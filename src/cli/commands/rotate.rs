//! `rotate` (the default command) and `plan`: the core's session over the selected profiles,
//! run to its end, its results printed and explained.

use clap::Args;

use aws_rotate_keys::key::UserName;
use aws_rotate_keys::output;
use aws_rotate_keys::profile::Selection;
use aws_rotate_keys::session::{Mode, Request, Session};

use super::Context;
use crate::cli::args::Global;
use crate::cli::error::{CliError, ErrorKind};
use crate::cli::files::Lock;
use crate::cli::{driver, settings};

/// Options of `rotate` and `plan`.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct RotateArgs {
    /// Every profile that holds static IAM-user keys; profiles sharing a key rotate together, once.
    #[arg(long)]
    pub(crate) all_profiles: bool,
    /// Never prompt: accept the proposed removal, or stop with exit 252 where there is no safe one.
    #[arg(long, short = 'y')]
    pub(crate) yes: bool,
    /// When both key slots are taken, delete this key to make room.
    #[arg(long, value_name = "ACCESS_KEY_ID")]
    pub(crate) delete: Option<String>,
    /// Deactivate the replaced key instead of deleting it.
    #[arg(long)]
    pub(crate) keep_old: bool,
    /// Rotate only keys older than this (`90d`, `12h`, `30m`); younger ones are skipped.
    #[arg(long, value_name = "DURATION")]
    pub(crate) older_than: Option<String>,
    /// How long to wait for the new key to work. Default: 120s.
    #[arg(long, value_name = "DURATION")]
    pub(crate) verify_timeout: Option<String>,
    /// Admin mode: rotate this IAM user's key with the profile's credentials; prints the new key.
    #[arg(long, value_name = "NAME")]
    pub(crate) user_name: Option<String>,
    /// The MFA code for profiles with `mfa_serial` (prompted for on a terminal otherwise).
    #[arg(long, value_name = "CODE")]
    pub(crate) token_code: Option<String>,
    /// `pickup --identity`: the files that open a sealed delivery.
    #[arg(skip)]
    pub(crate) identity: Vec<std::path::PathBuf>,
}

impl RotateArgs {
    /// The options given after the subcommand's name, else before it (`aws-rotate-keys --yes
    /// rotate`).
    pub(crate) fn or(&self, before: &RotateArgs) -> RotateArgs {
        RotateArgs {
            all_profiles: self.all_profiles || before.all_profiles,
            yes: self.yes || before.yes,
            delete: self.delete.clone().or_else(|| before.delete.clone()),
            keep_old: self.keep_old || before.keep_old,
            older_than: self
                .older_than
                .clone()
                .or_else(|| before.older_than.clone()),
            verify_timeout: self
                .verify_timeout
                .clone()
                .or_else(|| before.verify_timeout.clone()),
            user_name: self.user_name.clone().or_else(|| before.user_name.clone()),
            token_code: self
                .token_code
                .clone()
                .or_else(|| before.token_code.clone()),
            identity: self.identity.clone(),
        }
    }
}

/// Rotates (`Mode::Rotate`) or plans (`Mode::Plan`) the keys of the selected profiles.
pub(crate) async fn run(
    global: &Global,
    args: &RotateArgs,
    mode: Mode,
) -> Result<Option<ErrorKind>, CliError> {
    let ctx = Context::load(global, args.token_code.clone())?;
    let options = settings::rotate_options(args)?;
    ctx.aws.keep_sessions_for(options.verify_timeout);
    ctx.aws.set_identity_files(args.identity.clone());
    let admin = args.user_name.is_some();
    if !admin && settings::environment_credentials() {
        return Err(CliError::config(
            "AWS_ACCESS_KEY_ID is set: credentials from the environment are not keys on disk, and they would override the profile's. Unset AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, then run again",
        ));
    }
    let selection = if args.all_profiles {
        Selection::All
    } else {
        Selection::Profiles(ctx.settings.profiles.clone())
    };
    // One run at a time: the lock is taken before the files are read for planning.
    let _lock = match mode {
        Mode::Rotate | Mode::Pickup => {
            let lock = ctx.paths.lock();
            let taken = Lock::take(&lock, || {
                if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                    eprintln!(
                        "waiting for another aws-rotate-keys run to finish (lock {})",
                        lock.display()
                    );
                }
            });
            Some(taken.map_err(|e| CliError::other(format!("{e:#}")))?)
        }
        Mode::Plan | Mode::Status => None,
    };
    let (config, credentials) = ctx.paths.read()?;
    let journals = match mode {
        Mode::Rotate | Mode::Pickup => ctx
            .paths
            .journals()
            .map_err(|e| CliError::config(format!("{e:#}")))?,
        Mode::Plan | Mode::Status => Vec::new(),
    };
    let request = Request {
        selection,
        admin_user: args.user_name.clone().map(UserName::new),
        options,
        mode,
        max_concurrency: 16,
        interactive: ctx.settings.interactive,
    };
    let mut session = Session::new(config, credentials, &journals, request, Context::config())
        .map_err(|e| ctx.session_error(e))?;
    if ctx.settings.connection.debug {
        for s in session.skipped_profiles() {
            eprintln!("debug: skipping profile {}: {}", s.profile, s.reason);
        }
    }
    driver::drive(&mut session, &ctx.io()).await;
    let ending = session.error_kind().map(ErrorKind::from);
    let results = session.into_results();
    let timestamps = ctx.timestamps();
    let paths = ctx.paths.display();
    let out = ctx.output(&timestamps, &paths);
    // Admin mode printed the new key as it was made; the rest is a summary.
    let shown = match mode {
        Mode::Rotate if admin => Ok(()),
        Mode::Rotate => ctx.renderer.emit(&output::rotate(&results, out)),
        Mode::Pickup => ctx.renderer.emit(&output::pickup(&results, out)),
        Mode::Plan | Mode::Status => ctx.renderer.emit(&output::plan(&results, out)),
    };
    for r in &results {
        if let aws_rotate_keys::session::TaskOutcome::NoDelivery {
            user_name,
            installed: None,
        } = &r.outcome
        {
            eprintln!(
                "aws-rotate-keys: profile {}: no delivery is waiting for user {user_name}; nothing was changed",
                r.profiles.join(", ")
            );
        }
        for line in output::problems(r, ctx.settings.interactive) {
            eprintln!("aws-rotate-keys: {line}");
        }
    }
    crate::cli::output::with_printing(shown, ending)
}
