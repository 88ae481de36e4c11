//! The HTTP surface: the mounted contracts merged into one router, with a
//! body limit, a request deadline, request ids and the access log, optional
//! CORS, and trailing-slash normalising; served by `server`.

pub mod admin_listener;
pub mod contracts;
pub mod docs;
pub mod drf;
pub mod extract;
pub mod health;
pub mod jwks;
pub mod keyed;
pub mod origin;
pub mod request_log;
pub mod server;
pub mod timeout;
pub mod token_json;
pub mod unavailable;

use crate::config::{Config, Contract};
use crate::domain::tokens::Lifetimes;
use crate::domain::Accounts;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{middleware, Json, Router};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tower::Layer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::normalize_path::NormalizePathLayer;

/// What every handler gets.
#[derive(Clone)]
pub struct AppState {
    pub accounts: Arc<Accounts>,
    pub config: Arc<Config>,
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl AppState {
    pub fn lifetimes(&self, c: Contract) -> Lifetimes {
        let t = self.config.ttl(c);
        Lifetimes {
            access: t.access,
            refresh: t.refresh,
        }
    }
}

/// The router of every mounted contract.
pub fn router(state: AppState) -> Router {
    let mut router = Router::new().merge(health::router()).merge(jwks::router());
    for contract in &state.config.contracts {
        router = router.merge(contracts::router(*contract));
    }
    let docs = docs::routes(&state.config.contracts);
    let routes = request_log::Routes::new(&state.config.contracts, &docs);
    router = router.merge(contracts::mount(docs));
    let edge = request_log::Edge {
        proxy_header: state.config.trusted_proxy_header.as_deref().map(Arc::from),
        request_timeout: Duration::from_secs(state.config.request_timeout_seconds),
        metrics: state.metrics.clone(),
        routes: Arc::new(routes),
    };
    let router = router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        // Ids, the access log and the deadline (a 408 gets an id and a line too).
        .layer(middleware::from_fn_with_state(edge, request_log::layer));
    let router = match cors(&state.config) {
        Some(layer) => router.layer(layer),
        None => router,
    };
    router.with_state(state)
}

/// The client's address: from `trusted_header` when configured (its last
/// entry, the one the trusted proxy itself appended, so a client cannot spoof
/// it by sending the header), otherwise the peer address.
pub fn client_ip(req: &Request, trusted_header: Option<&str>) -> String {
    client_addr(req.headers(), req.extensions(), trusted_header)
}

/// `client_ip` from a request's parts.
pub fn client_addr(
    headers: &axum::http::HeaderMap,
    extensions: &axum::http::Extensions,
    trusted_header: Option<&str>,
) -> String {
    if let Some(name) = trusted_header {
        let forwarded = headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .rfind(|v| !v.is_empty());
        if let Some(ip) = forwarded {
            return ip.to_owned();
        }
    }
    extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The CORS layer for `ACCOUNTD_CORS_ORIGINS`, or none when it is unset.
/// Origins are compared as browsers send them (scheme://host[:port], no
/// trailing slash); `*` allows every origin. No credentials are allowed:
/// every contract sends its tokens in headers or bodies, never in cookies.
fn cors(config: &Config) -> Option<CorsLayer> {
    if config.cors_origins.is_empty() {
        return None;
    }
    let allow_origin = if config.cors_origins.iter().any(|o| o == "*") {
        // AllowOrigin::list panics on a wildcard; say what is meant instead.
        AllowOrigin::any()
    } else {
        let origins: Vec<HeaderValue> = config
            .cors_origins
            .iter()
            .filter_map(|o| {
                let origin = o.trim_end_matches('/');
                let value = HeaderValue::from_str(origin).ok();
                if value.is_none() {
                    tracing::warn!(origin = %o, "ignoring a CORS origin that is no header value");
                }
                value
            })
            .collect();
        AllowOrigin::list(origins)
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
            .allow_headers([
                axum::http::header::AUTHORIZATION,
                axum::http::header::CONTENT_TYPE,
            ])
            // Not CORS-safelisted: without this a page cannot read how long
            // to wait after a 429, nor the challenge of a 401.
            .expose_headers([
                axum::http::header::RETRY_AFTER,
                axum::http::header::WWW_AUTHENTICATE,
            ])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({"detail": "Not found."})),
    )
        .into_response()
}

async fn method_not_allowed(method: Method) -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(serde_json::json!({"detail": format!("Method \"{method}\" not allowed.")})),
    )
        .into_response()
}

/// Serve until `shutdown` resolves, then drain requests in flight (for at
/// most `limits.drain`). Paths match with or without their trailing slash:
/// the normaliser wraps the whole router, because a `Router::layer` runs after
/// routing, too late.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: server::Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = NormalizePathLayer::trim_trailing_slash().layer(router);
    server::serve(listener, app, limits, shutdown).await
}

/// What unit tests of a contract's answers read back.
#[cfg(test)]
pub(crate) mod test_support {
    use axum::http::StatusCode;
    use axum::response::Response;
    use serde_json::Value;

    /// Status, `Retry-After` and the JSON body of an answer.
    pub async fn rendered(r: Response) -> (StatusCode, Option<String>, Value) {
        let status = r.status();
        let retry = r
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, retry, serde_json::from_slice(&body).unwrap())
    }

    /// The outage answer every contract gives, in `body`'s shape.
    pub fn unavailable(body: Value) -> (StatusCode, Option<String>, Value) {
        (StatusCode::SERVICE_UNAVAILABLE, Some("5".to_owned()), body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(headers: &[(&str, &str)]) -> Request {
        let mut b = axum::http::Request::builder().uri("/x");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let mut r = b.body(axum::body::Body::empty()).unwrap();
        r.extensions_mut()
            .insert(axum::extract::ConnectInfo(SocketAddr::from((
                [10, 0, 0, 9],
                5000,
            ))));
        r
    }

    #[test]
    fn client_ip_is_the_peer_unless_a_trusted_header_is_configured() {
        let forwarded = [("x-forwarded-for", "6.6.6.6, 203.0.113.7")];
        assert_eq!(client_ip(&req(&forwarded), None), "10.0.0.9");
        assert_eq!(
            client_ip(&req(&forwarded), Some("X-Forwarded-For")),
            "203.0.113.7"
        );
        assert_eq!(client_ip(&req(&[]), Some("X-Forwarded-For")), "10.0.0.9");
    }
}
