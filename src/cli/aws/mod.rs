//! IAM, STS and Secrets Manager through the AWS SDK: [`Aws::execute`] performs the core's
//! requests (the fleet's in [`fleet`]). SDK types become core types here and only here; every
//! error becomes a [`Failure`] of the class the core needs to decide (retry, undo, stop), in
//! [`error`].
//!
//! The SDK's own retries are off: the core retries, because it knows which calls are safe to
//! repeat (a `CreateAccessKey` whose answer was lost must not simply be sent again).

mod error;
mod fleet;
mod identity;
mod role;
mod wire;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use tokio::sync::Mutex;

use aws_rotate_keys::action::{Action, Failure, FailureClass, Outcome};
use aws_rotate_keys::key::{AccessKeyId, KeyMeta, KeyStatus, SecretAccessKey, UserName};
use aws_rotate_keys::output::{TimestampFormat, Timestamps};
use aws_rotate_keys::session::Signer;
use aws_rotate_keys::time::{Span, Timestamp};

use super::settings::Connection;
pub(crate) use error::classify;
use error::session_failure;
use wire::{WireDateReader, WireDates};

/// Asks for an MFA code (the `--token-code`, or a prompt on a terminal). Blocks: it is called
/// on a blocking thread.
pub(crate) type TokenSource = Arc<dyn Fn(&str) -> Result<String, Failure> + Send + Sync>;

/// The clients of a run, one per signer, made on first use.
pub(crate) struct Aws {
    conn: Connection,
    http: aws_smithy_runtime_api::client::http::SharedHttpClient,
    base: Mutex<HashMap<String, SdkConfig>>,
    /// Each signer's configuration and credentials, shared by its clients.
    signing: Mutex<HashMap<String, Signing>>,
    /// `pickup`: the identity files that open a sealed delivery (named: a missing one is an
    /// error), or none given: OpenSSH's defaults.
    identity_files: std::sync::Mutex<Vec<PathBuf>>,
    /// The roles that could not be assumed, with STS's answer.
    refused: Mutex<HashMap<String, Failure>>,
    iam: Mutex<HashMap<String, aws_sdk_iam::Client>>,
    secrets: Mutex<HashMap<String, aws_sdk_secretsmanager::Client>>,
    ses: Mutex<HashMap<String, aws_sdk_sesv2::Client>>,
    /// Held while a signer's credentials are made: one MFA session (one code asked) per signer,
    /// and one prompt at a time on the terminal.
    making: Mutex<()>,
    token: TokenSource,
    /// The keys' timestamps as IAM sent them, for `cli_timestamp_format = wire`.
    wire: WireDates,
    /// How long an MFA session is asked for (see [`Aws::keep_sessions_for`]).
    session_seconds: std::sync::atomic::AtomicI32,
}

/// What signs a signer's requests: the base configuration (region, endpoints, HTTP client) and
/// the credentials (`None`: the SDK's chain found none; the request then fails as the `aws`
/// CLI's would).
type Signing = (SdkConfig, Option<SharedCredentialsProvider>);

/// The cache key of a signer's clients.
fn signer_key(signer: &Signer) -> String {
    match signer {
        Signer::Static { access_key_id, .. } => access_key_id.to_string(),
        Signer::Profile(p) => format!("profile:{p}"),
        Signer::Role { source, role_arn } => format!("role:{role_arn}:{}", signer_key(source)),
    }
}

/// STS's shortest session, and the default of a long-term key's `GetSessionToken`.
const SESSION_MIN_SECONDS: i32 = 900;
const SESSION_MAX_SECONDS: i32 = 43_200;

/// The MFA session's length for a run that may wait `verify` for a new key (see
/// [`Aws::keep_sessions_for`]).
fn session_seconds(verify: Span) -> i32 {
    let want = (verify.as_millis() / 1000).saturating_add(SESSION_MIN_SECONDS as u64);
    i32::try_from(want)
        .unwrap_or(SESSION_MAX_SECONDS)
        .clamp(SESSION_MIN_SECONDS, SESSION_MAX_SECONDS)
}

impl Aws {
    /// The clients of a run that reaches AWS as `conn` says, asking `token` for MFA codes.
    pub(crate) fn new(conn: Connection, token: TokenSource) -> Result<Self> {
        // Both clients honour the proxy variables, as the `aws` CLI does; a failure through a
        // proxy names it.
        let proxies = super::proxy::from_env();
        let http = if conn.no_verify_ssl {
            super::no_verify::client(proxies.clone())?
        } else {
            super::tls::verified_client(conn.ca_bundle.as_deref())?
        };
        let http = super::proxy::labelled(http, proxies);
        Ok(Self {
            conn,
            http,
            base: Mutex::new(HashMap::new()),
            signing: Mutex::new(HashMap::new()),
            refused: Mutex::new(HashMap::new()),
            identity_files: std::sync::Mutex::new(Vec::new()),
            iam: Mutex::new(HashMap::new()),
            secrets: Mutex::new(HashMap::new()),
            ses: Mutex::new(HashMap::new()),
            making: Mutex::new(()),
            token,
            wire: WireDates::default(),
            session_seconds: std::sync::atomic::AtomicI32::new(SESSION_MIN_SECONDS),
        })
    }

    /// The SDK configuration of a profile: region, endpoints (including `AWS_ENDPOINT_URL_IAM`,
    /// `_STS`, the profile's `endpoint_url` and `services` section, which aws-config reads), the
    /// HTTP client and timeouts. No credentials: each client gets its signer's.
    async fn base(&self, profile: Option<&str>) -> SdkConfig {
        let key = profile.unwrap_or("").to_owned();
        let mut cache = self.base.lock().await;
        if let Some(c) = cache.get(&key) {
            return c.clone();
        }
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(self.conn.connect_timeout)
            .read_timeout(self.conn.read_timeout);
        // A region is always set, so that aws-config never asks the EC2 metadata service: IAM is
        // global, and STS answers in us-east-1 when nothing else is configured.
        let region = self
            .conn
            .region
            .clone()
            .unwrap_or_else(|| "us-east-1".to_owned());
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .profile_files(self.profile_files())
            .region(Region::new(region))
            .http_client(self.http.clone())
            .retry_config(RetryConfig::disabled())
            .timeout_config(timeouts.build())
            .no_credentials();
        if let Some(p) = profile {
            loader = loader.profile_name(p);
        }
        if let Some(url) = &self.conn.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let config = loader.load().await;
        cache.insert(key, config.clone());
        config
    }

    /// A profile's base configuration and the SDK's own credential chain for it (admin mode's
    /// caller and the fleet's administrator, with a role, a `credential_process`, static
    /// keys...). As in the `aws` CLI, a profile named by `--profile` is the profile's alone:
    /// credentials in the environment (`AWS_ACCESS_KEY_ID`) are not used; otherwise they come
    /// first, as botocore's chain has them.
    async fn profile_chain(&self, p: &str) -> Signing {
        let base = self.base(Some(p)).await;
        if self.conn.profile_only {
            let config = aws_config::provider_config::ProviderConfig::without_region()
                .with_region(base.region().cloned())
                .with_http_client(self.http.clone());
            let provider = aws_config::profile::ProfileFileCredentialsProvider::builder()
                .profile_files(self.profile_files())
                .profile_name(p)
                .configure(&config)
                .build();
            return (base, Some(SharedCredentialsProvider::new(provider)));
        }
        let chain = aws_config::defaults(BehaviorVersion::latest())
            .profile_files(self.profile_files())
            .profile_name(p)
            .region(base.region().cloned())
            .http_client(self.http.clone())
            .load()
            .await;
        let provider = chain.credentials_provider();
        (base, provider)
    }

    /// The files the SDK reads a profile from: this run's (see [`Connection::files`]).
    fn profile_files(&self) -> EnvConfigFiles {
        EnvConfigFiles::builder()
            .with_file(EnvConfigFileKind::Config, &self.conn.files.config)
            .with_file(EnvConfigFileKind::Credentials, &self.conn.files.credentials)
            .build()
    }

    fn debug(&self, what: std::fmt::Arguments<'_>) {
        if self.conn.debug {
            eprintln!("debug: {what}");
        }
    }

    async fn sts_with(
        &self,
        profile: Option<&str>,
        id: &AccessKeyId,
        secret: &SecretAccessKey,
        token: Option<String>,
    ) -> aws_sdk_sts::Client {
        let base = self.base(profile).await;
        let creds = Credentials::new(id.as_str(), secret.expose(), token, None, "aws-rotate-keys");
        aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::config::Builder::from(&base)
                .credentials_provider(creds)
                .build(),
        )
    }

    /// A signer's configuration and credentials, made once per signer: with an MFA session
    /// where the profile has `mfa_serial`, with the SDK's chain for a [`Signer::Profile`].
    async fn signing(&self, signer: &Signer) -> Result<Signing, Failure> {
        let key = signer_key(signer);
        if let Some(s) = self.signing.lock().await.get(&key) {
            return Ok(s.clone());
        }
        let _making = self.making.lock().await;
        if let Some(s) = self.signing.lock().await.get(&key) {
            return Ok(s.clone());
        }
        let signing = match signer {
            Signer::Static {
                profile,
                access_key_id,
                secret,
                mfa_serial,
            } => {
                let base = self.base(profile.as_deref()).await;
                let creds = match mfa_serial {
                    None => Credentials::new(
                        access_key_id.as_str(),
                        secret.expose(),
                        None,
                        None,
                        "aws-rotate-keys",
                    ),
                    Some(serial) => {
                        self.mfa_session(profile.as_deref(), access_key_id, secret, serial)
                            .await?
                    }
                };
                (base, Some(SharedCredentialsProvider::new(creds)))
            }
            Signer::Profile(p) => self.profile_chain(p).await,
            Signer::Role { source, role_arn } => {
                drop(_making);
                let source = Box::pin(self.signing(source)).await?;
                let _making = self.making.lock().await;
                if let Some(s) = self.signing.lock().await.get(&key) {
                    return Ok(s.clone());
                }
                if let Some(f) = self.refused.lock().await.get(&key) {
                    return Err(f.clone());
                }
                match self.role(source, role_arn).await {
                    Ok(s) => s,
                    Err(f) => {
                        self.refused.lock().await.insert(key, f.clone());
                        return Err(f);
                    }
                }
            }
        };
        self.signing.lock().await.insert(key, signing.clone());
        Ok(signing)
    }

    /// A role's signing: assumed once now, so that a refusal is told as STS's error (and
    /// remembered: every request of that account fails alike); renewed as it nears its end.
    async fn role(&self, (base, source): Signing, role_arn: &str) -> Result<Signing, Failure> {
        let Some(source) = source else {
            return Err(Failure::new(
                FailureClass::Other,
                None,
                format!("no credentials to assume {role_arn} with"),
            ));
        };
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::config::Builder::from(&base)
                .credentials_provider(source)
                .build(),
        );
        self.debug(format_args!("STS AssumeRole RoleArn={role_arn}"));
        let creds = role::RoleCredentials::new(sts, role_arn);
        creds.get().await?;
        Ok((base, Some(SharedCredentialsProvider::new(creds))))
    }

    /// The IAM client for a signer.
    async fn iam(&self, signer: &Signer) -> Result<aws_sdk_iam::Client, Failure> {
        let key = signer_key(signer);
        if let Some(c) = self.iam.lock().await.get(&key) {
            return Ok(c.clone());
        }
        let (base, creds) = self.signing(signer).await?;
        let mut b = aws_sdk_iam::config::Builder::from(&base);
        if let Some(provider) = creds {
            b = b.credentials_provider(provider);
        }
        let client = aws_sdk_iam::Client::from_conf(b.build());
        self.iam.lock().await.insert(key, client.clone());
        Ok(client)
    }

    /// The Secrets Manager client for a signer: the IAM client's configuration, credentials and
    /// endpoint settings (`--endpoint-url`, else `AWS_ENDPOINT_URL_SECRETS_MANAGER`, the
    /// profile's `services` section, `AWS_ENDPOINT_URL`, as aws-config reads them), in the run's
    /// region (where the delivery secrets are).
    async fn secrets(&self, signer: &Signer) -> Result<aws_sdk_secretsmanager::Client, Failure> {
        let key = signer_key(signer);
        if let Some(c) = self.secrets.lock().await.get(&key) {
            return Ok(c.clone());
        }
        let (base, creds) = self.signing(signer).await?;
        let mut b = aws_sdk_secretsmanager::config::Builder::from(&base);
        if let Some(provider) = creds {
            b = b.credentials_provider(provider);
        }
        let client = aws_sdk_secretsmanager::Client::from_conf(b.build());
        self.secrets.lock().await.insert(key, client.clone());
        Ok(client)
    }

    /// The SES client for a signer (`--notify-from`), in the run's region, with the same
    /// endpoint settings as the others (`AWS_ENDPOINT_URL_SESV2` for SES alone).
    async fn ses(&self, signer: &Signer) -> Result<aws_sdk_sesv2::Client, Failure> {
        let key = signer_key(signer);
        if let Some(c) = self.ses.lock().await.get(&key) {
            return Ok(c.clone());
        }
        let (base, creds) = self.signing(signer).await?;
        let mut b = aws_sdk_sesv2::config::Builder::from(&base);
        if let Some(provider) = creds {
            b = b.credentials_provider(provider);
        }
        let client = aws_sdk_sesv2::Client::from_conf(b.build());
        self.ses.lock().await.insert(key, client.clone());
        Ok(client)
    }

    /// `pickup --identity`: the files that open sealed deliveries.
    pub(crate) fn set_identity_files(&self, files: Vec<PathBuf>) {
        *self
            .identity_files
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = files;
    }

    /// The identity files to try, each with whether it was named.
    fn identity_files(&self) -> Vec<(PathBuf, bool)> {
        let named = self
            .identity_files
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        if named.is_empty() {
            identity::default_files()
                .into_iter()
                .map(|f| (f, false))
                .collect()
        } else {
            named.into_iter().map(|f| (f, true)).collect()
        }
    }

    /// Makes MFA sessions last the whole of a run that may wait `verify` for a new key (the old
    /// key is retired with the session after that wait): that wait plus a quarter of an hour,
    /// within STS's 15 minutes to 12 hours. The session stays in memory only.
    pub(crate) fn keep_sessions_for(&self, verify: Span) {
        self.session_seconds.store(
            session_seconds(verify),
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    async fn mfa_session(
        &self,
        profile: Option<&str>,
        id: &AccessKeyId,
        secret: &SecretAccessKey,
        serial: &str,
    ) -> Result<Credentials, Failure> {
        // On a blocking thread, as the removal question: a prompt waits for a line, and Ctrl-C
        // must still end the run (exit 130) meanwhile, whichever task asked.
        let token = self.token.clone();
        let asked = serial.to_owned();
        let code = tokio::task::spawn_blocking(move || token(&asked))
            .await
            .map_err(|e| {
                Failure::new(
                    FailureClass::Other,
                    None,
                    format!("the MFA code could not be read: {e}"),
                )
            })??;
        self.debug(format_args!(
            "STS GetSessionToken signer={id} serial={serial}"
        ));
        let sts = self.sts_with(profile, id, secret, None).await;
        let out = sts
            .get_session_token()
            .serial_number(serial)
            .token_code(code)
            .duration_seconds(
                self.session_seconds
                    .load(std::sync::atomic::Ordering::Relaxed),
            )
            .send()
            .await
            .map_err(|e| session_failure(classify(&e), serial))?;
        let c = out.credentials().ok_or_else(|| {
            Failure::new(
                FailureClass::Other,
                None,
                "GetSessionToken returned no credentials",
            )
        })?;
        Ok(Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            None,
            "aws-rotate-keys-mfa",
        ))
    }

    /// Performs a request of the core, signed by `signer`, and says how it went; `None` for an
    /// action that is not a request to AWS.
    pub(crate) async fn execute(&self, signer: &Signer, action: &Action) -> Option<Outcome> {
        let answer = match action {
            Action::Identify => self
                .identify(signer)
                .await
                .map(|arn| Outcome::Verified { arn }),
            Action::ListKeys { user_name } => {
                self.list_keys(signer, user_name).await.map(Outcome::Keys)
            }
            Action::LastUsed { access_key_id } => self
                .last_used(signer, access_key_id)
                .await
                .map(Outcome::LastUsed),
            Action::CreateKey { user_name } => self.create_key(signer, user_name).await.map(
                |(access_key_id, secret, create_date)| Outcome::KeyCreated {
                    access_key_id,
                    secret,
                    create_date,
                },
            ),
            Action::DeleteKey {
                user_name,
                access_key_id,
                ..
            } => self
                .delete_key(signer, user_name, access_key_id)
                .await
                .map(|()| Outcome::Done),
            Action::DeactivateKey {
                user_name,
                access_key_id,
            } => self
                .deactivate_key(signer, user_name, access_key_id)
                .await
                .map(|()| Outcome::Done),
            Action::VerifyKey {
                access_key_id,
                secret,
            } => {
                let profile = match signer {
                    Signer::Static { profile, .. } => profile.as_deref(),
                    Signer::Profile(p) => Some(p.as_str()),
                    Signer::Role { .. } => None,
                };
                self.verify_as(profile, access_key_id, secret)
                    .await
                    .map(|arn| Outcome::Verified { arn })
            }
            other => self.execute_fleet(signer, other).await?,
        };
        Some(answer.unwrap_or_else(Outcome::Failed))
    }

    /// How the output prints timestamps: in `format`, with the texts IAM sent so far.
    pub(crate) fn timestamps(&self, format: TimestampFormat) -> Timestamps {
        self.wire.timestamps(format)
    }

    /// `sts:GetCallerIdentity` with a signer: the caller's ARN.
    pub(crate) async fn identify(&self, signer: &Signer) -> Result<String, Failure> {
        match signer {
            Signer::Static {
                profile,
                access_key_id,
                secret,
                ..
            } => {
                self.verify_as(profile.as_deref(), access_key_id, secret)
                    .await
            }
            Signer::Profile(_) | Signer::Role { .. } => {
                let (base, chain) = self.signing(signer).await?;
                let mut b = aws_sdk_sts::config::Builder::from(&base);
                if let Some(provider) = chain {
                    b = b.credentials_provider(provider);
                }
                self.debug(format_args!("STS GetCallerIdentity {}", signer_key(signer)));
                let out = aws_sdk_sts::Client::from_conf(b.build())
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| classify(&e))?;
                out.arn()
                    .map(str::to_owned)
                    .ok_or_else(|| Failure::new(FailureClass::Other, None, "no Arn in the answer"))
            }
        }
    }

    /// `sts:GetCallerIdentity` signed by a key (the verification of a new key).
    pub(crate) async fn verify_as(
        &self,
        profile: Option<&str>,
        id: &AccessKeyId,
        secret: &SecretAccessKey,
    ) -> Result<String, Failure> {
        self.debug(format_args!("STS GetCallerIdentity signer={id}"));
        let sts = self.sts_with(profile, id, secret, None).await;
        let out = sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| classify(&e));
        self.debug(format_args!(
            "  -> {}",
            if out.is_ok() { "ok" } else { "refused" }
        ));
        let out = out?;
        out.arn()
            .map(str::to_owned)
            .ok_or_else(|| Failure::new(FailureClass::Other, None, "no Arn in the answer"))
    }

    /// `iam:ListAccessKeys` for a user, every page.
    pub(crate) async fn list_keys(
        &self,
        signer: &Signer,
        user: &UserName,
    ) -> Result<Vec<KeyMeta>, Failure> {
        let iam = self.iam(signer).await?;
        self.debug(format_args!("IAM ListAccessKeys user={user}"));
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let reader = WireDateReader::default();
            let page = iam
                .list_access_keys()
                .user_name(user.as_str())
                .set_marker(marker.take())
                .customize()
                .interceptor(reader.clone())
                .send()
                .await
                .map_err(|e| classify(&e))?;
            self.wire.keep(reader.take(), None);
            for k in page.access_key_metadata() {
                let (Some(id), Some(status)) =
                    (k.access_key_id().and_then(AccessKeyId::new), k.status())
                else {
                    continue;
                };
                out.push(KeyMeta {
                    access_key_id: id,
                    status: KeyStatus::parse(status.as_str()).unwrap_or(KeyStatus::Inactive),
                    create_date: k
                        .create_date()
                        .map_or(Timestamp::from_micros(0), to_timestamp),
                    last_used: None,
                });
            }
            match page.marker() {
                Some(m) if page.is_truncated() => marker = Some(m.to_owned()),
                _ => break,
            }
        }
        Ok(out)
    }

    /// `iam:CreateAccessKey` for a user.
    pub(crate) async fn create_key(
        &self,
        signer: &Signer,
        user: &UserName,
    ) -> Result<(AccessKeyId, SecretAccessKey, Timestamp), Failure> {
        let iam = self.iam(signer).await?;
        self.debug(format_args!("IAM CreateAccessKey user={user}"));
        let reader = WireDateReader::default();
        let out = iam
            .create_access_key()
            .user_name(user.as_str())
            .customize()
            .interceptor(reader.clone())
            .send()
            .await
            .map_err(|e| classify(&e))?;
        self.wire.keep(reader.take(), None);
        let k = out.access_key().ok_or_else(|| {
            Failure::new(FailureClass::Other, None, "CreateAccessKey returned no key")
        })?;
        let id = AccessKeyId::new(k.access_key_id()).ok_or_else(|| {
            Failure::new(
                FailureClass::Other,
                None,
                "CreateAccessKey returned a malformed key id",
            )
        })?;
        let secret = SecretAccessKey::new(k.secret_access_key()).ok_or_else(|| {
            Failure::new(
                FailureClass::Other,
                None,
                "CreateAccessKey returned a malformed secret",
            )
        })?;
        self.debug(format_args!("  -> created {id}"));
        Ok((
            id,
            secret,
            k.create_date()
                .map_or(Timestamp::from_micros(0), to_timestamp),
        ))
    }

    /// `iam:DeleteAccessKey`.
    pub(crate) async fn delete_key(
        &self,
        signer: &Signer,
        user: &UserName,
        id: &AccessKeyId,
    ) -> Result<(), Failure> {
        let iam = self.iam(signer).await?;
        self.debug(format_args!("IAM DeleteAccessKey user={user} key={id}"));
        iam.delete_access_key()
            .user_name(user.as_str())
            .access_key_id(id.as_str())
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(())
    }

    /// `iam:UpdateAccessKey --status Inactive`.
    pub(crate) async fn deactivate_key(
        &self,
        signer: &Signer,
        user: &UserName,
        id: &AccessKeyId,
    ) -> Result<(), Failure> {
        let iam = self.iam(signer).await?;
        self.debug(format_args!(
            "IAM UpdateAccessKey user={user} key={id} status=Inactive"
        ));
        iam.update_access_key()
            .user_name(user.as_str())
            .access_key_id(id.as_str())
            .status(aws_sdk_iam::types::StatusType::Inactive)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(())
    }

    /// `iam:GetAccessKeyLastUsed`.
    pub(crate) async fn last_used(
        &self,
        signer: &Signer,
        id: &AccessKeyId,
    ) -> Result<Option<Timestamp>, Failure> {
        let iam = self.iam(signer).await?;
        self.debug(format_args!("IAM GetAccessKeyLastUsed key={id}"));
        let reader = WireDateReader::default();
        let out = iam
            .get_access_key_last_used()
            .access_key_id(id.as_str())
            .customize()
            .interceptor(reader.clone())
            .send()
            .await
            .map_err(|e| classify(&e))?;
        // The answer does not name the key: it is the one asked about.
        self.wire.keep(reader.take(), Some(id));
        Ok(out
            .access_key_last_used()
            .and_then(|u| u.last_used_date())
            .map(to_timestamp))
    }
}

/// A timestamp of an answer, to the microsecond the service gave (the `aws` CLI prints them).
fn to_timestamp(t: &aws_smithy_types::DateTime) -> Timestamp {
    let micros = t
        .secs()
        .saturating_mul(1_000_000)
        .saturating_add(i64::from(t.subsec_nanos() / 1000));
    Timestamp::from_micros(micros)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mfa_sessions_outlast_the_wait_for_the_new_key() {
        // The default --verify-timeout (120 s): a quarter of an hour more.
        assert_eq!(session_seconds(Span::from_secs(120)), 1020);
        assert_eq!(session_seconds(Span::from_secs(0)), 900);
        assert_eq!(session_seconds(Span::from_secs(7200)), 8100);
        // STS's longest session for a long-term key's GetSessionToken.
        assert_eq!(session_seconds(Span::from_secs(86_400)), 43_200);
        assert_eq!(session_seconds(Span::from_millis(u64::MAX)), 43_200);
    }
}
