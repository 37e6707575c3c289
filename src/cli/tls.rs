//! TLS for the SDK clients: the certificate authorities to trust (`--ca-bundle`, `AWS_CA_BUNDLE`,
//! the profile's `ca_bundle`, else the system's), and how a refused certificate is recognised.
//!
//! Every verified request goes through the SDK's own HTTP client (aws-smithy-http-client), built
//! as aws-smithy-runtime builds its default client, so that it honours the proxy variables as the
//! `aws` CLI does. Only `--no-verify-ssl` has a client of its own (`no_verify.rs`). Nothing here
//! logs a request: the secret-free `--debug` lines are written in `aws.rs`.

use std::path::Path;

use anyhow::{Context as _, Result, anyhow, bail};
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

/// The SDK's HTTP client, trusting the CA bundle `ca_bundle` alone where one is named (as in the
/// `aws` CLI, a bundle replaces the system's roots), else the system's roots. Proxies come from
/// the environment (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`, or their lower-case
/// forms); the connect and read timeouts and the sleep come from the SDK's configuration, as in
/// aws-smithy-runtime's `default_https_client`. Its `ConnectorBuilder::default()` leaves
/// TCP_NODELAY off, as `Connector::builder()` does not: with it on, `plan` over HTTPS (the tests'
/// TLS front) took 39 ms instead of 33.
pub(crate) fn verified_client(ca_bundle: Option<&Path>) -> Result<SharedHttpClient> {
    let trust = match ca_bundle {
        Some(path) => TrustStore::empty().with_pem_certificate(read_ca_bundle(path)?),
        None => TrustStore::default(),
    };
    let tls = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .context("setting up TLS")?;
    Ok(
        Builder::new().build_with_connector_fn(move |settings, components| {
            let mut connector = ConnectorBuilder::default()
                .tls_provider(Provider::Rustls(CryptoMode::Ring))
                .tls_context(tls.clone());
            connector.set_connector_settings(settings.cloned());
            if let Some(components) = components {
                connector.set_sleep_impl(components.sleep_impl());
            }
            connector.set_proxy_config(Some(ProxyConfig::from_env()));
            connector.build()
        }),
    )
}

/// A CA bundle (PEM), checked: every certificate in it must be usable, or the file is refused
/// with its name (the SDK's client panics on a certificate it cannot parse).
pub(crate) fn read_ca_bundle(path: &Path) -> Result<Vec<u8>> {
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
    Ok(pem)
}

/// An error and its causes, outermost first. An io::Error's `source()` skips the error it wraps
/// (hyper-rustls wraps rustls's error in two of them): this steps into it instead.
pub(crate) fn causes<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(e), |err| {
        match err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        }
    })
}

/// Whether a request failed because the server's certificate was refused; its words if so.
pub(crate) fn certificate_error(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    causes(e).find_map(|err| match err.downcast_ref::<rustls::Error>() {
        Some(
            tls @ (rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented),
        ) => Some(tls.to_string()),
        _ => None,
    })
}
