//! INTERFACE.md, "Connections, queues, responses": every response carrying
//! a token has `Cache-Control: no-store`, at all five contracts.

use crate::harness::{Reply, TestApp};
use accountd::domain::directory::UserInput;
use accountd::domain::secret::Secret;
use reqwest::StatusCode;
use serde_json::json;

const PASSWORD: &str = "a long enough password";

fn assert_no_store(what: &str, r: &Reply) {
    assert_eq!(r.status, StatusCode::OK, "{what}: {}", r.text);
    assert_eq!(r.header("cache-control"), Some("no-store"), "{what}");
}

#[tokio::test]
async fn password_logins_and_refreshes_answer_with_no_store() {
    let app = TestApp::spawn().await;
    app.user(UserInput {
        username: Some("ann".into()),
        phone: Some("+12025550123".into()),
        password: Some(Secret::from(PASSWORD)),
        role: Some("AGENT".into()),
        ..UserInput::default()
    })
    .await;

    let r = app
        .post(
            "/accounts/login/",
            json!({"username": "ann", "password": PASSWORD}),
        )
        .await;
    assert_no_store("pixel_genius login", &r);
    let refresh = r.body["refresh"].as_str().unwrap().to_owned();
    let r = app
        .post("/accounts/refresh/", json!({"refresh": refresh}))
        .await;
    assert_no_store("pixel_genius refresh", &r);

    let r = app
        .post(
            "/api/login/",
            json!({"username": "+12025550123", "password": PASSWORD}),
        )
        .await;
    assert_no_store("simple login", &r);
    let r = app
        .post("/api/token/refresh/", json!({"refresh": r.body["refresh"]}))
        .await;
    assert_no_store("simple refresh", &r);

    let r = app
        .post(
            "/api/auth/login/",
            json!({"username": "ann", "password": PASSWORD}),
        )
        .await;
    assert_no_store("university login", &r);
    let r = app
        .post(
            "/api/auth/refresh/",
            json!({"refresh_token": r.body["refresh_token"]}),
        )
        .await;
    assert_no_store("university refresh", &r);

    let r = app
        .post(
            "/auth/api/agent/login/",
            json!({"username": "ann", "password": PASSWORD}),
        )
        .await;
    assert_no_store("kikapu agent login", &r);

    // Answers without a token are left to the usual caching rules.
    let r = app
        .post(
            "/accounts/login/",
            json!({"username": "ann", "password": "wrong one"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.header("cache-control"), None);
}

#[tokio::test]
async fn code_sign_ins_and_session_refreshes_answer_with_no_store() {
    let app = TestApp::spawn().await;
    let phone = "+12025550199";
    let r = app
        .post(
            "/api/accounts/auth/send-otp/",
            json!({"phone_number": phone}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let code = app.sms.last_code(phone);
    let r = app
        .post(
            "/api/accounts/auth/verify-otp/",
            json!({"phone_number": phone, "otp": code}),
        )
        .await;
    assert_no_store("delivery verify-otp", &r);
    let r = app
        .post(
            "/api/accounts/auth/refresh/",
            json!({"refresh_token": r.body["refresh_token"]}),
        )
        .await;
    assert_no_store("delivery refresh", &r);

    let kikapu_phone = "+255712345678";
    app.user(UserInput {
        phone: Some(kikapu_phone.into()),
        role: Some("BUSINESS".into()),
        ..UserInput::default()
    })
    .await;
    let r = app
        .post(
            "/auth/api/resend-otp/",
            json!({"phoneNumber": kikapu_phone}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let code = app.sms.last_code(kikapu_phone);
    let r = app
        .post(
            "/auth/api/verify-otp/",
            json!({"phoneNumber": kikapu_phone, "otp": code}),
        )
        .await;
    assert_no_store("kikapu verify-otp", &r);
}
