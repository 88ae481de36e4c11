//! The Django REST Framework + simplejwt 5.4 error dialect, for contracts
//! that document no error of their own at an endpoint (INTERFACE.md, "The
//! simplejwt dialect"). Wire shapes only; the rules stay in the domain.

use super::extract::{BodyError, FieldErrors};
use crate::domain::error::TokenProblem;
use axum::http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// simplejwt's own sentence for each token problem.
pub fn token_message(p: TokenProblem) -> &'static str {
    match p {
        TokenProblem::InvalidOrExpired => "Token is invalid or expired",
        TokenProblem::WrongType => "Token has wrong type",
        TokenProblem::Revoked => "Token is blacklisted",
    }
}

/// A DRF error: status, JSON body and, for 401 and 429, the header DRF adds.
#[derive(Debug, Clone, PartialEq)]
pub struct DrfError {
    pub status: StatusCode,
    pub body: Value,
    pub retry_after: Option<i64>,
}

impl DrfError {
    pub fn new(status: StatusCode, body: Value) -> Self {
        Self {
            status,
            body,
            retry_after: None,
        }
    }

    /// 401 `{"detail": "<reason>", "code": "token_not_valid"}` (InvalidToken).
    pub fn token(p: TokenProblem) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            json!({"detail": token_message(p), "code": "token_not_valid"}),
        )
    }

    /// 401 from simplejwt 5.4's refresh serializer when the token's user is
    /// inactive (AuthenticationFailed renders `detail` alone). A deleted user
    /// gets the same answer rather than simplejwt's unhandled DoesNotExist.
    pub fn no_active_account() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            json!({"detail": "No active account found for the given token."}),
        )
    }

    /// 400 `{"field": ["message"]}`.
    pub fn fields(errors: &FieldErrors) -> Self {
        Self::new(StatusCode::BAD_REQUEST, errors.to_json())
    }

    /// 429 as DRF's throttling answers, with `Retry-After`. DRF's
    /// `Throttled` says "second" for a wait of one (ngettext), "seconds" otherwise.
    pub fn throttled(wait: i64) -> Self {
        let unit = if wait == 1 { "second" } else { "seconds" };
        Self {
            retry_after: Some(wait),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                json!({"detail": format!("Request was throttled. Expected available in {wait} {unit}.")}),
            )
        }
    }

    /// 503 `{"detail": …}` with `Retry-After`, as DRF's ServiceUnavailable
    /// renders (its own default sentence is "Service temporarily
    /// unavailable, try again later.", which every contract shares).
    pub fn unavailable(reason: &str) -> Self {
        super::unavailable::log(reason);
        Self {
            retry_after: Some(super::unavailable::RETRY_AFTER_SECONDS),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"detail": super::unavailable::MESSAGE}),
            )
        }
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"detail": "A server error occurred."}),
        )
    }
}

impl From<BodyError> for DrfError {
    fn from(e: BodyError) -> Self {
        let status = match e {
            BodyError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            BodyError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            BodyError::Parse(_) => StatusCode::BAD_REQUEST,
            // A serializer given a list says so under non_field_errors.
            BodyError::NotObject(_) => {
                return Self::new(
                    StatusCode::BAD_REQUEST,
                    json!({"non_field_errors": [e.message()]}),
                )
            }
        };
        Self::new(status, json!({"detail": e.message()}))
    }
}

impl IntoResponse for DrfError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        let headers = response.headers_mut();
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"api\""),
            );
        }
        if let Some(wait) = self.retry_after {
            headers.insert(RETRY_AFTER, HeaderValue::from(wait));
        }
        response
    }
}

/// Attach `Retry-After` to any response.
pub fn with_retry_after(mut response: Response, wait: i64) -> Response {
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(wait));
    response
}

impl From<crate::domain::Error> for DrfError {
    fn from(e: crate::domain::Error) -> Self {
        use crate::domain::Error as E;
        match e {
            E::TokenInvalid(p) => Self::token(p),
            E::Inactive | E::NotFound(_) => Self::no_active_account(),
            E::Throttled { wait } | E::OtpTooSoon { wait } => Self::throttled(wait),
            E::InvalidCredentials | E::SecondFactorRequired => Self::new(
                StatusCode::UNAUTHORIZED,
                json!({"detail": "No active account found with the given credentials"}),
            ),
            E::Invalid(msg) => Self::new(StatusCode::BAD_REQUEST, json!({"detail": msg})),
            E::Unavailable(reason) => Self::unavailable(&reason),
            other => {
                tracing::error!(error = %other, "request failed");
                Self::internal()
            }
        }
    }
}

/// What simplejwt 5.4's `JWTAuthentication` and DRF answer when a view needs
/// an authenticated user (`IsAuthenticated`): all 401 with `WWW-Authenticate`.
impl DrfError {
    /// No `Authorization: Bearer …` header: DRF's NotAuthenticated.
    pub fn not_authenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            json!({"detail": "Authentication credentials were not provided."}),
        )
    }

    /// `Bearer` with no token, or with more than one (`get_raw_token`).
    pub fn bad_authorization_header() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            json!({
                "detail": "Authorization header must contain two space-delimited values",
                "code": "bad_authorization_header"
            }),
        )
    }

    /// How `JWTAuthentication` refuses the user behind an access token:
    /// `get_validated_token` lists each token class it tried (only
    /// `AccessToken` here) with its reason, and `get_user` names a deleted or
    /// deactivated user. Other failures are internal.
    pub fn authentication(e: crate::domain::Error) -> Self {
        use crate::domain::Error as E;
        match e {
            E::TokenInvalid(p) => Self::new(
                StatusCode::UNAUTHORIZED,
                json!({
                    "detail": "Given token not valid for any token type",
                    "code": "token_not_valid",
                    "messages": [{
                        "token_class": "AccessToken",
                        "token_type": "access",
                        "message": token_message(p)
                    }]
                }),
            ),
            E::Inactive => Self::new(
                StatusCode::UNAUTHORIZED,
                json!({"detail": "User is inactive", "code": "user_inactive"}),
            ),
            E::NotFound(_) => Self::new(
                StatusCode::UNAUTHORIZED,
                json!({"detail": "User not found", "code": "user_not_found"}),
            ),
            other => Self::from(other),
        }
    }
}
