//! The admin surface on the admin listener (INTERFACE.md, "Administration"):
//! the JSON admin API under `/admin/api/` and the server-rendered console
//! under `/admin/`, both over the same use cases as the CLI
//! (`domain::admin`, `domain::console`); nothing of it is mounted on the
//! main listener.

pub mod api;
pub mod auth;
pub mod console;
pub mod json;

use crate::http::contracts::{self, Route};
use crate::http::request_log;
use crate::http::AppState;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use std::sync::Arc;
use std::time::Duration;

/// The console may load only its own stylesheet and script, submit forms
/// only to itself, and be framed by nobody.
const POLICY: &str =
    "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

/// Every route of the admin surface: the API's and the console's.
pub fn routes() -> Vec<Route> {
    let mut all = api::routes();
    all.extend(console::routes());
    all
}

/// The admin API and console, for the admin listener: with request ids and
/// the access log (the audit trail records the id), the body limit, and
/// headers that keep pages out of frames and caches.
pub fn router(state: &AppState) -> Router<AppState> {
    let all = routes();
    let edge = request_log::Edge {
        proxy_header: state.config.trusted_proxy_header.as_deref().map(Arc::from),
        request_timeout: Duration::from_secs(state.config.request_timeout_seconds),
        metrics: state.metrics.clone(),
        routes: Arc::new(request_log::Routes::of(&all, "admin")),
    };
    contracts::mount(all)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(middleware::from_fn(guard))
        .layer(middleware::from_fn_with_state(edge, request_log::layer))
}

async fn method_not_allowed() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(serde_json::json!({"error": "method not allowed"})),
    )
        .into_response()
}

/// Headers on every admin answer: no framing, no sniffing, no referrer
/// leaving the console, and no copy of a page of user data in a cache.
async fn guard(req: Request, next: Next) -> Response {
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}
