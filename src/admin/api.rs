//! The admin API (INTERFACE.md, "Administration"; `docs/admin-openapi.json`):
//! JSON under `/admin/api/`, for the bearer of `ACCOUNTD_ADMIN_TOKEN` or a
//! staff user signed in to the console (then every change carries the
//! session's CSRF token in `X-CSRF-Token`). Errors are `{"error": "…"}`:
//! 400 bad input, 401 no or wrong credentials, 403 not staff or no CSRF
//! token, 404 unknown id, 503 while the database does not answer.

use super::auth::{self, CSRF_HEADER};
use super::json;
use crate::domain::admin::{Actor, Admin, Paging, DEFAULT_AUDIT_LIMIT};
use crate::domain::audit::{AuditFilter, EventKind};
use crate::domain::directory::UserInput;
use crate::domain::secret::Secret;
use crate::domain::user::UserId;
use crate::domain::Error;
use crate::http::contracts::Route;
use crate::http::unavailable;
use crate::http::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

/// The admin API's own specification, compiled in.
pub const DOCUMENT: &str = include_str!("../../docs/admin-openapi.json");

/// Every route of the admin API, in one table (a test compares it with
/// `docs/admin-openapi.json`).
pub fn routes() -> Vec<Route> {
    vec![
        Route::get("/admin/api/openapi.json", document),
        Route::get("/admin/api/users", list_users),
        Route::post("/admin/api/users", create_user),
        Route::get("/admin/api/users/{id}", show_user),
        Route::new(
            Method::PATCH,
            "/admin/api/users/{id}",
            routing::patch(update_user),
        ),
        Route::new(
            Method::DELETE,
            "/admin/api/users/{id}",
            routing::delete(delete_user),
        ),
        Route::post("/admin/api/users/{id}/logout", logout_user),
        Route::post("/admin/api/users/{id}/unlock", unlock_user),
        Route::get("/admin/api/users/{id}/sessions", user_sessions),
        Route::new(
            Method::DELETE,
            "/admin/api/sessions/{id}",
            routing::delete(end_session),
        ),
        Route::get("/admin/api/audit", audit),
    ]
}

/// An error of the admin API: a status and one sentence.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Invalid(why) => Self::bad(why),
            Error::Conflict(field) => Self::bad(format!("a user with that {field} already exists")),
            Error::NotFound(what) => Self::new(StatusCode::NOT_FOUND, format!("{what} not found")),
            Error::Unavailable(why) => {
                unavailable::log(&why);
                Self::new(StatusCode::SERVICE_UNAVAILABLE, unavailable::MESSAGE)
            }
            Error::Internal(why) => {
                tracing::error!(error = %why, "admin API failed");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
            }
            other => Self::bad(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, Json(json!({"error": self.message}))).into_response();
        let headers = r.headers_mut();
        match self.status {
            StatusCode::UNAUTHORIZED => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"accountd admin\""),
                );
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(unavailable::RETRY_AFTER_SECONDS),
                );
            }
            _ => {}
        }
        r
    }
}

type Answer = Result<Response, ApiError>;

/// An authenticated caller of the admin API.
pub struct Caller(Actor);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let origin = auth::origin(parts, state);
        // A bearer header decides alone: a wrong token is refused even
        // with a session cookie beside it.
        if let Some(presented) = auth::bearer(&parts.headers) {
            let token = state.config.admin_token.as_ref();
            return match presented {
                Some(t) if auth::token_matches(token, t) => Ok(Caller(Actor {
                    origin,
                    staff: None,
                })),
                _ => Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "invalid admin token",
                )),
            };
        }
        let signed_in = auth::signed_in(&parts.headers, state)
            .await?
            .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "authentication required"))?;
        if !signed_in.user.is_staff {
            return Err(ApiError::new(StatusCode::FORBIDDEN, "staff only"));
        }
        let reads = matches!(parts.method, Method::GET | Method::HEAD);
        if !reads {
            let presented = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !signed_in.session.csrf_matches(presented) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "CSRF token missing or incorrect",
                ));
            }
        }
        Ok(Caller(signed_in.actor(origin)))
    }
}

fn admin(state: &AppState, actor: Actor) -> Admin<'_> {
    let accounts = &state.accounts;
    Admin {
        store: accounts.store().as_ref(),
        events: accounts.events().as_ref(),
        key: accounts.otp_key(),
        dialable: state.config.phone_strict,
        now: accounts.now(),
        actor,
    }
}

/// A path's id: not a number is no such thing.
fn id_of(raw: &str, what: &'static str) -> Result<UserId, ApiError> {
    raw.parse::<i64>()
        .map(UserId)
        .map_err(|_| ApiError::from(Error::NotFound(what)))
}

/// The query string's parameters; an unreadable one is bad input.
fn params(query: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|_| ApiError::bad("the query string cannot be read"))
}

fn param<'a>(all: &'a [(String, String)], name: &str) -> Option<&'a str> {
    all.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

fn number(all: &[(String, String)], name: &str) -> Result<Option<i64>, ApiError> {
    param(all, name)
        .map(|v| {
            v.trim()
                .parse::<i64>()
                .map_err(|_| ApiError::bad(format!("{name} must be a whole number")))
        })
        .transpose()
}

fn ok(status: StatusCode, body: Value) -> Answer {
    Ok((status, Json(body)).into_response())
}

/// The fields of a user as the API takes them: those of `accountd user
/// create/update`, plus `is_active` and `is_staff`. A field absent or null
/// is left as it is (or unset, at creation); an unknown field is refused, so
/// a misspelt one cannot be silently ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserBody {
    username: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    password: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    role: Option<String>,
    otp_enabled: Option<bool>,
    is_active: Option<bool>,
    is_staff: Option<bool>,
    profile: Option<Value>,
}

impl UserBody {
    fn parse(body: &Bytes) -> Result<UserInput, ApiError> {
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad(format!("the body is not JSON: {e}")))?;
        // serde would take an array as the fields in order: only an object is.
        if !value.is_object() {
            return Err(ApiError::bad(
                "the body must be a JSON object of a user's fields",
            ));
        }
        let b: UserBody = serde_json::from_value(value)
            .map_err(|e| ApiError::bad(format!("the body is not a user's fields: {e}")))?;
        Ok(UserInput {
            username: b.username,
            phone: b.phone,
            email: b.email,
            password: b.password.map(Secret::new),
            first_name: b.first_name,
            last_name: b.last_name,
            role: b.role,
            otp_enabled: b.otp_enabled,
            is_active: b.is_active,
            profile: b.profile.map(|p| p.to_string()),
            is_staff: b.is_staff,
        })
    }
}

async fn document() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        Bytes::from_static(DOCUMENT.as_bytes()),
    )
        .into_response()
}

async fn list_users(
    State(state): State<AppState>,
    Caller(actor): Caller,
    RawQuery(query): RawQuery,
) -> Answer {
    let q = params(query.as_deref())?;
    let paging = Paging::new(number(&q, "page")?, number(&q, "per_page")?)?;
    let found = admin(&state, actor)
        .find_users(param(&q, "q").unwrap_or(""), paging)
        .await?;
    ok(
        StatusCode::OK,
        json!({
            "users": found.users.iter().map(json::user).collect::<Vec<_>>(),
            "total": found.total,
        }),
    )
}

async fn create_user(State(state): State<AppState>, Caller(actor): Caller, body: Bytes) -> Answer {
    let input = UserBody::parse(&body)?;
    let user = admin(&state, actor).create_user(input).await?;
    ok(StatusCode::CREATED, json::user(&user))
}

async fn show_user(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> Answer {
    let user = admin(&state, actor).user(id_of(&id, "user")?).await?;
    ok(StatusCode::OK, json::user(&user))
}

async fn update_user(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let id = id_of(&id, "user")?;
    let input = UserBody::parse(&body)?;
    let user = admin(&state, actor).update_user(id, input).await?;
    ok(StatusCode::OK, json::user(&user))
}

async fn delete_user(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> Answer {
    admin(&state, actor)
        .delete_user(id_of(&id, "user")?)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn logout_user(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> Answer {
    let user = admin(&state, actor)
        .logout_user(id_of(&id, "user")?)
        .await?;
    ok(StatusCode::OK, json::user(&user))
}

async fn unlock_user(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> Answer {
    let id = id_of(&id, "user")?;
    let cleared = admin(&state, actor).unlock_user(id).await?;
    ok(
        StatusCode::OK,
        json!({"id": id.0, "cleared_attempts": cleared}),
    )
}

async fn user_sessions(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> Answer {
    let all = admin(&state, actor).sessions(id_of(&id, "user")?).await?;
    ok(
        StatusCode::OK,
        json!({"sessions": all.iter().map(json::session).collect::<Vec<_>>()}),
    )
}

async fn end_session(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> Answer {
    admin(&state, actor).end_session(&id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `since`: RFC 3339, or Unix seconds.
pub fn instant(text: &str) -> Option<i64> {
    let text = text.trim();
    text.parse::<i64>().ok().or_else(|| {
        chrono::DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.timestamp())
    })
}

async fn audit(
    State(state): State<AppState>,
    Caller(actor): Caller,
    RawQuery(query): RawQuery,
) -> Answer {
    let q = params(query.as_deref())?;
    let event = param(&q, "event")
        .map(|e| {
            EventKind::parse(e).ok_or_else(|| {
                let names: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
                ApiError::bad(format!("event must be one of {}", names.join(", ")))
            })
        })
        .transpose()?;
    let since = param(&q, "since")
        .map(|s| {
            instant(s)
                .ok_or_else(|| ApiError::bad("since must be an RFC 3339 time or Unix seconds"))
        })
        .transpose()?;
    let filter = AuditFilter {
        user: number(&q, "user")?.map(UserId),
        event,
        since,
        before_id: number(&q, "before")?,
        limit: number(&q, "limit")?.unwrap_or(DEFAULT_AUDIT_LIMIT),
    };
    let records = admin(&state, actor).audit(&filter).await?;
    ok(
        StatusCode::OK,
        json!({"events": records.iter().map(json::audit).collect::<Vec<_>>()}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_is_rfc_3339_or_unix_seconds() {
        assert_eq!(instant("1700000000"), Some(1_700_000_000));
        assert_eq!(instant("2023-11-14T22:13:20Z"), Some(1_700_000_000));
        assert_eq!(instant("2023-11-14T23:13:20+01:00"), Some(1_700_000_000));
        assert_eq!(instant("yesterday"), None);
    }

    #[test]
    fn the_document_is_json() {
        let doc: Value = serde_json::from_str(DOCUMENT).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
    }
}
