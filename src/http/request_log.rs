//! Request ids and the one access-log line per request (INTERFACE.md,
//! "Observability"): the incoming `X-Request-Id` when it is 1–64 characters of
//! `[A-Za-z0-9._-]`, else a new one; echoed on the response; carried by every
//! log line of the request, because the request runs inside a span holding it.

use crate::config::Contract;
use crate::metrics::Metrics;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the request being answered, for handlers that want it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub HeaderValue);

impl RequestId {
    pub fn as_str(&self) -> &str {
        // Only ever built from ASCII (checked or generated).
        self.0.to_str().unwrap_or("")
    }
}

/// Whether a client's id may be kept: 1–64 of `[A-Za-z0-9._-]`.
pub fn acceptable(id: &[u8]) -> bool {
    (1..=64).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// 32 lowercase hex characters from the thread's CSPRNG (as `uuid4().hex`).
fn new_id() -> HeaderValue {
    let mut text = [0u8; 32];
    let bytes: [u8; 16] = rand::random();
    for (i, b) in bytes.iter().enumerate() {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        text[2 * i] = HEX[usize::from(b >> 4)];
        text[2 * i + 1] = HEX[usize::from(b & 15)];
    }
    // Hex digits are always a valid header value.
    HeaderValue::from_bytes(&text).unwrap_or_else(|_| HeaderValue::from_static("0"))
}

/// What the edge needs to know of the configuration.
#[derive(Debug, Clone)]
pub struct Edge {
    /// The trusted proxy header the client address is read from, if any.
    pub proxy_header: Option<Arc<str>>,
    /// The whole-request deadline (`timeout`).
    pub request_timeout: Duration,
    pub metrics: Arc<Metrics>,
    pub routes: Arc<Routes>,
}

/// The metrics labels of each mounted route: its path as the router matches
/// it, and the contract it belongs to (`accountd` for the server's own).
#[derive(Debug, Default)]
pub struct Routes(HashMap<&'static str, &'static str>);

impl Routes {
    pub fn new(contracts: &[Contract], own: &[super::contracts::Route]) -> Self {
        let mut map = HashMap::new();
        for c in contracts {
            for r in super::contracts::routes(*c) {
                map.insert(r.path, c.name());
            }
        }
        for path in
            own.iter()
                .map(|r| r.path)
                .chain(["/healthz", "/readyz", "/.well-known/jwks.json"])
        {
            map.insert(path, "accountd");
        }
        Self(map)
    }

    /// Routes that all count under one contract label (the admin surface's).
    pub fn of(routes: &[super::contracts::Route], contract: &'static str) -> Self {
        Self(routes.iter().map(|r| (r.path, contract)).collect())
    }

    /// (contract, route) of a matched path; no route matched: `none`, `unmatched`.
    pub fn labels(&self, matched: Option<&str>) -> (&'static str, &'static str) {
        match matched {
            None => ("none", "unmatched"),
            Some(path) => match self.0.get_key_value(path) {
                Some((route, contract)) => (contract, route),
                None => ("accountd", "other"),
            },
        }
    }
}

/// The request's id, span, deadline and access-log line: one middleware, so
/// a request pays for one layer here (the issue measured the access log's cost).
pub async fn layer(State(edge): State<Edge>, mut req: Request, next: Next) -> Response {
    let id = match req.headers().get(&X_REQUEST_ID) {
        Some(v) if acceptable(v.as_bytes()) => v.clone(),
        _ => new_id(),
    };
    // The path only: no query string, no headers, so no token reaches the log.
    // What the client sent is escaped by the log formatter (crate::logging).
    // Field values are computed only when the span is enabled.
    let span = tracing::info_span!(
        "request",
        request_id = id.to_str().unwrap_or(""),
        method = %req.method(),
        path = req.uri().path(),
        client = %super::client_ip(&req, edge.proxy_header.as_deref()),
    );
    // A route's template, never the raw path: clients cannot mint labels.
    let (contract, route) = edge.routes.labels(
        req.extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str),
    );
    req.extensions_mut().insert(RequestId(id.clone()));
    let started = Instant::now();
    let answer = super::timeout::within(edge.request_timeout, next.run(req));
    let mut response = answer.instrument(span.clone()).await;
    let (status, took) = (response.status().as_u16(), started.elapsed());
    edge.metrics.request(contract, route, status, took);
    // One line, two integers: cheap to format, and inside the span.
    span.in_scope(|| tracing::info!(status, micros = took.as_micros() as u64, "answered"));
    response.headers_mut().insert(X_REQUEST_ID.clone(), id);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_kept_only_when_short_and_plain() {
        for good in ["a", "req-1.2_3", &"x".repeat(64)] {
            assert!(acceptable(good.as_bytes()), "{good}");
        }
        for bad in ["", &"x".repeat(65), "a b", "a\nb", "é", "a/b", "a;b"] {
            assert!(!acceptable(bad.as_bytes()), "{bad:?}");
        }
    }

    #[test]
    fn new_ids_are_32_hex_characters_and_differ() {
        let (a, b) = (new_id(), new_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(acceptable(a.as_bytes()));
        assert!(a.as_bytes().iter().all(u8::is_ascii_hexdigit));
    }
}
