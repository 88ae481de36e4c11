//! 001-delivery-phone-otp.md: phone sign-in by SMS code with server-side
//! sessions (send-otp, verify-otp, logout, refresh, me). Every error of this
//! contract is `{"error": …}`: a sentence, or a serializer's field map.

use crate::config::Contract;
use crate::domain::accounts::TokenPair;
use crate::domain::clock::rfc3339;
use crate::domain::otp::OtpSpec;
use crate::domain::phone::Phone;
use crate::domain::secret::Secret;
use crate::domain::user::User;
use crate::domain::Error;
use crate::http::contracts::Route;
use crate::http::extract::{Bearer, FieldError, Fields};
use crate::http::keyed::{ErrorKey, KeyedError};
use crate::http::origin::Client;
use crate::http::token_json::TokenJson;
use crate::http::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Map, Value};

/// Six-digit codes (INTERFACE.md, the five contracts).
const CODE: OtpSpec = OtpSpec {
    purpose: "delivery_login",
    digits: 6,
};

/// 001, User Roles: "SHOPKEEPER - Shop owner (default)".
const DEFAULT_ROLE: &str = "SHOPKEEPER";

/// 001, Send OTP, Error Response.
const NOT_E164: &str = "Phone number must be in E.164 format (e.g., +1234567890)";

/// This contract's routes, at the paths its document gives (without the
/// trailing slash, which the normaliser strips).
pub fn routes() -> Vec<Route> {
    vec![
        Route::post("/api/accounts/auth/send-otp", send_otp),
        Route::post("/api/accounts/auth/verify-otp", verify_otp),
        Route::post("/api/accounts/auth/logout", logout),
        Route::post("/api/accounts/auth/refresh", refresh),
        Route::get("/api/accounts/auth/me", me),
    ]
}

/// This contract's error bodies: `{"error": …}`.
pub enum Shape {}

impl ErrorKey for Shape {
    const KEY: &'static str = "error";
}

/// `{"error": …}` with a status; `Retry-After` on 429 and
/// `WWW-Authenticate` on the 401s of bearer-authenticated endpoints.
pub type ApiError = KeyedError<Shape>;

impl ApiError {
    fn fields(errors: Map<String, Value>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Value::Object(errors))
    }

    /// Failures of send-otp.
    fn send(e: Error) -> Self {
        match e {
            // INTERFACE.md, delivery: within the wait or past the hourly cap,
            // 429 with the seconds left (Supabase's own sentence).
            Error::OtpTooSoon { wait } => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("For security purposes, you can only request this after {wait} seconds."),
            )
            .retry_after(wait),
            Error::SmsFailed => Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Failed to send OTP"),
            // INTERFACE.md, "Abuse limits": a country codes are not sent to
            // is refused as an invalid number.
            Error::PhoneNotAllowed => Self::fields(
                [("phone_number".to_owned(), json!([NOT_E164]))]
                    .into_iter()
                    .collect(),
            ),
            other => Self::internal(other),
        }
    }

    /// Failures of verify-otp.
    fn verify(e: Error) -> Self {
        match e {
            // 001, Verify OTP: 401 for a wrong, expired, used or burned code.
            Error::OtpInvalid => Self::new(StatusCode::UNAUTHORIZED, "Invalid or expired OTP"),
            // Not documented: the right code for a deactivated account.
            Error::Inactive => Self::new(StatusCode::FORBIDDEN, "User account is disabled"),
            // INTERFACE.md, "Abuse limits": too many wrong codes from one address.
            Error::Throttled { wait } => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("Too many failed attempts. Try again in {wait} seconds."),
            )
            .retry_after(wait),
            other => Self::internal(other),
        }
    }

    /// Failures of refresh: 001 documents one answer for every reason.
    fn refresh(e: Error) -> Self {
        match e {
            Error::TokenInvalid(_) | Error::Inactive | Error::NotFound(_) => Self::new(
                StatusCode::UNAUTHORIZED,
                "Failed to refresh session: Invalid refresh token",
            ),
            other => Self::internal(other),
        }
    }

    /// Failures of the bearer-authenticated endpoints (me, logout), which 001
    /// documents none of: a bad, expired or ended-session token is 401.
    fn bearer(e: Error) -> Self {
        match e {
            Error::TokenInvalid(_) | Error::Inactive | Error::NotFound(_) => {
                Self::unauthorized("Invalid or expired token")
            }
            other => Self::internal(other),
        }
    }

    fn unauthorized(message: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message).challenge()
    }

    /// Whatever no endpoint names: an outage is 503 (INTERFACE.md,
    /// "Database outage"), anything else 500.
    fn internal(e: Error) -> Self {
        if let Error::Unavailable(reason) = &e {
            return Self::unavailable(reason);
        }
        tracing::error!(error = %e, "request failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
    }
}

/// `phone_number` as 001 requires it. Absent is DRF's "required"; any value
/// that is not an E.164 string (blank, null, a number, a list, spaces,
/// letters, other digits than ASCII) gets the contract's own sentence.
fn phone_number(body: &Fields<ApiError>, strict: bool) -> Result<Phone, &'static str> {
    let Some(value) = body.value("phone_number") else {
        return Err(FieldError::Required.message());
    };
    let text = value.as_str().ok_or(NOT_E164)?;
    // DRF's CharField refuses NUL before the view's own phone rule runs.
    if text.contains('\0') {
        return Err(FieldError::NullCharacters.message());
    }
    let parsed = if strict {
        Phone::parse_dialable(text)
    } else {
        Phone::parse(text)
    };
    parsed.map_err(|_| NOT_E164)
}

/// The serializer's verdict: the phone error first, then the other fields'.
fn validate(body: Fields<ApiError>, phone: Result<Phone, &'static str>) -> Result<Phone, ApiError> {
    let mut errors = Map::new();
    if let Err(message) = &phone {
        errors.insert("phone_number".into(), json!([message]));
    }
    if let Err(rest) = body.finish() {
        if let Value::Object(m) = rest.to_json() {
            errors.extend(m);
        }
    }
    match phone {
        Ok(phone) if errors.is_empty() => Ok(phone),
        _ => Err(ApiError::fields(errors)),
    }
}

/// 001's `user` object.
#[derive(Serialize)]
struct UserJson<'a> {
    id: i64,
    phone_number: Option<&'a str>,
    email: &'a Option<String>,
    full_name: String,
    role: &'a str,
    is_active: bool,
    date_joined: String,
    last_login: Option<String>,
}

/// Borrowed from the user and written straight out (`me` is a hot call).
fn user_json(u: &User) -> UserJson<'_> {
    UserJson {
        id: u.id.0,
        phone_number: u.phone.as_ref().map(Phone::as_str),
        email: &u.email,
        full_name: u.full_name(),
        // INTERFACE.md: delivery's default role; a user made without one shows it.
        role: u.role.as_deref().unwrap_or(DEFAULT_ROLE),
        is_active: u.is_active,
        date_joined: rfc3339(u.date_joined),
        last_login: u.last_login.map(rfc3339),
    }
}

/// The token part of verify-otp and refresh. `expires_in` is the access
/// token's lifetime and `expires_at` its expiry, both read from the token.
fn tokens_json(pair: &TokenPair) -> Map<String, Value> {
    let access = &pair.access.claims;
    let mut m = Map::new();
    m.insert("access_token".into(), json!(pair.access.token));
    m.insert("refresh_token".into(), json!(pair.refresh.token));
    m.insert("expires_in".into(), json!(access.exp - access.iat));
    m.insert("expires_at".into(), json!(access.exp));
    m.insert("token_type".into(), json!("bearer"));
    m
}

async fn send_otp(
    State(app): State<AppState>,
    client: Client,
    body: Fields<ApiError>,
) -> Result<Response, ApiError> {
    let phone = phone_number(&body, app.config.phone_strict);
    let phone = validate(body, phone)?;
    app.accounts
        .send_code_to_phone(&phone, CODE, &client.origin(Contract::Delivery))
        .await
        .map_err(ApiError::send)?;
    Ok(Json(json!({
        "success": true,
        "message": "OTP sent successfully to your phone",
        "phone_number": phone.as_str(),
    }))
    .into_response())
}

async fn verify_otp(
    State(app): State<AppState>,
    client: Client,
    mut body: Fields<ApiError>,
) -> Result<Response, ApiError> {
    let phone = phone_number(&body, app.config.phone_strict);
    let otp = Secret::new(body.string("otp"));
    let phone = validate(body, phone)?;
    let (pair, user) = app
        .accounts
        .sign_in_with_code(
            &phone,
            CODE,
            &otp,
            DEFAULT_ROLE,
            app.lifetimes(Contract::Delivery),
            &client.origin(Contract::Delivery),
        )
        .await
        .map_err(ApiError::verify)?;
    let mut out = tokens_json(&pair);
    out.insert("user".into(), json!(user_json(&user)));
    Ok(TokenJson(Value::Object(out)).into_response())
}

async fn refresh(
    State(app): State<AppState>,
    client: Client,
    mut body: Fields<ApiError>,
) -> Result<Response, ApiError> {
    let token = body.string("refresh_token");
    body.finish()
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_json()))?;
    let pair = app
        .accounts
        .refresh_session(
            &token,
            app.lifetimes(Contract::Delivery),
            &client.origin(Contract::Delivery),
        )
        .await
        .map_err(ApiError::refresh)?;
    Ok(TokenJson(Value::Object(tokens_json(&pair))).into_response())
}

fn bearer(headers: &HeaderMap) -> Result<String, ApiError> {
    match Bearer::from_headers(headers) {
        Bearer::Token(t) => Ok(t),
        Bearer::Missing => Err(ApiError::unauthorized(
            "Authentication credentials were not provided.",
        )),
        Bearer::Malformed => Err(ApiError::unauthorized("Invalid or expired token")),
    }
}

async fn logout(
    State(app): State<AppState>,
    client: Client,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let token = bearer(&headers)?;
    app.accounts
        .end_session(&token, &client.origin(Contract::Delivery))
        .await
        .map_err(ApiError::bearer)?;
    Ok(Json(json!({"success": true, "message": "Logged out successfully"})).into_response())
}

async fn me(State(app): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let token = bearer(&headers)?;
    let (user, _) = app
        .accounts
        .session_user(&token)
        .await
        .map_err(ApiError::bearer)?;
    Ok(Json(user_json(&user)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::test_support::{rendered, unavailable};
    use crate::http::unavailable::MESSAGE;

    fn outage() -> Error {
        Error::Unavailable("database unreachable".into())
    }

    #[tokio::test]
    async fn an_outage_is_503_in_this_contracts_shape_with_retry_after() {
        for r in [
            ApiError::send(outage()),
            ApiError::verify(outage()),
            ApiError::refresh(outage()),
            ApiError::bearer(outage()),
        ] {
            assert_eq!(
                rendered(r.into_response()).await,
                unavailable(json!({"error": MESSAGE}))
            );
        }
    }
}
