//! What the admin API, console and CLI tests share: a server with an admin
//! token, requests to the admin listener with any credentials, a console
//! sign-in over plain HTTP, the audit trail's admin records, and a check of
//! answers against `docs/admin-openapi.json`.

#![allow(dead_code)]

use crate::harness::{Reply, TestApp};
use accountd::domain::audit::{AuditFilter, AuditRecord, EventKind};
use accountd::domain::directory::UserInput;
use accountd::domain::secret::Secret;
use accountd::domain::user::User;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// The admin token the test servers are given.
pub const TOKEN: &str = "test-admin-token-0123456789abcdef-0123";
/// The staff user's password.
pub const STAFF_PASSWORD: &str = "the staff member's long password";

/// A server whose admin API takes `TOKEN`.
pub async fn spawn() -> TestApp {
    TestApp::spawn_with(|c| c.admin_token = Some(Secret::from(TOKEN))).await
}

pub fn admin_url(app: &TestApp) -> String {
    app.admin_url.clone().expect("the admin listener is on")
}

/// A client that shows redirects instead of following them.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// An answer, its body as JSON when it is JSON (else Null; `text` has it).
pub async fn reply(r: reqwest::Response) -> Reply {
    let status = r.status();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        text,
        body,
    }
}

/// `method path` on the admin listener with `headers` and a JSON body.
pub async fn request(
    app: &TestApp,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Reply {
    let mut req = client().request(method, format!("{}{path}", admin_url(app)));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    reply(req.send().await.unwrap()).await
}

/// `method path` with the admin token.
pub async fn api(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> Reply {
    let bearer = format!("Bearer {TOKEN}");
    request(app, method, path, &[("authorization", &bearer)], body).await
}

/// The admin records of the audit trail, oldest first.
pub async fn admin_events(app: &TestApp) -> Vec<AuditRecord> {
    events(app, Some(EventKind::Admin)).await
}

/// The audit trail (of one event, or all), oldest first.
pub async fn events(app: &TestApp, event: Option<EventKind>) -> Vec<AuditRecord> {
    app.state.accounts.events().flush().await;
    let mut all = app
        .state
        .accounts
        .store()
        .audit(&AuditFilter {
            event,
            limit: 1000,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    all.reverse();
    all
}

/// The `detail` of each record, in order.
pub fn details(records: &[AuditRecord]) -> Vec<Value> {
    records
        .iter()
        .map(|r| r.detail.clone().map(Value::Object).unwrap_or(Value::Null))
        .collect()
}

/// A staff user (username `root`), made as an operator makes one.
pub async fn staff(app: &TestApp) -> User {
    app.user(UserInput {
        username: Some("root".into()),
        password: Some(Secret::from(STAFF_PASSWORD)),
        is_staff: Some(true),
        ..UserInput::default()
    })
    .await
}

/// A console sign-in, as a browser holds it.
#[derive(Debug, Clone)]
pub struct Console {
    /// `accountd_admin=…`, for a `Cookie` header.
    pub cookie: String,
    /// The session's CSRF token, read from a page's form.
    pub csrf: String,
}

impl Console {
    /// Headers for an admin API call by this session (`csrf`: with the token).
    pub fn headers(&self, csrf: bool) -> Vec<(&str, &str)> {
        let mut h = vec![("cookie", self.cookie.as_str())];
        if csrf {
            h.push(("x-csrf-token", self.csrf.as_str()));
        }
        h
    }
}

/// The value a `Set-Cookie` of `r` gives cookie `name`.
pub fn set_cookie(r: &Reply, name: &str) -> Option<String> {
    r.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .map(|rest| rest.split(';').next().unwrap_or("").to_owned())
}

/// The whole `Set-Cookie` line for `name`.
pub fn set_cookie_line(r: &Reply, name: &str) -> Option<String> {
    r.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// The first `name="csrf" value="…"` of a page.
pub fn csrf_in(page: &str) -> String {
    let at = page
        .find("name=\"csrf\" value=\"")
        .unwrap_or_else(|| panic!("no CSRF field in {page}"));
    let rest = &page[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// POST a form to the admin listener.
pub async fn post_form(app: &TestApp, path: &str, cookie: &str, form: &[(&str, &str)]) -> Reply {
    let r = client()
        .post(format!("{}{path}", admin_url(app)))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(form).unwrap())
        .send()
        .await
        .unwrap();
    reply(r).await
}

/// GET a page of the admin listener with a cookie.
pub async fn get_page(app: &TestApp, path: &str, cookie: &str) -> Reply {
    let r = client()
        .get(format!("{}{path}", admin_url(app)))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    reply(r).await
}

/// Fetch the sign-in page and post `username` and `password` (and `code`)
/// with its token: the answer to the POST, and the sign-in cookie used.
pub async fn post_sign_in(
    app: &TestApp,
    username: &str,
    password: &str,
    code: Option<&str>,
) -> Reply {
    let page = get_page(app, "/admin/login", "").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let token = set_cookie(&page, "accountd_admin_signin").expect("a sign-in cookie");
    assert_eq!(csrf_in(&page.text), token);
    let mut form = vec![
        ("csrf", token.as_str()),
        ("username", username),
        ("password", password),
    ];
    if let Some(c) = code {
        form.push(("code", c));
    }
    post_form(
        app,
        "/admin/login",
        &format!("accountd_admin_signin={token}"),
        &form,
    )
    .await
}

/// Sign in to the console over HTTP, as a browser does.
pub async fn sign_in(app: &TestApp, username: &str, password: &str) -> Console {
    let r = post_sign_in(app, username, password, None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(r.header("location"), Some("/admin/users"));
    let cookie = format!(
        "accountd_admin={}",
        set_cookie(&r, "accountd_admin").expect("a session cookie")
    );
    let page = get_page(app, "/admin/users", &cookie).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    Console {
        csrf: csrf_in(&page.text),
        cookie,
    }
}

/// The admin API's document.
pub fn document() -> Value {
    serde_json::from_str(accountd::admin::api::DOCUMENT).expect("docs/admin-openapi.json is JSON")
}

/// A validator for the schema at `pointer` of `doc` (the document is the
/// root, so `#/components/…` resolves).
pub fn validator_at(doc: &Value, pointer: &str) -> jsonschema::Validator {
    let mut root = doc.clone();
    let fragment = pointer.replace('{', "%7B").replace('}', "%7D");
    root["$ref"] = json!(format!("#{fragment}"));
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|e| panic!("schema at {pointer}: {e}"))
}

/// Assert that `r` is an answer `docs/admin-openapi.json` documents for
/// `method path` (path as written there): its status is listed, and its
/// body matches that response's schema (no body where none is given).
pub fn conforms(method: &str, path: &str, r: &Reply) {
    let doc = document();
    let op = format!(
        "/paths/{}/{}",
        path.replace('~', "~0").replace('/', "~1"),
        method.to_lowercase()
    );
    let status = r.status.as_u16().to_string();
    let mut at = format!("{op}/responses/{status}");
    let mut response = doc
        .pointer(&at)
        .unwrap_or_else(|| panic!("{method} {path}: {status} is not documented"))
        .clone();
    if let Some(target) = response.get("$ref").and_then(Value::as_str) {
        at = target.trim_start_matches('#').to_owned();
        response = doc.pointer(&at).unwrap().clone();
    }
    match response.pointer("/content/application~1json/schema") {
        None => assert!(r.text.is_empty(), "{method} {path} {status}: {}", r.text),
        Some(_) => {
            let validator = validator_at(&doc, &format!("{at}/content/application~1json/schema"));
            let errors: Vec<String> = validator
                .iter_errors(&r.body)
                .map(|e| format!("{e} at {}", e.instance_path))
                .collect();
            assert!(
                errors.is_empty(),
                "{method} {path} {status}: {} does not match: {errors:?}",
                r.text
            );
        }
    }
}
