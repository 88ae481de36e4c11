//! INTERFACE.md, "Database outage": with the database gone, every request
//! that needs it answers within 2 s with 503 in its contract's error shape and
//! `Retry-After`; never "not found", "invalid credentials" or a created user.
//! `break_database()` drops the PostgreSQL database, or renames SQLite's users
//! table.

use crate::harness::{backend, Backend, Reply, TestApp};
use accountd::domain::directory::UserInput;
use accountd::domain::secret::Secret;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const SORRY: &str = "Service temporarily unavailable, try again later.";
const PASSWORD: &str = "a long enough password";

/// Time one request.
async fn timed<F: std::future::Future<Output = Reply>>(request: F) -> (Reply, Duration) {
    let started = Instant::now();
    let r = request.await;
    (r, started.elapsed())
}

fn assert_unavailable(what: &str, (r, took): (Reply, Duration), body: Value) {
    assert_eq!(
        (r.status, r.body.clone()),
        (StatusCode::SERVICE_UNAVAILABLE, body),
        "{what}"
    );
    assert_eq!(r.header("retry-after"), Some("5"), "{what}");
    assert!(took < Duration::from_secs(2), "{what}: took {took:?}");
}

/// An app with ann (password, phone, agent role) and her tokens, then the database taken away.
async fn broken_app() -> (TestApp, Value) {
    let app = TestApp::spawn().await;
    app.user(UserInput {
        username: Some("ann".into()),
        phone: Some("+255712345678".into()),
        password: Some(Secret::from(PASSWORD)),
        role: Some("AGENT".into()),
        ..UserInput::default()
    })
    .await;
    let login = app
        .post(
            "/api/auth/login/",
            json!({"username": "ann", "password": PASSWORD}),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK);
    app.break_database().await;
    (app, login.body)
}

#[tokio::test]
async fn pixel_genius_answers_503_in_its_shapes_while_the_database_is_gone() {
    let (app, tokens) = broken_app().await;
    let login = json!({"username": "ann", "password": PASSWORD});
    assert_unavailable(
        "login",
        timed(app.post("/accounts/login/", login)).await,
        json!({"message": SORRY}),
    );
    assert_unavailable(
        "refresh",
        timed(app.post(
            "/accounts/refresh/",
            json!({"refresh": tokens["refresh_token"]}),
        ))
        .await,
        json!({"detail": SORRY}),
    );
    assert_unavailable(
        "logout",
        timed(app.post(
            "/accounts/logout/",
            json!({"refresh": tokens["refresh_token"]}),
        ))
        .await,
        json!({"detail": SORRY}),
    );
}

#[tokio::test]
async fn simple_answers_503_in_its_shape_while_the_database_is_gone() {
    let (app, tokens) = broken_app().await;
    assert_unavailable(
        "login",
        timed(app.post(
            "/api/login/",
            json!({"username": "+255712345678", "password": PASSWORD}),
        ))
        .await,
        json!({"error": SORRY}),
    );
    assert_unavailable(
        "refresh",
        timed(app.post(
            "/api/token/refresh/",
            json!({"refresh": tokens["refresh_token"]}),
        ))
        .await,
        json!({"error": SORRY}),
    );
}

#[tokio::test]
async fn university_answers_503_in_its_envelope_while_the_database_is_gone() {
    let (app, tokens) = broken_app().await;
    let envelope = json!({"success": false, "message": SORRY});
    assert_unavailable(
        "login",
        timed(app.post(
            "/api/auth/login/",
            json!({"username": "ann", "password": PASSWORD}),
        ))
        .await,
        envelope.clone(),
    );
    let access = tokens["access_token"].as_str().unwrap();
    assert_unavailable(
        "profile",
        timed(app.get("/api/auth/profile/", Some(access))).await,
        envelope.clone(),
    );
    assert_unavailable(
        "refresh",
        timed(app.post(
            "/api/auth/refresh/",
            json!({"refresh_token": tokens["refresh_token"]}),
        ))
        .await,
        envelope,
    );
}

#[tokio::test]
async fn delivery_answers_503_in_its_shape_while_the_database_is_gone() {
    let app = TestApp::spawn().await;
    let phone = "+12025550123";
    let sent = app
        .post(
            "/api/accounts/auth/send-otp/",
            json!({"phone_number": phone}),
        )
        .await;
    assert_eq!(sent.status, StatusCode::OK);
    let session = app
        .post(
            "/api/accounts/auth/verify-otp/",
            json!({"phone_number": phone, "otp": app.sms.last_code(phone)}),
        )
        .await;
    assert_eq!(session.status, StatusCode::OK);
    let sent_before = app.sms.all().len();
    app.break_database().await;
    let access = session.body["access_token"].as_str().unwrap();
    assert_unavailable(
        "me",
        timed(app.get("/api/accounts/auth/me/", Some(access))).await,
        json!({"error": SORRY}),
    );
    assert_unavailable(
        "refresh",
        timed(app.post(
            "/api/accounts/auth/refresh/",
            json!({"refresh_token": session.body["refresh_token"]}),
        ))
        .await,
        json!({"error": SORRY}),
    );
    // SQLite's stand-in outage (a renamed users table) leaves the code
    // tables working, so sending a code is an outage on PostgreSQL only.
    if backend() == Backend::Postgres {
        assert_unavailable(
            "send-otp",
            timed(app.post(
                "/api/accounts/auth/send-otp/",
                json!({"phone_number": "+12025550124"}),
            ))
            .await,
            json!({"error": SORRY}),
        );
    }
    assert_eq!(app.sms.all().len(), sent_before, "no code sent");
}

#[tokio::test]
async fn kikapu_answers_503_in_its_shape_while_the_database_is_gone() {
    let (app, _) = broken_app().await;
    assert_unavailable(
        "resend-otp",
        timed(app.post(
            "/auth/api/resend-otp/",
            json!({"phoneNumber": "+255712345678"}),
        ))
        .await,
        json!({"error": SORRY}),
    );
    assert_unavailable(
        "verify-otp",
        timed(app.post(
            "/auth/api/verify-otp/",
            json!({"phoneNumber": "+255712345678", "otp": "12345"}),
        ))
        .await,
        json!({"error": SORRY}),
    );
    assert_unavailable(
        "agent login",
        timed(app.post(
            "/auth/api/agent/login/",
            json!({"username": "ann", "password": PASSWORD}),
        ))
        .await,
        json!({"error": SORRY}),
    );
    assert!(app.sms.all().is_empty(), "no code sent");
}
