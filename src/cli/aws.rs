//! IAM and STS through the AWS SDK. SDK types become core types here and only here; every error
//! becomes a [`Failure`] of the class the core needs to decide (retry, undo, stop).
//!
//! The SDK's own retries are off: the core retries, because it knows which calls are safe to
//! repeat (a `CreateAccessKey` whose answer was lost must not simply be sent again).
#![allow(clippy::disallowed_methods)] // the shell reads the environment

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::AfterDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use tokio::sync::Mutex;

use aws_rotate_keys::key::{AccessKeyId, KeyMeta, KeyStatus, SecretAccessKey, UserName};
use aws_rotate_keys::rotation::{Failure, FailureClass};
use aws_rotate_keys::session::Signer;
use aws_rotate_keys::time::{Span, Timestamp};

/// Connection settings, from the command line, environment and profile (see `settings`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Connection {
    pub(crate) region: Option<String>,
    pub(crate) endpoint_url: Option<String>,
    pub(crate) ca_bundle: Option<std::path::PathBuf>,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) read_timeout: Option<Duration>,
    /// `--no-verify-ssl`: accept any server certificate.
    pub(crate) no_verify_ssl: bool,
    pub(crate) debug: bool,
}

/// Asks for an MFA code (the `--token-code`, or a prompt on a terminal). Blocks: it is called
/// on a blocking thread.
pub(crate) type TokenSource = Arc<dyn Fn(&str) -> Result<String, Failure> + Send + Sync>;

/// The clients of a run, one per signer, made on first use.
pub(crate) struct Aws {
    conn: Connection,
    http: aws_smithy_runtime_api::client::http::SharedHttpClient,
    base: Mutex<HashMap<String, SdkConfig>>,
    iam: Mutex<HashMap<String, aws_sdk_iam::Client>>,
    /// Held while an IAM client is made: one MFA session (one code asked) per signer, and one
    /// prompt at a time on the terminal.
    making: Mutex<()>,
    token: TokenSource,
    /// The keys' timestamps as IAM sent them, for `cli_timestamp_format = wire`.
    wire: Arc<WireDates>,
    /// How long an MFA session is asked for (see [`Aws::keep_sessions_for`]).
    session_seconds: std::sync::atomic::AtomicI32,
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
    /// `wire`: where the timestamps of the answers are kept as IAM sent them.
    pub(crate) fn new(conn: Connection, token: TokenSource, wire: Arc<WireDates>) -> Result<Self> {
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
            iam: Mutex::new(HashMap::new()),
            making: Mutex::new(()),
            token,
            wire,
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
        let mut timeouts = TimeoutConfig::builder();
        timeouts =
            timeouts.connect_timeout(self.conn.connect_timeout.unwrap_or(Duration::from_secs(60)));
        if let Some(t) = self.conn.read_timeout {
            timeouts = timeouts.read_timeout(t);
        } else {
            timeouts = timeouts.read_timeout(Duration::from_secs(60));
        }
        // A region is always set, so that aws-config never asks the EC2 metadata service: IAM is
        // global, and STS answers in us-east-1 when nothing else is configured.
        let region = self
            .conn
            .region
            .clone()
            .unwrap_or_else(|| "us-east-1".to_owned());
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
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
    /// caller with SSO, a role...).
    async fn profile_chain(
        &self,
        p: &str,
    ) -> (
        SdkConfig,
        Option<aws_credential_types::provider::SharedCredentialsProvider>,
    ) {
        let base = self.base(Some(p)).await;
        let chain = aws_config::defaults(BehaviorVersion::latest())
            .profile_name(p)
            .region(base.region().cloned())
            .http_client(self.http.clone())
            .load()
            .await;
        let provider = chain.credentials_provider();
        (base, provider)
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

    /// The IAM client for a signer, with an MFA session where the profile has `mfa_serial`.
    async fn iam(&self, signer: &Signer) -> Result<aws_sdk_iam::Client, Failure> {
        let key = match signer {
            Signer::Static { access_key_id, .. } => access_key_id.to_string(),
            Signer::Profile(p) => format!("profile:{p}"),
        };
        if let Some(c) = self.iam.lock().await.get(&key) {
            return Ok(c.clone());
        }
        let _making = self.making.lock().await;
        if let Some(c) = self.iam.lock().await.get(&key) {
            return Ok(c.clone());
        }
        let client = match signer {
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
                aws_sdk_iam::Client::from_conf(
                    aws_sdk_iam::config::Builder::from(&base)
                        .credentials_provider(creds)
                        .build(),
                )
            }
            Signer::Profile(p) => {
                // Admin mode with a profile that is not static keys (SSO, a role...): the SDK's own
                // credential chain for it.
                let (base, chain) = self.profile_chain(p).await;
                let mut b = aws_sdk_iam::config::Builder::from(&base);
                if let Some(provider) = chain {
                    b = b.credentials_provider(provider);
                }
                aws_sdk_iam::Client::from_conf(b.build())
            }
        };
        self.iam.lock().await.insert(key, client.clone());
        Ok(client)
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
            Signer::Profile(p) => {
                let (base, chain) = self.profile_chain(p).await;
                let mut b = aws_sdk_sts::config::Builder::from(&base);
                if let Some(provider) = chain {
                    b = b.credentials_provider(provider);
                }
                self.debug(format_args!("STS GetCallerIdentity profile={p}"));
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
        Ok(self
            .list_keys_dated(signer, user)
            .await?
            .into_iter()
            .map(|(k, _)| k)
            .collect())
    }

    /// `iam:ListAccessKeys` for a user, every page, each key with its `CreateDate` as the `aws`
    /// CLI prints it (`iso8601`, to the microsecond the service gave).
    pub(crate) async fn list_keys_dated(
        &self,
        signer: &Signer,
        user: &UserName,
    ) -> Result<Vec<(KeyMeta, String)>, Failure> {
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
                let created = k
                    .create_date()
                    .map_or(Timestamp::from_millis(0), to_timestamp);
                let shown = k
                    .create_date()
                    .map_or_else(|| created.to_iso8601(), iso8601);
                out.push((
                    KeyMeta {
                        access_key_id: id,
                        status: KeyStatus::parse(status.as_str()).unwrap_or(KeyStatus::Inactive),
                        create_date: created,
                        last_used: None,
                    },
                    shown,
                ));
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
                .map_or(Timestamp::from_millis(0), to_timestamp),
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

/// Which timestamp of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum DateField {
    /// `CreateDate` (ListAccessKeys, CreateAccessKey).
    Created,
    /// `LastUsedDate` (GetAccessKeyLastUsed).
    LastUsed,
}

/// The keys' timestamps exactly as IAM sent them, by key: what `cli_timestamp_format = wire`
/// prints. The SDK parses every timestamp into a `DateTime` and keeps no text, so each call
/// that answers with one reads them from the response's body itself ([`WireDateReader`]).
#[derive(Debug, Default)]
pub(crate) struct WireDates(std::sync::Mutex<HashMap<(String, DateField), String>>);

impl WireDates {
    /// The text IAM sent for this key's timestamp in this run, if any call answered with it.
    pub(crate) fn get(&self, id: &AccessKeyId, field: DateField) -> Option<String> {
        let map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(&(id.as_str().to_owned(), field)).cloned()
    }

    /// Keeps what a reader found; `asked`: the key the request was about, for answers that do
    /// not name their key.
    fn keep(&self, found: Vec<WireDate>, asked: Option<&AccessKeyId>) {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for d in found {
            let id = d
                .access_key_id
                .or_else(|| asked.map(|a| a.as_str().to_owned()));
            if let Some(id) = id {
                map.insert((id, d.field), d.text);
            }
        }
    }
}

/// One timestamp of a response body, as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
struct WireDate {
    /// The `AccessKeyId` beside it, where the answer has one.
    access_key_id: Option<String>,
    field: DateField,
    text: String,
}

/// An interceptor for one call: after the SDK has read and parsed the answer, it reads the
/// same body for its timestamps (`read_after_deserialization`: by then the body is in memory).
/// It looks only at `AccessKeyId`, `CreateDate` and `LastUsedDate` elements and copies nothing
/// else: the `SecretAccessKey` of a CreateAccessKey answer is skipped unread.
#[derive(Debug, Clone, Default)]
struct WireDateReader(Arc<std::sync::Mutex<Vec<WireDate>>>);

impl WireDateReader {
    fn take(&self) -> Vec<WireDate> {
        std::mem::take(
            &mut *self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

impl Intercept for WireDateReader {
    fn name(&self) -> &'static str {
        "aws-rotate-keys wire timestamps"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // An answer the SDK could not parse either has no timestamps worth keeping; never fail
        // the call over them.
        if let Some(body) = context.response().body().bytes() {
            let found = wire_dates(body);
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .extend(found);
        }
        Ok(())
    }
}

/// The `CreateDate` and `LastUsedDate` texts of an IAM (query protocol, XML) answer, each with
/// the `AccessKeyId` of its element, as the XML decoder the SDK uses reads them (entities
/// resolved). A body that is not XML gives none.
fn wire_dates(body: &[u8]) -> Vec<WireDate> {
    use aws_smithy_xml::decode::Document;
    let mut out = Vec::new();
    let Ok(mut doc) = Document::try_from(body) else {
        return out;
    };
    if let Ok(mut root) = doc.root_element() {
        collect_dates(&mut root, 0, &mut out);
    }
    out
}

/// IAM's answers nest a key's fields four elements deep
/// (`ListAccessKeysResponse/ListAccessKeysResult/AccessKeyMetadata/member`): far fewer than this.
const MAX_XML_DEPTH: usize = 16;

fn collect_dates(
    el: &mut aws_smithy_xml::decode::ScopedDecoder<'_, '_>,
    depth: usize,
    out: &mut Vec<WireDate>,
) {
    use aws_smithy_xml::decode::try_data;
    let mut id = None;
    let mut dates = Vec::new();
    while let Some(mut child) = el.next_tag() {
        let field = if child.start_el().matches("CreateDate") {
            Some(DateField::Created)
        } else if child.start_el().matches("LastUsedDate") {
            Some(DateField::LastUsed)
        } else {
            None
        };
        if let Some(field) = field {
            if let Ok(text) = try_data(&mut child) {
                dates.push((field, text.into_owned()));
            }
        } else if child.start_el().matches("AccessKeyId") {
            id = try_data(&mut child).ok().map(|t| t.into_owned());
        } else if child.start_el().matches("SecretAccessKey") {
            // Dropped unread: the decoder skips to its end.
        } else if depth < MAX_XML_DEPTH {
            collect_dates(&mut child, depth + 1, out);
        }
    }
    out.extend(dates.into_iter().map(|(field, text)| WireDate {
        access_key_id: id.clone(),
        field,
        text,
    }));
}

fn to_timestamp(t: &aws_smithy_types::DateTime) -> Timestamp {
    Timestamp::from_millis(t.to_millis().unwrap_or(0))
}

/// A timestamp as the `aws` CLI prints it with `cli_timestamp_format = iso8601` (Python's
/// `datetime.isoformat()` in UTC): `2013-06-04T18:17:34+00:00`, or with `.ffffff` when the
/// service gave a fraction of a second.
fn iso8601(t: &aws_smithy_types::DateTime) -> String {
    let whole = Timestamp::from_millis(t.secs().saturating_mul(1000)).to_iso8601();
    let micros = t.subsec_nanos() / 1000;
    match (micros, whole.strip_suffix("+00:00")) {
        (0, _) | (_, None) => whole,
        (us, Some(head)) => format!("{head}.{us:06}+00:00"),
    }
}

/// A GetSessionToken that failed, named as such (the core sees it as the failure of the IAM call
/// it was made for), with what to do.
fn session_failure(mut f: Failure, serial: &str) -> Failure {
    f.operation = Some("GetSessionToken");
    if f.message.contains("MultiFactorAuthentication") {
        f.message = format!(
            "{} The MFA session with {serial} was refused: run again with the code that device shows now (--token-code CODE), and check the profile's mfa_serial",
            f.message.trim_end()
        );
    } else {
        f.message = format!("{} (the MFA session with {serial})", f.message.trim_end());
    }
    f
}

/// An SDK error as the core sees it.
pub(crate) fn classify<E, R>(e: &SdkError<E, R>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + HttpStatus + 'static,
{
    match e {
        SdkError::ServiceError(se) => {
            let status = se.raw().status_code();
            let err = se.err();
            let code = err.code().map(str::to_owned);
            let message = err
                .message()
                .map(str::to_owned)
                .unwrap_or_else(|| match &code {
                    Some(c) => c.clone(),
                    None => format!("HTTP {status}"),
                });
            let class = match code.as_deref() {
                Some(
                    "Throttling"
                    | "ThrottlingException"
                    | "RequestLimitExceeded"
                    | "TooManyRequestsException",
                ) => FailureClass::Throttled,
                Some(
                    "InvalidClientTokenId"
                    | "SignatureDoesNotMatch"
                    | "InvalidAccessKeyId"
                    | "UnrecognizedClientException",
                ) => FailureClass::NotAuthenticated,
                Some("NoSuchEntity") => FailureClass::NotFound,
                Some("LimitExceeded") => FailureClass::LimitExceeded,
                Some("AccessDenied" | "AccessDeniedException") => FailureClass::AccessDenied,
                Some(
                    "ServiceFailure" | "InternalFailure" | "InternalError" | "ServiceUnavailable",
                ) => FailureClass::Transient,
                // moto wraps its authentication errors in an extra <Errors> element that the
                // SDK does not parse: a 403 without a code is an unknown or unusable key.
                None if status == 403 => FailureClass::NotAuthenticated,
                _ if status >= 500 => FailureClass::Transient,
                _ if status == 429 => FailureClass::Throttled,
                _ => FailureClass::Other,
            };
            let code = code.or_else(|| (status == 403).then(|| "InvalidClientTokenId".to_owned()));
            Failure {
                class,
                code,
                message,
                operation: None,
            }
        }
        SdkError::TimeoutError(_) => {
            Failure::new(FailureClass::Transient, None, "the request timed out")
        }
        SdkError::DispatchFailure(_) if super::proxy::failure(e).is_some() => {
            // Not retried: a proxy that refuses, or that is not there, does the same next time.
            let proxy = super::proxy::failure(e).map(ToString::to_string);
            Failure::new(FailureClass::Other, None, proxy.unwrap_or_default())
        }
        SdkError::DispatchFailure(_) if super::tls::certificate_error(e).is_some() => {
            let why = super::tls::certificate_error(e).unwrap_or_default();
            // Not worth retrying: the next attempt meets the same certificate.
            Failure::new(
                FailureClass::Other,
                None,
                format!(
                    "SSL validation failed: {why}. To trust the certificate authority that signed the endpoint's certificate, pass --ca-bundle FILE (or set AWS_CA_BUNDLE, or ca_bundle in the profile); --no-verify-ssl skips the check"
                ),
            )
        }
        SdkError::DispatchFailure(d) => {
            let what = if d.is_timeout() {
                "the connection timed out"
            } else {
                "the connection failed"
            };
            Failure::new(
                FailureClass::Transient,
                None,
                format!("{what}: {}", source_chain(e)),
            )
        }
        SdkError::ResponseError(_) => Failure::new(
            FailureClass::Transient,
            None,
            format!("the answer could not be read: {}", source_chain(e)),
        ),
        _ => Failure::new(FailureClass::Other, None, source_chain(e)),
    }
}

fn source_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// The HTTP status of a raw response.
pub(crate) trait HttpStatus {
    fn status_code(&self) -> u16;
}

impl HttpStatus for aws_smithy_runtime_api::http::Response {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
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

    fn date(id: Option<&str>, field: DateField, text: &str) -> WireDate {
        WireDate {
            access_key_id: id.map(str::to_owned),
            field,
            text: text.to_owned(),
        }
    }

    #[test]
    fn wire_dates_are_read_as_sent_with_their_key() {
        let list = br#"<ListAccessKeysResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <ListAccessKeysResult>
    <AccessKeyMetadata>
      <member><UserName>bob</UserName><AccessKeyId>AKIAIOSFODNN7EXAMPLE</AccessKeyId>
        <Status>Active</Status><CreateDate>2013-06-04T18:17:34Z</CreateDate></member>
      <member><CreateDate>2013-06-06T20:42:26.123456+00:00</CreateDate>
        <AccessKeyId>AKIAI44QH8DHBEXAMPLE</AccessKeyId></member>
    </AccessKeyMetadata>
    <IsTruncated>false</IsTruncated>
  </ListAccessKeysResult>
  <ResponseMetadata><RequestId>7a62c49f</RequestId></ResponseMetadata>
</ListAccessKeysResponse>"#;
        assert_eq!(
            wire_dates(list),
            [
                date(
                    Some("AKIAIOSFODNN7EXAMPLE"),
                    DateField::Created,
                    "2013-06-04T18:17:34Z"
                ),
                date(
                    Some("AKIAI44QH8DHBEXAMPLE"),
                    DateField::Created,
                    "2013-06-06T20:42:26.123456+00:00"
                ),
            ]
        );
        let last = b"<GetAccessKeyLastUsedResponse><GetAccessKeyLastUsedResult>\
            <AccessKeyLastUsed><Region>us-east-1</Region><LastUsedDate>2015-03-13T10:45:00Z</LastUsedDate>\
            <ServiceName>iam</ServiceName></AccessKeyLastUsed><UserName>bob</UserName>\
            </GetAccessKeyLastUsedResult></GetAccessKeyLastUsedResponse>";
        assert_eq!(
            wire_dates(last),
            [date(None, DateField::LastUsed, "2015-03-13T10:45:00Z")]
        );
        assert!(wire_dates(b"not xml at all").is_empty());
        assert!(wire_dates(b"").is_empty());
    }

    #[test]
    fn a_new_keys_secret_is_never_read() {
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY";
        let body = format!(
            "<CreateAccessKeyResponse><CreateAccessKeyResult><AccessKey>\
             <UserName>bob</UserName><AccessKeyId>AKIAIOSFODNN7EXAMPLE</AccessKeyId>\
             <Status>Active</Status><SecretAccessKey>{secret}</SecretAccessKey>\
             <CreateDate>2015-03-09T18:39:23Z</CreateDate>\
             </AccessKey></CreateAccessKeyResult></CreateAccessKeyResponse>"
        );
        let found = wire_dates(body.as_bytes());
        assert_eq!(
            found,
            [date(
                Some("AKIAIOSFODNN7EXAMPLE"),
                DateField::Created,
                "2015-03-09T18:39:23Z"
            )]
        );
        assert!(!format!("{found:?}").contains(secret));
        // Kept by key; an answer that names no key is filed under the key asked about.
        let wire = WireDates::default();
        wire.keep(found, None);
        let id = AccessKeyId::new("AKIAIOSFODNN7EXAMPLE").expect("a key id");
        wire.keep(
            vec![date(None, DateField::LastUsed, "2015-03-13T10:45:00Z")],
            Some(&id),
        );
        assert_eq!(
            wire.get(&id, DateField::Created).as_deref(),
            Some("2015-03-09T18:39:23Z")
        );
        assert_eq!(
            wire.get(&id, DateField::LastUsed).as_deref(),
            Some("2015-03-13T10:45:00Z")
        );
    }
}
