//! `list-access-keys`: `aws iam list-access-keys`, byte for byte, in every output format.

use clap::Args;

use aws_rotate_keys::action::{Action, Outcome};
use aws_rotate_keys::key::UserName;
use aws_rotate_keys::output;
use aws_rotate_keys::plan::Identity;
use aws_rotate_keys::profile::{self, ProfileError};
use aws_rotate_keys::session::Signer;

use super::{Context, aws_failure};
use crate::cli::args::Global;
use crate::cli::error::{CliError, ErrorKind};

/// Options of `list-access-keys`.
#[derive(Debug, Args)]
pub(crate) struct ListAccessKeysArgs {
    /// Whose keys (default: the profile's user).
    #[arg(long, value_name = "NAME")]
    pub(crate) user_name: Option<String>,
    /// The MFA code for a profile with `mfa_serial` (prompted for on a terminal otherwise).
    #[arg(long, value_name = "CODE")]
    pub(crate) token_code: Option<String>,
}

pub(crate) async fn run(
    global: &Global,
    args: &ListAccessKeysArgs,
    token_code: Option<String>,
) -> Result<Option<ErrorKind>, CliError> {
    let ctx = Context::load(global, args.token_code.clone().or(token_code))?;
    let name = ctx.settings.first_profile();
    // A profile of static keys signs with them; any other kind (SSO, a role) with the SDK's
    // own credential chain for it.
    let signer = match profile::resolve(&ctx.files, name) {
        Ok(r) => Signer::Static {
            profile: Some(name.into()),
            access_key_id: r.access_key_id,
            secret: r.secret,
            mfa_serial: r.mfa_serial,
        },
        Err(ProfileError::NotFound { profile }) => {
            return Err(CliError::config(format!(
                "the config profile ({profile}) could not be found"
            )));
        }
        Err(_) => Signer::Profile(name.to_owned()),
    };
    let ask = |action: Action| {
        let aws = ctx.aws.clone();
        let signer = signer.clone();
        async move { aws.execute(&signer, &action).await }
    };
    let user = match &args.user_name {
        Some(u) => UserName::new(u.as_str()),
        None => match ask(Action::Identify).await {
            Some(Outcome::Verified { arn }) => {
                Identity::from_arn(&arn)
                    .map_err(|e| CliError::config(e.to_string()))?
                    .user_name
            }
            Some(Outcome::Failed(f)) => return Err(aws_failure("GetCallerIdentity", &f)),
            _ => return Err(CliError::other("GetCallerIdentity gave no answer")),
        },
    };
    let keys = match ask(Action::ListKeys {
        user_name: user.clone(),
    })
    .await
    {
        Some(Outcome::Keys(keys)) => keys,
        Some(Outcome::Failed(f)) => return Err(aws_failure("ListAccessKeys", &f)),
        _ => return Err(CliError::other("ListAccessKeys gave no answer")),
    };
    let document = output::list_access_keys(&user, &keys, &ctx.timestamps());
    ctx.renderer.emit(&document)?;
    Ok(None)
}
