//! 004-kikapu.md: existing users sign in by phone and a five-digit SMS code
//! (verify-otp, resend-otp), optionally for one of their businesses; agents
//! by phone number or username and password. Every error is `{"error": "…"}`
//! (INTERFACE.md, kikapu).

use crate::config::Contract;
use crate::domain::org::{Org, OrgId};
use crate::domain::otp::OtpSpec;
use crate::domain::phone::Phone;
use crate::domain::secret::Secret;
use crate::domain::user::{LoginName, User};
use crate::domain::Error;
use crate::http::contracts::Route;
use crate::http::extract::{FieldErrors, Fields};
use crate::http::keyed::{ErrorKey, KeyedError};
use crate::http::origin::Client;
use crate::http::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// 004, Verify OTP: "5-digit One-Time Password".
const CODE: OtpSpec = OtpSpec {
    purpose: "kikapu_login",
    digits: 5,
};

/// INTERFACE.md, kikapu: agents are users of role AGENT.
const AGENT_ROLE: &str = "AGENT";

const BAD_PHONE: &str = "Invalid phone number. Use the E.164 format (e.g., +255712345678)";

/// This contract's routes, at the paths its document gives (without the
/// trailing slash, which the normaliser strips).
pub fn routes() -> Vec<Route> {
    vec![
        Route::post("/auth/api/verify-otp", verify_otp),
        Route::post("/auth/api/resend-otp", resend_otp),
        Route::post("/auth/api/agent/login", agent_login),
    ]
}

/// This contract's error bodies: `{"error": …}`.
pub enum Shape {}

impl ErrorKey for Shape {
    const KEY: &'static str = "error";
}

/// `{"error": "…"}` with a status, and `Retry-After` on 429.
pub type ApiError = KeyedError<Shape>;

impl ApiError {
    /// 004: "400 Bad Request - Invalid input data".
    fn fields(e: FieldErrors) -> Self {
        Self::new(StatusCode::BAD_REQUEST, e.sentence())
    }

    fn user_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "User not found")
    }

    /// What verify-otp and resend-otp have in common.
    fn otp(e: Error) -> Self {
        match e {
            // INTERFACE.md, kikapu: a business_id that is not one of the user's is 404.
            Error::NotFound("organization") => {
                Self::new(StatusCode::NOT_FOUND, "Business not found")
            }
            // 004, Verify OTP / Resend OTP: 404 User not found (also a user
            // deleted while signing in).
            Error::NotFound(_) => Self::user_not_found(),
            // 004, Verify OTP: 401 OTP expired or invalid.
            Error::OtpInvalid => Self::new(StatusCode::UNAUTHORIZED, "Invalid or expired OTP"),
            // 004, Resend OTP: 400 when resent too soon, with the seconds left
            // (INTERFACE.md); the hourly cap answers alike.
            Error::OtpTooSoon { wait } => Self::new(
                StatusCode::BAD_REQUEST,
                format!("Please wait {wait} seconds before requesting a new OTP"),
            ),
            // 004, Resend OTP: 500 Failed to send SMS.
            Error::SmsFailed => Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Failed to send SMS"),
            // Not documented for these endpoints: 403 as for inactive agents.
            Error::Inactive => Self::new(StatusCode::FORBIDDEN, "User account is inactive"),
            // INTERFACE.md, "Abuse limits": a country codes are not sent to
            // is refused as an invalid number.
            Error::PhoneNotAllowed => Self::new(StatusCode::BAD_REQUEST, BAD_PHONE),
            // INTERFACE.md, "Abuse limits": too many wrong codes from one address.
            Error::Throttled { wait } => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("Too many failed attempts. Try again in {wait} seconds."),
            )
            .retry_after(wait),
            other => Self::internal(other),
        }
    }

    fn agent(e: Error) -> Self {
        match e {
            // 004, Agent Login: 404 Agent not found or invalid credentials;
            // also an agent whose account requires an SMS code, which this
            // endpoint cannot take.
            Error::InvalidCredentials | Error::SecondFactorRequired => Self::new(
                StatusCode::NOT_FOUND,
                "Agent not found or invalid credentials",
            ),
            // 004, Agent Login: 403 Agent account is inactive.
            Error::Inactive => Self::new(StatusCode::FORBIDDEN, "Agent account is inactive"),
            // INTERFACE.md, "Logins that guess": kikapu 429 {"error": …}.
            Error::Throttled { wait } => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("Too many failed login attempts. Try again in {wait} seconds."),
            )
            .retry_after(wait),
            other => Self::internal(other),
        }
    }

    fn internal(e: Error) -> Self {
        tracing::error!(error = %e, "request failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
    }
}

/// `phoneNumber`, once the fields are otherwise valid: E.164 (and dialable
/// when the server is configured so), else 400.
fn phone(text: &str, strict: bool) -> Result<Phone, ApiError> {
    let parsed = if strict {
        Phone::parse_dialable(text)
    } else {
        Phone::parse(text)
    };
    parsed.map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, BAD_PHONE))
}

/// The user object of 004's Verify OTP: `user_type` only without a business,
/// exactly as the document's two examples show it.
fn user_json(u: &User, with_type: bool) -> Value {
    let mut v = json!({
        "id": u.id.0,
        "name": u.full_name(),
        "phoneNumber": u.phone.as_ref().map(Phone::as_str),
        "email": u.email,
    });
    if with_type {
        v["user_type"] = json!(u.role);
    }
    v
}

fn business_json(o: &Org) -> Value {
    json!({
        "id": o.id.0,
        "name": o.name,
        "type": o.kind,
        "is_verified": o.is_verified,
    })
}

async fn verify_otp(
    State(app): State<AppState>,
    client: Client,
    mut body: Fields<ApiError>,
) -> Result<Response, ApiError> {
    let number = body.string("phoneNumber");
    let otp = Secret::new(body.string("otp"));
    let business = body.optional_integer("business_id").map(OrgId);
    body.finish().map_err(ApiError::fields)?;
    let phone = phone(&number, app.config.phone_strict)?;
    let (pair, user, org) = app
        .accounts
        .sign_in_user_with_code(
            &phone,
            CODE,
            &otp,
            business,
            app.lifetimes(Contract::Kikapu),
            &client.origin(Contract::Kikapu),
        )
        .await
        .map_err(ApiError::otp)?;
    let out = match org {
        None => json!({
            "access_token": pair.access.token,
            "refresh_token": pair.refresh.token,
            "user": user_json(&user, true),
        }),
        Some(org) => json!({
            "access_token": pair.access.token,
            "refresh_token": pair.refresh.token,
            "business": business_json(&org),
            "user": user_json(&user, false),
        }),
    };
    Ok(Json(out).into_response())
}

async fn resend_otp(
    State(app): State<AppState>,
    client: Client,
    mut body: Fields<ApiError>,
) -> Result<Response, ApiError> {
    let number = body.string("phoneNumber");
    body.finish().map_err(ApiError::fields)?;
    let phone = phone(&number, app.config.phone_strict)?;
    app.accounts
        .send_code_to_user(&phone, CODE, &client.origin(Contract::Kikapu))
        .await
        .map_err(ApiError::otp)?;
    Ok(Json(json!({"message": "OTP resent successfully"})).into_response())
}

async fn agent_login(
    State(app): State<AppState>,
    client: Client,
    mut body: Fields<ApiError>,
) -> Result<Response, ApiError> {
    // 004, Agent Login: phoneNumber, or username for Flutter apps.
    let phone_number = body.optional_string("phoneNumber");
    let username = body.optional_string("username");
    let password = body.optional_string("password");
    let fields_ok = body.finish().is_ok();
    let (Some(name), Some(password), true) = (phone_number.or(username), password, fields_ok)
    else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "Phone number and password are required",
        ));
    };
    let user = app
        .accounts
        .check_password_as(
            &LoginName::UsernameOrPhone(name),
            &Secret::new(password),
            AGENT_ROLE,
            &client.origin(Contract::Kikapu),
        )
        .await
        .map_err(ApiError::agent)?;
    let pair = app
        .accounts
        .issue_pair(&user, app.lifetimes(Contract::Kikapu), None)
        .await
        .map_err(ApiError::internal)?;
    let attr = |key: &str| user.attr(key).cloned().unwrap_or(Value::Null);
    Ok(Json(json!({
        "success": true,
        "message": "Login successful",
        "user": {
            "id": user.id.0,
            "name": user.full_name(),
            "phoneNumber": user.phone.as_ref().map(Phone::as_str),
            "email": user.email,
            "agent_id": attr("agent_id"),
            "assigned_area": attr("assigned_area"),
        },
        "token": {
            "access": pair.access.token,
            "refresh": pair.refresh.token,
        },
    }))
    .into_response())
}
