//! Error bodies of one key, `{"error": …}` or `{"message": …}`, as the
//! hand-built contracts answer. The type, its headers and its rendering are
//! shared; the key and every mapping from a domain error stay in each
//! contract, which names its own marker type (so each has its own
//! `KeyedError<Marker>` to hang its mappings on).

use super::drf::{with_retry_after, DrfError};
use super::extract::BodyError;
use axum::http::header::WWW_AUTHENTICATE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{Map, Value};
use std::marker::PhantomData;

/// The one key of a contract's error body.
pub trait ErrorKey {
    const KEY: &'static str;
}

/// A status and `{KEY: value}`, with `Retry-After` and a Bearer challenge when asked.
pub struct KeyedError<K> {
    status: StatusCode,
    value: Value,
    retry_after: Option<i64>,
    challenge: bool,
    key: PhantomData<K>,
}

impl<K: ErrorKey> std::fmt::Debug for KeyedError<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedError")
            .field("status", &self.status)
            .field(K::KEY, &self.value)
            .finish()
    }
}

impl<K> KeyedError<K> {
    pub fn new(status: StatusCode, value: impl Into<Value>) -> Self {
        Self {
            status,
            value: value.into(),
            retry_after: None,
            challenge: false,
            key: PhantomData,
        }
    }

    /// Tell the client when to come back (429s).
    pub fn retry_after(self, wait: i64) -> Self {
        Self {
            retry_after: Some(wait),
            ..self
        }
    }

    /// 503 with `Retry-After`: the database is out, or the hash queue full.
    pub fn unavailable(reason: &str) -> Self {
        super::unavailable::log(reason);
        Self::new(StatusCode::SERVICE_UNAVAILABLE, super::unavailable::MESSAGE)
            .retry_after(super::unavailable::RETRY_AFTER_SECONDS)
    }

    /// Name the scheme, as 401s of bearer-authenticated endpoints do.
    pub fn challenge(self) -> Self {
        Self {
            challenge: true,
            ..self
        }
    }
}

/// Unreadable bodies: DRF's status (400, 413, 415) and its sentence.
impl<K> From<BodyError> for KeyedError<K> {
    fn from(e: BodyError) -> Self {
        Self::new(DrfError::from(e.clone()).status, e.message())
    }
}

impl<K: ErrorKey> IntoResponse for KeyedError<K> {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert(K::KEY.to_owned(), self.value);
        let mut response = (self.status, Json(Value::Object(body))).into_response();
        if self.challenge {
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"api\""),
            );
        }
        match self.retry_after {
            Some(wait) => with_retry_after(response, wait),
            None => response,
        }
    }
}
