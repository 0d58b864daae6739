//! The HTTP client every calling-out stage uses: each URL is checked by the [`UrlRules`]
//! before the request, each address its host resolves to is checked by the client's own
//! resolver when connecting, redirects are never followed (a redirect could lead anywhere),
//! and response bodies are read up to a limit.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder, Url};

use crate::rules::{Refusal, UrlRules};

/// Default limit of a response body.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default limit of a whole request (connect, send, read).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// What went wrong with an outbound call. Every message is fit for a stage error: it names
/// the URL without credentials or query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    /// The rules refuse the URL or an address it resolves to. Never worth retrying.
    #[error("{0}")]
    Refused(String),
    /// The URL cannot be parsed.
    #[error("{0}")]
    InvalidUrl(String),
    /// No answer: DNS failure, connection refused or reset, timeout. Often worth retrying.
    #[error("{0}")]
    Unreachable(String),
    /// The response body is larger than the limit.
    #[error("{0}")]
    TooLarge(String),
}

impl OutboundError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, OutboundError::Unreachable(_))
    }
}

impl From<Refusal> for OutboundError {
    fn from(refusal: Refusal) -> Self {
        OutboundError::Refused(refusal.0)
    }
}

/// A response read in full (up to the limit).
#[derive(Debug, Clone)]
pub struct OutboundResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl OutboundResponse {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON, `None` when it is not JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

/// The guarded client. Cheap to clone.
#[derive(Clone)]
pub struct Outbound {
    client: reqwest::Client,
    rules: Arc<UrlRules>,
    max_body_bytes: usize,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound")
            .field("rules", &self.rules)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

impl Outbound {
    pub fn new(rules: UrlRules) -> Outbound {
        Outbound::with_limits(rules, DEFAULT_REQUEST_TIMEOUT, DEFAULT_MAX_BODY_BYTES)
    }

    pub fn with_limits(rules: UrlRules, timeout: Duration, max_body_bytes: usize) -> Outbound {
        Outbound::build(rules, timeout, max_body_bytes, Vec::new())
    }

    /// `fixed_hosts` answer before DNS (tests use it to point a name at loopback).
    fn build(
        rules: UrlRules,
        timeout: Duration,
        max_body_bytes: usize,
        fixed_hosts: Vec<(String, std::net::IpAddr)>,
    ) -> Outbound {
        let rules = Arc::new(rules);
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver {
                rules: rules.clone(),
                fixed_hosts,
            }))
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(timeout)
            .user_agent(concat!("gennaker/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client configuration is valid");
        Outbound {
            client,
            rules,
            max_body_bytes,
        }
    }

    pub fn rules(&self) -> &UrlRules {
        &self.rules
    }

    /// Parses and checks `url`; the request is built with reqwest's builder.
    pub fn request(&self, method: Method, url: &str) -> Result<RequestBuilder, OutboundError> {
        let parsed = parse_url(url)?;
        self.rules.check(&parsed)?;
        Ok(self.client.request(method, parsed))
    }

    /// Sends the request and reads the body up to the limit.
    pub async fn send(&self, request: RequestBuilder) -> Result<OutboundResponse, OutboundError> {
        let request = request
            .build()
            .map_err(|error| OutboundError::InvalidUrl(format!("invalid request: {error}")))?;
        let shown = shown(request.url());
        let mut response = self
            .client
            .execute(request)
            .await
            .map_err(|error| describe(&shown, &error))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        if response
            .content_length()
            .is_some_and(|length| length > self.max_body_bytes as u64)
        {
            return Err(self.too_large(&shown));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| describe(&shown, &error))?
        {
            if body.len() + chunk.len() > self.max_body_bytes {
                return Err(self.too_large(&shown));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(OutboundResponse {
            status,
            headers,
            body,
        })
    }

    fn too_large(&self, shown: &str) -> OutboundError {
        OutboundError::TooLarge(format!(
            "the response of {shown} is larger than {} bytes",
            self.max_body_bytes
        ))
    }
}

pub fn parse_url(url: &str) -> Result<Url, OutboundError> {
    Url::parse(url.trim()).map_err(|error| {
        OutboundError::InvalidUrl(format!("'{}' is not a valid URL ({error})", redact(url)))
    })
}

/// A URL as shown in messages: no user info, query or fragment.
pub fn shown(url: &Url) -> String {
    let mut shown = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default());
    if let Some(port) = url.port() {
        shown.push_str(&format!(":{port}"));
    }
    shown.push_str(url.path());
    shown
}

fn redact(text: &str) -> String {
    let cut = text.find(['?', '#']).unwrap_or(text.len());
    let text = &text[..cut];
    match (text.find("://"), text.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}{}", &text[..scheme_end + 3], &text[at + 1..])
        }
        _ => text.to_string(),
    }
}

/// The error of a failed call, with a refusal from the resolver recognised as such.
fn describe(shown: &str, error: &reqwest::Error) -> OutboundError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if let Some(refusal) = current.downcast_ref::<Refusal>() {
            return OutboundError::Refused(refusal.0.clone());
        }
        // io::Error's source() skips the error it wraps; look inside it.
        if let Some(refusal) = current
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<Refusal>())
        {
            return OutboundError::Refused(refusal.0.clone());
        }
        source = current.source();
    }
    if error.is_timeout() {
        return OutboundError::Unreachable(format!("{shown} did not answer in time"));
    }
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(error);
    while let Some(current) = source {
        causes.push(current.to_string());
        source = current.source();
    }
    let cause = causes.last().cloned().unwrap_or_else(|| error.to_string());
    OutboundError::Unreachable(format!("calling {shown} failed: {cause}"))
}

/// DNS resolution that refuses a host when any of its addresses is not allowed.
struct GuardedResolver {
    rules: Arc<UrlRules>,
    fixed_hosts: Vec<(String, std::net::IpAddr)>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let rules = self.rules.clone();
        let fixed: Vec<SocketAddr> = self
            .fixed_hosts
            .iter()
            .filter(|(host, _)| host == name.as_str())
            .map(|(_, ip)| SocketAddr::new(*ip, 0))
            .collect();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addresses: Vec<SocketAddr> = if fixed.is_empty() {
                tokio::net::lookup_host((host.as_str(), 0))
                    .await
                    .map_err(|error| {
                        Box::new(std::io::Error::other(format!(
                            "cannot resolve {host}: {error}"
                        ))) as Box<dyn std::error::Error + Send + Sync>
                    })?
                    .collect()
            } else {
                fixed
            };
            if addresses.is_empty() {
                return Err(format!("{host} has no addresses").into());
            }
            if !rules.trusts_host(&host) {
                for address in &addresses {
                    rules.check_address(&host, address.ip())?;
                }
            }
            Ok(Box::new(addresses.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn local_server(body: &'static str) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let app =
            axum::Router::new().route("/{*path}", axum::routing::get(move || async move { body }));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{address}")
    }

    #[tokio::test]
    async fn loopback_is_refused_unless_its_prefix_is_trusted() {
        let base = local_server("hello").await;
        let strict = Outbound::new(UrlRules::strict());
        let refused = strict
            .request(Method::GET, &format!("{base}/x"))
            .unwrap_err();
        assert!(matches!(refused, OutboundError::Refused(_)), "{refused}");

        let mut rules = UrlRules::strict();
        rules.trust_prefix(&format!("{base}/")).unwrap();
        let trusted = Outbound::new(rules);
        let response = trusted
            .send(trusted.request(Method::GET, &format!("{base}/x")).unwrap())
            .await
            .unwrap();
        assert_eq!(
            (response.status, response.text()),
            (200, "hello".to_string())
        );
    }

    #[tokio::test]
    async fn a_host_name_resolving_to_loopback_is_refused_when_connecting() {
        // A public-looking name whose DNS answer is loopback (DNS rebinding) passes the text
        // check; the resolver sees 127.0.0.1 and refuses it.
        let base = local_server("hello").await;
        let port = base.rsplit(':').next().unwrap();
        let outbound = Outbound::build(
            UrlRules::strict(),
            DEFAULT_REQUEST_TIMEOUT,
            DEFAULT_MAX_BODY_BYTES,
            vec![("rebind.example.com".into(), "127.0.0.1".parse().unwrap())],
        );
        let request = outbound
            .request(Method::GET, &format!("http://rebind.example.com:{port}/x"))
            .unwrap();
        let error = outbound.send(request).await.unwrap_err();
        assert!(
            matches!(&error, OutboundError::Refused(m) if m.contains("loopback")),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn bodies_beyond_the_limit_are_refused() {
        let base = local_server("0123456789").await;
        let mut rules = UrlRules::strict();
        rules.trust_prefix(&base).unwrap();
        let outbound = Outbound::with_limits(rules, DEFAULT_REQUEST_TIMEOUT, 4);
        let error = outbound
            .send(outbound.request(Method::GET, &format!("{base}/x")).unwrap())
            .await
            .unwrap_err();
        assert!(matches!(error, OutboundError::TooLarge(_)), "{error:?}");
    }

    #[test]
    fn redaction_drops_credentials_and_queries() {
        assert_eq!(
            redact("https://user:pw@example.com/a?token=1"),
            "https://example.com/a"
        );
        assert_eq!(redact("not a url"), "not a url");
    }
}
