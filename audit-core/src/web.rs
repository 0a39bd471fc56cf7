//! Request context for HTTP services (feature `axum`): [`AuditLayer`], a tower layer that
//! works with any tower service over `http` requests (axum, tonic, hyper), and the axum
//! extractor for [`Context`].
//!
//! Per request the layer builds a [`Context`] with
//!
//! - a **request id**: the `x-request-id` header when present and well-formed (1 to 64
//!   characters of `A-Z a-z 0-9 - _ . :`), else a new random one; echoed in the response's
//!   `x-request-id` header;
//! - the **client IP**: the peer address (axum's `ConnectInfo<SocketAddr>`, or a `SocketAddr`
//!   request extension). `Forwarded` (`for=`) and `X-Forwarded-For` are used only when the
//!   peer is a configured trusted proxy, and then the client is the rightmost address that is
//!   not itself a trusted proxy (among the last 32 entries): a client cannot spoof its
//!   address through a proxy that appends to the header. A proxy passes the *other* header
//!   on as the client wrote it, so when both headers are present and name different
//!   clients, neither is believed and the peer address is recorded;
//! - the **user agent**, cut to 256 characters with control characters removed;
//! - the **trace id** of a W3C `traceparent` header, when well-formed;
//!
//! and puts it in scope for the handler (on every poll of its future), so that
//! `auditor.emit(event)` needs nothing more. Handlers can also take the context as an
//! extractor.
//!
//! ```no_run
//! # #[cfg(feature = "axum")] {
//! use audit_core::web::AuditLayer;
//! use axum::{Router, routing::post};
//!
//! let app: Router = Router::new()
//!     .route("/widgets", post(|| async { "created" }))
//!     .layer(AuditLayer::new().trust_proxy("10.0.0.1".parse().unwrap()));
//! # }
//! ```

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use http::{HeaderMap, HeaderValue, Request, Response};

use crate::Context;
use crate::context::Scoped;

/// The request id header, read and echoed.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

const MAX_REQUEST_ID: usize = 64;
const MAX_USER_AGENT: usize = 256;
/// At most this many `X-Forwarded-For` / `Forwarded` entries are examined.
const MAX_FORWARDED_HOPS: usize = 32;

/// Fills the request context of each request; see the [module docs](self).
#[derive(Clone, Debug, Default)]
pub struct AuditLayer {
    config: Arc<Config>,
}

#[derive(Clone, Debug, Default)]
struct Config {
    trusted: Vec<IpAddr>,
    tenant_header: Option<http::HeaderName>,
}

impl AuditLayer {
    /// A layer that trusts no proxy: the client IP is the peer address.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts `proxy` (a load balancer or reverse proxy in front of the service) to report
    /// the client address in `Forwarded` or `X-Forwarded-For`.
    #[must_use]
    pub fn trust_proxy(mut self, proxy: IpAddr) -> Self {
        Arc::make_mut(&mut self.config)
            .trusted
            .push(canonical(proxy));
        self
    }

    /// Reads the tenant from this request header (bounded and sanitized like the user
    /// agent).
    #[must_use]
    pub fn tenant_header(mut self, header: http::HeaderName) -> Self {
        Arc::make_mut(&mut self.config).tenant_header = Some(header);
        self
    }
}

impl<S> tower_layer::Layer<S> for AuditLayer {
    type Service = AuditService<S>;

    fn layer(&self, inner: S) -> AuditService<S> {
        AuditService {
            inner,
            config: Arc::clone(&self.config),
        }
    }
}

/// The service made by [`AuditLayer`].
#[derive(Clone, Debug)]
pub struct AuditService<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S, B, R> tower_service::Service<Request<B>> for AuditService<S>
where
    S: tower_service::Service<Request<B>, Response = Response<R>>,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let context = request_context(&self.config, &request);
        let request_id = context
            .request_id_str()
            .and_then(|id| HeaderValue::from_str(id).ok());
        request.extensions_mut().insert(context.clone());
        // The context is in scope while the inner service builds its future, too.
        let future = crate::context::scope(&context, || self.inner.call(request));
        ResponseFuture {
            inner: context.scope(future),
            request_id,
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`AuditService`]: the handler runs with the context in scope,
    /// and the response gets the `x-request-id` header.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: Scoped<F>,
        request_id: Option<HeaderValue>,
    }
}

impl<F, R, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<R>, E>>,
{
    type Output = Result<Response<R>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = std::task::ready!(this.inner.poll(cx))?;
        if let Some(id) = this.request_id.take() {
            response.headers_mut().insert(REQUEST_ID_HEADER, id);
        }
        Poll::Ready(Ok(response))
    }
}

/// The context of one request.
fn request_context<B>(config: &Config, request: &Request<B>) -> Context {
    let headers = request.headers();
    let request_id = header_str(headers, REQUEST_ID_HEADER)
        .filter(|id| is_request_id(id))
        .map_or_else(new_request_id, str::to_owned);
    let mut context = Context::new().request_id(request_id);
    if let Some(ip) = client_ip(config, request) {
        context = context.ip(ip);
    }
    if let Some(agent) = header_text(headers, http::header::USER_AGENT.as_str()) {
        context = context.user_agent(sanitize(&agent, MAX_USER_AGENT));
    }
    let tenant = config
        .tenant_header
        .as_ref()
        .and_then(|header| header_text(headers, header.as_str()));
    if let Some(tenant) = tenant {
        context = context.tenant(sanitize(&tenant, MAX_REQUEST_ID));
    }
    if let Some(trace) = header_str(headers, "traceparent").and_then(trace_id) {
        context = context.trace_id(trace);
    }
    context
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A header as text for the log: UTF-8 kept (a user agent may name a device in any
/// language), anything else replaced by U+FFFD.
fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<std::borrow::Cow<'a, str>> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()))
}

fn is_request_id(id: &str) -> bool {
    (1..=MAX_REQUEST_ID).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// `req_` + 16 random bytes in base64url.
fn new_request_id() -> String {
    let bytes = crate::id::random::bytes16();
    let mut suffix = [0u8; 22];
    crate::id::codec::encode_suffix(&bytes, crate::id::codec::Alphabet::Standard, &mut suffix);
    format!("req_{}", String::from_utf8_lossy(&suffix))
}

/// At most `max` characters, without control characters.
fn sanitize(value: &str, max: usize) -> String {
    value
        .chars()
        .filter(|c| !c.is_control())
        .take(max)
        .collect()
}

/// The trace id of a W3C `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`), unless all zeros.
fn trace_id(traceparent: &str) -> Option<String> {
    let mut parts = traceparent.trim().split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    let ok = hex(version, 2)
        && version != "ff"
        && hex(trace, 32)
        && hex(parent, 16)
        && hex(flags, 2)
        && trace.bytes().any(|b| b != b'0');
    ok.then(|| trace.to_ascii_lowercase())
}

/// IPv4-mapped IPv6 addresses compare as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    }
}

fn peer_addr<B>(request: &Request<B>) -> Option<IpAddr> {
    let extensions = request.extensions();
    extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
        .or_else(|| extensions.get::<SocketAddr>().map(SocketAddr::ip))
        .map(canonical)
}

fn client_ip<B>(config: &Config, request: &Request<B>) -> Option<IpAddr> {
    let peer = peer_addr(request)?;
    if !config.trusted.contains(&peer) {
        return Some(peer);
    }
    // The peer is a trusted proxy. A proxy appends to the one header it writes and passes
    // the other on as the client sent it, so when both are present and name different
    // clients, neither is believed.
    let headers = request.headers();
    let forwarded = rightmost_untrusted(config, forwarded_for(headers));
    let x_forwarded_for = rightmost_untrusted(config, x_forwarded_for(headers));
    Some(match (forwarded, x_forwarded_for) {
        (Some(a), Some(b)) if a != b => peer,
        (Some(ip), _) | (None, Some(ip)) => ip,
        (None, None) => peer,
    })
}

/// The client among a forwarding header's entries, given from the right: the first address
/// that is not a trusted proxy, looking at most [`MAX_FORWARDED_HOPS`] entries from the right
/// (left of those, anyone can write anything). An entry that is not an IP address
/// (obfuscated, `unknown`, malformed) ends the walk, since nothing left of it can be
/// attributed; then, as when every entry is a trusted proxy, the leftmost trusted proxy seen
/// stands for the client. `None` for an absent or empty header.
fn rightmost_untrusted<'a>(
    config: &Config,
    from_right: impl Iterator<Item = &'a str>,
) -> Option<IpAddr> {
    let mut leftmost_trusted = None;
    for entry in from_right.take(MAX_FORWARDED_HOPS) {
        let Some(ip) = parse_node(entry.trim().trim_matches('"')).map(canonical) else {
            break;
        };
        if !config.trusted.contains(&ip) {
            return Some(ip);
        }
        leftmost_trusted = Some(ip);
    }
    leftmost_trusted
}

/// The values of a header, last first; a value that is not visible ASCII reads as a
/// malformed entry.
fn values_from_right<'a>(
    headers: &'a HeaderMap,
    name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .get_all(name)
        .iter()
        .rev()
        .map(|v| v.to_str().unwrap_or("invalid"))
}

/// The entries of `X-Forwarded-For`, rightmost first.
fn x_forwarded_for(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    values_from_right(headers, "x-forwarded-for").flat_map(|v| v.rsplit(','))
}

/// The `for=` nodes of `Forwarded` (RFC 7239), rightmost first; elements without one are
/// skipped.
fn forwarded_for(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    values_from_right(headers, http::header::FORWARDED.as_str())
        .flat_map(|v| v.rsplit(','))
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (k, v) = pair.trim().split_once('=')?;
                k.trim().eq_ignore_ascii_case("for").then_some(v)
            })
        })
}

/// `203.0.113.7`, `203.0.113.7:443`, `[2001:db8::1]`, `[2001:db8::1]:443`, `2001:db8::1`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(addr) = node.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    node.strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
        .and_then(|(ip, _)| ip.parse().ok())
}

/// The request's context, for handlers: what [`AuditLayer`] built, or an empty context when
/// the layer is not installed.
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Context {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Context>()
            .cloned()
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_ids() {
        assert_eq!(
            trace_id("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(
            trace_id("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
            None
        );
        assert_eq!(trace_id("garbage"), None);
    }

    #[test]
    fn nodes_and_request_ids() {
        assert_eq!(parse_node("[2001:db8::1]:443"), "2001:db8::1".parse().ok());
        assert_eq!(parse_node("203.0.113.7:80"), "203.0.113.7".parse().ok());
        assert_eq!(parse_node("unknown"), None);
        assert!(is_request_id("req-1"));
        assert!(!is_request_id("has space"));
        assert!(!is_request_id(&"a".repeat(65)));
        assert!(is_request_id(&new_request_id()));
        assert_eq!(sanitize("a\u{7}b\nc", 2), "ab");
    }
}
