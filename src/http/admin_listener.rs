//! The admin listener (INTERFACE.md, "Listeners"): `ACCOUNTD_ADMIN_LISTEN`,
//! default `127.0.0.1:8001`, `off` to disable. It serves `/metrics`, the
//! admin API under `/admin/api/` and the console under `/admin/`; none of
//! it is ever mounted on the main listener.

use super::AppState;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};

/// Everything the admin listener serves.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(crate::admin::router(&state))
        .fallback(not_found)
        .with_state(state)
}

/// Errors of the admin surface are `{"error": "…"}` (INTERFACE.md, "Administration").
async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({"error": "not found"})),
    )
        .into_response()
}
