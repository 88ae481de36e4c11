//! 002-simple-login.md: phone number (sent as `username`) and password, and
//! refresh. Every error of this contract is `{"error": "…"}`.

use crate::config::Contract;
use crate::domain::accounts::{LoginOutcome, PasswordLogin};
use crate::domain::secret::Secret;
use crate::domain::user::LoginName;
use crate::domain::Error;
use crate::http::contracts::Route;
use crate::http::extract::Fields;
use crate::http::keyed::{ErrorKey, KeyedError};
use crate::http::origin::Client;
use crate::http::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// This contract's routes, at the paths its document gives (without the
/// trailing slash, which the normaliser strips).
pub fn routes() -> Vec<Route> {
    vec![
        Route::post("/api/login", login),
        Route::post("/api/token/refresh", refresh),
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
    /// Any failure of the login's domain call.
    fn login(e: Error) -> Self {
        match e {
            // 002, User Login: 401 "Invalid username or password".
            Error::InvalidCredentials | Error::Inactive | Error::SecondFactorRequired => {
                Self::new(StatusCode::UNAUTHORIZED, "Invalid username or password")
            }
            other => Self::common(other),
        }
    }

    /// Any failure of the refresh's domain call.
    fn refresh(e: Error) -> Self {
        match e {
            // 002, Token Refresh: 401 "Invalid or expired refresh token",
            // whatever the reason (bad, expired, wrong type, blacklisted, user gone).
            Error::TokenInvalid(_) | Error::Inactive | Error::NotFound(_) => {
                Self::new(StatusCode::UNAUTHORIZED, "Invalid or expired refresh token")
            }
            other => Self::common(other),
        }
    }

    fn common(e: Error) -> Self {
        match e {
            // INTERFACE.md, "Logins that guess": simple 429 {"error": …}.
            Error::Throttled { wait } => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("Too many failed login attempts. Try again in {wait} seconds."),
            )
            .retry_after(wait),
            other => {
                tracing::error!(error = %other, "request failed");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
            }
        }
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
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.sentence()))?;
    let outcome = app
        .accounts
        .login_with_password(PasswordLogin {
            // 002: "The user's username. (actually it is phone number)".
            name: LoginName::UsernameOrPhone(username),
            password: &password,
            otp: None,
            second_factor: None,
            lifetimes: app.lifetimes(Contract::Simple),
            origin: &client.origin(Contract::Simple),
        })
        .await
        .map_err(ApiError::login)?;
    match outcome {
        LoginOutcome::Tokens(pair, _) => Ok(Json(
            json!({"refresh": pair.refresh.token, "access": pair.access.token}),
        )
        .into_response()),
        // Without a second factor offered, the domain never asks for one.
        LoginOutcome::OtpSent => Err(ApiError::common(Error::Internal(
            "unexpected second factor".into(),
        ))),
    }
}

async fn refresh(
    State(app): State<AppState>,
    client: Client,
    mut body: Fields<ApiError>,
) -> Result<Response, ApiError> {
    let refresh = body.string("refresh");
    body.finish()
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.sentence()))?;
    let access = app
        .accounts
        .refresh_access(
            &refresh,
            app.lifetimes(Contract::Simple),
            &client.origin(Contract::Simple),
        )
        .await
        .map_err(ApiError::refresh)?;
    Ok(Json(json!({"access": access.token})).into_response())
}
