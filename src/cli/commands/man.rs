//! The man page, `aws-rotate-keys(1)`: clap_mangen draws the parts that come from the command
//! line's definition (name, synopsis, options), this module writes the rest (commands, exit
//! status, environment, files, examples, security). `man/aws-rotate-keys.1` is this output,
//! committed; a test keeps it fresh.

use anyhow::{Context, Result};
use clap::CommandFactory;
use roff::{Roff, bold, italic, roman};

use crate::cli::args::Cli;
use crate::cli::error::{CliError, ErrorKind};
use crate::cli::output;

/// `man`: prints the page.
pub(crate) fn run() -> Result<Option<ErrorKind>, CliError> {
    output::print(&render()?)?;
    Ok(None)
}

/// The date in the page's title line: the day this page's content last changed, so that the
/// committed page is the same on every machine.
const DATE: &str = "2026-11-26";

/// The whole page, in roff.
pub(crate) fn render() -> Result<String> {
    let cmd = Cli::command();
    let man = clap_mangen::Man::new(cmd.clone())
        .title("AWS-ROTATE-KEYS")
        .date(DATE)
        .manual("User Commands")
        .source(format!("aws-rotate-keys {}", env!("CARGO_PKG_VERSION")));
    let mut out = Vec::new();
    let failed = "rendering the man page";
    man.render_title(&mut out).context(failed)?;
    man.render_name_section(&mut out).context(failed)?;
    man.render_synopsis_section(&mut out).context(failed)?;
    out.extend(description().render().into_bytes());
    out.extend(commands(&cmd).render().into_bytes());
    man.render_options_section(&mut out).context(failed)?;
    let mut rest = Roff::new();
    fleet(&mut rest, &cmd);
    output(&mut rest);
    exit_status(&mut rest);
    environment(&mut rest);
    files(&mut rest);
    examples(&mut rest);
    security(&mut rest);
    out.extend(rest.render().into_bytes());
    man.render_version_section(&mut out).context(failed)?;
    let page = String::from_utf8(out).context("the man page is not UTF-8")?;
    Ok(tidy(&page))
}

/// What `mandoc -T lint` asks of a page, applied to the parts clap_mangen draws too: text lines
/// of at most 80 bytes (broken at spaces, which changes nothing in the output), no trailing
/// whitespace, no paragraph macro right after a section heading, `.sp` for a `.br`-blank-`.br`.
fn tidy(page: &str) -> String {
    let page = page.replace(".br\n\n.br\n", ".sp\n");
    let mut out = String::with_capacity(page.len() + page.len() / 40);
    let (mut after_heading, mut tag) = (false, false);
    for line in page.lines() {
        let line = line.trim_end();
        if after_heading && (line == ".PP" || line == ".LP" || line == ".P") {
            continue;
        }
        after_heading = line.starts_with(".SH");
        // The line after `.TP` is the tag: breaking it would move its end into the body.
        let is_tag = std::mem::replace(&mut tag, line == ".TP");
        if is_tag || line.starts_with('.') || line.starts_with('\'') || line.len() <= 80 {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let mut current = String::new();
        for word in line.split(' ') {
            if !current.is_empty() && current.len() + 1 + word.len() > 80 {
                out.push_str(&current);
                out.push('\n');
                current.clear();
            }
            if current.is_empty() && (word.starts_with('.') || word.starts_with('\'')) {
                // A control character at the start of a line would make it a request.
                current.push_str("\\&");
            } else if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(word);
        }
        out.push_str(&current);
        out.push('\n');
    }
    out
}

fn section(r: &mut Roff, title: &str) {
    r.control("SH", [title]);
}

fn para(r: &mut Roff, text: &str) {
    r.control("PP", []);
    r.text([roman(text)]);
}

/// A tagged paragraph: `tag` in bold, then its text.
fn item(r: &mut Roff, tag: &str, text: &str) {
    r.control("TP", []);
    r.text([bold(tag)]);
    r.text([roman(text)]);
}

fn description() -> Roff {
    let mut r = Roff::new();
    section(&mut r, "DESCRIPTION");
    r.text([
        roman("Rotates the access keys of IAM users, the way a careful person would by hand with "),
        bold("aws iam create-access-key"),
        roman(", an editor and "),
        bold("aws iam delete-access-key"),
        roman(", without the mistakes."),
    ]);
    para(
        &mut r,
        "A rotation finds the key a profile uses; makes room when the user already has two keys \
         (an inactive key that no profile holds first, then an active one that no profile holds, \
         oldest first; a key another profile holds only when --delete names it; never more than \
         one, and only after the user agrees or --yes says so); creates the new key and saves it \
         in a journal beside the credentials file; waits until sts get-caller-identity, signed by \
         the new key, answers as the same user twice in a row (IAM is eventually consistent); \
         writes the new key into every profile of either file that held the old one, changing no \
         other byte; and only then deletes the old key (or, with --keep-old, deactivates it).",
    );
    para(
        &mut r,
        "If the new key does not work within --verify-timeout, it is deleted and the files keep \
         the old key. A run that is killed at any moment is finished or undone by the next run, \
         from the journal.",
    );
    para(
        &mut r,
        "Through the alias that install-alias writes, it runs as aws rotate-keys. Use -p rather \
         than --profile there: aws keeps --profile for itself before it runs an alias.",
    );
    r
}

fn commands(cmd: &clap::Command) -> Roff {
    let mut r = Roff::new();
    section(&mut r, "COMMANDS");
    for sub in cmd.get_subcommands() {
        if sub.get_name() == "fleet" {
            for f in sub.get_subcommands() {
                let mut usage = vec![bold(format!("fleet {}", f.get_name()))];
                if f.get_arguments().any(|a| !a.is_global_set()) {
                    usage.push(roman(" [fleet options]"));
                }
                r.control("TP", []);
                r.text(usage);
                let about = f.get_about().map(ToString::to_string).unwrap_or_default();
                r.text([roman(about)]);
            }
            continue;
        }
        let mut usage = vec![bold(sub.get_name())];
        let rotate_like = matches!(sub.get_name(), "rotate" | "plan");
        for arg in sub
            .get_arguments()
            .filter(|a| !a.is_global_set() && !rotate_like && a.get_action().takes_values())
        {
            if let Some(long) = arg.get_long() {
                usage.push(roman(" [--"));
                usage.push(bold(long));
                if let Some(v) = arg.get_value_names().and_then(|v| v.first()) {
                    usage.push(roman(" "));
                    usage.push(italic(v.as_str()));
                }
                usage.push(roman("]"));
            } else if arg.is_positional() {
                let values: Vec<String> = arg
                    .get_possible_values()
                    .iter()
                    .map(|v| v.get_name().to_owned())
                    .collect();
                usage.push(roman(format!(" {{{}}}", values.join(","))));
            }
        }
        if rotate_like {
            usage.push(roman(" [rotate options]"));
        }
        r.control("TP", []);
        r.text(usage);
        let about = sub.get_about().map(ToString::to_string).unwrap_or_default();
        r.text([roman(about)]);
    }
    para(
        &mut r,
        "Without a command, rotate runs. rotate and plan take the options listed under OPTIONS \
         (--all-profiles, --yes, --delete, --keep-old, --older-than, --verify-timeout, \
         --user-name, --token-code); the fleet commands take the options listed under FLEET; \
         the global options apply to every command.",
    );
    r
}

/// FLEET: what the fleet commands do, their options (from the command line's definition),
/// the stages, the delivery and the policies.
fn fleet(r: &mut Roff, cmd: &clap::Command) {
    section(r, "FLEET");
    r.text([roman(
        "For administrators: rotate the keys of every IAM user of an account and hand each new \
         key to its owner without ever locking the owner out. fleet rotate creates the new key \
         and delivers it: it stores it in the AWS Secrets Manager secret \
         aws-rotate-keys/USERNAME (in the run's region), whose resource policy lets only that \
         user read it; the old key stays active. The owner installs it with pickup. A later \
         fleet rotate sees that the new key has been used, deactivates the old key, and after \
         --delete-after deletes it and the secret. Nothing is kept on the administrator's \
         machine: each user's stage is read from IAM and its secret, so any run, from any \
         machine, takes the next step. The new key's secret is printed and written nowhere.",
    )]);
    para(
        r,
        "The administrator's credentials are any that the aws command accepts: -p may name a \
         profile of static keys or a role, and credentials in the environment \
         (AWS_ACCESS_KEY_ID) are used when no -p is given. The caller's own user is never \
         rotated (its stage is Caller). fleet policy prints the IAM policies the administrator \
         (and a read-only auditor) and the users need.",
    );
    let options = cmd
        .find_subcommand("fleet")
        .and_then(|f| f.find_subcommand("rotate"));
    for arg in options
        .iter()
        .flat_map(|c| c.get_arguments())
        .filter(|a| !a.is_global_set())
    {
        let Some(long) = arg.get_long() else {
            continue;
        };
        let mut tag = match arg.get_short() {
            Some(short) => format!("-{short}, --{long}"),
            None => format!("--{long}"),
        };
        if let Some(v) = arg
            .get_value_names()
            .and_then(|v| v.first())
            .filter(|_| arg.get_action().takes_values())
        {
            tag.push_str(&format!(" {v}"));
        }
        let mut help = arg.get_help().map(ToString::to_string).unwrap_or_default();
        if let Some(d) = arg.get_default_values().first() {
            help.push_str(&format!(". Default: {}", d.to_string_lossy()));
        }
        item(r, &tag, &help);
    }
    para(
        r,
        "A user's stage, as the run finds it, and what fleet rotate does about it:",
    );
    for (stage, meaning) in [
        ("Fresh", "no active key older than --older-than: nothing"),
        (
            "Due",
            "an active key older than --older-than: makes room if both key slots are taken (only an inactive key is ever removed), creates a key and delivers it; the old key stays active",
        ),
        (
            "Delivered",
            "the delivered key has never been used: nothing, until --deactivate-after has passed since the delivery; then the old key is deactivated, and deleted after --delete-after, but the secret stays until the delivered key is used (it holds the only copy of its secret)",
        ),
        (
            "Installed",
            "the delivered key has been used: deactivates the old key, or deletes the secret once the old key is gone",
        ),
        (
            "Deactivated",
            "the old key is inactive: deletes it after --delete-after, then the secret if the delivered key has been used",
        ),
        (
            "Exempt",
            "tagged aws-rotate-keys:exempt (any value), or a member of an --exempt-group: nothing",
        ),
        (
            "Blocked",
            "a decision is needed (two active keys, a delivery that matches none of the user's keys, a name no secret can carry): nothing; a warning says what to do",
        ),
        ("Caller", "the user whose credentials the run uses: nothing"),
    ] {
        item(r, stage, meaning);
    }
    para(
        r,
        "The delivery secret's value is JSON in the shape of create-access-key's AccessKey, plus \
         the key it replaces: UserName, AccessKeyId, SecretAccessKey, CreateDate, \
         ReplacesAccessKeyId. Its description holds the delivery's state. One user's failure does \
         not stop the others: each user gets its row, and the run exits with 254.",
    );
    beyond_one_account(r);
}

/// FLEET, continued: --encrypt, --accounts and --notify-from.
fn beyond_one_account(r: &mut Roff) {
    para(
        r,
        "With --encrypt, each delivery is sealed with age (ASCII armour) to its owner: to the \
         user's tag aws-rotate-keys:recipient (an age1... key, or an ssh-ed25519 or ssh-rsa public \
         key line), else to the user's active IAM SSH public key. A user with neither is Blocked, \
         with what to do (what an interrupted delivery left, its new key and its mark, is still \
         removed). No administrator, backup or Secrets Manager reader can use the key; the \
         owner's pickup opens it with --identity FILE (an age identity file or an OpenSSH private \
         key; default ~/.ssh/id_ed25519, then ~/.ssh/id_rsa; a passphrase is asked at a \
         terminal). A delivery that cannot be opened changes nothing, and the error names the \
         files tried (exit 255).",
    );
    para(
        r,
        "Across an AWS Organization: --accounts all runs in every ACTIVE account of the \
         organization (organizations list-accounts, every page), --accounts ID,ID in those \
         accounts. The caller's own account uses the caller's credentials; every other account \
         is entered by assuming --role-name there (default OrganizationAccountAccessRole, as AWS \
         creates it in accounts made through Organizations), and the role's session is renewed \
         before it expires, however long the run. Up to four accounts run at once. An account \
         that cannot be entered (AssumeRole refused, an account named but suspended or not in \
         the organization) gets a row with its Account and Error and no UserName, and does not \
         stop the others; the run exits with 254. fleet rotate without --yes decides every \
         account first and asks once for all of them. Run it from the management account or a \
         delegated administrator: fleet policy prints aws-rotate-keys-organization for that \
         account; the role needs aws-rotate-keys-fleet-rotate (or -read) in each account.",
    );
    para(
        r,
        "With --notify-from ADDRESS (an identity verified in SES in the run's region), each \
         owner is mailed at the address in the user's tag email (--email-tag NAME for another): \
         when its new key is delivered (what happened, the pickup command, the deadline if \
         --deactivate-after is set), --warn-before DURATION before that deadline while the new \
         key is unused, and when its old key was deactivated. No mail holds a secret. Each mail \
         is recorded in the delivery secret's description after SES took it, so runs from any \
         machine send it once; a run that stops in between sends it again (twice, never not at \
         all). A user without the tag gets a NoticeNote in its row, and is not failed. \
         --notify-template FILE replaces the text: sections [delivered], [reminder] and \
         [deactivated] (a missing one sends no mail of that kind), each a Subject: line, a blank \
         line and the body, with the placeholders {user}, {account}, {region}, {new_key_id}, \
         {old_key_id}, {deadline}, {command}; {{ and }} are braces.",
    );
}

fn output(r: &mut Roff) {
    section(r, "OUTPUT");
    r.text([roman(
        "Results go to stdout in the --output format, after --query, as the aws command prints \
         them; prompts, progress, warnings and errors go to stderr.",
    )]);
    para(
        r,
        "rotate prints {\"Rotations\": [...]} and plan {\"Plans\": [...]}: one object per key of \
         the run, its profiles in Profiles (profiles that share a key rotate once). Each has \
         Status (Rotated, Incomplete, RolledBack, Failed, CleanedUp, Planned, Skipped, \
         NeedsConfirmation or Refused) and AccessKeyId, the key the profiles held; then, as the \
         outcome has them: UserName; OldAccessKeyId, OldKeyAction (Delete or Deactivate) and \
         NewAccessKeyId (never a secret); RemovedToMakeRoom; FilesUpdated; VerifyAttempts and \
         PropagationWait (how long the new key took to work); Resumed (an interrupted rotation \
         was finished or undone); LeftToDo; a plan's OldKey (with AgeDays), MakeRoom (the key \
         to remove first, its Reason and HeldBy) and Files (the sections that will hold the new \
         key); a skipped key's AgeDays, OlderThan and Reason; a needed confirmation's \
         ProposedRemoval; and Error, the aws command's words for what failed. status prints \
         {\"Profiles\": [...]}: one object per profile, with Profile, UserName, AccessKeyId, Status \
         (the key's: Active or Inactive), CreateDate, AgeDays, LastUsed, Files and, with \
         --older-than, Due; or Error where the key could not be looked up.",
    );
    para(
        r,
        "fleet status, fleet plan and fleet rotate print {\"Users\": [...]}: one object per IAM \
         user, in user-name order (with --accounts, in account order, then user-name order), \
         with Account (the user's account id), UserName, Stage (as the run found it), Action (plan and \
         rotate: what was or would be done: None, Deliver, DeactivateOldKey, DeleteOldKey or \
         DeleteDelivery), AccessKeys (AccessKeyId, Status, CreateDate, AgeDays and LastUsedDate: \
         in fleet status every key's, taken from the IAM credential report, which IAM makes anew \
         at most every four hours, where the report shows the key, else asked of IAM; in plan \
         and rotate where the stage needed it, always asked of IAM), and, as they apply, DeliveredAccessKeyId, \
         ReplacesAccessKeyId, DeliveredDate, DeliveredDays, Reason (why a user is Blocked) and \
         Error. With --accounts, --output table without --query draws one table per account \
         ({\"Accounts\": [{\"Account\", \"Name\", \"Error\", \"Users\"}]}); --query and the \
         other formats see the rows above. fleet policy prints {\"Policies\": [...]} with PolicyName, Description and \
         PolicyDocument: --query 'Policies[0].PolicyDocument' gives a document for aws iam \
         put-user-policy.",
    );
    para(
        r,
        "When stdout is a terminal, results go through a pager, as in the aws command (version 2): \
         the first of --no-cli-pager (no pager), AWS_PAGER, the profile's cli_pager, PAGER, else \
         less -R (more on Windows). Set to nothing, AWS_PAGER, cli_pager or PAGER means no pager. \
         The command is run by /bin/sh -c (cmd /C on Windows) with the results on its stdin, with \
         LESS=FRX when LESS is not set at all. \
         Output to a pipe or a file (a script, cron) never goes through a pager. Quitting the pager \
         early is not an error. A pager that cannot be started ends the run with status 253 after \
         the results are printed without it. The new key of admin mode (--user-name) is never \
         paged: it is the only copy of its secret once the run ends.",
    );
    para(
        r,
        "Timestamps follow the profile's cli_timestamp_format, as in the aws command (version 2): \
         iso8601 (the default) prints 2013-06-04T18:17:34+00:00; wire prints each timestamp \
         exactly as IAM sent it (such as 2013-06-04T18:17:34Z). Any other value is an error \
         (status 253); none, the aws command version 1's name for wire, included.",
    );
}

fn exit_status(r: &mut Roff) {
    section(r, "EXIT STATUS");
    r.text([roman("As the aws command (version 2):")]);
    for (code, meaning) in [
        ("0", "done, also when every key was skipped as not due"),
        (
            "252",
            "a bad command line, or a decision is needed that --yes or --delete did not give (the message names the flag to add)",
        ),
        ("253", "bad or unsupported configuration or files"),
        ("254", "an AWS service error"),
        ("255", "anything else"),
        ("130", "interrupted"),
    ] {
        item(r, code, meaning);
    }
}

fn environment(r: &mut Roff) {
    section(r, "ENVIRONMENT");
    r.text([roman(
        "The aws command's variables, with its precedence: an option, then the environment, then \
         the profile's setting, then the default.",
    )]);
    for (name, meaning) in [
        ("AWS_PROFILE", "the profile, when no -p/--profile is given"),
        (
            "AWS_DEFAULT_PROFILE",
            "the profile, when neither -p nor AWS_PROFILE is set",
        ),
        ("AWS_CONFIG_FILE", "the config file (default ~/.aws/config)"),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            "the credentials file (default ~/.aws/credentials)",
        ),
        ("AWS_DEFAULT_OUTPUT", "the output format"),
        (
            "AWS_REGION, AWS_DEFAULT_REGION",
            "the region for STS (IAM is global)",
        ),
        (
            "AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_IAM, AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL_SECRETS_MANAGER",
            "where to send requests instead of AWS",
        ),
        (
            "AWS_CA_BUNDLE",
            "a PEM file of the certificate authorities to trust",
        ),
        (
            "HTTPS_PROXY, HTTP_PROXY, NO_PROXY",
            "the proxy for https:// and for http:// requests (http://[USER:PASSWORD@]HOST:PORT; an https:// request goes through a CONNECT tunnel), and the hosts reached without one (a comma-separated list); the lower-case forms and ALL_PROXY too, also with --no-verify-ssl",
        ),
        (
            "AWS_PAGER",
            "the pager for results on a terminal (see OUTPUT); set to nothing: no pager",
        ),
        (
            "PAGER",
            "the pager when neither AWS_PAGER nor the profile's cli_pager is set",
        ),
        (
            "LESS",
            "passed to the pager as it is; when not set, the pager gets LESS=FRX",
        ),
        (
            "AWS_ACCESS_KEY_ID",
            "refused by rotate and plan: keys in the environment are not keys on disk that can be rotated; the fleet commands sign with them when no -p is given",
        ),
        ("NO_COLOR", "when set, no colour"),
        (
            "HOME",
            "the home folder that ~ names (on Windows: USERPROFILE, else HOMEDRIVE and HOMEPATH, as the aws command finds it; HOME is not read there)",
        ),
    ] {
        item(r, name, meaning);
    }
}

fn files(r: &mut Roff) {
    section(r, "FILES");
    r.text([roman(
        "~ is the home folder (see HOME under ENVIRONMENT): on Windows, %USERPROFILE%\\.aws\\credentials and so on. There the files get their folder's permissions, as the files the aws command writes do; elsewhere they are written with mode 0600.",
    )]);
    for (name, meaning) in [
        (
            "~/.aws/credentials, ~/.aws/config",
            "where profiles keep their keys; both are read, and written where a rotated key stood",
        ),
        (
            "~/.aws/credentials.aws-rotate-keys-ID.journal",
            "the journal of a rotation in progress, with the new secret (mode 0600); removed when the rotation ends, read by the next run after a crash",
        ),
        (
            "~/.aws/credentials.aws-rotate-keys.lock",
            "serializes runs: a second run waits for the first",
        ),
        (
            "~/.aws/cli/alias",
            "where install-alias adds rotate-keys = !aws-rotate-keys under [toplevel]",
        ),
    ] {
        item(r, name, meaning);
    }
}

fn examples(r: &mut Roff) {
    section(r, "EXAMPLES");
    for (what, command) in [
        ("Rotate the key of profile work:", "aws-rotate-keys -p work"),
        (
            "See what a rotation of every profile would do, changing nothing:",
            "aws-rotate-keys plan --all-profiles",
        ),
        (
            "From cron: every profile whose key is older than 90 days, never asking:",
            "0 4 * * 1 aws-rotate-keys --all-profiles --older-than 90d --yes",
        ),
        (
            "As an aws command, after install-alias:",
            "aws rotate-keys -p work",
        ),
        (
            "Admin mode: rotate user bob's key with the admin profile's credentials; prints bob's new key:",
            "aws-rotate-keys -p admin --user-name bob",
        ),
        (
            "Keep the old key, deactivated, until the next run:",
            "aws-rotate-keys -p work --keep-old",
        ),
        (
            "Fleet: what a rotation of every IAM user would do, then do it:",
            "aws-rotate-keys -p admin fleet plan --output table\naws-rotate-keys -p admin fleet rotate",
        ),
        (
            "Fleet, from the administrator's crontab, weekly: deliver what is due; deactivate old keys that their owners have not replaced within 14 days of the delivery:",
            "@weekly aws-rotate-keys fleet rotate --yes --deactivate-after 14d",
        ),
        (
            "The administrator's IAM policy, for aws iam put-user-policy:",
            "aws-rotate-keys fleet policy --query \"Policies[0].PolicyDocument\"",
        ),
    ] {
        r.control("PP", []);
        r.text([roman(what)]);
        r.control("RS", ["4"]);
        r.control("nf", []);
        for line in command.lines() {
            r.text([bold(line)]);
        }
        r.control("fi", []);
        r.control("RE", []);
    }
}

fn security(r: &mut Roff) {
    section(r, "SECURITY");
    para(
        r,
        "Files are written atomically (a sibling temporary file, fsync, rename, fsync of the \
         directory), created with mode 0600; a file with a wider mode is tightened to 0600 with a \
         warning. Through a symbolic link the target is replaced and the link kept. Every byte \
         outside the changed key id and secret is kept.",
    );
    para(
        r,
        "The new secret reaches disk, in the journal (mode 0600) beside the credentials file, \
         before any further request is sent, so that a crash never loses it.",
    );
    para(
        r,
        "No secret access key or session token is ever printed or logged, --debug included. The \
         one exception is admin mode (--user-name), whose output is the new key, in the shape of \
         aws iam create-access-key output, for its owner.",
    );
    para(
        r,
        "The fleet commands never print or write a delivered key's secret: it goes from IAM's \
         answer straight into its secret in Secrets Manager, whose resource policy lets only its \
         user read it (and denies everyone else's GetSecretValue); --debug logs its length \
         only. Should the secret not be stored, the new key is deleted.",
    );
    para(
        r,
        "Profiles whose credentials are temporary (aws_session_token), come from SSO, a role, a \
         credential_process or the environment are refused with a message saying what to rotate \
         instead; no request is sent for them.",
    );
}

#[cfg(test)]
mod tests {
    #![allow(clippy::disallowed_methods)]

    /// `man/aws-rotate-keys.1` is what `aws-rotate-keys man` prints. After a change of the
    /// command line or this module: `cargo run -- man > man/aws-rotate-keys.1`.
    #[test]
    fn the_committed_page_is_fresh() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/man/aws-rotate-keys.1");
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        let page = super::render().expect("renders");
        assert!(
            committed == page,
            "{path} is stale: run `cargo run -- man > man/aws-rotate-keys.1`"
        );
        for section in [
            "NAME",
            "SYNOPSIS",
            "DESCRIPTION",
            "COMMANDS",
            "OPTIONS",
            "OUTPUT",
            "EXIT STATUS",
            "ENVIRONMENT",
            "FILES",
            "EXAMPLES",
            "SECURITY",
        ] {
            assert!(
                page.contains(&format!(".SH {section}\n"))
                    || page.contains(&format!(".SH \"{section}\"\n")),
                "no {section} section"
            );
        }
    }
}
