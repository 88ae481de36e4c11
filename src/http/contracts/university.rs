//! 003-university.md: username and password login answering both tokens and
//! the user, logout that blacklists the body's refresh token, the profile of
//! the token's user, and refresh. The views answer in the document's envelope
//! (`{"success": …, "message": …}`); what the document shows from the
//! authentication class (invalid or missing Bearer token) and DRF's throttle
//! answer in simplejwt/DRF words (`http::drf`).

use crate::config::Contract;
use crate::domain::accounts::{LoginOutcome, PasswordLogin};
use crate::domain::error::TokenProblem;
use crate::domain::phone::Phone;
use crate::domain::secret::Secret;
use crate::domain::user::{LoginName, User};
use crate::domain::Error;
use crate::http::contracts::Route;
use crate::http::drf::{with_retry_after, DrfError};
use crate::http::extract::{Bearer, BodyError, Fields};
use crate::http::origin::Client;
use crate::http::token_json::TokenJson;
use crate::http::{unavailable, AppState};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::{json, Value};

/// This contract's routes, at the paths its document gives (without the
/// trailing slash, which the normaliser strips).
pub fn routes() -> Vec<Route> {
    vec![
        Route::post("/api/auth/login", login),
        Route::post("/api/auth/logout", logout),
        Route::get("/api/auth/profile", profile),
        Route::post("/api/auth/refresh", refresh),
    ]
}

/// The user object of 003 (Login and Get User Profile), keys in the
/// document's order. INTERFACE.md: `user_type` is the role, `is_student` and
/// `is_staff_member` follow from it, every other attribute is read from the
/// profile (absent → null); `phone_number` is the stored phone. Borrowed from
/// the user and written straight out: the profile is the hottest answer.
#[derive(Serialize)]
struct UserJson<'a> {
    id: i64,
    username: &'a Option<String>,
    email: &'a Option<String>,
    first_name: &'a str,
    last_name: &'a str,
    university_id: Option<&'a Value>,
    user_type: &'a Option<String>,
    phone_number: Option<&'a str>,
    date_of_birth: Option<&'a Value>,
    major: Option<&'a Value>,
    academic_level: Option<&'a Value>,
    enrollment_year: Option<&'a Value>,
    department: Option<&'a Value>,
    position: Option<&'a Value>,
    is_student: bool,
    is_staff_member: bool,
    student_profile: Option<&'a Value>,
    staff_profile: Option<&'a Value>,
}

fn user_json(u: &User) -> UserJson<'_> {
    UserJson {
        id: u.id.0,
        username: &u.username,
        email: &u.email,
        first_name: &u.first_name,
        last_name: &u.last_name,
        university_id: u.attr("university_id"),
        user_type: &u.role,
        phone_number: u.phone.as_ref().map(Phone::as_str),
        date_of_birth: u.attr("date_of_birth"),
        major: u.attr("major"),
        academic_level: u.attr("academic_level"),
        enrollment_year: u.attr("enrollment_year"),
        department: u.attr("department"),
        position: u.attr("position"),
        is_student: u.has_role("student"),
        is_staff_member: u.has_role("staff"),
        student_profile: u.attr("student_profile"),
        staff_profile: u.attr("staff_profile"),
    }
}

/// 003, Get User Profile: `{"success": true, "user": {…}}`.
#[derive(Serialize)]
struct ProfileJson<'a> {
    success: bool,
    user: UserJson<'a>,
}

/// A failure: the document's envelope, or a DRF/simplejwt body.
#[derive(Debug)]
pub enum ApiError {
    /// `{"success": false, "message": …}`, with `errors` when given.
    Envelope {
        status: StatusCode,
        message: &'static str,
        errors: Option<Value>,
    },
    /// Answered by DRF or simplejwt rather than the view.
    Drf(DrfError),
    /// 503 in the envelope, with `Retry-After` (INTERFACE.md, "Database outage").
    Unavailable,
}

impl ApiError {
    fn envelope(status: StatusCode, message: &'static str) -> Self {
        ApiError::Envelope {
            status,
            message,
            errors: None,
        }
    }

    /// 003, Error Handling: 400 "Validation failed" with DRF's per-field errors.
    fn validation(status: StatusCode, errors: Value) -> Self {
        ApiError::Envelope {
            status,
            message: "Validation failed",
            errors: Some(errors),
        }
    }

    /// Whatever no endpoint names: an outage is 503, anything else 500.
    fn internal(e: Error) -> Self {
        if let Error::Unavailable(reason) = &e {
            unavailable::log(reason);
            return ApiError::Unavailable;
        }
        tracing::error!(error = %e, "request failed");
        Self::envelope(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
    }

    /// Any failure of the login's domain call.
    fn login(e: Error) -> Self {
        match e {
            // 003, User Login: 401 "Invalid credentials". An inactive account
            // is refused alike, as Django's authenticate() refuses it.
            Error::InvalidCredentials | Error::Inactive | Error::SecondFactorRequired => {
                ApiError::Envelope {
                    status: StatusCode::UNAUTHORIZED,
                    message: "Invalid credentials",
                    errors: Some(json!({"non_field_errors": ["Invalid username or password"]})),
                }
            }
            // INTERFACE.md, "Logins that guess": university 429 as DRF throttling does.
            Error::Throttled { wait } => ApiError::Drf(DrfError::throttled(wait)),
            other => Self::internal(other),
        }
    }

    /// Any failure of the refresh's domain call: 003, Refresh Token, 401
    /// "Invalid refresh token", whatever the reason (bad, expired, wrong
    /// type, blacklisted, its user gone or deactivated).
    fn refresh(e: Error) -> Self {
        match e {
            Error::TokenInvalid(_) | Error::Inactive | Error::NotFound(_) => {
                Self::envelope(StatusCode::UNAUTHORIZED, "Invalid refresh token")
            }
            other => Self::internal(other),
        }
    }

    /// 003, User Logout: 400 "Logout failed" for any refresh token that
    /// cannot be blacklisted (missing, bad, expired, an access token, already
    /// blacklisted, or another user's).
    fn logout_failed() -> Self {
        Self::envelope(StatusCode::BAD_REQUEST, "Logout failed")
    }
}

/// A body that cannot be read at all (bad JSON, not an object, too large, an
/// unsupported media type): the validation envelope, with DRF's sentence
/// under `non_field_errors` and DRF's status for it.
impl From<BodyError> for ApiError {
    fn from(e: BodyError) -> Self {
        let status = DrfError::from(e.clone()).status;
        Self::validation(status, json!({"non_field_errors": [e.message()]}))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Envelope {
                status,
                message,
                errors,
            } => {
                let body = match errors {
                    Some(errors) => json!({"success": false, "message": message, "errors": errors}),
                    None => json!({"success": false, "message": message}),
                };
                (status, Json(body)).into_response()
            }
            ApiError::Drf(e) => e.into_response(),
            ApiError::Unavailable => with_retry_after(
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(json!({"success": false, "message": unavailable::MESSAGE})),
                )
                    .into_response(),
                unavailable::RETRY_AFTER_SECONDS,
            ),
        }
    }
}

/// DRF's `IsAuthenticated` with simplejwt's `JWTAuthentication`: the user
/// behind the Bearer access token, or simplejwt's 401.
async fn authenticate(app: &AppState, headers: &HeaderMap) -> Result<User, ApiError> {
    let token = match Bearer::from_headers(headers) {
        Bearer::Missing => return Err(ApiError::Drf(DrfError::not_authenticated())),
        Bearer::Malformed => return Err(ApiError::Drf(DrfError::bad_authorization_header())),
        Bearer::Token(t) => t,
    };
    match app.accounts.user_from_access(&token).await {
        Ok((user, _)) => Ok(user),
        Err(e @ (Error::TokenInvalid(_) | Error::Inactive | Error::NotFound(_))) => {
            Err(ApiError::Drf(DrfError::authentication(e)))
        }
        Err(other) => Err(ApiError::internal(other)),
    }
}

async fn login(
    State(app): State<AppState>,
    client: Client,
    mut body: Fields<ApiError>,
) -> Result<Response, ApiError> {
    let username = body.string("username");
    let password = Secret::new(body.string("password"));
    body.finish()
        .map_err(|e| ApiError::validation(StatusCode::BAD_REQUEST, e.to_json()))?;
    let outcome = app
        .accounts
        .login_with_password(PasswordLogin {
            name: LoginName::Username(username),
            password: &password,
            otp: None,
            second_factor: None,
            lifetimes: app.lifetimes(Contract::University),
            origin: &client.origin(Contract::University),
        })
        .await
        .map_err(ApiError::login)?;
    match outcome {
        LoginOutcome::Tokens(pair, user) => Ok(TokenJson(json!({
            "success": true,
            "message": "Login successful",
            "access_token": pair.access.token,
            "refresh_token": pair.refresh.token,
            "user": user_json(&user),
        }))
        .into_response()),
        // Without a second factor offered, the domain never asks for one.
        LoginOutcome::OtpSent => Err(ApiError::internal(Error::Internal(
            "unexpected second factor".into(),
        ))),
    }
}

/// Authentication comes first, as DRF authenticates before the view reads
/// the body; then the body's `refresh_token` is blacklisted.
async fn logout(
    State(app): State<AppState>,
    client: Client,
    headers: HeaderMap,
    body: Result<Fields<ApiError>, ApiError>,
) -> Result<Response, ApiError> {
    let user = authenticate(&app, &headers).await?;
    let mut body = body?;
    let refresh = body.string("refresh_token");
    body.finish().map_err(|_| ApiError::logout_failed())?;
    let origin = client.origin(Contract::University);
    match app.accounts.logout_as(user.id, &refresh, &origin).await {
        Ok(()) => {
            Ok(Json(json!({"success": true, "message": "Logout successful"})).into_response())
        }
        Err(Error::TokenInvalid(_)) => Err(ApiError::logout_failed()),
        Err(other) => Err(ApiError::internal(other)),
    }
}

async fn profile(State(app): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let user = authenticate(&app, &headers).await?;
    Ok(Json(ProfileJson {
        success: true,
        user: user_json(&user),
    })
    .into_response())
}

async fn refresh(
    State(app): State<AppState>,
    client: Client,
    mut body: Fields<ApiError>,
) -> Result<Response, ApiError> {
    let token = body.optional_string("refresh_token");
    // A value that is not text (a list, an object, true) is no token:
    // simplejwt's RefreshToken() refuses it as invalid.
    if body.finish().is_err() {
        return Err(ApiError::refresh(Error::TokenInvalid(
            TokenProblem::InvalidOrExpired,
        )));
    }
    // 003, Refresh Token: 400 "Refresh token required" when absent, null or empty.
    let token = token
        .ok_or_else(|| ApiError::envelope(StatusCode::BAD_REQUEST, "Refresh token required"))?;
    let access = app
        .accounts
        .refresh_access(
            &token,
            app.lifetimes(Contract::University),
            &client.origin(Contract::University),
        )
        .await
        .map_err(ApiError::refresh)?;
    Ok(TokenJson(json!({"success": true, "access_token": access.token})).into_response())
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
        let envelope = json!({"success": false, "message": MESSAGE});
        for r in [
            ApiError::login(outage()),
            ApiError::refresh(outage()),
            ApiError::internal(outage()),
        ] {
            assert_eq!(
                rendered(r.into_response()).await,
                unavailable(envelope.clone())
            );
        }
        // The shared DRF authentication answers for other contracts in `detail`.
        let r = DrfError::authentication(outage()).into_response();
        assert_eq!(rendered(r).await, unavailable(json!({"detail": MESSAGE})));
    }
}
