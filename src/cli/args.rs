//! The command line, as clap reads it. The doc comments are the help text. Nothing here looks
//! at the environment or the files: `settings` combines them.

use clap::{Args, Parser, Subcommand, ValueEnum};

use super::commands::completion::CompletionArgs;
use super::commands::fleet::FleetArgs;
use super::commands::list_access_keys::ListAccessKeysArgs;
use super::commands::rotate::RotateArgs;
use super::commands::status::StatusArgs;

/// Rotate the access keys of IAM users: the new key is written and proven to work before the
/// old one is deactivated or deleted.
#[derive(Debug, Parser)]
// The one-line summary of --help and of the man page's NAME. Cargo.toml's `description` is
// shorter (the packages' synopsis must fit in 80 columns), so this one is spelled out here.
#[command(
    name = "aws-rotate-keys",
    version,
    about = "Rotate the AWS access keys of IAM users safely: verify the new key before the old one goes",
    long_about = None,
    args_conflicts_with_subcommands = false
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
    /// Options of the default command, `rotate`.
    #[command(flatten)]
    pub(crate) rotate: RotateArgs,
}

/// Options shared by every command, with the `aws` CLI's names and meaning.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct Global {
    /// The profile(s) to use; repeat to rotate several. Default: AWS_PROFILE, else AWS_DEFAULT_PROFILE, else `default`.
    #[arg(long, short = 'p', global = true, value_name = "NAME",
          add = clap_complete::engine::ArgValueCompleter::new(super::commands::completion::profiles))]
    pub(crate) profile: Vec<String>,
    /// The region for STS and Secrets Manager (IAM is global). Default: AWS_REGION, AWS_DEFAULT_REGION, the profile's `region`.
    #[arg(long, global = true, value_name = "REGION")]
    pub(crate) region: Option<String>,
    /// Send requests (IAM, STS, Secrets Manager) to this URL instead of AWS's.
    #[arg(long, global = true, value_name = "URL")]
    pub(crate) endpoint_url: Option<String>,
    /// The output format. Default: AWS_DEFAULT_OUTPUT, the profile's `output`, else json.
    #[arg(long, global = true, value_enum)]
    pub(crate) output: Option<OutputFormat>,
    /// A JMESPath query applied to the output.
    #[arg(long, global = true, value_name = "JMESPATH")]
    pub(crate) query: Option<String>,
    /// Print results straight to stdout, never through a pager. Default: on a terminal, the pager of AWS_PAGER, the profile's `cli_pager`, PAGER, else `less -R`.
    #[arg(long, global = true)]
    pub(crate) no_cli_pager: bool,
    /// Log every request (action and key id, never a secret) to stderr.
    #[arg(long, global = true)]
    pub(crate) debug: bool,
    /// Colour in warnings and the table output.
    #[arg(long, global = true, value_enum)]
    pub(crate) color: Option<Color>,
    /// A PEM file of CA certificates to trust. Default: AWS_CA_BUNDLE, the profile's `ca_bundle`.
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) ca_bundle: Option<std::path::PathBuf>,
    /// Do not verify TLS certificates: anyone on the way can then read and change the requests.
    #[arg(long, global = true)]
    pub(crate) no_verify_ssl: bool,
    /// Seconds to wait for a connection (0: forever). Default: 60.
    #[arg(long, global = true, value_name = "SECONDS")]
    pub(crate) cli_connect_timeout: Option<u64>,
    /// Seconds to wait for an answer (0: forever). Default: 60.
    #[arg(long, global = true, value_name = "SECONDS")]
    pub(crate) cli_read_timeout: Option<u64>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Rotate the keys of the profiles (the default command).
    Rotate(RotateArgs),
    /// Decide exactly as `rotate` would, change nothing, and print the plan.
    Plan(RotateArgs),
    /// The output of `aws iam list-access-keys`.
    ListAccessKeys(ListAccessKeysArgs),
    /// One row per profile: user, key id, age, status, last used, files, due or not.
    Status(StatusArgs),
    /// Every IAM user's keys, for administrators: status, plan, rotate, policy.
    Fleet(FleetArgs),
    /// Print a completion script.
    Completion(CompletionArgs),
    /// Print the man page (roff).
    Man,
    /// Add `rotate-keys = !aws-rotate-keys` to ~/.aws/cli/alias, so that `aws rotate-keys` works.
    InstallAlias,
    /// Install a key that an administrator delivered (`fleet rotate`) in place of the profile's.
    Pickup(super::commands::pickup::PickupArgs),
}

/// `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    /// JSON, indented by four spaces.
    Json,
    /// Tab-separated text.
    Text,
    /// An ASCII table.
    Table,
    /// YAML.
    Yaml,
    /// A YAML stream.
    YamlStream,
    /// Nothing on stdout.
    Off,
}

impl From<OutputFormat> for aws_rotate_keys::render::OutputFormat {
    fn from(f: OutputFormat) -> Self {
        use aws_rotate_keys::render::OutputFormat as O;
        match f {
            OutputFormat::Json => O::Json,
            OutputFormat::Text => O::Text,
            OutputFormat::Table => O::Table,
            OutputFormat::Yaml => O::Yaml,
            OutputFormat::YamlStream => O::YamlStream,
            OutputFormat::Off => O::Off,
        }
    }
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Color {
    /// Always.
    On,
    /// Never.
    Off,
    /// On a terminal.
    Auto,
}

/// `completion SHELL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Shell {
    /// bash.
    Bash,
    /// zsh.
    Zsh,
    /// fish.
    Fish,
    /// PowerShell.
    Powershell,
    /// elvish.
    Elvish,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn rotate_is_the_default_command() {
        let cli = Cli::try_parse_from(["aws-rotate-keys", "-p", "work", "--yes"]).expect("parses");
        assert!(cli.command.is_none());
        assert!(cli.rotate.yes);
        assert_eq!(cli.global.profile, ["work"]);
        let cli = Cli::try_parse_from(["aws-rotate-keys", "plan", "--profile", "a", "-p", "b"])
            .expect("parses");
        assert!(matches!(cli.command, Some(Command::Plan(_))));
        assert_eq!(cli.global.profile, ["a", "b"]);
    }
}
