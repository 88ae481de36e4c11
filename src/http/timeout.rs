//! The whole-request deadline (`ACCOUNTD_REQUEST_TIMEOUT_SECONDS`): a request
//! whose body, or whose answer, takes longer is answered 408 and its
//! connection closed. 408 rather than 503: what overruns 30 s is a client
//! sending its body slowly (database waits end at 5 s with the contracts' own
//! 503, SMS gateways at their own timeout). The body is DRF's `{"detail": …}`,
//! as the router's other contract-less answers (404, 405).

use axum::http::header::CONNECTION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::future::Future;
use std::time::Duration;

pub const MESSAGE: &str = "Request timed out.";

/// `answer`, or the 408 once `limit` has passed.
pub async fn within(limit: Duration, answer: impl Future<Output = Response>) -> Response {
    match tokio::time::timeout(limit, answer).await {
        Ok(response) => response,
        Err(_) => {
            tracing::info!(seconds = limit.as_secs(), "request timed out");
            let mut response = (
                StatusCode::REQUEST_TIMEOUT,
                Json(json!({"detail": MESSAGE})),
            )
                .into_response();
            // The rest of the body may still be on its way: do not read it as
            // the next request.
            response
                .headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
            response
        }
    }
}
