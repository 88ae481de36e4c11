//! 002-simple-login.md over real HTTP: every documented response, whole bodies.

use crate::harness::{claims, TestApp};
use accountd::domain::directory::UserInput;
use accountd::domain::secret::Secret;
use reqwest::StatusCode;
use serde_json::json;

const PHONE: &str = "+255712345678";

async fn setup() -> (TestApp, accountd::domain::user::User) {
    let app = TestApp::spawn().await;
    let user = app
        .user(UserInput {
            phone: Some(PHONE.into()),
            password: Some(Secret::from("mama's long password")),
            ..UserInput::default()
        })
        .await;
    (app, user)
}

fn good() -> serde_json::Value {
    json!({"username": PHONE, "password": "mama's long password"})
}

#[tokio::test]
async fn login_with_the_phone_number_as_username_returns_refresh_and_access() {
    let (app, user) = setup().await;
    let r = app.post("/api/login/", good()).await;
    assert_eq!(
        (r.status, r.redacted()),
        (
            StatusCode::OK,
            json!({"refresh": "<jwt>", "access": "<jwt>"})
        )
    );
    let access = claims(r.body["access"].as_str().unwrap());
    assert_eq!(access["user_id"], json!(user.id.0));
    assert_eq!(access["exp"].as_i64(), Some(app.now() + 300));
    assert_eq!(
        claims(r.body["refresh"].as_str().unwrap())["exp"].as_i64(),
        Some(app.now() + 86_400)
    );
}

#[tokio::test]
async fn login_with_a_real_username_works_too() {
    let app = TestApp::spawn().await;
    app.user_with_password("ann", None, "ann's long password")
        .await;
    let r = app
        .post(
            "/api/login",
            json!({"username": "ann", "password": "ann's long password"}),
        )
        .await;
    assert_eq!(
        (r.status, r.redacted()),
        (
            StatusCode::OK,
            json!({"refresh": "<jwt>", "access": "<jwt>"})
        )
    );
}

#[tokio::test]
async fn login_with_bad_credentials_returns_401_invalid_username_or_password() {
    let (app, _) = setup().await;
    for body in [
        json!({"username": PHONE, "password": "wrong"}),
        json!({"username": "+255700000000", "password": "mama's long password"}),
        json!({"username": "nobody", "password": "x"}),
    ] {
        let r = app.post("/api/login/", body).await;
        assert_eq!(
            (r.status, r.body),
            (
                StatusCode::UNAUTHORIZED,
                json!({"error": "Invalid username or password"})
            )
        );
    }
}

#[tokio::test]
async fn an_account_with_otp_enabled_cannot_bypass_its_code_here() {
    // 002 has no code step: a right password alone must not sign in an
    // account that requires a second factor. No code is sent either.
    let app = TestApp::spawn().await;
    app.user(UserInput {
        phone: Some(PHONE.into()),
        password: Some(Secret::from("mama's long password")),
        otp_enabled: Some(true),
        ..UserInput::default()
    })
    .await;
    let r = app.post("/api/login/", good()).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::UNAUTHORIZED,
            json!({"error": "Invalid username or password"})
        )
    );
    assert!(app.sms.all().is_empty());
}

#[tokio::test]
async fn refresh_returns_a_new_access_token() {
    let (app, user) = setup().await;
    let login = app.post("/api/login/", good()).await;
    app.clock.advance(5);
    let r = app
        .post(
            "/api/token/refresh/",
            json!({"refresh": login.body["refresh"]}),
        )
        .await;
    assert_eq!(
        (r.status, r.redacted()),
        (StatusCode::OK, json!({"access": "<jwt>"}))
    );
    let access = claims(r.body["access"].as_str().unwrap());
    assert_eq!(
        (access["user_id"].clone(), access["iat"].as_i64()),
        (json!(user.id.0), Some(app.now()))
    );
}

#[tokio::test]
async fn refresh_with_any_bad_token_returns_401_invalid_or_expired_refresh_token() {
    let (app, _) = setup().await;
    let login = app.post("/api/login/", good()).await;
    let expected = (
        StatusCode::UNAUTHORIZED,
        json!({"error": "Invalid or expired refresh token"}),
    );
    // Wrong type, garbage, then blacklisted (logged out through pixel_genius), then expired.
    for token in [login.body["access"].clone(), json!("garbage")] {
        let r = app
            .post("/api/token/refresh/", json!({"refresh": token}))
            .await;
        assert_eq!((r.status, r.body), expected.clone());
    }
    let other = app.post("/api/login/", good()).await;
    assert_eq!(
        app.post(
            "/accounts/logout/",
            json!({"refresh": other.body["refresh"]})
        )
        .await
        .status,
        StatusCode::RESET_CONTENT
    );
    let r = app
        .post(
            "/api/token/refresh/",
            json!({"refresh": other.body["refresh"]}),
        )
        .await;
    assert_eq!((r.status, r.body), expected.clone());
    app.clock.advance(86_400);
    let r = app
        .post(
            "/api/token/refresh/",
            json!({"refresh": login.body["refresh"]}),
        )
        .await;
    assert_eq!((r.status, r.body), expected);
}

#[tokio::test]
async fn repeated_failures_throttle_logins_with_429_in_the_error_shape() {
    let (app, _) = setup().await;
    for _ in 0..10 {
        app.post(
            "/api/login/",
            json!({"username": PHONE, "password": "guess"}),
        )
        .await;
    }
    let r = app.post("/api/login/", good()).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (
            StatusCode::TOO_MANY_REQUESTS,
            json!({"error": "Too many failed login attempts. Try again in 900 seconds."})
        )
    );
    assert_eq!(r.header("retry-after"), Some("900"));
}

#[tokio::test]
async fn malformed_bodies_get_400_in_the_error_shape() {
    let (app, _) = setup().await;
    let r = app
        .post_raw("/api/login/", "application/json", "{oops")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body["error"]
        .as_str()
        .unwrap()
        .starts_with("JSON parse error - "));
    let cases = [
        (
            "/api/login/",
            json!([]),
            "Invalid data. Expected a dictionary, but got list.",
        ),
        (
            "/api/login/",
            json!({"username": PHONE}),
            "password: This field is required.",
        ),
        (
            "/api/login/",
            json!({"username": {"x": 1}, "password": 5}),
            "username: Not a valid string.",
        ),
        (
            "/api/token/refresh/",
            json!({}),
            "refresh: This field is required.",
        ),
        (
            "/api/token/refresh/",
            json!({"refresh": null}),
            "refresh: This field may not be null.",
        ),
    ];
    for (path, body, error) in cases {
        let r = app.post(path, body.clone()).await;
        assert_eq!(
            (r.status, r.body),
            (StatusCode::BAD_REQUEST, json!({"error": error})),
            "{path} {body}"
        );
    }
    let huge = format!("{{\"refresh\": \"{}\"}}", "x".repeat(2 << 20));
    let r = app
        .post_raw("/api/token/refresh/", "application/json", huge)
        .await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            json!({"error": "Request body is too large."})
        )
    );
}
