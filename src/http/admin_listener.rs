//! The admin listener (INTERFACE.md, "Listeners"): `ACCOUNTD_ADMIN_LISTEN`,
//! default `127.0.0.1:8001`, `off` to disable. It serves `/metrics`, the
//! admin API under `/admin/api/` and the console under `/admin/`; none of
//! it is ever mounted on the main listener.

use super::AppState;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

/// Everything the admin listener serves.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .merge(crate::admin::router(&state))
        .fallback(not_found)
        .with_state(state)
}

/// Prometheus's scrape (INTERFACE.md, "Observability"), in the OpenMetrics
/// text format Prometheus reads.
async fn metrics(State(state): State<AppState>) -> Response {
    let text = state.metrics.render(state.accounts.hash_waiting());
    ([(CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response()
}

/// Errors of the admin surface are `{"error": "…"}` (INTERFACE.md, "Administration").
async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({"error": "not found"})),
    )
        .into_response()
}
