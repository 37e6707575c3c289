//! The HTTP client of `--no-verify-ssl`, which accepts any server certificate. It exists because
//! the SDK's client cannot be told to (the pull request that added a switch,
//! smithy-lang/smithy-rs#4176, was closed unmerged; awslabs/aws-sdk-rust#1175 asks for it). Every
//! verified request goes through the SDK's client instead (`tls.rs`).
//!
//! It is hyper-util's client over hyper-rustls, with a rustls verifier that accepts every
//! certificate but still checks the handshake's signatures. It honours the proxy variables as
//! the SDK's client does (hyper-util's [`Matcher::from_env`]): TLS-intercepting corporate proxies
//! are where `--no-verify-ssl` is used. An `https://` endpoint is reached through a CONNECT
//! tunnel; a plain `http://` one by sending the request to the proxy in absolute form, with a
//! `Proxy-Authorization` made from the credentials in the proxy's URL. Only `http://` proxies.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::{Context as _, Result};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use hyper::Uri;
use hyper::http::uri::Scheme;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector as TcpConnector};
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::net::TcpStream;
use tower_service::Service;

/// The client; `proxies`: which requests go through which proxy.
pub(crate) fn client(proxies: Arc<Matcher>) -> Result<SharedHttpClient> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("setting up TLS")?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
        .with_no_client_auth();
    Ok(SharedHttpClient::new(NoVerifyClient {
        tls,
        proxies,
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
struct NoVerifyClient {
    tls: rustls::ClientConfig,
    proxies: Arc<Matcher>,
    /// One connector (and connection pool) per pair of timeouts, as the SDK's client keeps them.
    connectors: Mutex<HashMap<Timeouts, SharedHttpConnector>>,
}

impl HttpClient for NoVerifyClient {
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
                    .wrap_connector(ProxyTcp {
                        tcp,
                        proxies: self.proxies.clone(),
                    });
                let client = Client::builder(hyper_util::rt::TokioExecutor::new()).build(https);
                SharedHttpConnector::new(NoVerifyConnector {
                    client,
                    proxies: self.proxies.clone(),
                    read_timeout: key.1,
                })
            })
            .clone()
    }
}

struct NoVerifyConnector {
    client: Client<hyper_rustls::HttpsConnector<ProxyTcp>, SdkBody>,
    proxies: Arc<Matcher>,
    read_timeout: Option<Duration>,
}

impl std::fmt::Debug for NoVerifyConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoVerifyConnector")
            .field("read_timeout", &self.read_timeout)
            .finish_non_exhaustive()
    }
}

impl HttpConnector for NoVerifyConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let mut request = match request.try_into_http1x() {
            Ok(r) => r,
            Err(e) => return HttpConnectorFuture::ready(Err(ConnectorError::user(e.into()))),
        };
        // A plain request through a proxy carries the proxy's credentials itself (a tunnel's
        // CONNECT carries them for an https one).
        if request.uri().scheme() == Some(&Scheme::HTTP)
            && let Some(auth) = self
                .proxies
                .intercept(request.uri())
                .and_then(|p| p.basic_auth().cloned())
        {
            request
                .headers_mut()
                .entry(hyper::header::PROXY_AUTHORIZATION)
                .or_insert(auth);
        }
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

/// TCP to the endpoint, or to its proxy: a CONNECT tunnel for `https://` (TLS then runs inside
/// it, to the endpoint), the proxy itself for `http://`.
#[derive(Clone)]
struct ProxyTcp {
    tcp: TcpConnector,
    proxies: Arc<Matcher>,
}

type Connecting = Pin<Box<dyn Future<Output = Result<Stream, BoxError>> + Send>>;

impl Service<Uri> for ProxyTcp {
    type Response = Stream;
    type Error = BoxError;
    type Future = Connecting;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.tcp.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Connecting {
        let Some(proxy) = self.proxies.intercept(&dst) else {
            let direct = self.tcp.call(dst);
            return Box::pin(async move { Ok(Stream::new(direct.await?, false)) });
        };
        if proxy.uri().scheme() != Some(&Scheme::HTTP) {
            let scheme = proxy.uri().scheme_str().unwrap_or_default().to_owned();
            return Box::pin(async move {
                Err(
                    format!("with --no-verify-ssl, a proxy must be http://, not {scheme}://")
                        .into(),
                )
            });
        }
        if dst.scheme() == Some(&Scheme::HTTPS) {
            let mut tunnel = Tunnel::new(proxy.uri().clone(), self.tcp.clone());
            if let Some(auth) = proxy.basic_auth() {
                tunnel = tunnel.with_auth(auth.clone());
            }
            Box::pin(async move { Ok(Stream::new(tunnel.call(dst).await?, false)) })
        } else {
            // Marked as proxied, hyper sends the request line in absolute form.
            let to_proxy = self.tcp.call(proxy.uri().clone());
            Box::pin(async move { Ok(Stream::new(to_proxy.await?, true)) })
        }
    }
}

/// A TCP connection, and whether it is to a proxy that forwards the requests sent on it.
struct Stream {
    io: TokioIo<TcpStream>,
    proxied: bool,
}

impl Stream {
    fn new(io: TokioIo<TcpStream>, proxied: bool) -> Self {
        Self { io, proxied }
    }
}

impl Connection for Stream {
    fn connected(&self) -> Connected {
        self.io.connected().proxy(self.proxied)
    }
}

impl Read for Stream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl Write for Stream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
