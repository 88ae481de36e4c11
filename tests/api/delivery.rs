//! 001-delivery-phone-otp.md over real HTTP: every endpoint and documented
//! response, whole bodies, and the session rules of INTERFACE.md.

use crate::harness::{claims, run_cli, Reply, TestApp};
use accountd::domain::clock::rfc3339;
use accountd::domain::directory::{self, UserInput};
use accountd::domain::phone::Phone;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashSet;

const PHONE: &str = "+1234567890";
const SEND: &str = "/api/accounts/auth/send-otp/";
const VERIFY: &str = "/api/accounts/auth/verify-otp/";
const REFRESH: &str = "/api/accounts/auth/refresh/";
const LOGOUT: &str = "/api/accounts/auth/logout/";
const ME: &str = "/api/accounts/auth/me/";

fn not_e164() -> Value {
    json!({"error": {"phone_number": ["Phone number must be in E.164 format (e.g., +1234567890)"]}})
}

fn invalid_otp() -> Value {
    json!({"error": "Invalid or expired OTP"})
}

fn refresh_failed() -> Value {
    json!({"error": "Failed to refresh session: Invalid refresh token"})
}

fn bad_token() -> Value {
    json!({"error": "Invalid or expired token"})
}

/// A code of the right length that is not `code`.
fn wrong(code: &str) -> String {
    if code == "000000" {
        "111111".into()
    } else {
        "000000".into()
    }
}

/// The pair as the client would store it.
struct Pair {
    access: String,
    refresh: String,
}

impl Pair {
    fn of(r: &Reply) -> Pair {
        Pair {
            access: r.body["access_token"].as_str().unwrap().to_owned(),
            refresh: r.body["refresh_token"].as_str().unwrap().to_owned(),
        }
    }
}

async fn send(app: &TestApp, phone: &str) -> Reply {
    app.post(SEND, json!({"phone_number": phone})).await
}

async fn verify(app: &TestApp, phone: &str, otp: &str) -> Reply {
    app.post(VERIFY, json!({"phone_number": phone, "otp": otp}))
        .await
}

/// Send a code and verify it: a signed-in session.
async fn sign_in(app: &TestApp, phone: &str) -> Pair {
    let r = send(app, phone).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = verify(app, phone, &app.sms.last_code(phone)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    Pair::of(&r)
}

/// A pair from a contract without sessions (pixel_genius), for a user "ann".
async fn pixel_genius_pair(app: &TestApp) -> Pair {
    app.user_with_password("ann", None, "ann's long password")
        .await;
    let r = app
        .post(
            "/accounts/login/",
            json!({"username": "ann", "password": "ann's long password"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    Pair {
        access: r.body["access"].as_str().unwrap().to_owned(),
        refresh: r.body["refresh"].as_str().unwrap().to_owned(),
    }
}

async fn refresh(app: &TestApp, token: &str) -> Reply {
    app.post(REFRESH, json!({"refresh_token": token})).await
}

fn tokens_body(expires_at: i64) -> Value {
    json!({
        "access_token": "<jwt>",
        "refresh_token": "<jwt>",
        "expires_in": 3600,
        "expires_at": expires_at,
        "token_type": "bearer"
    })
}

#[tokio::test]
async fn send_otp_answers_success_and_texts_a_six_digit_code_but_creates_no_user() {
    let app = TestApp::spawn().await;
    let r = send(&app, PHONE).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::OK,
            json!({
                "success": true,
                "message": "OTP sent successfully to your phone",
                "phone_number": PHONE
            })
        )
    );
    let sent = app.sms.all();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, PHONE);
    let code = app.sms.last_code(PHONE);
    assert_eq!(code.len(), 6);
    assert_eq!(sent[0].message, format!("Your verification code is {code}"));
    let store = app.state.accounts.store();
    assert_eq!(store.list_users().await.unwrap(), vec![]);
}

#[tokio::test]
async fn the_first_verify_of_a_new_phone_creates_a_shopkeeper_and_returns_tokens_and_the_user() {
    let app = TestApp::spawn().await;
    send(&app, PHONE).await;
    let now = app.now();
    let r = verify(&app, PHONE, &app.sms.last_code(PHONE)).await;
    let users = app.state.accounts.store().list_users().await.unwrap();
    assert_eq!(users.len(), 1);
    let user = &users[0];
    assert_eq!(user.role.as_deref(), Some("SHOPKEEPER"));
    assert_eq!(user.phone.as_ref().map(Phone::as_str), Some(PHONE));
    assert_eq!(
        (r.status, r.redacted()),
        (
            StatusCode::OK,
            json!({
                "access_token": "<jwt>",
                "refresh_token": "<jwt>",
                "expires_in": 3600,
                "expires_at": now + 3600,
                "token_type": "bearer",
                "user": {
                    "id": user.id.0,
                    "phone_number": PHONE,
                    "email": null,
                    "full_name": "",
                    "role": "SHOPKEEPER",
                    "is_active": true,
                    "date_joined": rfc3339(now),
                    "last_login": null
                }
            })
        )
    );
    // The documented key order, byte for byte.
    assert!(r.text.starts_with("{\"access_token\":\"eyJ"), "{}", r.text);
    let (access, refresh) = (
        claims(r.body["access_token"].as_str().unwrap()),
        claims(r.body["refresh_token"].as_str().unwrap()),
    );
    assert_eq!(access["token_type"], "access");
    assert_eq!(refresh["token_type"], "refresh");
    assert_eq!(access["user_id"], json!(user.id.0));
    assert_eq!(access["exp"].as_i64(), Some(now + 3600));
    assert_eq!(access["sid"].as_str().map(str::len), Some(32));
    assert_eq!(access["sid"], refresh["sid"]);
    // The login is stamped for next time; `me` shows it.
    assert_eq!(app.reload(user).await.last_login, Some(now));
}

#[tokio::test]
async fn verify_of_an_existing_user_keeps_their_role_and_names_and_shows_the_previous_login() {
    let app = TestApp::spawn().await;
    let user = app
        .user(UserInput {
            phone: Some(PHONE.into()),
            email: Some("amina@example.com".into()),
            first_name: Some("Amina".into()),
            last_name: Some("Juma".into()),
            role: Some("RIDER".into()),
            ..UserInput::default()
        })
        .await;
    let joined = app.now();
    let expected = |last_login: Value| {
        json!({
            "id": user.id.0,
            "phone_number": PHONE,
            "email": "amina@example.com",
            "full_name": "Amina Juma",
            "role": "RIDER",
            "is_active": true,
            "date_joined": rfc3339(joined),
            "last_login": last_login
        })
    };
    app.clock.advance(100);
    let first = app.now();
    send(&app, PHONE).await;
    let r = verify(&app, PHONE, &app.sms.last_code(PHONE)).await;
    assert_eq!(
        (r.status, r.body["user"].clone()),
        (StatusCode::OK, expected(Value::Null))
    );
    app.clock.advance(100);
    send(&app, PHONE).await;
    let r = verify(&app, PHONE, &app.sms.last_code(PHONE)).await;
    assert_eq!(
        (r.status, r.body["user"].clone()),
        (StatusCode::OK, expected(json!(rfc3339(first))))
    );
    let me = app.get(ME, r.body["access_token"].as_str()).await;
    assert_eq!(
        (me.status, me.body),
        (StatusCode::OK, expected(json!(rfc3339(app.now()))))
    );
    assert_eq!(
        app.state.accounts.store().list_users().await.unwrap().len(),
        1
    );
}

#[tokio::test]
async fn a_user_made_without_a_role_is_shown_with_the_default_role() {
    let app = TestApp::spawn().await;
    app.user(UserInput {
        phone: Some(PHONE.into()),
        ..UserInput::default()
    })
    .await;
    let pair = sign_in(&app, PHONE).await;
    let me = app.get(ME, Some(&pair.access)).await;
    assert_eq!(
        (me.status, me.body["role"].clone()),
        (StatusCode::OK, json!("SHOPKEEPER"))
    );
}

#[tokio::test]
async fn verify_with_a_wrong_expired_used_or_never_sent_code_returns_401_and_creates_no_user() {
    let app = TestApp::spawn().await;
    let r = verify(&app, PHONE, "123456").await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::UNAUTHORIZED, invalid_otp())
    );
    send(&app, PHONE).await;
    let code = app.sms.last_code(PHONE);
    let r = verify(&app, PHONE, &wrong(&code)).await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::UNAUTHORIZED, invalid_otp())
    );
    // A code for another phone is no code for this one.
    let r = verify(&app, "+1234567891", &code).await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::UNAUTHORIZED, invalid_otp())
    );
    assert_eq!(
        app.state.accounts.store().list_users().await.unwrap(),
        vec![]
    );
    app.clock.advance(300);
    let r = verify(&app, PHONE, &code).await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::UNAUTHORIZED, invalid_otp())
    );
    assert_eq!(
        app.state.accounts.store().list_users().await.unwrap(),
        vec![]
    );
    send(&app, PHONE).await;
    let code = app.sms.last_code(PHONE);
    assert_eq!(verify(&app, PHONE, &code).await.status, StatusCode::OK);
    let r = verify(&app, PHONE, &code).await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::UNAUTHORIZED, invalid_otp())
    );
}

#[tokio::test]
async fn five_wrong_guesses_burn_the_code_even_when_the_right_one_follows() {
    let app = TestApp::spawn().await;
    send(&app, PHONE).await;
    let code = app.sms.last_code(PHONE);
    for _ in 0..5 {
        let r = verify(&app, PHONE, &wrong(&code)).await;
        assert_eq!(
            (r.status, r.body),
            (StatusCode::UNAUTHORIZED, invalid_otp())
        );
    }
    let r = verify(&app, PHONE, &code).await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::UNAUTHORIZED, invalid_otp())
    );
    assert_eq!(
        app.state.accounts.store().list_users().await.unwrap(),
        vec![]
    );
    app.clock.advance(60);
    send(&app, PHONE).await;
    let fresh = app.sms.last_code(PHONE);
    assert_eq!(verify(&app, PHONE, &fresh).await.status, StatusCode::OK);
}

#[tokio::test]
async fn send_otp_within_the_wait_returns_429_with_the_true_seconds_left() {
    let app = TestApp::spawn().await;
    send(&app, PHONE).await;
    app.clock.advance(17);
    let r = send(&app, PHONE).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (
            StatusCode::TOO_MANY_REQUESTS,
            json!({"error": "For security purposes, you can only request this after 43 seconds."})
        )
    );
    assert_eq!(r.header("retry-after"), Some("43"));
    assert_eq!(app.sms.all().len(), 1);
    app.clock.advance(43);
    assert_eq!(send(&app, PHONE).await.status, StatusCode::OK);
    assert_eq!(app.sms.all().len(), 2);
}

#[tokio::test]
async fn the_sixth_code_in_an_hour_is_refused_until_the_first_leaves_the_window() {
    let app = TestApp::spawn().await;
    for _ in 0..5 {
        assert_eq!(send(&app, PHONE).await.status, StatusCode::OK);
        app.clock.advance(60);
    }
    let r = send(&app, PHONE).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::TOO_MANY_REQUESTS,
            json!({"error": "For security purposes, you can only request this after 3300 seconds."})
        )
    );
    assert_eq!(app.sms.all().len(), 5);
    app.clock.advance(3299);
    assert_eq!(
        send(&app, PHONE).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    app.clock.advance(1);
    assert_eq!(send(&app, PHONE).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_failed_sms_answers_500_leaves_no_usable_code_and_starts_no_wait() {
    let app = TestApp::spawn().await;
    app.sms.fail(true);
    let r = send(&app, PHONE).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"error": "Failed to send OTP"})
        )
    );
    let lost = app.sms.last_code(PHONE);
    let r = verify(&app, PHONE, &lost).await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::UNAUTHORIZED, invalid_otp())
    );
    app.sms.fail(false);
    // No wait: the very same second, a new code goes out and works.
    let r = send(&app, PHONE).await;
    assert_eq!(r.status, StatusCode::OK);
    let code = app.sms.last_code(PHONE);
    assert_eq!(verify(&app, PHONE, &code).await.status, StatusCode::OK);
}

#[tokio::test]
async fn bad_phone_numbers_of_every_shape_get_the_contracts_400_and_nothing_is_sent() {
    let app = TestApp::spawn().await;
    let bad = [
        json!("1234567890"),
        json!("+12345abcde"),
        json!("phone"),
        json!("+1 234 567 890"),
        json!("+1-234-567-890"),
        json!(" +1234567890"),
        json!("+1234567890 "),
        json!("+1234567890123456"),
        json!("+12345678901234567890123456789"),
        json!("+١٢٣٤٥٦٧٨٩٠"),
        json!("+１２３４５６７８９０"),
        json!("+"),
        json!("++1234567890"),
        json!("+0123456789"),
        json!("+1"),
        json!(""),
        json!(1234567890),
        json!(1.5),
        json!(null),
        json!(true),
        json!(["+1234567890"]),
        json!({"number": "+1234567890"}),
    ];
    for phone in bad {
        let r = app.post(SEND, json!({"phone_number": phone})).await;
        assert_eq!(
            (r.status, r.body),
            (StatusCode::BAD_REQUEST, not_e164()),
            "send {phone}"
        );
        let r = app
            .post(VERIFY, json!({"phone_number": phone, "otp": "123456"}))
            .await;
        assert_eq!(
            (r.status, r.body),
            (StatusCode::BAD_REQUEST, not_e164()),
            "verify {phone}"
        );
    }
    // Forms too, as DRF reads them.
    let r = app
        .post_raw(
            SEND,
            "application/x-www-form-urlencoded",
            "phone_number=%2B1+234",
        )
        .await;
    assert_eq!((r.status, r.body), (StatusCode::BAD_REQUEST, not_e164()));
    assert_eq!(app.sms.all(), vec![]);
    assert_eq!(
        app.state.accounts.store().list_users().await.unwrap(),
        vec![]
    );
}

#[tokio::test]
async fn missing_fields_are_named_in_the_serializer_shape() {
    let app = TestApp::spawn().await;
    let r = app.post(SEND, json!({})).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::BAD_REQUEST,
            json!({"error": {"phone_number": ["This field is required."]}})
        )
    );
    let r = app.post(VERIFY, json!({"phone_number": "nope"})).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::BAD_REQUEST,
            json!({"error": {
                "phone_number": ["Phone number must be in E.164 format (e.g., +1234567890)"],
                "otp": ["This field is required."]
            }})
        )
    );
    let r = app
        .post(VERIFY, json!({"phone_number": PHONE, "otp": ""}))
        .await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::BAD_REQUEST,
            json!({"error": {"otp": ["This field may not be blank."]}})
        )
    );
    let r = app.post(REFRESH, json!({})).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::BAD_REQUEST,
            json!({"error": {"refresh_token": ["This field is required."]}})
        )
    );
}

#[tokio::test]
async fn malformed_bodies_get_a_4xx_in_the_error_shape() {
    let app = TestApp::spawn().await;
    for path in [SEND, VERIFY, REFRESH] {
        let r = app
            .post_raw(path, "application/json", "{\"phone_number\": ")
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(
            r.body["error"]
                .as_str()
                .unwrap()
                .starts_with("JSON parse error - "),
            "{:?}",
            r.body
        );
        assert_eq!(r.body.as_object().unwrap().len(), 1);
        let r = app.post(path, json!(["+1234567890"])).await;
        assert_eq!(
            (r.status, r.body),
            (
                StatusCode::BAD_REQUEST,
                json!({"error": "Invalid data. Expected a dictionary, but got list."})
            )
        );
        let r = app.post_raw(path, "text/plain", "x").await;
        assert_eq!(
            (r.status, r.body),
            (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                json!({"error": "Unsupported media type \"text/plain\" in request."})
            )
        );
        let huge = format!("{{\"phone_number\": \"{}\"}}", "1".repeat(2 << 20));
        let r = app.post_raw(path, "application/json", huge).await;
        assert_eq!(
            (r.status, r.body),
            (
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({"error": "Request body is too large."})
            )
        );
    }
    assert_eq!(app.sms.all(), vec![]);
}

#[tokio::test]
async fn the_dialable_check_is_off_by_default_and_refuses_the_contract_example_when_on() {
    let app = TestApp::spawn_with(|c| c.phone_strict = true).await;
    let r = send(&app, PHONE).await;
    assert_eq!((r.status, r.body), (StatusCode::BAD_REQUEST, not_e164()));
    let r = send(&app, "+12025550123").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

#[tokio::test]
async fn paths_work_without_the_trailing_slash_and_with_form_bodies() {
    let app = TestApp::spawn().await;
    let r = app
        .post_raw(
            "/api/accounts/auth/send-otp",
            "application/x-www-form-urlencoded",
            "phone_number=%2B1234567890",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let code = app.sms.last_code(PHONE);
    let r = app
        .post_raw(
            "/api/accounts/auth/verify-otp",
            "application/x-www-form-urlencoded",
            format!("phone_number=%2B1234567890&otp={code}"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let me = app
        .get("/api/accounts/auth/me", r.body["access_token"].as_str())
        .await;
    assert_eq!(me.status, StatusCode::OK);
}

#[tokio::test]
async fn me_returns_the_user_of_a_live_session() {
    let app = TestApp::spawn().await;
    let pair = sign_in(&app, PHONE).await;
    let user = app.state.accounts.store().list_users().await.unwrap()[0].clone();
    let now = app.now();
    let r = app.get(ME, Some(&pair.access)).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::OK,
            json!({
                "id": user.id.0,
                "phone_number": PHONE,
                "email": null,
                "full_name": "",
                "role": "SHOPKEEPER",
                "is_active": true,
                "date_joined": rfc3339(now),
                "last_login": rfc3339(now)
            })
        )
    );
}

#[tokio::test]
async fn me_and_logout_without_a_valid_access_token_return_401() {
    let app = TestApp::spawn().await;
    let pair = sign_in(&app, PHONE).await;
    // A token of a contract without sessions is not a delivery session's.
    let other = pixel_genius_pair(&app).await;
    let other_access = other.access.clone();
    for (path, is_get) in [(ME, true), (LOGOUT, false)] {
        let call = |token: Option<String>| {
            let app = &app;
            async move {
                if is_get {
                    app.get(path, token.as_deref()).await
                } else {
                    match token {
                        Some(t) => app.post_auth(path, &t, json!({})).await,
                        None => app.post(path, json!({})).await,
                    }
                }
            }
        };
        let r = call(None).await;
        assert_eq!(
            (r.status, r.body.clone()),
            (
                StatusCode::UNAUTHORIZED,
                json!({"error": "Authentication credentials were not provided."})
            ),
            "{path}"
        );
        assert_eq!(r.header("www-authenticate"), Some("Bearer realm=\"api\""));
        for token in [
            "garbage".to_owned(),
            pair.refresh.clone(),
            other_access.clone(),
        ] {
            let r = call(Some(token)).await;
            assert_eq!(
                (r.status, r.body),
                (StatusCode::UNAUTHORIZED, bad_token()),
                "{path}"
            );
        }
    }
    // An expired access token.
    app.clock.advance(3600);
    let r = app.get(ME, Some(&pair.access)).await;
    assert_eq!((r.status, r.body), (StatusCode::UNAUTHORIZED, bad_token()));
}

#[tokio::test]
async fn refresh_rotates_to_a_new_pair_of_the_same_session() {
    let app = TestApp::spawn().await;
    let first = sign_in(&app, PHONE).await;
    app.clock.advance(600);
    let r = refresh(&app, &first.refresh).await;
    assert_eq!(
        (r.status, r.redacted()),
        (StatusCode::OK, tokens_body(app.now() + 3600))
    );
    let second = Pair::of(&r);
    assert_ne!(second.refresh, first.refresh);
    assert_ne!(second.access, first.access);
    let (old, new) = (claims(&first.refresh), claims(&second.refresh));
    assert_eq!(old["sid"], new["sid"]);
    assert_ne!(old["jti"], new["jti"]);
    assert_eq!(new["iat"].as_i64(), Some(app.now()));
    // Both access tokens belong to the live session.
    for access in [&first.access, &second.access] {
        assert_eq!(app.get(ME, Some(access)).await.status, StatusCode::OK);
    }
    // The new refresh token is the live one and rotates in turn.
    app.clock.advance(600);
    let r = refresh(&app, &second.refresh).await;
    assert_eq!(
        (r.status, r.redacted()),
        (StatusCode::OK, tokens_body(app.now() + 3600))
    );
    // The old one is retired: no longer accepted where a live one is needed.
    let r = app
        .post("/accounts/refresh/", json!({"refresh": first.refresh}))
        .await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::UNAUTHORIZED,
            json!({"detail": "Token is blacklisted", "code": "token_not_valid"})
        )
    );
}

#[tokio::test]
async fn the_retired_token_within_the_reuse_window_answers_the_same_successor() {
    let app = TestApp::spawn().await;
    let first = sign_in(&app, PHONE).await;
    app.clock.advance(100);
    let r = refresh(&app, &first.refresh).await;
    assert_eq!(r.status, StatusCode::OK);
    let successor = r.body.clone();
    app.clock.advance(9);
    let again = refresh(&app, &first.refresh).await;
    // The same pair, byte for byte: a lost response can simply be retried.
    assert_eq!(
        (again.status, again.body.clone()),
        (StatusCode::OK, successor.clone())
    );
    let again = refresh(&app, &first.refresh).await;
    assert_eq!(
        (again.status, again.body),
        (StatusCode::OK, successor.clone())
    );
    // And the successor is still live.
    let next = refresh(&app, successor["refresh_token"].as_str().unwrap()).await;
    assert_eq!(next.status, StatusCode::OK);
    assert_ne!(next.body["refresh_token"], successor["refresh_token"]);
}

#[tokio::test]
async fn twenty_concurrent_refreshes_of_one_token_yield_one_successor() {
    let app = TestApp::spawn().await;
    let first = sign_in(&app, PHONE).await;
    app.clock.advance(60);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (client, url, token) = (
            app.client.clone(),
            format!("{}{REFRESH}", app.url),
            first.refresh.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .json(&json!({"refresh_token": token}))
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }));
    }
    let mut successors = HashSet::new();
    for task in tasks {
        let (status, body) = task.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        successors.insert(body["refresh_token"].as_str().unwrap().to_owned());
    }
    assert_eq!(successors.len(), 1);
    let successor = successors.into_iter().next().unwrap();
    assert_ne!(successor, first.refresh);
    // That one successor is the live token: after the window it still rotates.
    app.clock.advance(11);
    let r = refresh(&app, &successor).await;
    assert_eq!(
        (r.status, r.redacted()),
        (StatusCode::OK, tokens_body(app.now() + 3600))
    );
}

#[tokio::test]
async fn a_retired_token_after_the_window_revokes_the_whole_session() {
    let app = TestApp::spawn().await;
    let first = sign_in(&app, PHONE).await;
    let r = refresh(&app, &first.refresh).await;
    let second = Pair::of(&r);
    app.clock.advance(10);
    let r = refresh(&app, &first.refresh).await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::UNAUTHORIZED, refresh_failed())
    );
    // Every token of the session fails now.
    let r = refresh(&app, &second.refresh).await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::UNAUTHORIZED, refresh_failed())
    );
    for access in [&first.access, &second.access] {
        let r = app.get(ME, Some(access)).await;
        assert_eq!((r.status, r.body), (StatusCode::UNAUTHORIZED, bad_token()));
    }
    // Other sessions of the same user are not touched; a new sign-in works.
    app.clock.advance(60);
    let fresh = sign_in(&app, PHONE).await;
    assert_eq!(
        app.get(ME, Some(&fresh.access)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_older_retired_token_revokes_the_session_even_inside_the_window() {
    let app = TestApp::spawn().await;
    let first = sign_in(&app, PHONE).await;
    let second = Pair::of(&refresh(&app, &first.refresh).await);
    let third = Pair::of(&refresh(&app, &second.refresh).await);
    // `first` is two rotations old: not the token just retired.
    let r = refresh(&app, &first.refresh).await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::UNAUTHORIZED, refresh_failed())
    );
    let r = refresh(&app, &third.refresh).await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::UNAUTHORIZED, refresh_failed())
    );
    assert_eq!(
        app.get(ME, Some(&third.access)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn logout_ends_the_session_so_me_and_refresh_fail_at_once() {
    let app = TestApp::spawn().await;
    let pair = sign_in(&app, PHONE).await;
    app.clock.advance(60);
    let other = sign_in(&app, PHONE).await;
    let r = app.post_auth(LOGOUT, &pair.access, json!({})).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::OK,
            json!({"success": true, "message": "Logged out successfully"})
        )
    );
    let r = app.get(ME, Some(&pair.access)).await;
    assert_eq!((r.status, r.body), (StatusCode::UNAUTHORIZED, bad_token()));
    let r = refresh(&app, &pair.refresh).await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::UNAUTHORIZED, refresh_failed())
    );
    let r = app.post_auth(LOGOUT, &pair.access, json!({})).await;
    assert_eq!((r.status, r.body), (StatusCode::UNAUTHORIZED, bad_token()));
    // Nor does the logged-out refresh token work at any other contract.
    let r = app
        .post("/accounts/refresh/", json!({"refresh": pair.refresh}))
        .await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::UNAUTHORIZED,
            json!({"detail": "Token is blacklisted", "code": "token_not_valid"})
        )
    );
    // The user's other session lives on.
    assert_eq!(
        app.get(ME, Some(&other.access)).await.status,
        StatusCode::OK
    );
    assert_eq!(refresh(&app, &other.refresh).await.status, StatusCode::OK);
}

#[tokio::test]
async fn refresh_with_a_bad_expired_or_wrong_type_token_returns_401() {
    let app = TestApp::spawn().await;
    let pair = sign_in(&app, PHONE).await;
    let other = pixel_genius_pair(&app).await;
    let mut forged = pair.refresh.clone();
    forged.pop();
    forged.push(if pair.refresh.ends_with('A') {
        'B'
    } else {
        'A'
    });
    for token in [
        "garbage".to_owned(),
        forged,
        pair.access.clone(),
        other.refresh.clone(),
    ] {
        let r = refresh(&app, &token).await;
        assert_eq!(
            (r.status, r.body),
            (StatusCode::UNAUTHORIZED, refresh_failed())
        );
    }
    // Still live after all that: the failures did not touch the session.
    assert_eq!(app.get(ME, Some(&pair.access)).await.status, StatusCode::OK);
    app.clock.advance(30 * 86_400);
    let r = refresh(&app, &pair.refresh).await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::UNAUTHORIZED, refresh_failed())
    );
}

#[tokio::test]
async fn a_deactivated_user_cannot_sign_in_refresh_or_read_me() {
    let app = TestApp::spawn().await;
    let pair = sign_in(&app, PHONE).await;
    let user = app.state.accounts.store().list_users().await.unwrap()[0].clone();
    directory::deactivate_user(app.state.accounts.store().as_ref(), user.id)
        .await
        .unwrap();
    let r = app.get(ME, Some(&pair.access)).await;
    assert_eq!((r.status, r.body), (StatusCode::UNAUTHORIZED, bad_token()));
    let r = refresh(&app, &pair.refresh).await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::UNAUTHORIZED, refresh_failed())
    );
    app.clock.advance(60);
    send(&app, PHONE).await;
    let r = verify(&app, PHONE, &app.sms.last_code(PHONE)).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::FORBIDDEN,
            json!({"error": "User account is disabled"})
        )
    );
}

#[tokio::test]
async fn a_rider_an_operator_made_on_the_command_line_signs_in_as_a_rider() {
    let app = TestApp::spawn().await;
    let run = run_cli(
        &app.db_url,
        &[
            "user",
            "create",
            "--phone",
            PHONE,
            "--role",
            "RIDER",
            "--first-name",
            "Musa",
        ],
        None,
    );
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run:?}");
    let id = run.json()["id"].as_i64().unwrap();
    let pair = sign_in(&app, PHONE).await;
    let me = app.get(ME, Some(&pair.access)).await;
    assert_eq!(
        (
            me.status,
            me.body["id"].clone(),
            me.body["full_name"].clone(),
            me.body["role"].clone()
        ),
        (StatusCode::OK, json!(id), json!("Musa"), json!("RIDER"))
    );
}

#[tokio::test]
async fn blacklisting_a_sessions_refresh_token_at_another_contract_ends_the_session() {
    let app = TestApp::spawn().await;
    let pair = sign_in(&app, PHONE).await;
    let r = app
        .post("/accounts/logout/", json!({"refresh": pair.refresh}))
        .await;
    assert_eq!((r.status, r.text.as_str()), (StatusCode::RESET_CONTENT, ""));
    let r = refresh(&app, &pair.refresh).await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::UNAUTHORIZED, refresh_failed())
    );
    let r = app.get(ME, Some(&pair.access)).await;
    assert_eq!((r.status, r.body), (StatusCode::UNAUTHORIZED, bad_token()));
    let r = app
        .post("/api/token/refresh/", json!({"refresh": pair.refresh}))
        .await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::UNAUTHORIZED,
            json!({"error": "Invalid or expired refresh token"})
        )
    );
}
