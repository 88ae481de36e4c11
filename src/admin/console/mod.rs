//! The admin console at `/admin/` (INTERFACE.md, "Administration"):
//! server-rendered pages over the same use cases as the CLI and the admin
//! API. A staff user signs in with username and password (the contracts'
//! password check and login throttle); the session is an HttpOnly,
//! SameSite=Strict cookie on path `/admin`; every form that changes
//! anything carries the session's CSRF token, compared in constant time.
//! After a change the browser is sent to a page (303), never left on a POST.

mod form;
mod pages;

use super::auth::{self, SignedIn, COOKIE, SIGN_IN_COOKIE};
use crate::domain::admin::{Admin, Paging};
use crate::domain::audit::{AuditFilter, EventKind};
use crate::domain::console::{self as signin, SignIn};
use crate::domain::directory::UserInput;
use crate::domain::origin::Origin;
use crate::domain::secret::Secret;
use crate::domain::user::{User, UserId};
use crate::domain::Error;
use crate::http::contracts::Route;
use crate::http::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use form::Form;
use maud::Markup;
use pages::{Frame, Notice, Section, UserFields};

/// The stylesheet and the one small script, compiled in.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("../../../assets/admin/console.css"),
    ),
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../assets/admin/console.js"),
    ),
];

/// Audit records shown on a user's page.
const USER_AUDIT: i64 = 20;
/// Audit records on one page of the audit trail.
const AUDIT_PAGE: i64 = 50;

/// Every route of the console.
pub fn routes() -> Vec<Route> {
    vec![
        Route::get("/admin", home),
        Route::get("/admin/login", sign_in_page),
        Route::post("/admin/login", sign_in),
        Route::post("/admin/logout", sign_out),
        Route::get("/admin/users", users),
        Route::post("/admin/users", create_user),
        Route::get("/admin/users/new", new_user),
        Route::get("/admin/users/{id}", user),
        Route::post("/admin/users/{id}", edit_user),
        Route::post("/admin/users/{id}/deactivate", deactivate),
        Route::post("/admin/users/{id}/reactivate", reactivate),
        Route::post("/admin/users/{id}/logout", logout_everywhere),
        Route::post("/admin/users/{id}/unlock", unlock),
        Route::post("/admin/users/{id}/password", set_password),
        Route::post("/admin/users/{id}/delete", delete_user),
        Route::post("/admin/sessions/{id}/end", end_session),
        Route::get("/admin/audit", audit),
        Route::get("/admin/static/{file}", asset),
    ]
}

fn html(status: StatusCode, page: Markup) -> Response {
    (status, Html(page.into_string())).into_response()
}

/// 303: after a POST, the browser GETs the page it is sent to.
fn see_other(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// How the console words a failure, and its status.
fn failure(e: &Error) -> (StatusCode, String) {
    match e {
        Error::Invalid(why) => (StatusCode::BAD_REQUEST, why.clone()),
        Error::Conflict(field) => (
            StatusCode::BAD_REQUEST,
            format!("A user with that {field} already exists."),
        ),
        Error::NotFound(what) => (StatusCode::NOT_FOUND, format!("No such {what}.")),
        Error::InvalidCredentials => (
            StatusCode::UNAUTHORIZED,
            "Wrong username or password.".into(),
        ),
        Error::Inactive => (StatusCode::FORBIDDEN, "This account is deactivated.".into()),
        Error::OtpInvalid => (
            StatusCode::UNAUTHORIZED,
            "That code is wrong or expired. Sign in again for a new one.".into(),
        ),
        Error::Throttled { wait } => (
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many failed sign-ins. Try again in {wait} seconds."),
        ),
        Error::OtpTooSoon { wait } => (
            StatusCode::TOO_MANY_REQUESTS,
            format!("A code was sent recently. Try again in {wait} seconds."),
        ),
        Error::SmsFailed | Error::PhoneNotAllowed => (
            StatusCode::SERVICE_UNAVAILABLE,
            "The SMS code could not be sent.".into(),
        ),
        Error::Unavailable(why) => {
            crate::http::unavailable::log(why);
            (
                StatusCode::SERVICE_UNAVAILABLE,
                crate::http::unavailable::MESSAGE.into(),
            )
        }
        other => {
            tracing::error!(error = %other, "console failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong; it is in the server's log.".into(),
            )
        }
    }
}

/// A failure as a page of its own (no form to show it on).
fn error_page(e: &Error) -> Response {
    let (status, text) = failure(e);
    html(status, pages::refused("Cannot do that", &text, None))
}

/// The message a redirect after a change asks for (`?done=…`): fixed
/// sentences, so nothing in a URL is ever shown as typed.
fn done_notice(query: &[(String, String)]) -> Option<Notice> {
    let text = match form::param(query, "done")? {
        "created" => "User created.",
        "saved" => "Changes saved.",
        "deactivated" => "User deactivated: their sign-ins and tokens stop working.",
        "reactivated" => "User reactivated. Tokens issued before stay ended.",
        "logged_out" => "Logged out everywhere: every token and session issued until now ended.",
        "unlocked" => "Sign-in unlocked: failed attempts cleared.",
        "password" => "Password set. Every token and session issued before ended.",
        "session_ended" => "Session ended.",
        "deleted" => "User deleted.",
        _ => return None,
    };
    Some(Notice::Ok(text.to_owned()))
}

/// A signed-in staff user, on a page of the console. Anyone else is sent
/// to the sign-in page; a signed-in user who is no longer staff is refused.
pub struct Staff {
    signed_in: SignedIn,
    origin: Origin,
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match auth::signed_in(&parts.headers, state).await {
            Err(e) => Err(error_page(&e)),
            Ok(None) => Err(see_other("/admin/login")),
            Ok(Some(s)) if !s.user.is_staff => Err(html(
                StatusCode::FORBIDDEN,
                pages::refused(
                    "Staff only",
                    "This account may not use the admin console.",
                    Some(&s.session.csrf_token),
                ),
            )),
            Ok(Some(signed_in)) => Ok(Staff {
                signed_in,
                origin: auth::origin(parts, state),
            }),
        }
    }
}

impl Staff {
    fn frame(&self, section: Option<Section>) -> Frame<'_> {
        Frame {
            user: &self.signed_in.user,
            csrf: &self.signed_in.session.csrf_token,
            section,
        }
    }

    fn admin<'a>(&self, state: &'a AppState) -> Admin<'a> {
        let accounts = &state.accounts;
        Admin {
            store: accounts.store().as_ref(),
            events: accounts.events().as_ref(),
            key: accounts.otp_key(),
            dialable: state.config.phone_strict,
            now: accounts.now(),
            actor: self.signed_in.actor(self.origin.clone()),
        }
    }

    /// The posted form, if it carries this session's CSRF token; None
    /// (answer `csrf_refused`, and do nothing) if not.
    fn form(&self, body: &Bytes) -> Option<Form> {
        let form = Form::parse(body);
        if self
            .signed_in
            .session
            .csrf_matches(form.get("csrf").unwrap_or(""))
        {
            Some(form)
        } else {
            tracing::warn!(
                staff = self.signed_in.user.id.0,
                "console form refused: CSRF token missing or incorrect"
            );
            None
        }
    }
}

/// 403: a form without this session's CSRF token; nothing was done.
fn csrf_refused() -> Response {
    html(
        StatusCode::FORBIDDEN,
        pages::refused(
            "Form refused",
            "The form did not carry this session's security token (CSRF), so nothing was done. Go back, reload the page and try again.",
            None,
        ),
    )
}

async fn home(_: Staff) -> Response {
    see_other("/admin/users")
}

async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, kind, body)) => (
            [
                (header::CONTENT_TYPE, *kind),
                (header::CACHE_CONTROL, "private, max-age=300"),
            ],
            *body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The sign-in form's token: the cookie's, while it looks like one of ours.
fn sign_in_token(headers: &HeaderMap) -> Option<String> {
    auth::cookie(headers, SIGN_IN_COOKIE)
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_owned)
}

/// The sign-in page, with a (re)set sign-in cookie; the form's hidden field
/// must equal that cookie (double submit), which a page elsewhere can
/// neither read nor, with SameSite=Strict, make the browser send.
fn sign_in_answer(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    form: &pages::SignInForm<'_>,
) -> Response {
    let token = sign_in_token(headers).unwrap_or_else(|| hex::encode(rand::random::<[u8; 32]>()));
    let mut r = html(status, pages::sign_in(&token, form));
    r.headers_mut().append(
        header::SET_COOKIE,
        auth::set_cookie(state, SIGN_IN_COOKIE, &token, 3600),
    );
    r
}

async fn sign_in_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Ok(Some(s)) = auth::signed_in(&headers, &state).await {
        if s.user.is_staff {
            return see_other("/admin/users");
        }
    }
    sign_in_answer(
        &state,
        &headers,
        StatusCode::OK,
        &pages::SignInForm::default(),
    )
}

async fn sign_in(State(state): State<AppState>, parts: Parts, body: Bytes) -> Response {
    let form = Form::parse(&body);
    let headers = &parts.headers;
    let username = form.get("username").unwrap_or("").trim();
    let mut shown = pages::SignInForm {
        username,
        ..Default::default()
    };
    let expected = sign_in_token(headers).unwrap_or_default();
    if expected.is_empty() || !form::same(&expected, form.get("csrf").unwrap_or("")) {
        shown.notice = Some(Notice::Error(
            "The sign-in form expired or did not come from this console. Try again.".into(),
        ));
        return sign_in_answer(&state, headers, StatusCode::FORBIDDEN, &shown);
    }
    let password = Secret::new(form.get("password").unwrap_or(""));
    let code = form.get("code").map(Secret::new);
    let origin = auth::origin(&parts, &state);
    let outcome = signin::sign_in(
        &state.accounts,
        username,
        &password,
        code.as_ref(),
        state.config.admin_session_seconds,
        &origin,
    )
    .await;
    match outcome {
        Ok(SignIn::Done(done)) => {
            let mut r = see_other("/admin/users");
            let h = r.headers_mut();
            h.append(
                header::SET_COOKIE,
                auth::set_cookie(
                    &state,
                    COOKIE,
                    done.cookie.expose(),
                    state.config.admin_session_seconds,
                ),
            );
            h.append(
                header::SET_COOKIE,
                auth::set_cookie(&state, SIGN_IN_COOKIE, "", 0),
            );
            r
        }
        Ok(SignIn::CodeSent) => {
            shown.code_sent = true;
            shown.notice = Some(Notice::Ok(
                "A code was sent to this account's phone. Enter your password again with the code."
                    .into(),
            ));
            sign_in_answer(&state, headers, StatusCode::OK, &shown)
        }
        Ok(SignIn::NotStaff) => {
            shown.notice = Some(Notice::Error(
                "This account may not use the admin console.".into(),
            ));
            sign_in_answer(&state, headers, StatusCode::FORBIDDEN, &shown)
        }
        Err(e) => {
            let (status, text) = failure(&e);
            shown.notice = Some(Notice::Error(text));
            sign_in_answer(&state, headers, status, &shown)
        }
    }
}

async fn sign_out(State(state): State<AppState>, parts: Parts, body: Bytes) -> Response {
    let mut r = see_other("/admin/login");
    if let Some(cookie) = auth::cookie(&parts.headers, COOKIE) {
        match auth::signed_in(&parts.headers, &state).await {
            Ok(Some(s)) => {
                // Signing out is a change too: a page elsewhere must not
                // sign a staff member out.
                let form = Form::parse(&body);
                if !s.session.csrf_matches(form.get("csrf").unwrap_or("")) {
                    return html(
                        StatusCode::FORBIDDEN,
                        pages::refused(
                            "Form refused",
                            "The form did not carry this session's security token (CSRF).",
                            None,
                        ),
                    );
                }
                let origin = auth::origin(&parts, &state);
                if let Err(e) =
                    signin::sign_out(&state.accounts, cookie, Some(s.user.id), &origin).await
                {
                    return error_page(&e);
                }
            }
            Ok(None) => {}
            Err(e) => return error_page(&e),
        }
    }
    r.headers_mut()
        .append(header::SET_COOKIE, auth::set_cookie(&state, COOKIE, "", 0));
    r
}

async fn users(State(state): State<AppState>, staff: Staff, RawQuery(query): RawQuery) -> Response {
    let q = form::params(query.as_deref());
    let text = form::param(&q, "q").unwrap_or("").trim().to_owned();
    let number = |name| form::param(&q, name).and_then(|v| v.parse::<i64>().ok());
    let (paging, mut flash) = match Paging::new(number("page"), number("per_page")) {
        Ok(p) => (p, done_notice(&q)),
        Err(e) => (
            Paging::new(None, None).unwrap_or_else(|_| Paging::everything()),
            Some(Notice::Error(failure(&e).1)),
        ),
    };
    let found = match staff.admin(&state).find_users(&text, paging).await {
        Ok(found) => found,
        Err(e @ Error::Invalid(_)) => {
            flash = Some(Notice::Error(failure(&e).1));
            crate::domain::admin::UserPage {
                users: Vec::new(),
                total: 0,
            }
        }
        Err(e) => return error_page(&e),
    };
    html(
        StatusCode::OK,
        pages::users(
            &staff.frame(Some(Section::Users)),
            &flash,
            &text,
            paging,
            &found,
        ),
    )
}

async fn new_user(staff: Staff) -> Response {
    let fields = UserFields {
        is_active: true,
        profile: "{}".into(),
        ..Default::default()
    };
    html(
        StatusCode::OK,
        pages::new_user(&staff.frame(Some(Section::NewUser)), &None, &fields),
    )
}

/// The user form as typed (password aside: never shown again).
fn typed_fields(form: &Form) -> UserFields {
    let text = |name: &str| form.get(name).unwrap_or("").to_owned();
    UserFields {
        username: text("username"),
        email: text("email"),
        phone: text("phone"),
        first_name: text("first_name"),
        last_name: text("last_name"),
        role: text("role"),
        profile: text("profile"),
        otp_enabled: form.checked("otp_enabled"),
        is_staff: form.checked("is_staff"),
        is_active: form.checked("is_active"),
    }
}

async fn create_user(State(state): State<AppState>, staff: Staff, body: Bytes) -> Response {
    let Some(form) = staff.form(&body) else {
        return csrf_refused();
    };
    let f = typed_fields(&form);
    let given = |v: &str| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
    let input = UserInput {
        username: given(&f.username),
        phone: given(&f.phone),
        email: given(&f.email),
        password: form
            .get("password")
            .filter(|p| !p.is_empty())
            .map(Secret::new),
        first_name: Some(f.first_name.trim().to_owned()),
        last_name: Some(f.last_name.trim().to_owned()),
        role: given(&f.role),
        otp_enabled: Some(f.otp_enabled),
        is_active: Some(f.is_active),
        profile: given(&f.profile),
        is_staff: Some(f.is_staff),
    };
    match staff.admin(&state).create_user(input).await {
        Ok(u) => see_other(&format!("/admin/users/{}?done=created", u.id.0)),
        Err(e) => {
            let (status, text) = failure(&e);
            html(
                status,
                pages::new_user(
                    &staff.frame(Some(Section::NewUser)),
                    &Some(Notice::Error(text)),
                    &f,
                ),
            )
        }
    }
}

/// A path's user id; not a number is no such user (`no_such_user`).
fn user_id(raw: &str) -> Option<UserId> {
    raw.parse::<i64>().ok().map(UserId)
}

fn no_such_user() -> Response {
    error_page(&Error::NotFound("user"))
}

/// The user's page, with `flash` on top and the edit form showing `fields`
/// (the stored values when None).
async fn user_page(
    state: &AppState,
    staff: &Staff,
    id: UserId,
    status: StatusCode,
    flash: Option<Notice>,
    fields: Option<UserFields>,
) -> Response {
    let admin = staff.admin(state);
    let user = match admin.user(id).await {
        Ok(u) => u,
        Err(e) => return error_page(&e),
    };
    let sessions = match admin.sessions(id).await {
        Ok(s) => s,
        Err(e) => return error_page(&e),
    };
    let filter = AuditFilter {
        user: Some(id),
        limit: USER_AUDIT,
        ..AuditFilter::default()
    };
    let audit = match admin.audit(&filter).await {
        Ok(a) => a,
        Err(e) => return error_page(&e),
    };
    let view = pages::UserView {
        user: &user,
        sessions: &sessions,
        audit: &audit,
        fields: fields.unwrap_or_else(|| UserFields::of(&user)),
    };
    html(
        status,
        pages::user(&staff.frame(Some(Section::Users)), &flash, &view),
    )
}

async fn user(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(id) = user_id(&id) else {
        return no_such_user();
    };
    let flash = done_notice(&form::params(query.as_deref()));
    user_page(&state, &staff, id, StatusCode::OK, flash, None).await
}

/// What the edit form changes: only the fields that differ from the
/// stored user, so the audit trail names what really changed. An emptied
/// username, email, phone or role is left as it is (they cannot be
/// unset, as with `accountd user update`).
fn changes(f: &UserFields, u: &User) -> UserInput {
    let was = UserFields::of(u);
    let changed = |new: &str, old: &str| {
        let new = new.trim();
        (new != old).then(|| new.to_owned())
    };
    let profile = match serde_json::from_str::<serde_json::Value>(&f.profile) {
        // Compared as JSON: the same object in another layout is no change.
        Ok(serde_json::Value::Object(m)) if m == u.profile => None,
        _ => Some(f.profile.clone()),
    };
    UserInput {
        username: changed(&f.username, &was.username),
        email: changed(&f.email, &was.email),
        phone: changed(&f.phone, &was.phone),
        first_name: changed(&f.first_name, &was.first_name),
        last_name: changed(&f.last_name, &was.last_name),
        role: changed(&f.role, &was.role),
        profile,
        otp_enabled: (f.otp_enabled != u.otp_enabled).then_some(f.otp_enabled),
        is_staff: (f.is_staff != u.is_staff).then_some(f.is_staff),
        ..UserInput::default()
    }
}

/// Run one change on a user and go back to their page with `done`; a
/// refusal shows their page again with the reason.
async fn on_user<T>(
    state: &AppState,
    staff: &Staff,
    id: UserId,
    done: &str,
    result: crate::domain::error::Result<T>,
    fields: Option<UserFields>,
) -> Response {
    match result {
        Ok(_) => see_other(&format!("/admin/users/{}?done={done}", id.0)),
        Err(e @ Error::NotFound(_)) | Err(e @ Error::Unavailable(_)) => error_page(&e),
        Err(e) => {
            let (status, text) = failure(&e);
            user_page(state, staff, id, status, Some(Notice::Error(text)), fields).await
        }
    }
}

async fn edit_user(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let Some(id) = user_id(&id) else {
        return no_such_user();
    };
    let Some(form) = staff.form(&body) else {
        return csrf_refused();
    };
    let admin = staff.admin(&state);
    let current = match admin.user(id).await {
        Ok(u) => u,
        Err(e) => return error_page(&e),
    };
    let typed = typed_fields(&form);
    let input = changes(&typed, &current);
    let result = if input.fields().is_empty() {
        Ok(current)
    } else {
        admin.update_user(id, input).await
    };
    on_user(&state, &staff, id, "saved", result, Some(typed)).await
}

/// A POST that runs one action on a user.
macro_rules! user_action {
    ($name:ident, $done:literal, |$admin:ident, $id:ident| $call:expr) => {
        async fn $name(
            State(state): State<AppState>,
            staff: Staff,
            Path(id): Path<String>,
            body: Bytes,
        ) -> Response {
            let Some($id) = user_id(&id) else {
                return no_such_user();
            };
            if staff.form(&body).is_none() {
                return csrf_refused();
            }
            let $admin = staff.admin(&state);
            let result = $call.await;
            on_user(&state, &staff, $id, $done, result, None).await
        }
    };
}

user_action!(deactivate, "deactivated", |admin, id| admin.deactivate(id));
user_action!(reactivate, "reactivated", |admin, id| admin.reactivate(id));
user_action!(logout_everywhere, "logged_out", |admin, id| admin
    .logout_user(id));
user_action!(unlock, "unlocked", |admin, id| admin.unlock_user(id));

async fn set_password(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let Some(id) = user_id(&id) else {
        return no_such_user();
    };
    let Some(form) = staff.form(&body) else {
        return csrf_refused();
    };
    let input = UserInput {
        password: Some(Secret::new(form.get("password").unwrap_or(""))),
        ..UserInput::default()
    };
    let result = staff.admin(&state).update_user(id, input).await;
    on_user(&state, &staff, id, "password", result, None).await
}

async fn delete_user(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let Some(id) = user_id(&id) else {
        return no_such_user();
    };
    if staff.form(&body).is_none() {
        return csrf_refused();
    }
    match staff.admin(&state).delete_user(id).await {
        Ok(()) => see_other("/admin/users?done=deleted"),
        Err(e) => error_page(&e),
    }
}

async fn end_session(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if staff.form(&body).is_none() {
        return csrf_refused();
    }
    match staff.admin(&state).end_session(&id).await {
        Ok(s) => see_other(&format!("/admin/users/{}?done=session_ended", s.user.0)),
        Err(e) => error_page(&e),
    }
}

/// The `since` filter: the browser's `datetime-local` (taken as UTC), RFC
/// 3339 or Unix seconds.
fn since(text: &str) -> Option<i64> {
    super::api::instant(text).or_else(|| {
        ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
            .iter()
            .find_map(|f| chrono::NaiveDateTime::parse_from_str(text.trim(), f).ok())
            .map(|t| t.and_utc().timestamp())
    })
}

async fn audit(State(state): State<AppState>, staff: Staff, RawQuery(query): RawQuery) -> Response {
    let q = form::params(query.as_deref());
    let shown = pages::AuditQuery {
        event: form::param(&q, "event").unwrap_or("").to_owned(),
        user: form::param(&q, "user").unwrap_or("").to_owned(),
        since: form::param(&q, "since").unwrap_or("").to_owned(),
    };
    let mut problems = Vec::new();
    let event = match shown.event.as_str() {
        "" => None,
        name => EventKind::parse(name).or_else(|| {
            problems.push("Unknown event.");
            None
        }),
    };
    let user = match shown.user.trim() {
        "" => None,
        n => n.parse::<i64>().ok().map(UserId).or_else(|| {
            problems.push("The user must be an ID number.");
            None
        }),
    };
    let since_at = match shown.since.trim() {
        "" => None,
        t => since(t).or_else(|| {
            problems.push("The time cannot be read.");
            None
        }),
    };
    let before_id = form::param(&q, "before").and_then(|b| b.parse::<i64>().ok());
    let filter = AuditFilter {
        user,
        event,
        since: since_at,
        before_id,
        limit: AUDIT_PAGE,
    };
    let records = match staff.admin(&state).audit(&filter).await {
        Ok(r) => r,
        Err(e) => return error_page(&e),
    };
    let older = (records.len() as i64 == AUDIT_PAGE)
        .then(|| records.last().map(|r| r.id))
        .flatten()
        .map(|last| {
            let query = serde_urlencoded::to_string([
                ("event", shown.event.as_str()),
                ("user", shown.user.as_str()),
                ("since", shown.since.as_str()),
                ("before", &last.to_string()),
            ])
            .unwrap_or_default();
            format!("/admin/audit?{query}")
        });
    let flash = (!problems.is_empty()).then(|| Notice::Error(problems.join(" ")));
    let status = if flash.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    html(
        status,
        pages::audit(
            &staff.frame(Some(Section::Audit)),
            &flash,
            &shown,
            &records,
            older,
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audit_filter_reads_the_browsers_datetime_local_as_utc() {
        assert_eq!(since("2023-11-14T22:13"), Some(1_699_999_980));
        assert_eq!(since("2023-11-14T22:13:20Z"), Some(1_700_000_000));
        assert_eq!(since("1700000000"), Some(1_700_000_000));
        assert_eq!(since("soon"), None);
    }

    #[test]
    fn only_known_done_words_show_a_message() {
        let q = |v: &str| vec![("done".to_owned(), v.to_owned())];
        assert!(matches!(done_notice(&q("saved")), Some(Notice::Ok(_))));
        assert!(done_notice(&q("<script>")).is_none());
        assert!(done_notice(&[]).is_none());
    }
}
