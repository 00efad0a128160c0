//! Who may use the server, checked before any handler runs:
//!
//! - the `Host` a request names must be one of this hub's names (the bind
//!   address; for a loopback bind also `localhost`, `127.0.0.1`, `[::1]`;
//!   for an unspecified bind such as `0.0.0.0` any IP literal; and every
//!   `--allow-host`), so a DNS-rebound name cannot reach it → 421;
//! - the `Origin` of a browser request to `/publish` or `/ws` must be the
//!   hub's own (the `Host` it asked for) or an `--allow-origin`, so another
//!   site's page can neither publish nor read the stream → 403 (requests
//!   without `Origin` come from programs, not pages, and pass);
//! - the token, when configured, for publishing, and with `--private` for
//!   reading too (`Authorization: Bearer T` or `X-Cis490-Token: T`; on
//!   `/ws` also `?token=T`, since browsers cannot set WebSocket headers)
//!   → 401. Tokens are compared as SHA-256 digests in constant time.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Query, Request, State};
use axum::http::header::{AUTHORIZATION, HOST, ORIGIN, WWW_AUTHENTICATE};
use axum::http::uri::Authority;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};

use super::json_error;

/// A token, kept as its SHA-256 digest.
#[derive(Clone)]
pub struct Token {
    digest: [u8; 32],
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(…)")
    }
}

impl Token {
    /// The token `secret`.
    pub fn new(secret: &str) -> Self {
        Self { digest: Sha256::digest(secret.as_bytes()).into() }
    }

    /// Whether `presented` is this token. Both are hashed and the digests
    /// compared without an early exit, so the time taken says nothing
    /// about how much of the token was right.
    pub fn matches(&self, presented: &str) -> bool {
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        constant_time_eq(&self.digest, &presented)
    }
}

/// Equality of two digests, touching every byte whatever they hold.
fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(difference) == 0
}

/// A bad `--allow-host` or `--allow-origin`.
#[derive(Debug, thiserror::Error)]
#[error("{option} {value:?}: {why}")]
pub struct AccessConfigError {
    /// The option.
    pub option: &'static str,
    /// The value given.
    pub value: String,
    /// What is wrong with it.
    pub why: &'static str,
}

/// A host name or IP and an optional port, lower-cased, without brackets
/// or a trailing dot.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HostPort {
    host: String,
    port: Option<u16>,
}

impl HostPort {
    fn parse(text: &str) -> Option<Self> {
        let authority: Authority = text.parse().ok()?;
        if authority.as_str().contains('@') {
            return None;
        }
        let host = authority.host().trim_start_matches('[').trim_end_matches(']').trim_end_matches('.');
        if host.is_empty() {
            return None;
        }
        Some(Self { host: host.to_ascii_lowercase(), port: authority.port_u16() })
    }

    fn ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }
}

/// The names this hub answers to.
#[derive(Debug, Clone)]
pub struct HostPolicy {
    bind: IpAddr,
    port: u16,
    allowed: Vec<HostPort>,
}

impl HostPolicy {
    /// For a server bound to `bind:port`, plus `--allow-host` entries
    /// (`name` for any port, `name:port` for one).
    pub fn new(bind: IpAddr, port: u16, allow_hosts: &[String]) -> Result<Self, AccessConfigError> {
        let allowed = allow_hosts
            .iter()
            .map(|name| {
                HostPort::parse(name).ok_or_else(|| AccessConfigError {
                    option: "--allow-host",
                    value: name.clone(),
                    why: "not a host name or host:port",
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { bind, port, allowed })
    }

    /// Whether a request naming `host` (its `Host` header) is for this hub.
    pub fn allows(&self, host: &str) -> bool {
        let Some(asked) = HostPort::parse(host) else { return false };
        let port = asked.port.unwrap_or(80);
        let port_ok = self.bind.is_unspecified() || port == self.port;
        let named = match asked.ip() {
            // An IP literal cannot be rebound: only the address must be ours.
            Some(ip) => self.bind.is_unspecified() || ip == self.bind || (ip.is_loopback() && self.bind.is_loopback()),
            None => asked.host == "localhost" && (self.bind.is_loopback() || self.bind.is_unspecified()),
        };
        (named && port_ok)
            || self.allowed.iter().any(|a| a.host == asked.host && a.port.is_none_or(|p| asked.port == Some(p)))
    }
}

/// A web origin: scheme, host and port (the scheme's default when absent).
#[derive(Debug, Clone, PartialEq, Eq)]
struct WebOrigin {
    scheme: String,
    host: String,
    port: u16,
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

impl WebOrigin {
    fn parse(text: &str) -> Option<Self> {
        let uri: Uri = text.trim_end_matches('/').parse().ok()?;
        let scheme = uri.scheme_str()?.to_ascii_lowercase();
        let host = HostPort::parse(uri.authority()?.as_str())?;
        if uri.path_and_query().is_some_and(|p| !p.as_str().is_empty() && p.as_str() != "/") {
            return None;
        }
        let port = host.port.or_else(|| default_port(&scheme))?;
        Some(Self { scheme, host: host.host, port })
    }

    /// Whether this origin is the site a request's `Host` names.
    fn is_host(&self, host: &str) -> bool {
        HostPort::parse(host)
            .is_some_and(|h| h.host == self.host && h.port.or(default_port(&self.scheme)) == Some(self.port))
    }
}

/// The origins whose pages may publish and read the stream.
#[derive(Debug, Clone, Default)]
pub struct OriginPolicy {
    allowed: Vec<WebOrigin>,
}

impl OriginPolicy {
    /// The hub's own origin plus `--allow-origin` URLs (`scheme://host[:port]`).
    pub fn new(allow_origins: &[String]) -> Result<Self, AccessConfigError> {
        let allowed = allow_origins
            .iter()
            .map(|url| {
                WebOrigin::parse(url).ok_or_else(|| AccessConfigError {
                    option: "--allow-origin",
                    value: url.clone(),
                    why: "not an origin like http://lab-server:8447 (scheme, host, optional port, no path)",
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { allowed })
    }

    /// Whether a page at `origin` may make a request naming `host`.
    pub fn allows(&self, origin: &str, host: Option<&str>) -> bool {
        let Some(origin) = WebOrigin::parse(origin) else { return false };
        host.is_some_and(|h| origin.is_host(h)) || self.allowed.contains(&origin)
    }
}

/// What a route asks of a request beyond its `Host`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// `POST /publish`: a page only from an allowed origin; the token when one is set.
    Publish,
    /// `GET /ws`: a page only from an allowed origin; with `--private` the
    /// token, also as `?token=`.
    Stream,
    /// The other reading routes: the token with `--private`.
    Read,
}

/// Everything the access checks need.
#[derive(Debug, Clone)]
pub struct Access {
    /// Names this hub answers to.
    pub hosts: HostPolicy,
    /// Origins whose pages may publish and stream.
    pub origins: OriginPolicy,
    /// The token, if any.
    pub token: Option<Token>,
    /// Whether reading needs the token too.
    pub private: bool,
}

fn header(headers: &HeaderMap, name: impl axum::http::header::AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[derive(serde::Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// The token a request presents: a Bearer header, `X-Cis490-Token`, or
/// (where `query_allowed`) `?token=`.
fn presented_token(request: &Request, query_allowed: bool) -> Option<String> {
    let headers = request.headers();
    let bearer = header(headers, AUTHORIZATION).and_then(|v| v.strip_prefix("Bearer "));
    bearer.or_else(|| header(headers, "x-cis490-token")).map(str::to_string).or_else(|| {
        query_allowed.then(|| Query::<TokenQuery>::try_from_uri(request.uri()).ok().and_then(|q| q.0.token)).flatten()
    })
}

impl Access {
    /// The refusal for `request` under `rule`, if any.
    fn refusal(&self, rule: Rule, request: &Request) -> Option<Response> {
        let headers = request.headers();
        if matches!(rule, Rule::Publish | Rule::Stream)
            && let Some(origin) = headers.get(ORIGIN).map(|v| v.to_str().unwrap_or("(not text)"))
            && !self.origins.allows(origin, header(headers, HOST))
        {
            return Some(json_error(
                StatusCode::FORBIDDEN,
                &format!(
                    "Origin {origin:?} may not use {}: only pages served by this hub may (start it with --allow-origin URL for another)",
                    request.uri().path()
                ),
            ));
        }
        let needs_token = rule == Rule::Publish || self.private;
        match &self.token {
            Some(token) if needs_token => {
                let presented = presented_token(request, rule == Rule::Stream);
                if presented.as_deref().is_some_and(|p| token.matches(p)) {
                    return None;
                }
                let what = if presented.is_some() { "wrong token" } else { "missing token" };
                let how = if rule == Rule::Stream {
                    "send `Authorization: Bearer <token>` or ?token=<token>"
                } else {
                    "send `Authorization: Bearer <token>`"
                };
                let mut refused = json_error(StatusCode::UNAUTHORIZED, &format!("{what}: {how}"));
                refused.headers_mut().insert(WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Bearer"));
                Some(refused)
            }
            _ => None,
        }
    }
}

/// Middleware: refuses a request whose `Host` is not one of this hub's names.
pub async fn check_host(State(access): State<Arc<Access>>, request: Request, next: Next) -> Response {
    let host = request.headers().get(HOST).map(|v| v.to_str().unwrap_or("(not text)"));
    match host {
        // No Host: HTTP/1.0 from a program; browsers always send one.
        Some(host) if !access.hosts.allows(host) => json_error(
            StatusCode::MISDIRECTED_REQUEST,
            &format!("Host {host:?} is not a name of this hub (start it with --allow-host NAME to answer to it)"),
        ),
        _ => next.run(request).await,
    }
}

/// Middleware: applies a route's [`Rule`].
pub async fn check_rule(State((access, rule)): State<(Arc<Access>, Rule)>, request: Request, next: Next) -> Response {
    match access.refusal(rule, &request) {
        Some(refused) => refused,
        None => next.run(request).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_match_only_themselves_and_compare_every_byte() {
        let token = Token::new("s3cret");
        assert!(token.matches("s3cret"));
        for wrong in ["", "s3cre", "s3cret ", "S3cret", "s3cret\0", "x3cret"] {
            assert!(!token.matches(wrong), "{wrong:?}");
        }
        let a = [7u8; 32];
        let mut last_differs = a;
        last_differs[31] ^= 1;
        let mut first_differs = a;
        first_differs[0] ^= 0x80;
        assert!(constant_time_eq(&a, &a));
        assert!(!constant_time_eq(&a, &last_differs) && !constant_time_eq(&a, &first_differs));
        assert_eq!(format!("{token:?}"), "Token(…)", "the token never reaches a log");
    }

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn a_loopback_hub_answers_to_its_loopback_names_and_allowed_hosts_only() -> TestResult {
        let hosts = HostPolicy::new("127.0.0.1".parse()?, 8447, &["lab-server".into(), "kiosk.lab:9000".into()])?;
        for ok in [
            "127.0.0.1:8447",
            "localhost:8447",
            "LOCALHOST:8447",
            "[::1]:8447",
            "lab-server",
            "lab-server:8447",
            "Lab-Server.:1",
            "kiosk.lab:9000",
        ] {
            assert!(hosts.allows(ok), "{ok}");
        }
        for refused in [
            "evil.example",
            "evil.example:8447",
            "localhost:9999",
            "127.0.0.1:80",
            "10.0.0.1:8447",
            "kiosk.lab:9001",
            "kiosk.lab",
            "",
            "a b",
            "user@localhost:8447",
        ] {
            assert!(!hosts.allows(refused), "{refused}");
        }
        let any = HostPolicy::new("0.0.0.0".parse()?, 8447, &[])?;
        for ok in ["192.168.1.20:8447", "10.0.0.1", "[fe80::1]:9000", "localhost:8447"] {
            assert!(any.allows(ok), "{ok}");
        }
        assert!(!any.allows("lab-server:8447"), "a DNS name needs --allow-host");
        assert!(HostPolicy::new("127.0.0.1".parse()?, 1, &["a/b".into()]).is_err());
        Ok(())
    }

    #[test]
    fn pages_from_the_hubs_own_origin_or_an_allowed_one_pass() -> TestResult {
        let origins = OriginPolicy::new(&["https://lab.example".into(), "http://kiosk:8080/".into()])?;
        assert!(origins.allows("http://127.0.0.1:8447", Some("127.0.0.1:8447")));
        assert!(origins.allows("http://LabServer", Some("labserver:80")), "default port, any case");
        assert!(origins.allows("https://lab.example", Some("127.0.0.1:8447")));
        assert!(origins.allows("https://lab.example:443", None));
        assert!(origins.allows("http://kiosk:8080", None));
        assert!(origins.allows("https://127.0.0.1:8447", Some("127.0.0.1:8447")), "the scheme is a proxy's business");
        for refused in [
            "http://evil.example",
            "null",
            "http://127.0.0.1.evil.example:8447",
            "http://127.0.0.1:8448",
            "http://kiosk:8081",
            "file://",
        ] {
            assert!(!origins.allows(refused, Some("127.0.0.1:8447")), "{refused}");
        }
        assert!(OriginPolicy::new(&["lab.example".into()]).is_err(), "no scheme");
        assert!(OriginPolicy::new(&["http://lab.example/path".into()]).is_err(), "a path");
        Ok(())
    }
}
