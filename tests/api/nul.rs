//! A NUL in a string field is refused as DRF's CharField refuses it
//! (ProhibitNullCharactersValidator: "Null characters are not allowed."),
//! 400 in each contract's field-error shape, before anything reaches the
//! store (PostgreSQL cannot hold a NUL in text: issue 7, item 3).

use crate::harness::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};

const NUL_NAME: &str = "a\u{0}b";
const PASSWORD: &str = "a long enough password";

async fn users(app: &TestApp) -> usize {
    app.state.accounts.store().list_users().await.unwrap().len()
}

#[tokio::test]
async fn a_nul_in_a_login_name_is_a_400_field_error_at_every_password_login() {
    let app = TestApp::spawn().await;
    let cases: [(&str, Value, Value); 4] = [
        (
            "/accounts/login/",
            json!({"username": NUL_NAME, "password": PASSWORD}),
            json!({"message": "username: Null characters are not allowed."}),
        ),
        (
            "/api/login/",
            json!({"username": NUL_NAME, "password": PASSWORD}),
            json!({"error": "username: Null characters are not allowed."}),
        ),
        (
            "/api/auth/login/",
            json!({"username": NUL_NAME, "password": PASSWORD}),
            json!({"success": false, "message": "Validation failed",
                   "errors": {"username": ["Null characters are not allowed."]}}),
        ),
        (
            "/auth/api/agent/login/",
            json!({"username": NUL_NAME, "password": PASSWORD}),
            json!({"error": "username: Null characters are not allowed."}),
        ),
    ];
    for (path, body, expected) in cases {
        let r = app.post(path, body).await;
        assert_eq!(
            (r.status, r.body),
            (StatusCode::BAD_REQUEST, expected),
            "{path}"
        );
    }
    // A NUL in the password is named the same way; form bodies (%00) too.
    let r = app
        .post(
            "/accounts/login/",
            json!({"username": "ann", "password": "pass\u{0}word"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::BAD_REQUEST,
            json!({"message": "password: Null characters are not allowed."})
        )
    );
    let r = app
        .post_raw(
            "/api/login/",
            "application/x-www-form-urlencoded",
            "username=a%00b&password=x",
        )
        .await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::BAD_REQUEST,
            json!({"error": "username: Null characters are not allowed."})
        )
    );
    assert_eq!(users(&app).await, 0, "nothing stored");
    // And the throttle counted none of them: a real login still works.
    app.user_with_password("ann", None, PASSWORD).await;
    let r = app
        .post(
            "/accounts/login/",
            json!({"username": "ann", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn a_nul_in_a_phone_number_is_a_400_field_error_at_delivery_and_kikapu() {
    let app = TestApp::spawn().await;
    let phone = "+1202555\u{0}0123";
    let r = app
        .post(
            "/api/accounts/auth/send-otp/",
            json!({"phone_number": phone}),
        )
        .await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::BAD_REQUEST,
            json!({"error": {"phone_number": ["Null characters are not allowed."]}})
        )
    );
    let r = app
        .post(
            "/api/accounts/auth/verify-otp/",
            json!({"phone_number": phone, "otp": "123456"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::BAD_REQUEST,
            json!({"error": {"phone_number": ["Null characters are not allowed."]}})
        )
    );
    let r = app
        .post("/auth/api/resend-otp/", json!({"phoneNumber": phone}))
        .await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::BAD_REQUEST,
            json!({"error": "phoneNumber: Null characters are not allowed."})
        )
    );
    let r = app
        .post(
            "/auth/api/verify-otp/",
            json!({"phoneNumber": "+255712345678", "otp": "12\u{0}45"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::BAD_REQUEST,
            json!({"error": "otp: Null characters are not allowed."})
        )
    );
    assert!(app.sms.all().is_empty(), "no code sent");
    assert_eq!(users(&app).await, 0, "nothing stored");
}

#[tokio::test]
async fn a_nul_in_a_refresh_token_is_refused_in_each_dialect() {
    let app = TestApp::spawn().await;
    let token = "eyJ\u{0}";
    let r = app
        .post("/accounts/refresh/", json!({"refresh": token}))
        .await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::BAD_REQUEST,
            json!({"refresh": ["Null characters are not allowed."]})
        )
    );
    let r = app
        .post(
            "/api/accounts/auth/refresh/",
            json!({"refresh_token": token}),
        )
        .await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::BAD_REQUEST,
            json!({"error": {"refresh_token": ["Null characters are not allowed."]}})
        )
    );
    // University reads the token without a serializer: it is just not a token.
    let r = app
        .post("/api/auth/refresh/", json!({"refresh_token": token}))
        .await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::UNAUTHORIZED,
            json!({"success": false, "message": "Invalid refresh token"})
        )
    );
}
