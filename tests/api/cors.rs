//! CORS (INTERFACE.md, ACCOUNTD_CORS_ORIGINS): 003's JavaScript example runs
//! in a browser served from another origin. Off by default.

use crate::harness::TestApp;
use accountd::domain::directory::UserInput;
use accountd::domain::secret::Secret;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::json;

const ALLOWED: &str = "https://portal.university.edu";
const ALSO_ALLOWED: &str = "http://localhost:3000";
const OTHER: &str = "https://evil.example";

async fn spawn_with_cors() -> TestApp {
    TestApp::spawn_with(|c| {
        c.cors_origins = vec![ALLOWED.into(), ALSO_ALLOWED.into()];
    })
    .await
}

/// A browser's preflight for `fetch(path, {method, headers: {Content-Type, Authorization}})`.
async fn preflight(
    app: &TestApp,
    path: &str,
    origin: &str,
    method: &str,
) -> (StatusCode, HeaderMap) {
    let r = app
        .client
        .request(Method::OPTIONS, format!("{}{path}", app.url))
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header(
            "access-control-request-headers",
            "content-type,authorization",
        )
        .send()
        .await
        .unwrap();
    (r.status(), r.headers().clone())
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn cors_headers(h: &HeaderMap) -> Vec<String> {
    h.keys()
        .map(|k| k.as_str().to_owned())
        .filter(|k| k.starts_with("access-control-"))
        .collect()
}

#[tokio::test]
async fn a_preflight_from_an_allowed_origin_is_answered_with_the_allow_headers() {
    let app = spawn_with_cors().await;
    for (origin, path, method) in [
        (ALLOWED, "/api/auth/login/", "POST"),
        (ALSO_ALLOWED, "/api/auth/logout/", "POST"),
        (ALLOWED, "/api/auth/profile/", "GET"),
        (ALLOWED, "/api/auth/refresh", "POST"),
    ] {
        let (status, h) = preflight(&app, path, origin, method).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(
            (
                header(&h, "access-control-allow-origin"),
                header(&h, "access-control-allow-methods"),
                header(&h, "access-control-allow-headers"),
                header(&h, "access-control-max-age"),
                header(&h, "access-control-allow-credentials"),
            ),
            (
                Some(origin),
                Some("GET,POST,OPTIONS"),
                Some("authorization,content-type"),
                Some("600"),
                None,
            ),
            "{path}"
        );
        // Caches must not hand one origin's answer to another.
        let vary: Vec<&str> = h
            .get_all("vary")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        assert!(vary.join(",").contains("origin"), "{vary:?}");
    }
}

#[tokio::test]
async fn a_preflight_from_another_origin_gets_no_allow_origin() {
    let app = spawn_with_cors().await;
    for origin in [OTHER, "https://portal.university.edu.evil.example", "null"] {
        let (_, h) = preflight(&app, "/api/auth/login/", origin, "POST").await;
        assert_eq!(header(&h, "access-control-allow-origin"), None, "{origin}");
    }
}

#[tokio::test]
async fn responses_to_an_allowed_origin_carry_allow_origin_and_expose_retry_after() {
    let app = spawn_with_cors().await;
    app.user(UserInput {
        username: Some("john_doe".into()),
        password: Some(Secret::from("securepassword123")),
        ..UserInput::default()
    })
    .await;
    let login = |origin: &'static str, password: &'static str| {
        app.client
            .post(format!("{}/api/auth/login/", app.url))
            .header("origin", origin)
            .json(&json!({"username": "john_doe", "password": password}))
            .send()
    };
    let r = login(ALLOWED, "securepassword123").await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        header(r.headers(), "access-control-allow-origin"),
        Some(ALLOWED)
    );
    // Errors too, so the browser lets the page read `message`.
    let r = login(ALLOWED, "wrong password").await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(r.headers(), "access-control-allow-origin"),
        Some(ALLOWED)
    );
    // Retry-After and WWW-Authenticate are not CORS-safelisted; a page can
    // read them only if they are exposed.
    assert_eq!(
        header(r.headers(), "access-control-expose-headers"),
        Some("retry-after,www-authenticate")
    );
    let r = login(OTHER, "securepassword123").await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(r.headers(), "access-control-allow-origin"), None);
}

#[tokio::test]
async fn without_configured_origins_there_are_no_cors_headers_at_all() {
    let app = TestApp::spawn().await;
    let (status, h) = preflight(&app, "/api/auth/login/", ALLOWED, "POST").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(cors_headers(&h), Vec::<String>::new());
    let r = app
        .client
        .post(format!("{}/api/auth/login/", app.url))
        .header("origin", ALLOWED)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(cors_headers(r.headers()), Vec::<String>::new());
}

#[tokio::test]
async fn a_wildcard_origin_allows_every_origin_instead_of_failing_to_start() {
    let app = TestApp::spawn_with(|c| c.cors_origins = vec!["*".into()]).await;
    let (status, h) = preflight(&app, "/api/auth/login/", OTHER, "POST").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&h, "access-control-allow-origin"), Some("*"));
}

#[tokio::test]
async fn an_origin_configured_with_a_trailing_slash_still_matches() {
    let app = TestApp::spawn_with(|c| c.cors_origins = vec![format!("{ALLOWED}/")]).await;
    let (_, h) = preflight(&app, "/api/auth/login/", ALLOWED, "POST").await;
    assert_eq!(header(&h, "access-control-allow-origin"), Some(ALLOWED));
}
