//! `/healthz` and `/readyz` on the main listener (INTERFACE.md, "Listeners"):
//! a load balancer's liveness and readiness probes.

use super::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use std::time::Duration;

/// How long the database has to answer a readiness probe.
const READY_WITHIN: Duration = Duration::from_secs(1);

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// 200 while the process runs.
async fn healthz() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

/// 200 when the database answers a query within a second, else 503.
async fn readyz(State(app): State<AppState>) -> Response {
    let store = app.accounts.store().clone();
    match tokio::time::timeout(READY_WITHIN, store.ping()).await {
        Ok(Ok(())) => Json(json!({"status": "ready"})).into_response(),
        failed => {
            let reason = match failed {
                Ok(Err(e)) => e.to_string(),
                _ => "the database did not answer within 1 s".to_owned(),
            };
            tracing::warn!(reason, "not ready");
            super::drf::with_retry_after(
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(json!({"status": "unavailable"})),
                )
                    .into_response(),
                super::unavailable::RETRY_AFTER_SECONDS,
            )
        }
    }
}
