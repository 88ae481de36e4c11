//! Ending tokens (INTERFACE.md, "Administration"): reactivating a user,
//! changing their password or `accountd user logout` ends every token issued
//! before; `accountd user unlock` clears a throttle; a delivery session's
//! refresh token is a delivery token at every other door.

use crate::harness::{claims, run_cli, TestApp};
use accountd::domain::directory::{self, UserInput};
use accountd::domain::secret::Secret;
use reqwest::StatusCode;
use serde_json::{json, Value};

const PASSWORD: &str = "ann's long password";
const PHONE: &str = "+12025550123";

/// Tokens of every kind for one user: simple's pair, university's pair and
/// a delivery session.
struct Held {
    simple_refresh: String,
    university_access: String,
    university_refresh: String,
    delivery_access: String,
    delivery_refresh: String,
}

async fn sign_in_everywhere(app: &TestApp) -> Held {
    let r = app
        .post(
            "/api/login/",
            json!({"username": PHONE, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let simple_refresh = r.body["refresh"].as_str().unwrap().to_owned();
    let r = app
        .post(
            "/api/auth/login/",
            json!({"username": "ann", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let (university_access, university_refresh) = (
        r.body["access_token"].as_str().unwrap().to_owned(),
        r.body["refresh_token"].as_str().unwrap().to_owned(),
    );
    app.clock.advance(60);
    app.post(
        "/api/accounts/auth/send-otp/",
        json!({"phone_number": PHONE}),
    )
    .await;
    let r = app
        .post(
            "/api/accounts/auth/verify-otp/",
            json!({"phone_number": PHONE, "otp": app.sms.last_code(PHONE)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    Held {
        simple_refresh,
        university_access,
        university_refresh,
        delivery_access: r.body["access_token"].as_str().unwrap().to_owned(),
        delivery_refresh: r.body["refresh_token"].as_str().unwrap().to_owned(),
    }
}

/// What each held token gets now: (simple refresh, university profile,
/// university refresh, delivery me, delivery refresh) statuses.
async fn statuses(app: &TestApp, h: &Held) -> Vec<StatusCode> {
    vec![
        app.post("/api/token/refresh/", json!({"refresh": h.simple_refresh}))
            .await
            .status,
        app.get("/api/auth/profile/", Some(&h.university_access))
            .await
            .status,
        app.post(
            "/api/auth/refresh/",
            json!({"refresh_token": h.university_refresh}),
        )
        .await
        .status,
        app.get("/api/accounts/auth/me/", Some(&h.delivery_access))
            .await
            .status,
        app.post(
            "/api/accounts/auth/refresh/",
            json!({"refresh_token": h.delivery_refresh}),
        )
        .await
        .status,
    ]
}

const ALL_OK: [StatusCode; 5] = [StatusCode::OK; 5];
const ALL_REFUSED: [StatusCode; 5] = [StatusCode::UNAUTHORIZED; 5];

async fn ann(app: &TestApp) -> accountd::domain::user::User {
    app.user_with_password("ann", Some(PHONE), PASSWORD).await
}

#[tokio::test]
async fn reactivating_a_user_ends_every_token_issued_before() {
    let app = TestApp::spawn().await;
    let user = ann(&app).await;
    let held = sign_in_everywhere(&app).await;
    let store = app.state.accounts.store().clone();
    directory::deactivate_user(store.as_ref(), user.id)
        .await
        .unwrap();
    app.clock.advance(1);
    let input = UserInput {
        is_active: Some(true),
        ..UserInput::default()
    };
    directory::update_user(store.as_ref(), user.id, input, app.now(), false)
        .await
        .unwrap();
    assert_eq!(statuses(&app, &held).await, ALL_REFUSED);
    // The university profile says why as simplejwt would for any dead token.
    let r = app
        .get("/api/auth/profile/", Some(&held.university_access))
        .await;
    assert_eq!(
        r.body["messages"][0]["message"],
        json!("Token is invalid or expired")
    );
    // Signing in again, in the same second, works.
    let again = sign_in_everywhere(&app).await;
    assert_eq!(statuses(&app, &again).await, ALL_OK);
}

#[tokio::test]
async fn a_password_change_ends_every_token_issued_before() {
    let app = TestApp::spawn().await;
    let user = ann(&app).await;
    let held = sign_in_everywhere(&app).await;
    app.clock.advance(1);
    let input = UserInput {
        password: Some(Secret::from("a new long password")),
        ..UserInput::default()
    };
    let store = app.state.accounts.store().clone();
    directory::update_user(store.as_ref(), user.id, input, app.now(), false)
        .await
        .unwrap();
    assert_eq!(statuses(&app, &held).await, ALL_REFUSED);
    // Other changes revoke nothing.
    let r = app
        .post(
            "/api/login/",
            json!({"username": PHONE, "password": "a new long password"}),
        )
        .await;
    let refresh = r.body["refresh"].as_str().unwrap().to_owned();
    let input = UserInput {
        first_name: Some("Ann".into()),
        ..UserInput::default()
    };
    app.clock.advance(1);
    directory::update_user(store.as_ref(), user.id, input, app.now(), false)
        .await
        .unwrap();
    let r = app
        .post("/api/token/refresh/", json!({"refresh": refresh}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn user_logout_at_the_cli_ends_every_token_and_session_of_the_user_at_once() {
    let app = TestApp::spawn().await;
    let user = ann(&app).await;
    app.user_with_password("bob", None, "bob's long password")
        .await;
    let held = sign_in_everywhere(&app).await;
    let r = app
        .post(
            "/api/auth/login/",
            json!({"username": "bob", "password": "bob's long password"}),
        )
        .await;
    let bob_access = r.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(statuses(&app, &held).await, ALL_OK);
    // The CLI stamps the wall clock; tokens were issued by the test clock,
    // which started at the wall time: let a second pass.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let id = user.id.0.to_string();
    let db = app.db_url.clone();
    let run = tokio::task::spawn_blocking(move || run_cli(&db, &["user", "logout", &id], None))
        .await
        .unwrap();
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.json()["id"], json!(user.id.0));
    // The delivery refresh token was rotated above; use the held ones.
    let refused = statuses(&app, &held).await;
    assert_eq!(refused, ALL_REFUSED);
    // Someone else's tokens live on.
    let r = app.get("/api/auth/profile/", Some(&bob_access)).await;
    assert_eq!(r.status, StatusCode::OK);
    // An unknown id is a one-line error.
    let db = app.db_url.clone();
    let run = tokio::task::spawn_blocking(move || run_cli(&db, &["user", "logout", "999"], None))
        .await
        .unwrap();
    assert_eq!(
        (run.code, run.stderr.trim()),
        (1, "accountd: user not found")
    );
}

#[tokio::test]
async fn user_unlock_at_the_cli_clears_the_throttle_of_every_name_of_the_user() {
    let app = TestApp::spawn().await;
    let user = ann(&app).await;
    for name in ["ann", PHONE] {
        for i in 0..10 {
            app.post(
                "/api/login/",
                json!({"username": name, "password": format!("guess {i}")}),
            )
            .await;
        }
        let r = app
            .post(
                "/api/login/",
                json!({"username": name, "password": PASSWORD}),
            )
            .await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    }
    let id = user.id.0.to_string();
    let db = app.db_url.clone();
    let run = tokio::task::spawn_blocking(move || run_cli(&db, &["user", "unlock", &id], None))
        .await
        .unwrap();
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.json(), json!({"id": user.id.0, "cleared_attempts": 20}));
    for name in ["ann", PHONE] {
        let r = app
            .post(
                "/api/login/",
                json!({"username": name, "password": PASSWORD}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{name}: {:?}", r.body);
    }
}

fn refresh_refused(contract_path: &str) -> Value {
    match contract_path {
        "/api/token/refresh/" => json!({"error": "Invalid or expired refresh token"}),
        _ => json!({"detail": "Token is blacklisted", "code": "token_not_valid"}),
    }
}

#[tokio::test]
async fn a_delivery_refresh_token_is_refused_at_other_refresh_endpoints_and_a_retired_one_ends_its_session(
) {
    let app = TestApp::spawn().await;
    app.post(
        "/api/accounts/auth/send-otp/",
        json!({"phone_number": PHONE}),
    )
    .await;
    let r = app
        .post(
            "/api/accounts/auth/verify-otp/",
            json!({"phone_number": PHONE, "otp": app.sms.last_code(PHONE)}),
        )
        .await;
    let (access, first) = (
        r.body["access_token"].as_str().unwrap().to_owned(),
        r.body["refresh_token"].as_str().unwrap().to_owned(),
    );
    // The live token: refused elsewhere, the session goes on.
    for path in ["/api/token/refresh/", "/accounts/refresh/"] {
        let r = app.post(path, json!({"refresh": first})).await;
        assert_eq!(
            (r.status, r.body),
            (StatusCode::UNAUTHORIZED, refresh_refused(path))
        );
    }
    assert_eq!(
        app.get("/api/accounts/auth/me/", Some(&access))
            .await
            .status,
        StatusCode::OK
    );
    // Rotate; once the reuse window has passed, the retired token presented
    // at another contract ends the session, as it would at delivery.
    let r = app
        .post(
            "/api/accounts/auth/refresh/",
            json!({"refresh_token": first}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let second = r.body["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(claims(&second)["sid"], claims(&first)["sid"]);
    app.clock.advance(11);
    let r = app
        .post("/api/token/refresh/", json!({"refresh": first}))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = app
        .post(
            "/api/accounts/auth/refresh/",
            json!({"refresh_token": second}),
        )
        .await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::UNAUTHORIZED,
            json!({"error": "Failed to refresh session: Invalid refresh token"})
        )
    );
}
