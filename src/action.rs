//! What the core asks the shell to do ([`Action`]) and what the shell answers ([`Outcome`]),
//! with how a failed action failed ([`Failure`]). The shell performs each action as it is told
//! and decides nothing: every failure goes back to the core, which retries, undoes or stops.

use compact_str::CompactString;
use serde::Serialize;

use crate::error::ErrorKind;
use crate::ini::{FileKind, KeyEdit};
use crate::key::{AccessKeyId, KeyMeta, SecretAccessKey, Sensitive, UserName};
use crate::plan::Question;
use crate::time::Timestamp;

/// Why a key is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum DeletePurpose {
    /// To make room for the new key.
    MakeRoom,
    /// An orphan of an interrupted or ambiguous `CreateAccessKey`: nobody has its secret.
    Orphan,
    /// The replaced key, now that the new one works and is in the files.
    OldKey,
    /// The new key, because the rotation is undone.
    Undo,
}

/// The next thing the shell must do. Requests to AWS are signed by the signer that comes with
/// the action (see [`crate::session::SessionAction`]), unless the action names its own key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[must_use = "perform the Action, then pass its Outcome to `handle_outcome`"]
pub enum Action {
    /// `sts:GetCallerIdentity`; answer with [`Outcome::Verified`].
    Identify,
    /// `iam:ListAccessKeys`, every page; answer with [`Outcome::Keys`].
    ListKeys {
        /// Whose keys.
        user_name: UserName,
    },
    /// `iam:GetAccessKeyLastUsed`; answer with [`Outcome::LastUsed`].
    LastUsed {
        /// The key.
        access_key_id: AccessKeyId,
    },
    /// `iam:CreateAccessKey`; answer with [`Outcome::KeyCreated`].
    CreateKey {
        /// For whom.
        user_name: UserName,
    },
    /// `iam:DeleteAccessKey`. `NoSuchEntity` counts as done.
    DeleteKey {
        /// Whose key.
        user_name: UserName,
        /// The key.
        access_key_id: AccessKeyId,
        /// Why.
        purpose: DeletePurpose,
    },
    /// `iam:UpdateAccessKey --status Inactive`.
    DeactivateKey {
        /// Whose key.
        user_name: UserName,
        /// The key.
        access_key_id: AccessKeyId,
    },
    /// `sts:GetCallerIdentity` signed by this key (not the signer's); answer with
    /// [`Outcome::Verified`].
    VerifyKey {
        /// The key to sign with.
        access_key_id: AccessKeyId,
        /// Its secret.
        secret: SecretAccessKey,
    },
    /// Write the journal `journal` (beside the credentials file; 0600, atomically) with this
    /// text.
    WriteJournal {
        /// The journal's id, which names its file.
        journal: String,
        /// The text; holds secrets.
        contents: Sensitive<String>,
    },
    /// Remove the journal `journal`. A journal already gone is a success.
    RemoveJournal {
        /// The journal's id.
        journal: String,
    },
    /// Apply `edit` to the current text of `file` (with [`KeyEdit::apply`]) and, if it changed
    /// anything, replace the file atomically; answer with [`Outcome::Updated`], or
    /// [`Outcome::Unchanged`] where no section holds the key (a missing file holds none).
    UpdateFile {
        /// Which file.
        file: FileKind,
        /// The change.
        #[serde(serialize_with = "serialize_edit")]
        edit: KeyEdit,
    },
    /// Ask the user, at the terminal, to agree to the removal the question describes; answer
    /// [`Outcome::Done`] for yes, [`Outcome::Declined`] for no.
    Confirm(Box<Question>),
    /// Fleet: `iam:GetAccountAuthorizationDetails` of the users, one page (`marker`: where the
    /// previous page ended); answer with [`Outcome::Users`], tags included (`ListUsers` has no
    /// tags: a request per user would be needed). IAM may answer fewer users than asked: the
    /// core follows the marker.
    UserDetails {
        /// Where the previous page ended.
        marker: Option<String>,
    },
    /// Fleet across an organization: `organizations:ListAccounts`, one page (`next_token`:
    /// where the previous page ended); answer with [`Outcome::Accounts`].
    ListAccounts {
        /// Where the previous page ended.
        next_token: Option<String>,
    },
    /// Fleet `--encrypt`: `iam:ListSSHPublicKeys` of a user; answer with [`Outcome::SshKeys`].
    ListSshKeys {
        /// Whose.
        user_name: UserName,
    },
    /// Fleet `--encrypt`: `iam:GetSSHPublicKey` with `Encoding=SSH`; answer with
    /// [`Outcome::SshKey`].
    GetSshKey {
        /// Whose.
        user_name: UserName,
        /// The key's id (`APKA…`).
        id: String,
    },
    /// Fleet: `iam:GetUser`; answer with [`Outcome::Users`] (one user with its tags, no marker).
    GetUser {
        /// Who.
        user_name: UserName,
    },
    /// Fleet: `iam:GetGroup`, one page of its members; answer with [`Outcome::Users`].
    GroupMembers {
        /// The group's name.
        group: String,
        /// Where the previous page ended.
        marker: Option<String>,
    },
    /// Fleet: `iam:GenerateCredentialReport`; answer with [`Outcome::ReportState`].
    GenerateReport,
    /// Fleet: `iam:GetCredentialReport`; answer with [`Outcome::Report`] (the CSV, decoded).
    GetReport,
    /// Fleet: `secretsmanager:ListSecrets` of the names that start with `prefix`, one page;
    /// answer with [`Outcome::Secrets`].
    ListSecrets {
        /// The name prefix.
        prefix: String,
        /// Where the previous page ended.
        next_token: Option<String>,
    },
    /// Fleet: `secretsmanager:CreateSecret` without a value: the mark that a delivery started.
    CreateSecret {
        /// The secret's name.
        name: String,
        /// Its description (the delivery's state, see [`crate::fleet::delivery`]).
        description: String,
    },
    /// Fleet: `secretsmanager:PutResourcePolicy`.
    PutSecretPolicy {
        /// The secret's name.
        name: String,
        /// The policy document.
        policy: String,
    },
    /// Fleet: `secretsmanager:UpdateSecret` with a value and a description, one new version at
    /// once; `token` (the `ClientRequestToken`) makes a repeated request a no-op.
    StoreSecret {
        /// The secret's name.
        name: String,
        /// Its new description.
        description: String,
        /// The value; holds a secret.
        value: Sensitive<String>,
        /// The version's idempotency token.
        token: String,
    },
    /// Fleet: `secretsmanager:UpdateSecret` of the description alone.
    DescribeSecret {
        /// The secret's name.
        name: String,
        /// Its new description.
        description: String,
    },
    /// Fleet: `secretsmanager:DeleteSecret` without a recovery window (the name is free for the
    /// next delivery at once). `ResourceNotFoundException` counts as done.
    DeleteSecret {
        /// The secret's name.
        name: String,
    },
    /// Fleet `--notify-from`: `ses:SendEmail` (SES v2), a plain-text mail to one owner; answer
    /// with [`Outcome::Done`]. It never holds a secret (see [`crate::fleet::notice`]).
    SendEmail {
        /// The sender (`--notify-from`, an identity verified in SES).
        from: String,
        /// The owner's address.
        to: String,
        /// The subject.
        subject: String,
        /// The plain-text body.
        body: String,
    },
    /// Pickup: `secretsmanager:GetSecretValue`; answer with [`Outcome::SecretValue`].
    GetSecretValue {
        /// The secret's name.
        name: String,
    },
    /// Fleet: ask once, at the terminal, whether to go ahead with the plan `summary` describes;
    /// answer [`Outcome::Done`] for yes, [`Outcome::Declined`] for no.
    ConfirmPlan {
        /// What would be done, a line per kind of change.
        summary: String,
    },
    /// Admin mode: print the new key now (the `aws iam create-access-key` shape, secret
    /// included), before the journal that holds the only other copy of the secret is removed.
    DeliverKey {
        /// Whose key.
        user_name: UserName,
        /// The new key.
        access_key_id: AccessKeyId,
        /// Its secret.
        secret: SecretAccessKey,
        /// When IAM created it.
        create_date: Timestamp,
    },
}

fn serialize_edit<S: serde::Serializer>(edit: &KeyEdit, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeStruct as _;
    let mut st = s.serialize_struct("KeyEdit", 3)?;
    st.serialize_field("from", &edit.from)?;
    st.serialize_field("to_id", &edit.to_id)?;
    st.serialize_field("to_secret", &edit.to_secret)?;
    st.end()
}

impl Action {
    /// The AWS operation this action calls, for messages like the `aws` CLI's; `None` for the
    /// actions that send no request.
    pub fn operation(&self) -> Option<&'static str> {
        match self {
            Self::Identify | Self::VerifyKey { .. } => Some("GetCallerIdentity"),
            Self::ListKeys { .. } => Some("ListAccessKeys"),
            Self::LastUsed { .. } => Some("GetAccessKeyLastUsed"),
            Self::CreateKey { .. } => Some("CreateAccessKey"),
            Self::DeleteKey { .. } => Some("DeleteAccessKey"),
            Self::DeactivateKey { .. } => Some("UpdateAccessKey"),
            Self::UserDetails { .. } => Some("GetAccountAuthorizationDetails"),
            Self::ListAccounts { .. } => Some("ListAccounts"),
            Self::ListSshKeys { .. } => Some("ListSSHPublicKeys"),
            Self::GetSshKey { .. } => Some("GetSSHPublicKey"),
            Self::GetUser { .. } => Some("GetUser"),
            Self::GroupMembers { .. } => Some("GetGroup"),
            Self::GenerateReport => Some("GenerateCredentialReport"),
            Self::GetReport => Some("GetCredentialReport"),
            Self::ListSecrets { .. } => Some("ListSecrets"),
            Self::CreateSecret { .. } => Some("CreateSecret"),
            Self::PutSecretPolicy { .. } => Some("PutResourcePolicy"),
            Self::StoreSecret { .. } | Self::DescribeSecret { .. } => Some("UpdateSecret"),
            Self::DeleteSecret { .. } => Some("DeleteSecret"),
            Self::GetSecretValue { .. } => Some("GetSecretValue"),
            Self::SendEmail { .. } => Some("SendEmail"),
            Self::ConfirmPlan { .. }
            | Self::WriteJournal { .. }
            | Self::RemoveJournal { .. }
            | Self::UpdateFile { .. }
            | Self::Confirm(_)
            | Self::DeliverKey { .. } => None,
        }
    }
}

/// How a failed action failed, as the shell classifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum FailureClass {
    /// Throttled: the request was refused and not executed; retry later.
    Throttled,
    /// A timeout, a closed connection or a 5xx: the request may or may not have been executed.
    Transient,
    /// `InvalidClientTokenId`, `SignatureDoesNotMatch`, or a 403 without a code: the key is not
    /// (yet) known where the request landed.
    NotAuthenticated,
    /// `NoSuchEntity`.
    NotFound,
    /// `LimitExceeded`.
    LimitExceeded,
    /// `ResourceExistsException`: a secret of that name exists already.
    AlreadyExists,
    /// `ReportInProgress`: the credential report is not ready yet; ask again later.
    NotReady,
    /// `AccessDenied` and other refusals.
    AccessDenied,
    /// A local file could not be written or removed.
    Io,
    /// The command line lacks what the request needs (an MFA code, with no terminal to ask
    /// for it): nothing was sent. Exit status 252, as a bad command line.
    Usage,
    /// Anything else.
    Other,
}

/// A failed action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Failure {
    /// How it failed.
    pub class: FailureClass,
    /// The service's error code (`LimitExceeded`), where there is one.
    pub code: Option<String>,
    /// The service's or the system's message.
    pub message: String,
    /// The AWS operation that failed, where it is not the action's own: the `GetSessionToken`
    /// of an MFA session made on the way to the action's IAM call. For messages only.
    #[serde(skip)]
    pub operation: Option<&'static str>,
}

impl Failure {
    /// A failure of this class with a message.
    pub fn new(class: FailureClass, code: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            class,
            code: code.map(str::to_owned),
            message: message.into(),
            operation: None,
        }
    }

    /// How a run that stops on this failure ends: a service's error (one with an error code,
    /// whatever the code) is [`ErrorKind::Service`]; one that never reached a service (a lost
    /// connection, a refused certificate, a file) is [`ErrorKind::Other`]; a command line that
    /// lacks what the request needs is [`ErrorKind::Usage`].
    pub fn kind(&self) -> ErrorKind {
        match self.class {
            FailureClass::Usage => ErrorKind::Usage,
            FailureClass::Other if self.code.is_some() => ErrorKind::Service,
            FailureClass::Io | FailureClass::Other => ErrorKind::Other,
            _ => ErrorKind::Service,
        }
    }

    /// The failure as the `aws` CLI prints it: `An error occurred (CODE) when calling the OP
    /// operation: MESSAGE` for a service's error (named by its own operation where it has one,
    /// such as an MFA session's `GetSessionToken`, else `operation`); a failure that never
    /// reached the service (a refused certificate, a lost connection, a timeout) gives its
    /// message first, then the operation; a command line that lacks what the request needs, its
    /// message alone (nothing was sent).
    pub fn text(&self, operation: Option<&str>) -> String {
        if self.class == FailureClass::Usage {
            return self.message.clone();
        }
        match (self.operation.or(operation), &self.code) {
            (Some(op), Some(code)) => format!(
                "An error occurred ({code}) when calling the {op} operation: {}",
                self.message
            ),
            (Some(op), None) => format!("{} (when calling the {op} operation)", self.message),
            (None, _) => self.message.clone(),
        }
    }
}

/// An IAM user as `GetAccountAuthorizationDetails`, `GetUser` and `GetGroup` describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct IamUser {
    /// The name.
    pub user_name: UserName,
    /// The ARN (`arn:aws:iam::123456789012:user/path/name`).
    pub arn: String,
    /// Its tags' keys and values (`GetGroup` names none: its members' are not read).
    pub tags: Vec<(String, String)>,
}

/// An account of the organization, as `ListAccounts` describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrgAccount {
    /// The twelve-digit id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// `ACTIVE`, `SUSPENDED`, `PENDING_CLOSURE`.
    pub status: String,
}

/// Where `GenerateCredentialReport` stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ReportState {
    /// A new report is being made.
    Started,
    /// A report is being made.
    InProgress,
    /// The report is ready.
    Complete,
}

/// A secret as `ListSecrets` describes it (never its value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecretEntry {
    /// The name.
    pub name: String,
    /// The description.
    pub description: Option<String>,
}

/// The result of an [`Action`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The action succeeded and returns nothing.
    Done,
    /// `CreateAccessKey` succeeded.
    KeyCreated {
        /// The new key.
        access_key_id: AccessKeyId,
        /// Its secret.
        secret: SecretAccessKey,
        /// When IAM created it.
        create_date: Timestamp,
    },
    /// `ListAccessKeys` succeeded.
    Keys(Vec<KeyMeta>),
    /// `GetAccessKeyLastUsed` answered: when the key last signed a request (`None`: never).
    LastUsed(Option<Timestamp>),
    /// `GetCallerIdentity` answered.
    Verified {
        /// The ARN it answered with.
        arn: String,
    },
    /// An `UpdateFile` changed the file.
    Updated {
        /// The file's profiles whose key it was (see [`crate::ini::Applied::profiles`]).
        profiles: Vec<CompactString>,
    },
    /// An `UpdateFile` found nothing to change (no section holds the key): a success.
    Unchanged,
    /// The user declined a confirmation.
    Declined,
    /// `GetAccountAuthorizationDetails`, `GetUser` or `GetGroup` answered: one page of users, and where the next
    /// one starts (`None`: the last page).
    Users {
        /// The users.
        users: Vec<IamUser>,
        /// The next page's marker.
        marker: Option<String>,
    },
    /// `ListAccounts` answered: one page, and where the next one starts.
    Accounts {
        /// The accounts.
        accounts: Vec<OrgAccount>,
        /// The next page's token.
        next_token: Option<String>,
    },
    /// `ListSSHPublicKeys` answered: each key's id and whether it is active.
    SshKeys(Vec<(String, bool)>),
    /// `GetSSHPublicKey` answered: the key in OpenSSH's one-line form.
    SshKey(String),
    /// `GenerateCredentialReport` answered.
    ReportState(ReportState),
    /// `GetCredentialReport` answered: the report's CSV text.
    Report(String),
    /// `ListSecrets` answered: one page, and where the next one starts.
    Secrets {
        /// The secrets.
        secrets: Vec<SecretEntry>,
        /// The next page's token.
        next_token: Option<String>,
    },
    /// `GetSecretValue` answered: the `SecretString`.
    SecretValue(Sensitive<String>),
    /// The action failed.
    Failed(Failure),
}
