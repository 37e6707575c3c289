//! `fleet status`, `fleet plan`, `fleet rotate` and `fleet policy`: every IAM user's keys, for
//! administrators. The core's fleet session decides everything; this file reads the options,
//! runs the session through the drive loop with the administrator's credentials (whatever the
//! `aws` CLI would use: the SDK's own chain for the profile, or the environment's), and prints
//! its rows, warnings and errors. Nothing is written on this machine.

use clap::{Args, Subcommand};

use aws_rotate_keys::fleet::notice::Template;
use aws_rotate_keys::fleet::org::{Accounts, DEFAULT_ROLE_NAME, OrgRequest, OrgSession};
use aws_rotate_keys::fleet::output as fleet_output;
use aws_rotate_keys::fleet::policy;
use aws_rotate_keys::fleet::session::{
    FleetMode, FleetRequest, FleetSession, Notifier, UserResult,
};
use aws_rotate_keys::fleet::stage::{NoticePolicy, Policy};
use aws_rotate_keys::key::UserName;
use aws_rotate_keys::profile::{self, ProfileError};
use aws_rotate_keys::session::Signer;

use super::Context;
use super::rotate::RotateArgs;
use crate::cli::args::Global;
use crate::cli::error::{CliError, ErrorKind};
use crate::cli::{driver, settings};

/// `fleet`'s commands.
#[derive(Debug, Args)]
pub(crate) struct FleetArgs {
    #[command(subcommand)]
    pub(crate) command: FleetCommand,
}

/// The fleet's commands.
#[derive(Debug, Subcommand)]
pub(crate) enum FleetCommand {
    /// One row per IAM user: its keys, their age and last use, its stage.
    Status(FleetOptions),
    /// Decide exactly as `fleet rotate` would; change nothing.
    Plan(FleetOptions),
    /// Move every user's rotation on by one stage: deliver, deactivate, delete.
    Rotate(FleetOptions),
    /// Print the IAM policies the administrator and the users need.
    Policy,
}

/// Options of `fleet status`, `fleet plan` and `fleet rotate`.
#[derive(Debug, Args, Clone)]
pub(crate) struct FleetOptions {
    /// A user is due when it has an active key older than this (`90d`, `12h`, `30m`).
    #[arg(long, value_name = "DURATION", default_value = "90d")]
    pub(crate) older_than: String,
    /// Only this user (repeatable). Default: every IAM user of the account.
    #[arg(long, value_name = "NAME")]
    pub(crate) user_name: Vec<String>,
    /// Members of this group are exempt (repeatable). A group that does not exist stops the run before any change.
    #[arg(long, value_name = "NAME")]
    pub(crate) exempt_group: Vec<String>,
    /// Deactivate the replaced key this long after delivery, even if its owner has not installed the new one. Default: never.
    #[arg(long, value_name = "DURATION")]
    pub(crate) deactivate_after: Option<String>,
    /// Delete a replaced key this long after it was deactivated (`0s`: in the same run).
    #[arg(long, value_name = "DURATION", default_value = "7d")]
    pub(crate) delete_after: String,
    /// Encrypt each delivery to its owner with age: to the user's tag aws-rotate-keys:recipient (an age1... or ssh-ed25519/ssh-rsa public key), else its active IAM SSH public key. A user with neither is Blocked.
    #[arg(long)]
    pub(crate) encrypt: bool,
    /// Run in the accounts of the organization: `all` (every ACTIVE account) or account ids separated by commas. Each account but the caller's is entered through --role-name. Default: the caller's account only.
    #[arg(long, value_name = "all|ID,...")]
    pub(crate) accounts: Option<String>,
    /// The role assumed in each account of --accounts but the caller's. Default: OrganizationAccountAccessRole.
    #[arg(long, value_name = "NAME")]
    pub(crate) role_name: Option<String>,
    /// Mail each owner from this address through SES (a verified identity): when its new key is delivered, --warn-before the --deactivate-after deadline, and when its old key is deactivated. Each mail once, remembered in the delivery secret.
    #[arg(long, value_name = "ADDRESS")]
    pub(crate) notify_from: Option<String>,
    /// The user tag that holds the owner's address. A user without it is noted in its row, not mailed.
    #[arg(long, value_name = "NAME", default_value = "email")]
    pub(crate) email_tag: String,
    /// Remind the owner this long before the --deactivate-after deadline if the new key is not installed yet.
    #[arg(long, value_name = "DURATION")]
    pub(crate) warn_before: Option<String>,
    /// The mails' text: sections [delivered], [reminder] and [deactivated], each a Subject: line and a body, with the placeholders {user} {account} {region} {new_key_id} {old_key_id} {deadline} {command}.
    #[arg(long, value_name = "FILE")]
    pub(crate) notify_template: Option<std::path::PathBuf>,
    /// Go ahead without asking. Without it, `fleet rotate` shows what it would change and asks once at a terminal; with no terminal it stops (exit 252) and changes nothing.
    #[arg(long, short = 'y')]
    pub(crate) yes: bool,
}

/// Requests at once per account, at most: IAM's rate limits are not published, and the core
/// backs off when throttled.
const MAX_CONCURRENCY: usize = 16;
/// Accounts run at once, at most (each has its own IAM limits).
const MAX_ACCOUNTS: usize = 4;

/// `--accounts`: `all`, or twelve-digit ids separated by commas.
fn accounts_of(o: &FleetOptions) -> Result<Option<Accounts>, CliError> {
    let Some(value) = o.accounts.as_deref() else {
        if o.role_name.is_some() {
            return Err(CliError::usage(
                "--role-name names the role entered in each account of --accounts: give --accounts too",
            ));
        }
        return Ok(None);
    };
    if value == "all" {
        return Ok(Some(Accounts::All));
    }
    let ids: Vec<String> = value.split(',').map(|id| id.trim().to_owned()).collect();
    if let Some(bad) = ids
        .iter()
        .find(|id| id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(CliError::usage(format!(
            "--accounts: {bad:?} is not an account id (twelve digits); give `all` or ids separated by commas"
        )));
    }
    Ok(Some(Accounts::Ids(ids)))
}

pub(crate) async fn run(
    global: &Global,
    args: &FleetArgs,
    before: &RotateArgs,
) -> Result<Option<ErrorKind>, CliError> {
    if let Some(option) = rotate_option(before) {
        return Err(CliError::usage(format!(
            "{option} is an option of rotate, not of fleet: give the fleet's options after its command (aws-rotate-keys fleet rotate --yes)"
        )));
    }
    match &args.command {
        FleetCommand::Status(o) => fleet(global, o, FleetMode::Status).await,
        FleetCommand::Plan(o) => fleet(global, o, FleetMode::Plan).await,
        FleetCommand::Rotate(o) => fleet(global, o, FleetMode::Rotate).await,
        FleetCommand::Policy => {
            let ctx = Context::load(global, None)?;
            ctx.renderer.emit(&policy::policies())?;
            Ok(None)
        }
    }
}

/// The first of `rotate`'s options given before `fleet`, which would otherwise be ignored.
fn rotate_option(r: &RotateArgs) -> Option<&'static str> {
    [
        (r.all_profiles, "--all-profiles"),
        (r.yes, "--yes"),
        (r.delete.is_some(), "--delete"),
        (r.keep_old, "--keep-old"),
        (r.older_than.is_some(), "--older-than"),
        (r.verify_timeout.is_some(), "--verify-timeout"),
        (r.user_name.is_some(), "--user-name"),
        (r.token_code.is_some(), "--token-code"),
    ]
    .into_iter()
    .find_map(|(given, name)| given.then_some(name))
}

/// What decides each user, from the options: a bad duration is a bad command line (252).
fn policy_of(o: &FleetOptions) -> Result<Policy, CliError> {
    Ok(Policy {
        older_than: settings::span("--older-than", &o.older_than)?,
        deactivate_after: o
            .deactivate_after
            .as_deref()
            .map(|v| settings::span("--deactivate-after", v))
            .transpose()?,
        delete_after: settings::span("--delete-after", &o.delete_after)?,
        notify: notice_policy_of(o)?,
    })
}

/// `--notify-from`'s options; the others without it are a mistake (252), as is a reminder
/// without a deadline to remind of.
fn notice_policy_of(o: &FleetOptions) -> Result<Option<NoticePolicy>, CliError> {
    let warn_before = o
        .warn_before
        .as_deref()
        .map(|v| settings::span("--warn-before", v))
        .transpose()?;
    if o.notify_from.is_none() {
        let lonely = [
            (o.warn_before.is_some(), "--warn-before"),
            (o.notify_template.is_some(), "--notify-template"),
            (o.email_tag != "email", "--email-tag"),
        ]
        .into_iter()
        .find_map(|(given, name)| given.then_some(name));
        if let Some(name) = lonely {
            return Err(CliError::usage(format!(
                "{name} shapes the owners' mails: give --notify-from ADDRESS too"
            )));
        }
        return Ok(None);
    }
    if warn_before.is_some() && o.deactivate_after.is_none() {
        return Err(CliError::usage(
            "--warn-before reminds the owner before the --deactivate-after deadline: give --deactivate-after too",
        ));
    }
    if o.email_tag.is_empty() {
        return Err(CliError::usage("--email-tag: a tag name cannot be empty"));
    }
    Ok(Some(NoticePolicy {
        email_tag: o.email_tag.clone(),
        warn_before,
    }))
}

/// `--notify-from`: the sender and the text (`--notify-template`, checked before any request).
fn notifier_of(o: &FleetOptions, region: &str) -> Result<Option<Notifier>, CliError> {
    let Some(from) = &o.notify_from else {
        return Ok(None);
    };
    if from.split('@').count() != 2
        || from.split('@').any(str::is_empty)
        || from.contains(char::is_whitespace)
    {
        return Err(CliError::usage(format!(
            "--notify-from: {from:?} is not an address (an identity verified in SES, such as keys@example.com)"
        )));
    }
    let template = match &o.notify_template {
        None => Template::default_text(),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                CliError::usage(format!(
                    "--notify-template: {} could not be read: {e}",
                    path.display()
                ))
            })?;
            Template::parse(&text).map_err(|e| {
                CliError::usage(format!("--notify-template: {}: {e}", path.display()))
            })?
        }
    };
    Ok(Some(Notifier {
        from: from.clone(),
        template,
        region: region.to_owned(),
    }))
}

async fn fleet(
    global: &Global,
    o: &FleetOptions,
    mode: FleetMode,
) -> Result<Option<ErrorKind>, CliError> {
    let policy = policy_of(o)?;
    let accounts = accounts_of(o)?;
    if let Some(name) = &o.role_name
        && (name.is_empty() || name.contains(['/', ':']))
    {
        return Err(CliError::usage(format!(
            "--role-name: {name:?} is not a role name (the name alone, without a path)"
        )));
    }
    if global.profile.len() > 1 {
        return Err(CliError::usage(
            "fleet commands sign with one profile's credentials: give --profile once",
        ));
    }
    if let Some(empty) = [
        ("--user-name", &o.user_name),
        ("--exempt-group", &o.exempt_group),
    ]
    .iter()
    .find_map(|(flag, names)| names.iter().any(String::is_empty).then_some(flag))
    {
        return Err(CliError::usage(format!("{empty}: a name cannot be empty")));
    }
    let ctx = Context::load(global, None)?;
    let region = ctx
        .settings
        .connection
        .region
        .as_deref()
        .unwrap_or("us-east-1");
    let notify = notifier_of(o, region)?;
    let name = ctx.settings.first_profile().to_owned();
    // A profile that was named must exist, as in the `aws` CLI; without a name, `default` may
    // be missing (the credentials may come from the environment, or an instance's role).
    let named = !global.profile.is_empty()
        || settings::env("AWS_PROFILE").is_some()
        || settings::env("AWS_DEFAULT_PROFILE").is_some();
    if named && let Err(e @ ProfileError::NotFound { .. }) = profile::resolve(&ctx.files, &name) {
        return Err(CliError::config(e.to_string()));
    }
    let request = FleetRequest {
        mode,
        policy,
        user_names: o
            .user_name
            .iter()
            .map(|u| UserName::new(u.as_str()))
            .collect(),
        exempt_groups: o.exempt_group.clone(),
        yes: o.yes,
        interactive: ctx.settings.interactive,
        max_concurrency: MAX_CONCURRENCY,
        // The SDK's own chain for the profile: SSO, a role, static keys, or the environment.
        signer: Signer::Profile(name),
        encrypt: o.encrypt,
        notify,
    };
    if let Some(accounts) = accounts {
        let request = OrgRequest {
            fleet: request,
            accounts,
            role_name: o
                .role_name
                .clone()
                .unwrap_or_else(|| DEFAULT_ROLE_NAME.to_owned()),
            max_accounts: MAX_ACCOUNTS,
        };
        return organization(&ctx, request, mode).await;
    }
    let mut session = FleetSession::new(request, Context::config(), driver::now());
    driver::drive(&mut session, &ctx.io()).await;
    if let Some(fatal) = session.fatal() {
        return Err(CliError::new(fatal.kind.into(), fatal.message.clone()));
    }
    let ending = session.error_kind().map(ErrorKind::from);
    let account = session.account().map(str::to_owned);
    let results = session.into_results();
    // Declined at the prompt: nothing was done, so there is nothing to show as done.
    if mode == FleetMode::Rotate
        && ending == Some(ErrorKind::Usage)
        && results
            .iter()
            .all(|r| r.error.is_none() && r.done.is_empty())
    {
        return Err(not_confirmed());
    }
    let document = fleet_output::fleet(
        &results,
        account.as_deref(),
        mode,
        &ctx.timestamps(),
        driver::now(),
    );
    let shown = ctx.renderer.emit(&document);
    tell(&results, None);
    crate::cli::output::with_printing(shown, ending)
}

fn not_confirmed() -> CliError {
    CliError::usage(
        "fleet rotate was not confirmed: nothing was changed (--yes goes ahead without asking)",
    )
}

/// The warnings and the users' errors, on stderr.
fn tell(results: &[UserResult], account: Option<&str>) {
    let prefix = account
        .map(|a| format!("account {a}: "))
        .unwrap_or_default();
    for warning in fleet_output::warnings(results) {
        crate::cli::warn(format_args!("{prefix}{warning}"));
    }
    for r in results {
        if let Some((operation, failure)) = &r.error {
            eprintln!(
                "aws-rotate-keys: error: {prefix}user {}: {}",
                r.facts.user.user_name,
                failure.text(*operation)
            );
        }
    }
}

/// A run over the organization's accounts.
async fn organization(
    ctx: &Context,
    request: OrgRequest,
    mode: FleetMode,
) -> Result<Option<ErrorKind>, CliError> {
    let mut session = OrgSession::new(request, Context::config(), driver::now());
    driver::drive(&mut session, &ctx.io()).await;
    if let Some(fatal) = session.fatal() {
        return Err(CliError::new(fatal.kind.into(), fatal.message.clone()));
    }
    if session.declined() {
        return Err(not_confirmed());
    }
    let ending = session.error_kind().map(ErrorKind::from);
    let accounts = session.into_results();
    let (ts, now) = (ctx.timestamps(), driver::now());
    let shown = if ctx.renderer.is_plain_table() {
        ctx.renderer
            .emit(&fleet_output::by_account(&accounts, mode, &ts, now))
    } else {
        ctx.renderer
            .emit(&fleet_output::organization(&accounts, mode, &ts, now))
    };
    for a in &accounts {
        if let Some(failure) = &a.failure {
            eprintln!(
                "aws-rotate-keys: error: account {}: {}",
                a.account_id, failure.message
            );
        }
        tell(&a.users, Some(&a.account_id));
    }
    crate::cli::output::with_printing(shown, ending)
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::cli::args::{Cli, Command};

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("aws-rotate-keys").chain(args.iter().copied()))
    }

    fn options(args: &[&str]) -> (FleetCommand, Cli) {
        let cli = parse(args).expect("parses");
        let Some(Command::Fleet(f)) = &cli.command else {
            panic!("not fleet: {cli:?}")
        };
        let command = match &f.command {
            FleetCommand::Status(o) => FleetCommand::Status(o.clone()),
            FleetCommand::Plan(o) => FleetCommand::Plan(o.clone()),
            FleetCommand::Rotate(o) => FleetCommand::Rotate(o.clone()),
            FleetCommand::Policy => FleetCommand::Policy,
        };
        (command, cli)
    }

    #[test]
    fn the_fleets_options_and_their_defaults() {
        let (FleetCommand::Status(o), _) = options(&["fleet", "status"]) else {
            panic!("status")
        };
        let p = policy_of(&o).expect("defaults parse");
        assert_eq!(p, Policy::default(), "90d, never, 7d");
        assert!(!o.yes && o.user_name.is_empty() && o.exempt_group.is_empty());

        let (FleetCommand::Rotate(o), cli) = options(&[
            "-p",
            "admin",
            "fleet",
            "rotate",
            "-y",
            "--user-name",
            "alice",
            "--user-name",
            "bob",
            "--exempt-group",
            "robots",
            "--older-than",
            "0s",
            "--deactivate-after",
            "14d",
            "--delete-after",
            "0s",
            "--output",
            "table",
        ]) else {
            panic!("rotate")
        };
        assert!(o.yes);
        assert_eq!(o.user_name, ["alice", "bob"]);
        assert_eq!(o.exempt_group, ["robots"]);
        assert_eq!(cli.global.profile, ["admin"]);
        let p = policy_of(&o).expect("parses");
        assert_eq!(p.older_than, aws_rotate_keys::time::Span::ZERO);
        assert_eq!(p.delete_after, aws_rotate_keys::time::Span::ZERO);
        assert_eq!(
            p.deactivate_after,
            Some(aws_rotate_keys::time::Span::from_secs(14 * 86_400))
        );
        assert!(matches!(
            options(&["fleet", "plan"]).0,
            FleetCommand::Plan(_)
        ));
        assert!(matches!(
            options(&["fleet", "policy"]).0,
            FleetCommand::Policy
        ));
    }

    #[test]
    fn bad_durations_and_misplaced_options_are_usage_errors() {
        let (FleetCommand::Plan(o), _) = options(&["fleet", "plan", "--older-than", "90"]) else {
            panic!("plan")
        };
        let e = policy_of(&o).expect_err("a bare number");
        assert_eq!(e.kind, ErrorKind::Usage);
        assert!(e.message.starts_with("--older-than: "), "{}", e.message);
        // fleet has no such option, and rotate's options do not reach it.
        assert!(parse(&["fleet", "rotate", "--keep-old"]).is_err());
        assert!(parse(&["fleet"]).is_err(), "a fleet command is needed");
        let cli = parse(&["--yes", "fleet", "rotate"]).expect("parses");
        assert_eq!(rotate_option(&cli.rotate), Some("--yes"));
        assert_eq!(rotate_option(&RotateArgs::default()), None);
    }
}
