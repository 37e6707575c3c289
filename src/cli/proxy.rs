//! The proxy variables (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`, and their
//! lower-case forms), as the HTTP clients read them (hyper-util's [`Matcher::from_env`], which
//! the SDK's client uses too), and what to say when a proxy fails.
//!
//! The clients' errors name no proxy, and the SDK's client keeps a failed CONNECT's cause only as
//! text, so [`labelled`] wraps a client: a request that goes through a proxy and fails while its
//! connection is made (to the proxy, or the tunnel through it), or that a plain-`http://` proxy
//! refuses (407, or a 403 that is not AWS's XML), fails with a [`ProxyFailure`] that names the
//! proxy and the variable that chose it. `aws.rs` reports it as the `aws` CLI reports a proxy it
//! cannot use (`Failed to connect to proxy URL`): exit status 255, at once.

use std::sync::Arc;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_types::config_bag::ConfigBag;
use hyper::Uri;
use hyper::http::uri::Scheme;
use hyper_util::client::proxy::matcher::{Intercept, Matcher};

/// The proxies of this process's environment.
pub(crate) fn from_env() -> Arc<Matcher> {
    Arc::new(Matcher::from_env())
}

/// `client`, whose failures through a proxy are [`ProxyFailure`]s.
pub(crate) fn labelled(client: SharedHttpClient, proxies: Arc<Matcher>) -> SharedHttpClient {
    SharedHttpClient::new(Labelled {
        inner: client,
        proxies,
    })
}

/// Why a request through a proxy failed, and which proxy. Its message is one line and says
/// what to check.
#[derive(Debug)]
pub(crate) struct ProxyFailure {
    /// `scheme://host:port`, without credentials.
    proxy: String,
    /// The variable that named the proxy.
    variable: &'static str,
    what: What,
    source: Option<ConnectorError>,
}

#[derive(Debug)]
enum What {
    /// No connection to the proxy; the cause where the client kept it.
    Unreachable(Option<String>),
    /// The proxy answered the CONNECT to `host:port` with something other than 200 or 407.
    NoTunnel(String),
    /// 407: the proxy wants credentials; `given`: the proxy's URL held some.
    Credentials { given: bool },
    /// A plain request that the proxy answered itself with this status.
    Refused(u16),
}

impl std::fmt::Display for ProxyFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (proxy, var) = (&self.proxy, self.variable);
        match &self.what {
            What::Unreachable(cause) => {
                write!(f, "cannot connect to the proxy {proxy} ({var})")?;
                if let Some(cause) = cause {
                    write!(f, ": {cause}")?;
                }
            }
            What::NoTunnel(to) => write!(
                f,
                "the proxy {proxy} ({var}) did not open a tunnel to {to}: it refused, or cannot reach it"
            )?,
            What::Credentials { given: false } => {
                return write!(
                    f,
                    "the proxy {proxy} ({var}) asks for credentials (407 Proxy Authentication Required): give them in {var} as http://USER:PASSWORD@HOST:PORT"
                );
            }
            What::Credentials { given: true } => {
                return write!(
                    f,
                    "the proxy {proxy} ({var}) refused the credentials given in {var} (407 Proxy Authentication Required)"
                );
            }
            What::Refused(status) => {
                let reason = hyper::StatusCode::from_u16(*status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or_default();
                write!(
                    f,
                    "the proxy {proxy} ({var}) refused the request (HTTP {status} {reason})"
                )?;
            }
        }
        write!(f, "; check {var} and NO_PROXY")
    }
}

impl std::error::Error for ProxyFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl ProxyFailure {
    fn new(proxy: &Intercept, dst: &Uri, what: What, source: Option<ConnectorError>) -> Box<Self> {
        let p = proxy.uri();
        Box::new(Self {
            proxy: format!(
                "{}://{}",
                p.scheme_str().unwrap_or("http"),
                p.authority().map(|a| a.as_str()).unwrap_or_default()
            ),
            variable: variable(dst.scheme() == Some(&Scheme::HTTPS)),
            what,
            source,
        })
    }
}

/// The proxy failure among `e`'s causes, if any.
pub(crate) fn failure<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a ProxyFailure> {
    super::tls::causes(e).find_map(|c| c.downcast_ref::<ProxyFailure>())
}

/// The variable that names the proxy for `https://` (or `http://`) requests, as hyper-util's
/// matcher chooses it: the scheme's own, upper-case first, else `ALL_PROXY`, `all_proxy`.
fn variable(https: bool) -> &'static str {
    let own = if https {
        ["HTTPS_PROXY", "https_proxy"]
    } else {
        ["HTTP_PROXY", "http_proxy"]
    };
    let first_set = |names: [&'static str; 2]| {
        names
            .into_iter()
            .find_map(|n| std::env::var(n).ok().map(|v| (n, v)))
    };
    match first_set(own) {
        Some((name, value)) if !value.trim().is_empty() => name,
        _ => first_set(["ALL_PROXY", "all_proxy"]).map_or(own[0], |(name, _)| name),
    }
}

/// Why a request to `dst` through `proxy` failed with `e`, if the proxy is to blame: the
/// connection failed while it was made, not in its TLS handshake with the endpoint.
fn why(e: &ConnectorError, dst: &Uri, proxy: &Intercept) -> Option<What> {
    let causes: Vec<_> = super::tls::causes(e).collect();
    let connecting = causes.iter().any(|c| {
        c.downcast_ref::<hyper_util::client::legacy::Error>()
            .is_some_and(|l| l.is_connect())
    });
    if !connecting || causes.iter().any(|c| c.is::<rustls::Error>()) {
        return None;
    }
    // hyper-util's tunnel error is not public, and the SDK's client keeps it as text only.
    let text: Vec<String> = causes.iter().map(ToString::to_string).collect();
    let said = |words: &str| text.iter().any(|t| t.contains(words));
    if said("tunnel error: proxy authorization required") {
        return Some(What::Credentials {
            given: proxy.basic_auth().is_some(),
        });
    }
    if said("tunnel error: unsuccessful") {
        let host = dst.host().unwrap_or_default();
        let port = dst.port_u16().unwrap_or(443);
        return Some(What::NoTunnel(format!("{host}:{port}")));
    }
    let cause = causes
        .iter()
        .find_map(|c| c.downcast_ref::<std::io::Error>())
        .map(ToString::to_string)
        .or_else(|| e.is_timeout().then(|| "timed out".to_owned()));
    Some(What::Unreachable(cause))
}

#[derive(Debug)]
struct Labelled {
    inner: SharedHttpClient,
    proxies: Arc<Matcher>,
}

impl HttpClient for Labelled {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(LabelledConnector {
            inner: self.inner.http_connector(settings, components),
            proxies: self.proxies.clone(),
        })
    }

    fn validate_base_client_config(
        &self,
        components: &RuntimeComponentsBuilder,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.inner.validate_base_client_config(components, cfg)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.inner.connector_metadata()
    }
}

#[derive(Debug)]
struct LabelledConnector {
    inner: SharedHttpConnector,
    proxies: Arc<Matcher>,
}

impl HttpConnector for LabelledConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let route = request
            .uri()
            .parse::<Uri>()
            .ok()
            .and_then(|dst| Some((self.proxies.intercept(&dst)?, dst)));
        let answer = self.inner.call(request);
        let Some((proxy, dst)) = route else {
            return answer;
        };
        HttpConnectorFuture::new(async move {
            match answer.await {
                Ok(response) => {
                    // A plain request's answer may be the proxy's own: 407 always is, and a 403
                    // that is not XML is not AWS's.
                    let status = response.status().as_u16();
                    let xml = response
                        .headers()
                        .get("content-type")
                        .is_some_and(|t| t.contains("xml"));
                    if dst.scheme() == Some(&Scheme::HTTP)
                        && (status == 407 || status == 403 && !xml)
                    {
                        let what = match status {
                            407 => What::Credentials {
                                given: proxy.basic_auth().is_some(),
                            },
                            _ => What::Refused(status),
                        };
                        return Err(ConnectorError::other(
                            ProxyFailure::new(&proxy, &dst, what, None),
                            None,
                        ));
                    }
                    Ok(response)
                }
                Err(e) => match why(&e, &dst, &proxy) {
                    Some(what) => Err(ConnectorError::other(
                        ProxyFailure::new(&proxy, &dst, what, Some(e)),
                        None,
                    )),
                    None => Err(e),
                },
            }
        })
    }
}
