//! `pickup`: the owner installs the key an administrator delivered (`fleet rotate`), through
//! the same session as `rotate` (the delivered key takes the place of a created one).

use clap::Args;

use aws_rotate_keys::session::Mode;

use super::rotate::RotateArgs;
use crate::cli::args::Global;
use crate::cli::error::{CliError, ErrorKind};

/// Options of `pickup`.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct PickupArgs {
    /// Every profile that holds static IAM-user keys.
    #[arg(long)]
    pub(crate) all_profiles: bool,
    /// How long to wait for the delivered key to work. Default: 120s.
    #[arg(long, value_name = "DURATION")]
    pub(crate) verify_timeout: Option<String>,
    /// The MFA code for profiles with `mfa_serial` (prompted for on a terminal otherwise).
    #[arg(long, value_name = "CODE")]
    pub(crate) token_code: Option<String>,
    /// A delivery encrypted to its owner (fleet rotate --encrypt) is opened with this age identity file or OpenSSH private key (repeatable). Default: ~/.ssh/id_ed25519, then ~/.ssh/id_rsa. A passphrase is asked at a terminal.
    #[arg(long, value_name = "FILE")]
    pub(crate) identity: Vec<std::path::PathBuf>,
}

/// Installs the deliveries of the selected profiles.
pub(crate) async fn run(
    global: &Global,
    args: &PickupArgs,
    before: &RotateArgs,
) -> Result<Option<ErrorKind>, CliError> {
    let rotate = RotateArgs {
        all_profiles: args.all_profiles,
        verify_timeout: args.verify_timeout.clone(),
        token_code: args.token_code.clone(),
        identity: args.identity.clone(),
        ..RotateArgs::default()
    }
    .or(&RotateArgs {
        token_code: before.token_code.clone(),
        ..RotateArgs::default()
    });
    super::rotate::run(global, &rotate, Mode::Pickup).await
}
