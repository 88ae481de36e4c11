//! 000-pixel-genius.md: password login with an optional SMS code as second
//! factor, logout by blacklisting, refresh. Login answers `{"message": …}`;
//! logout and refresh document no errors, so they speak simplejwt's dialect.

use crate::config::Contract;
use crate::domain::accounts::{LoginOutcome, PasswordLogin};
use crate::domain::otp::OtpSpec;
use crate::domain::secret::Secret;
use crate::domain::user::LoginName;
use crate::domain::Error;
use crate::http::contracts::Route;
use crate::http::drf::DrfError;
use crate::http::extract::{FieldErrors, Fields};
use crate::http::keyed::{ErrorKey, KeyedError};
use crate::http::origin::Client;
use crate::http::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// Six-digit codes (INTERFACE.md, the five contracts).
const SECOND_FACTOR: OtpSpec = OtpSpec {
    purpose: "pixel_genius_login",
    digits: 6,
};

/// This contract's routes, at the paths its document gives (without the
/// trailing slash, which the normaliser strips).
pub fn routes() -> Vec<Route> {
    vec![
        Route::post("/accounts/login", login),
        Route::post("/accounts/logout", logout),
        Route::post("/accounts/refresh", refresh),
    ]
}

/// This contract's error bodies: `{"message": …}`.
pub enum Shape {}

impl ErrorKey for Shape {
    const KEY: &'static str = "message";
}

/// The login endpoint's error shape: `{"message": "…"}`.
pub type LoginError = KeyedError<Shape>;

impl LoginError {
    fn fields(e: FieldErrors) -> Self {
        Self::new(StatusCode::BAD_REQUEST, e.sentence())
    }
}

impl From<Error> for LoginError {
    fn from(e: Error) -> Self {
        match e {
            // 000, Login API: "Invalid Credentials". An inactive account is
            // refused alike, as Django's authenticate() refuses it.
            Error::InvalidCredentials | Error::Inactive | Error::SecondFactorRequired => {
                Self::new(StatusCode::UNAUTHORIZED, "Invalid credentials.")
            }
            // 000, Login API: "Invalid OTP", also for a burned code (INTERFACE.md).
            Error::OtpInvalid => Self::new(StatusCode::BAD_REQUEST, "Invalid OTP."),
            // 000, Login API: "OTP Resend Too Soon"; the hourly cap answers alike.
            Error::OtpTooSoon { wait } => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("Wait {wait} seconds before requesting a new OTP."),
            )
            .retry_after(wait),
            // INTERFACE.md, "Logins that guess": 429 {"message": …}.
            Error::Throttled { wait } => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("Too many failed login attempts. Try again in {wait} seconds."),
            )
            .retry_after(wait),
            // A country codes are not sent to: the code cannot be sent.
            Error::SmsFailed | Error::PhoneNotAllowed => {
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Failed to send OTP.")
            }
            other => {
                tracing::error!(error = %other, "login failed");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error.")
            }
        }
    }
}

async fn login(
    State(app): State<AppState>,
    client: Client,
    mut body: Fields<LoginError>,
) -> Result<Response, LoginError> {
    let username = body.string("username");
    let password = Secret::new(body.string("password"));
    let otp = body.optional_string("otp").map(Secret::new);
    body.finish().map_err(LoginError::fields)?;
    let outcome = app
        .accounts
        .login_with_password(PasswordLogin {
            name: LoginName::Username(username),
            password: &password,
            otp: otp.as_ref(),
            second_factor: Some(SECOND_FACTOR),
            lifetimes: app.lifetimes(Contract::PixelGenius),
            origin: &client.origin(Contract::PixelGenius),
        })
        .await?;
    Ok(match outcome {
        LoginOutcome::Tokens(pair, _) => {
            Json(json!({"refresh": pair.refresh.token, "access": pair.access.token}))
                .into_response()
        }
        LoginOutcome::OtpSent => {
            Json(json!({"message": "OTP sent to your phone number."})).into_response()
        }
    })
}

/// 000, Logout API: 205 Reset Content, no content.
async fn logout(
    State(app): State<AppState>,
    client: Client,
    mut body: Fields<DrfError>,
) -> Result<Response, DrfError> {
    let refresh = body.string("refresh");
    body.finish().map_err(|e| DrfError::fields(&e))?;
    app.accounts
        .logout(&refresh, &client.origin(Contract::PixelGenius))
        .await?;
    Ok(StatusCode::RESET_CONTENT.into_response())
}

async fn refresh(
    State(app): State<AppState>,
    client: Client,
    mut body: Fields<DrfError>,
) -> Result<Response, DrfError> {
    let refresh = body.string("refresh");
    body.finish().map_err(|e| DrfError::fields(&e))?;
    let access = app
        .accounts
        .refresh_access(
            &refresh,
            app.lifetimes(Contract::PixelGenius),
            &client.origin(Contract::PixelGenius),
        )
        .await?;
    Ok(Json(json!({"access": access.token})).into_response())
}
