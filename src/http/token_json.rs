//! Answers that carry a token: JSON with `Cache-Control: no-store`
//! (INTERFACE.md, "Connections, queues, responses"; RFC 6749 §5.1), so no
//! browser or proxy cache keeps a credential. Every contract's token answer
//! is built here.

use axum::http::header::CACHE_CONTROL;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;

/// A 200 JSON body holding a token.
pub struct TokenJson(pub Value);

impl IntoResponse for TokenJson {
    fn into_response(self) -> Response {
        let mut response = Json(self.0).into_response();
        response
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}
