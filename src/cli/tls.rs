//! TLS for the SDK clients: the certificate authorities to trust (`--ca-bundle`, `AWS_CA_BUNDLE`,
//! the profile's `ca_bundle`, else the system's), and `--no-verify-ssl`, which trusts any
//! certificate.
//!
//! The clients are hyper-util's client over hyper-rustls, with a rustls configuration made
//! here. The SDK's own HTTP client (aws-smithy-http-client) takes a trust store as PEM text and
//! parses it again, lazily, on the first request: 8 ms of a 15 ms start on the critical path,
//! where this parses the roots once, on a thread of its own started with the process
//! ([`prefetch_system_trust`]). It also has no switch to turn verification off (the pull
//! request that added one, smithy-lang/smithy-rs#4176, was closed unmerged;
//! awslabs/aws-sdk-rust#1175 asks for it), which `--no-verify-ssl` needs: a rustls verifier
//! that accepts every certificate but still checks the handshake's signatures. Where the system's
//! roots are not one bundle file (macOS, Windows, `SSL_CERT_DIR`), the SDK's client with its
//! default trust store is used. Nothing here logs a request: the secret-free `--debug` lines are
//! written in `aws.rs`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector as TcpConnector;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// The system's trusted roots, parsed, where they are one bundle file; `None` where the SDK's
/// default trust store must find them. rustls-native-certs, which that store uses, reads the
/// system's CA bundle *and* every file of its certificate directory (on Debian, 146 files holding
/// the same roots again): 10 ms of a 15 ms start. Where the bundle file alone is known
/// (`SSL_CERT_FILE`, else the distributions' usual places) and reads cleanly, it is used alone;
/// `SSL_CERT_DIR`, macOS and Windows keep the default. Loaded once per process.
pub(crate) fn system_trust() -> Option<rustls::RootCertStore> {
    SYSTEM_TRUST.get_or_init(load_system_trust).clone()
}

static SYSTEM_TRUST: OnceLock<Option<rustls::RootCertStore>> = OnceLock::new();

fn load_system_trust() -> Option<rustls::RootCertStore> {
    const BUNDLES: [&str; 6] = [
        "/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Arch, Gentoo
        "/etc/pki/tls/certs/ca-bundle.crt",   // Fedora, RHEL
        "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // CentOS, RHEL 7
        "/etc/ssl/ca-bundle.pem",             // openSUSE
        "/etc/pki/tls/cacert.pem",            // OpenELEC
        "/etc/ssl/cert.pem",                  // Alpine, FreeBSD
    ];
    if cfg!(any(target_os = "macos", target_os = "windows"))
        || std::env::var_os("SSL_CERT_DIR").is_some()
    {
        return None;
    }
    let file = match std::env::var_os("SSL_CERT_FILE") {
        Some(f) => Some(std::path::PathBuf::from(f)),
        None => BUNDLES
            .iter()
            .map(std::path::PathBuf::from)
            .find(|p| p.is_file()),
    };
    file.and_then(|f| read_ca_bundle(&f).ok())
}

/// The certificates of a CA bundle (PEM), every one of them usable: a bad file is refused, with
/// its name (the SDK's own client panics on a certificate it cannot parse).
pub(crate) fn read_ca_bundle(path: &Path) -> Result<rustls::RootCertStore> {
    let pem =
        std::fs::read(path).with_context(|| format!("reading the CA bundle {}", path.display()))?;
    let mut roots = rustls::RootCertStore::empty();
    for (n, cert) in CertificateDer::pem_slice_iter(&pem).enumerate() {
        let cert = cert.map_err(|e| {
            anyhow!(
                "the CA bundle {} is not a PEM file of certificates: {e}",
                path.display()
            )
        })?;
        roots.add(cert).map_err(|e| {
            anyhow!(
                "the CA bundle {}: certificate {} cannot be used: {e}",
                path.display(),
                n + 1
            )
        })?;
    }
    if roots.is_empty() {
        bail!(
            "the CA bundle {} holds no certificate (expected PEM: -----BEGIN CERTIFICATE-----)",
            path.display()
        );
    }
    Ok(roots)
}

/// Whether a request failed because the server's certificate was refused; its words if so.
pub(crate) fn certificate_error(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            if matches!(
                tls,
                rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented
            ) {
                return Some(tls.to_string());
            }
        }
        // An io::Error's `source()` skips the error it wraps (hyper-rustls wraps rustls's error
        // in two of them): step into it instead.
        cur = match err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    None
}

/// The HTTP client that trusts `roots`.
pub(crate) fn verified_client(roots: rustls::RootCertStore) -> Result<SharedHttpClient> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("setting up TLS")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(SharedHttpClient::new(RustlsClient {
        tls: config,
        connectors: Mutex::new(HashMap::new()),
    }))
}

/// The HTTP client of `--no-verify-ssl`: any certificate is accepted.
pub(crate) fn unverified_client() -> Result<SharedHttpClient> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("setting up TLS")?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
        .with_no_client_auth();
    Ok(SharedHttpClient::new(RustlsClient {
        tls: config,
        connectors: Mutex::new(HashMap::new()),
    }))
}

/// Accepts every server certificate; the handshake's signatures are still checked, so the
/// connection is at least with the holder of the certificate's key.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

type Timeouts = (Option<Duration>, Option<Duration>);

#[derive(Debug)]
struct RustlsClient {
    tls: rustls::ClientConfig,
    /// One connector (and connection pool) per pair of timeouts, as the SDK's client keeps them.
    connectors: Mutex<HashMap<Timeouts, SharedHttpConnector>>,
}

impl HttpClient for RustlsClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let key = (settings.connect_timeout(), settings.read_timeout());
        let mut cache = self
            .connectors
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        cache
            .entry(key)
            .or_insert_with(|| {
                let mut tcp = TcpConnector::new();
                tcp.enforce_http(false);
                tcp.set_connect_timeout(key.0);
                let https = hyper_rustls::HttpsConnectorBuilder::new()
                    .with_tls_config(self.tls.clone())
                    .https_or_http()
                    .enable_http1()
                    .wrap_connector(tcp);
                let client = Client::builder(hyper_util::rt::TokioExecutor::new()).build(https);
                SharedHttpConnector::new(RustlsConnector {
                    client,
                    read_timeout: key.1,
                })
            })
            .clone()
    }
}

struct RustlsConnector {
    client: Client<hyper_rustls::HttpsConnector<TcpConnector>, SdkBody>,
    read_timeout: Option<Duration>,
}

impl std::fmt::Debug for RustlsConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RustlsConnector")
            .field("read_timeout", &self.read_timeout)
            .finish_non_exhaustive()
    }
}

impl HttpConnector for RustlsConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let request = match request.try_into_http1x() {
            Ok(r) => r,
            Err(e) => return HttpConnectorFuture::ready(Err(ConnectorError::user(e.into()))),
        };
        let answer = self.client.request(request);
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            let answer = match read_timeout {
                Some(t) => tokio::time::timeout(t, answer)
                    .await
                    .map_err(|e| ConnectorError::timeout(e.into()))?,
                None => answer.await,
            };
            let response = answer.map_err(|e| {
                if e.is_connect() {
                    ConnectorError::io(e.into())
                } else {
                    ConnectorError::other(e.into(), None)
                }
            })?;
            aws_smithy_runtime_api::http::Response::try_from(response.map(SdkBody::from_body_1_x))
                .map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}
