//! The fleet's requests: IAM's listings of users (with their tags), groups and the credential report, and
//! the delivery secrets in Secrets Manager. One request per action: the core follows the
//! markers and next tokens itself, and retries.
//!
//! A delivered key's secret passes through here once, into `UpdateSecret`'s `SecretString`,
//! and is never logged (`--debug` included).

use aws_rotate_keys::action::{
    Action, Failure, FailureClass, IamUser, OrgAccount, Outcome, ReportState, SecretEntry,
};
use aws_rotate_keys::fleet::seal;
use aws_rotate_keys::key::{Sensitive, UserName};
use aws_rotate_keys::session::Signer;

use super::{Aws, classify};

/// The largest page IAM gives (`MaxItems`): fewer requests for a large account.
const IAM_PAGE: i32 = 1000;
/// The largest page Secrets Manager gives (`MaxResults`).
const SECRETS_PAGE: i32 = 100;

fn tags(tags: &[aws_sdk_iam::types::Tag]) -> Vec<(String, String)> {
    tags.iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect()
}

fn user(u: &aws_sdk_iam::types::User) -> IamUser {
    IamUser {
        user_name: UserName::new(u.user_name()),
        arn: u.arn().to_owned(),
        tags: tags(u.tags()),
    }
}

/// The next page's marker, when IAM says there is one.
fn next(truncated: bool, marker: Option<&str>) -> Option<String> {
    marker.filter(|_| truncated).map(str::to_owned)
}

impl Aws {
    /// Performs a fleet (or pickup) request; `None` for an action that is not one.
    pub(super) async fn execute_fleet(
        &self,
        signer: &Signer,
        action: &Action,
    ) -> Option<Result<Outcome, Failure>> {
        Some(match action {
            Action::UserDetails { marker } => self.user_details(signer, marker.clone()).await,
            Action::GetUser { user_name } => self.get_user(signer, user_name).await,
            Action::ListSshKeys { user_name } => self.list_ssh_keys(signer, user_name).await,
            Action::GetSshKey { user_name, id } => self.get_ssh_key(signer, user_name, id).await,
            Action::ListAccounts { next_token } => {
                self.list_accounts(signer, next_token.clone()).await
            }
            Action::GroupMembers { group, marker } => {
                self.group_members(signer, group, marker.clone()).await
            }
            Action::GenerateReport => self.generate_report(signer).await,
            Action::GetReport => self.get_report(signer).await,
            Action::ListSecrets { prefix, next_token } => {
                self.list_secrets(signer, prefix, next_token.clone()).await
            }
            Action::CreateSecret { name, description } => {
                self.create_secret(signer, name, description).await
            }
            Action::PutSecretPolicy { name, policy } => {
                self.put_secret_policy(signer, name, policy).await
            }
            Action::StoreSecret {
                name,
                description,
                value,
                token,
            } => {
                self.store_secret(signer, name, description, value, token)
                    .await
            }
            Action::DescribeSecret { name, description } => {
                self.describe_secret(signer, name, description).await
            }
            Action::DeleteSecret { name } => self.delete_secret(signer, name).await,
            Action::GetSecretValue { name } => self.get_secret_value(signer, name).await,
            Action::SendEmail {
                from,
                to,
                subject,
                body,
            } => self.send_email(signer, from, to, subject, body).await,
            _ => return None,
        })
    }

    /// `iam:GetAccountAuthorizationDetails` of the users, one page: each with its tags, where
    /// `ListUsers` would need a `ListUserTags` per user.
    async fn user_details(
        &self,
        signer: &Signer,
        marker: Option<String>,
    ) -> Result<Outcome, Failure> {
        let iam = self.iam(signer).await?;
        self.debug(format_args!(
            "IAM GetAccountAuthorizationDetails Filter=User{}",
            if marker.is_some() { " (next page)" } else { "" }
        ));
        let out = iam
            .get_account_authorization_details()
            .filter(aws_sdk_iam::types::EntityType::User)
            .max_items(IAM_PAGE)
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(Outcome::Users {
            users: out
                .user_detail_list()
                .iter()
                .filter_map(|u| {
                    Some(IamUser {
                        user_name: UserName::new(u.user_name()?),
                        arn: u.arn()?.to_owned(),
                        tags: tags(u.tags()),
                    })
                })
                .collect(),
            marker: next(out.is_truncated(), out.marker()),
        })
    }

    /// `iam:ListSSHPublicKeys`: every key's id and whether it is active (a user has at most
    /// five: one page).
    async fn list_ssh_keys(&self, signer: &Signer, user: &UserName) -> Result<Outcome, Failure> {
        let iam = self.iam(signer).await?;
        self.debug(format_args!("IAM ListSSHPublicKeys user={user}"));
        let out = iam
            .list_ssh_public_keys()
            .user_name(user.as_str())
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(Outcome::SshKeys(
            out.ssh_public_keys()
                .iter()
                .map(|k| {
                    (
                        k.ssh_public_key_id().to_owned(),
                        k.status() == &aws_sdk_iam::types::StatusType::Active,
                    )
                })
                .collect(),
        ))
    }

    /// `iam:GetSSHPublicKey` in OpenSSH's form (`Encoding=SSH`).
    async fn get_ssh_key(
        &self,
        signer: &Signer,
        user: &UserName,
        id: &str,
    ) -> Result<Outcome, Failure> {
        let iam = self.iam(signer).await?;
        self.debug(format_args!("IAM GetSSHPublicKey user={user} id={id}"));
        let out = iam
            .get_ssh_public_key()
            .user_name(user.as_str())
            .ssh_public_key_id(id)
            .encoding(aws_sdk_iam::types::EncodingType::Ssh)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let body = out
            .ssh_public_key()
            .map(|k| k.ssh_public_key_body().to_owned())
            .unwrap_or_default();
        Ok(Outcome::SshKey(body))
    }

    /// `organizations:ListAccounts`, one page.
    async fn list_accounts(
        &self,
        signer: &Signer,
        next_token: Option<String>,
    ) -> Result<Outcome, Failure> {
        let (base, creds) = self.signing(signer).await?;
        let mut b = aws_sdk_organizations::config::Builder::from(&base);
        if let Some(provider) = creds {
            b = b.credentials_provider(provider);
        }
        self.debug(format_args!(
            "Organizations ListAccounts{}",
            if next_token.is_some() {
                " (next page)"
            } else {
                ""
            }
        ));
        let out = aws_sdk_organizations::Client::from_conf(b.build())
            .list_accounts()
            .set_next_token(next_token)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(Outcome::Accounts {
            accounts: out
                .accounts()
                .iter()
                .filter_map(|a| {
                    Some(OrgAccount {
                        id: a.id()?.to_owned(),
                        name: a.name().unwrap_or_default().to_owned(),
                        status: a.status().map_or("ACTIVE", |s| s.as_str()).to_owned(),
                    })
                })
                .collect(),
            next_token: out.next_token().map(str::to_owned),
        })
    }

    /// `iam:GetUser`: one user, no marker.
    async fn get_user(&self, signer: &Signer, name: &UserName) -> Result<Outcome, Failure> {
        let iam = self.iam(signer).await?;
        self.debug(format_args!("IAM GetUser user={name}"));
        let out = iam
            .get_user()
            .user_name(name.as_str())
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(Outcome::Users {
            users: out.user().map(user).into_iter().collect(),
            marker: None,
        })
    }

    /// `iam:GetGroup`, one page of its members.
    async fn group_members(
        &self,
        signer: &Signer,
        group: &str,
        marker: Option<String>,
    ) -> Result<Outcome, Failure> {
        let iam = self.iam(signer).await?;
        self.debug(format_args!("IAM GetGroup group={group}"));
        let out = iam
            .get_group()
            .group_name(group)
            .max_items(IAM_PAGE)
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(Outcome::Users {
            users: out.users().iter().map(user).collect(),
            marker: next(out.is_truncated(), out.marker()),
        })
    }

    /// `iam:GenerateCredentialReport`.
    async fn generate_report(&self, signer: &Signer) -> Result<Outcome, Failure> {
        use aws_sdk_iam::types::ReportStateType as S;
        let iam = self.iam(signer).await?;
        self.debug(format_args!("IAM GenerateCredentialReport"));
        let out = iam
            .generate_credential_report()
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let state = match out.state() {
            Some(S::Complete) => ReportState::Complete,
            Some(S::Started) => ReportState::Started,
            // In progress, or a state this SDK does not know yet: ask again.
            _ => ReportState::InProgress,
        };
        Ok(Outcome::ReportState(state))
    }

    /// `iam:GetCredentialReport`: the CSV (the SDK decodes IAM's base64).
    async fn get_report(&self, signer: &Signer) -> Result<Outcome, Failure> {
        let iam = self.iam(signer).await?;
        self.debug(format_args!("IAM GetCredentialReport"));
        let out = iam
            .get_credential_report()
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let bytes = out
            .content()
            .map(|b| b.as_ref().to_vec())
            .unwrap_or_default();
        let text = String::from_utf8(bytes).map_err(|_| {
            Failure::new(
                FailureClass::Other,
                None,
                "the credential report is not UTF-8 text",
            )
        })?;
        Ok(Outcome::Report(text))
    }

    /// `secretsmanager:ListSecrets` of the names that start with `prefix` (the `name` filter),
    /// one page.
    async fn list_secrets(
        &self,
        signer: &Signer,
        prefix: &str,
        next_token: Option<String>,
    ) -> Result<Outcome, Failure> {
        use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType};
        let sm = self.secrets(signer).await?;
        self.debug(format_args!("SecretsManager ListSecrets name={prefix}"));
        let out = sm
            .list_secrets()
            .filters(
                Filter::builder()
                    .key(FilterNameStringType::Name)
                    .values(prefix)
                    .build(),
            )
            .max_results(SECRETS_PAGE)
            .set_next_token(next_token)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let secrets = out
            .secret_list()
            .iter()
            .filter_map(|s| {
                Some(SecretEntry {
                    name: s.name()?.to_owned(),
                    description: s.description().map(str::to_owned),
                })
            })
            .collect();
        Ok(Outcome::Secrets {
            secrets,
            next_token: out.next_token().map(str::to_owned),
        })
    }

    /// `secretsmanager:CreateSecret` without a value.
    async fn create_secret(
        &self,
        signer: &Signer,
        name: &str,
        description: &str,
    ) -> Result<Outcome, Failure> {
        let sm = self.secrets(signer).await?;
        self.debug(format_args!("SecretsManager CreateSecret name={name}"));
        sm.create_secret()
            .name(name)
            .description(description)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(Outcome::Done)
    }

    /// `secretsmanager:PutResourcePolicy`.
    async fn put_secret_policy(
        &self,
        signer: &Signer,
        name: &str,
        policy: &str,
    ) -> Result<Outcome, Failure> {
        let sm = self.secrets(signer).await?;
        self.debug(format_args!("SecretsManager PutResourcePolicy name={name}"));
        sm.put_resource_policy()
            .secret_id(name)
            .resource_policy(policy)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(Outcome::Done)
    }

    /// `secretsmanager:UpdateSecret` with the value and the description: one new version, made
    /// once whatever the repeats (`token`).
    async fn store_secret(
        &self,
        signer: &Signer,
        name: &str,
        description: &str,
        value: &Sensitive<String>,
        token: &str,
    ) -> Result<Outcome, Failure> {
        let sm = self.secrets(signer).await?;
        // The value is a secret: its length is all the log says of it.
        self.debug(format_args!(
            "SecretsManager UpdateSecret name={name} token={token} value=({} bytes, not shown)",
            value.expose().len()
        ));
        sm.update_secret()
            .secret_id(name)
            .description(description)
            .secret_string(value.expose().as_str())
            .client_request_token(token)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(Outcome::Done)
    }

    /// `secretsmanager:UpdateSecret` of the description alone (no new version).
    async fn describe_secret(
        &self,
        signer: &Signer,
        name: &str,
        description: &str,
    ) -> Result<Outcome, Failure> {
        let sm = self.secrets(signer).await?;
        self.debug(format_args!(
            "SecretsManager UpdateSecret name={name} (description)"
        ));
        sm.update_secret()
            .secret_id(name)
            .description(description)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(Outcome::Done)
    }

    /// `ses:SendEmail` (v2): one plain-text mail to one owner.
    async fn send_email(
        &self,
        signer: &Signer,
        from: &str,
        to: &str,
        subject: &str,
        body: &str,
    ) -> Result<Outcome, Failure> {
        use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
        let ses = self.ses(signer).await?;
        self.debug(format_args!("SESv2 SendEmail from={from} to={to}"));
        let content = |text: &str| {
            Content::builder()
                .data(text)
                .charset("UTF-8")
                .build()
                .map_err(|e| Failure::new(FailureClass::Other, None, e.to_string()))
        };
        let message = Message::builder()
            .subject(content(subject)?)
            .body(Body::builder().text(content(body)?).build())
            .build();
        ses.send_email()
            .from_email_address(from)
            .destination(Destination::builder().to_addresses(to).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(Outcome::Done)
    }

    /// `secretsmanager:DeleteSecret` without a recovery window: the name is free at once.
    async fn delete_secret(&self, signer: &Signer, name: &str) -> Result<Outcome, Failure> {
        let sm = self.secrets(signer).await?;
        self.debug(format_args!("SecretsManager DeleteSecret name={name}"));
        sm.delete_secret()
            .secret_id(name)
            .force_delete_without_recovery(true)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(Outcome::Done)
    }

    /// `secretsmanager:GetSecretValue`: the `SecretString`, never logged.
    async fn get_secret_value(&self, signer: &Signer, name: &str) -> Result<Outcome, Failure> {
        let sm = self.secrets(signer).await?;
        self.debug(format_args!("SecretsManager GetSecretValue name={name}"));
        let mut out = sm
            .get_secret_value()
            .secret_id(name)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let value = out.secret_string.take().ok_or_else(|| {
            Failure::new(
                FailureClass::Other,
                None,
                format!("the secret {name} holds no text (SecretString)"),
            )
        })?;
        let value = Sensitive::new(value);
        if seal::is_sealed(value.expose()) {
            return self.open_sealed(name, &value).await;
        }
        Ok(Outcome::SecretValue(value))
    }

    /// A delivery sealed to its owner (`fleet rotate --encrypt`), opened with the identity
    /// files `pickup` was given (or `~/.ssh/id_ed25519`, then `~/.ssh/id_rsa`). A passphrase
    /// is asked at a terminal. None that opens it: the failure names the files tried.
    async fn open_sealed(&self, name: &str, value: &Sensitive<String>) -> Result<Outcome, Failure> {
        let files = self.identity_files();
        let sealed = value.expose().clone();
        let name = name.to_owned();
        tokio::task::spawn_blocking(move || super::identity::open(&name, &sealed, &files))
            .await
            .map_err(|e| Failure::new(FailureClass::Other, None, e.to_string()))?
            .map(Outcome::SecretValue)
    }
}
