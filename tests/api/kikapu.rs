//! 004-kikapu.md over real HTTP: verify-otp with and without a business,
//! resend-otp and its limits, agent login; whole bodies.

use crate::harness::{claims, run_cli, Reply, TestApp};
use accountd::domain::directory::{self, UserInput};
use accountd::domain::org::Org;
use accountd::domain::secret::Secret;
use accountd::domain::user::User;
use reqwest::StatusCode;
use serde_json::{json, Value};

const PHONE: &str = "+255712345678";
const VERIFY: &str = "/auth/api/verify-otp/";
const RESEND: &str = "/auth/api/resend-otp/";
const AGENT: &str = "/auth/api/agent/login/";

fn error(message: &str) -> Value {
    json!({ "error": message })
}

fn wrong(code: &str) -> String {
    if code == "00000" {
        "11111".into()
    } else {
        "00000".into()
    }
}

async fn john(app: &TestApp) -> User {
    app.user(UserInput {
        phone: Some(PHONE.into()),
        email: Some("john@example.com".into()),
        first_name: Some("John".into()),
        last_name: Some("Doe".into()),
        role: Some("BUSINESS".into()),
        ..UserInput::default()
    })
    .await
}

async fn store_of(app: &TestApp, name: &str, member: Option<&User>) -> Org {
    let store = app.state.accounts.store();
    let org = directory::create_org(store.as_ref(), name, Some("retailer".into()), true)
        .await
        .unwrap();
    if let Some(u) = member {
        directory::add_member(store.as_ref(), org.id, u.id)
            .await
            .unwrap();
    }
    org
}

async fn resend(app: &TestApp, phone: &str) -> Reply {
    app.post(RESEND, json!({"phoneNumber": phone})).await
}

async fn resend_ok(app: &TestApp) -> String {
    let r = resend(app, PHONE).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    app.sms.last_code(PHONE)
}

#[tokio::test]
async fn resend_otp_texts_an_existing_user_a_five_digit_code() {
    let app = TestApp::spawn().await;
    john(&app).await;
    let r = resend(&app, PHONE).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::OK,
            json!({"message": "OTP resent successfully"})
        )
    );
    let sent = app.sms.all();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, PHONE);
    let code = app.sms.last_code(PHONE);
    assert_eq!(code.len(), 5);
    assert_eq!(sent[0].message, format!("Your verification code is {code}"));
}

#[tokio::test]
async fn resend_otp_for_an_unknown_phone_returns_404_and_sends_nothing() {
    let app = TestApp::spawn().await;
    let r = resend(&app, PHONE).await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::NOT_FOUND, error("User not found"))
    );
    assert_eq!(app.sms.all(), vec![]);
    assert_eq!(
        app.state.accounts.store().list_users().await.unwrap(),
        vec![]
    );
}

#[tokio::test]
async fn resend_within_sixty_seconds_returns_400_with_the_seconds_left() {
    let app = TestApp::spawn().await;
    john(&app).await;
    resend_ok(&app).await;
    app.clock.advance(17);
    let r = resend(&app, PHONE).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::BAD_REQUEST,
            error("Please wait 43 seconds before requesting a new OTP")
        )
    );
    assert_eq!(app.sms.all().len(), 1);
    app.clock.advance(43);
    resend_ok(&app).await;
}

#[tokio::test]
async fn the_sixth_code_in_an_hour_is_refused_with_the_seconds_left() {
    let app = TestApp::spawn().await;
    john(&app).await;
    for _ in 0..5 {
        resend_ok(&app).await;
        app.clock.advance(60);
    }
    let r = resend(&app, PHONE).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::BAD_REQUEST,
            error("Please wait 3300 seconds before requesting a new OTP")
        )
    );
    assert_eq!(app.sms.all().len(), 5);
    app.clock.advance(3300);
    resend_ok(&app).await;
}

#[tokio::test]
async fn a_failed_sms_answers_500_leaves_no_usable_code_and_starts_no_wait() {
    let app = TestApp::spawn().await;
    john(&app).await;
    app.sms.fail(true);
    let r = resend(&app, PHONE).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            error("Failed to send SMS")
        )
    );
    let lost = app.sms.last_code(PHONE);
    let r = app
        .post(VERIFY, json!({"phoneNumber": PHONE, "otp": lost}))
        .await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::UNAUTHORIZED, error("Invalid or expired OTP"))
    );
    app.sms.fail(false);
    let code = resend_ok(&app).await;
    let r = app
        .post(VERIFY, json!({"phoneNumber": PHONE, "otp": code}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn verify_otp_without_a_business_returns_tokens_and_the_user_with_its_type() {
    let app = TestApp::spawn().await;
    let user = john(&app).await;
    let code = resend_ok(&app).await;
    let r = app
        .post(VERIFY, json!({"phoneNumber": PHONE, "otp": code}))
        .await;
    assert_eq!(
        (r.status, r.redacted()),
        (
            StatusCode::OK,
            json!({
                "access_token": "<jwt>",
                "refresh_token": "<jwt>",
                "user": {
                    "id": user.id.0,
                    "name": "John Doe",
                    "phoneNumber": PHONE,
                    "email": "john@example.com",
                    "user_type": "BUSINESS"
                }
            })
        )
    );
    let now = app.now();
    let (access, refresh) = (
        claims(r.body["access_token"].as_str().unwrap()),
        claims(r.body["refresh_token"].as_str().unwrap()),
    );
    assert_eq!(
        (access["token_type"].clone(), access["exp"].as_i64()),
        (json!("access"), Some(now + 300))
    );
    assert_eq!(
        (refresh["token_type"].clone(), refresh["exp"].as_i64()),
        (json!("refresh"), Some(now + 86_400))
    );
    assert_eq!(access["user_id"], json!(user.id.0));
    assert_eq!(app.reload(&user).await.last_login, Some(now));
    // The code works once.
    let r = app
        .post(VERIFY, json!({"phoneNumber": PHONE, "otp": code}))
        .await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::UNAUTHORIZED, error("Invalid or expired OTP"))
    );
}

#[tokio::test]
async fn verify_otp_with_one_of_the_users_businesses_adds_the_business() {
    let app = TestApp::spawn().await;
    let user = john(&app).await;
    store_of(&app, "Someone Else's", None).await;
    let org = store_of(&app, "My Store", Some(&user)).await;
    let code = resend_ok(&app).await;
    let r = app
        .post(
            VERIFY,
            json!({"phoneNumber": PHONE, "otp": code, "business_id": org.id.0}),
        )
        .await;
    assert_eq!(
        (r.status, r.redacted()),
        (
            StatusCode::OK,
            json!({
                "access_token": "<jwt>",
                "refresh_token": "<jwt>",
                "business": {
                    "id": org.id.0,
                    "name": "My Store",
                    "type": "retailer",
                    "is_verified": true
                },
                "user": {
                    "id": user.id.0,
                    "name": "John Doe",
                    "phoneNumber": PHONE,
                    "email": "john@example.com"
                }
            })
        )
    );
}

#[tokio::test]
async fn a_business_made_on_the_command_line_is_selected_by_a_string_id() {
    let app = TestApp::spawn().await;
    let user = app
        .user(UserInput {
            phone: Some(PHONE.into()),
            ..UserInput::default()
        })
        .await;
    let run = run_cli(&app.db_url, &["org", "create", "--name", "Duka"], None);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run:?}");
    let org_id = run.json()["id"].as_i64().unwrap();
    let run = run_cli(
        &app.db_url,
        &[
            "org",
            "add-member",
            "--org",
            &org_id.to_string(),
            "--user",
            &user.id.0.to_string(),
        ],
        None,
    );
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run:?}");
    let code = resend_ok(&app).await;
    // DRF's IntegerField takes "7" as 7; a form body sends nothing else.
    let r = app
        .post_raw(
            VERIFY,
            "application/x-www-form-urlencoded",
            format!("phoneNumber=%2B255712345678&otp={code}&business_id={org_id}"),
        )
        .await;
    assert_eq!(
        (r.status, r.redacted()),
        (
            StatusCode::OK,
            json!({
                "access_token": "<jwt>",
                "refresh_token": "<jwt>",
                "business": {"id": org_id, "name": "Duka", "type": null, "is_verified": false},
                "user": {"id": user.id.0, "name": "", "phoneNumber": PHONE, "email": null}
            })
        )
    );
}

#[tokio::test]
async fn verify_otp_with_a_business_the_user_is_not_in_returns_404() {
    let app = TestApp::spawn().await;
    let user = john(&app).await;
    let foreign = store_of(&app, "Someone Else's", None).await;
    for business in [json!(foreign.id.0), json!(foreign.id.0 + 100)] {
        app.clock.advance(60);
        let code = resend_ok(&app).await;
        let r = app
            .post(
                VERIFY,
                json!({"phoneNumber": PHONE, "otp": code, "business_id": business}),
            )
            .await;
        assert_eq!(
            (r.status, r.body),
            (StatusCode::NOT_FOUND, error("Business not found"))
        );
    }
    assert_eq!(app.reload(&user).await.last_login, None);
}

#[tokio::test]
async fn verify_otp_for_an_unknown_user_returns_404() {
    let app = TestApp::spawn().await;
    let r = app
        .post(VERIFY, json!({"phoneNumber": PHONE, "otp": "12345"}))
        .await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::NOT_FOUND, error("User not found"))
    );
    assert_eq!(
        app.state.accounts.store().list_users().await.unwrap(),
        vec![]
    );
}

#[tokio::test]
async fn verify_otp_with_a_wrong_or_expired_code_returns_401_and_five_wrong_burn_it() {
    let app = TestApp::spawn().await;
    john(&app).await;
    let code = resend_ok(&app).await;
    let invalid = (StatusCode::UNAUTHORIZED, error("Invalid or expired OTP"));
    for _ in 0..5 {
        let r = app
            .post(VERIFY, json!({"phoneNumber": PHONE, "otp": wrong(&code)}))
            .await;
        assert_eq!((r.status, r.body), invalid);
    }
    let r = app
        .post(VERIFY, json!({"phoneNumber": PHONE, "otp": code}))
        .await;
    assert_eq!((r.status, r.body), invalid);
    app.clock.advance(60);
    let code = resend_ok(&app).await;
    app.clock.advance(300);
    let r = app
        .post(VERIFY, json!({"phoneNumber": PHONE, "otp": code}))
        .await;
    assert_eq!((r.status, r.body), invalid);
}

#[tokio::test]
async fn invalid_input_gets_400_and_changes_nothing() {
    let app = TestApp::spawn().await;
    john(&app).await;
    let cases = [
        (
            VERIFY,
            json!({}),
            "phoneNumber: This field is required. otp: This field is required.",
        ),
        (
            VERIFY,
            json!({"phoneNumber": PHONE, "otp": null}),
            "otp: This field may not be null.",
        ),
        (
            VERIFY,
            json!({"phoneNumber": PHONE, "otp": "12345", "business_id": "abc"}),
            "business_id: A valid integer is required.",
        ),
        (
            RESEND,
            json!({"phoneNumber": ""}),
            "phoneNumber: This field may not be blank.",
        ),
        (
            RESEND,
            json!({"phone_number": PHONE}),
            "phoneNumber: This field is required.",
        ),
        (
            RESEND,
            json!([PHONE]),
            "Invalid data. Expected a dictionary, but got list.",
        ),
    ];
    for (path, body, message) in cases {
        let r = app.post(path, body.clone()).await;
        assert_eq!(
            (r.status, r.body),
            (StatusCode::BAD_REQUEST, error(message)),
            "{path} {body}"
        );
    }
    let bad_phone = error("Invalid phone number. Use the E.164 format (e.g., +255712345678)");
    for phone in [
        json!("0712345678"),
        json!("+255 712 345 678"),
        json!("+255abc"),
        json!("+2557123456789012"),
        json!("+٢٥٥٧١٢٣٤٥٦٧٨"),
        json!(255712345678u64),
    ] {
        let r = app.post(RESEND, json!({"phoneNumber": phone})).await;
        assert_eq!(
            (r.status, r.body),
            (StatusCode::BAD_REQUEST, bad_phone.clone()),
            "{phone}"
        );
        let r = app
            .post(VERIFY, json!({"phoneNumber": phone, "otp": "12345"}))
            .await;
        assert_eq!(
            (r.status, r.body),
            (StatusCode::BAD_REQUEST, bad_phone.clone()),
            "{phone}"
        );
    }
    let r = app.post_raw(VERIFY, "application/json", "{").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body["error"]
        .as_str()
        .unwrap()
        .starts_with("JSON parse error - "));
    assert_eq!(app.sms.all(), vec![]);
}

#[tokio::test]
async fn an_inactive_user_gets_403_and_no_code() {
    let app = TestApp::spawn().await;
    app.user(UserInput {
        phone: Some(PHONE.into()),
        is_active: Some(false),
        ..UserInput::default()
    })
    .await;
    let r = resend(&app, PHONE).await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::FORBIDDEN, error("User account is inactive"))
    );
    assert_eq!(app.sms.all(), vec![]);
}

#[tokio::test]
async fn a_user_deactivated_after_the_code_was_sent_gets_403_at_verify() {
    let app = TestApp::spawn().await;
    let user = john(&app).await;
    let code = resend_ok(&app).await;
    directory::deactivate_user(app.state.accounts.store().as_ref(), user.id)
        .await
        .unwrap();
    let r = app
        .post(VERIFY, json!({"phoneNumber": PHONE, "otp": code}))
        .await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::FORBIDDEN, error("User account is inactive"))
    );
    assert_eq!(app.reload(&user).await.last_login, None);
}

async fn agent(app: &TestApp, active: bool) -> User {
    app.user(UserInput {
        username: Some("agent7".into()),
        phone: Some(PHONE.into()),
        email: Some("agent@example.com".into()),
        password: Some(Secret::from("securepassword")),
        first_name: Some("John".into()),
        last_name: Some("Agent".into()),
        role: Some("AGENT".into()),
        is_active: Some(active),
        profile: Some(r#"{"agent_id": "AG12345", "assigned_area": "Central District"}"#.into()),
        ..UserInput::default()
    })
    .await
}

fn agent_body(user: &User) -> Value {
    json!({
        "success": true,
        "message": "Login successful",
        "user": {
            "id": user.id.0,
            "name": "John Agent",
            "phoneNumber": PHONE,
            "email": "agent@example.com",
            "agent_id": "AG12345",
            "assigned_area": "Central District"
        },
        "token": {"access": "<jwt>", "refresh": "<jwt>"}
    })
}

#[tokio::test]
async fn an_agent_logs_in_by_phone_number_or_by_username() {
    let app = TestApp::spawn().await;
    let user = agent(&app, true).await;
    for body in [
        json!({"phoneNumber": PHONE, "password": "securepassword"}),
        json!({"username": PHONE, "password": "securepassword"}),
        json!({"username": "agent7", "password": "securepassword"}),
    ] {
        let r = app.post(AGENT, body.clone()).await;
        assert_eq!(
            (r.status, r.redacted()),
            (StatusCode::OK, agent_body(&user)),
            "{body}"
        );
        let access = claims(r.body["token"]["access"].as_str().unwrap());
        assert_eq!(
            (access["user_id"].clone(), access["exp"].as_i64()),
            (json!(user.id.0), Some(app.now() + 300))
        );
    }
}

#[tokio::test]
async fn an_agent_without_profile_attributes_shows_them_as_null() {
    let app = TestApp::spawn().await;
    let user = app
        .user(UserInput {
            username: Some("bare".into()),
            password: Some(Secret::from("securepassword")),
            role: Some("AGENT".into()),
            ..UserInput::default()
        })
        .await;
    let r = app
        .post(
            AGENT,
            json!({"username": "bare", "password": "securepassword"}),
        )
        .await;
    assert_eq!(
        (r.status, r.redacted()),
        (
            StatusCode::OK,
            json!({
                "success": true,
                "message": "Login successful",
                "user": {"id": user.id.0, "name": "", "phoneNumber": null, "email": null,
                         "agent_id": null, "assigned_area": null},
                "token": {"access": "<jwt>", "refresh": "<jwt>"}
            })
        )
    );
}

#[tokio::test]
async fn agent_login_without_a_name_or_password_returns_400() {
    let app = TestApp::spawn().await;
    agent(&app, true).await;
    for body in [
        json!({}),
        json!({"password": "securepassword"}),
        json!({"phoneNumber": PHONE}),
        json!({"username": "agent7", "password": ""}),
        json!({"phoneNumber": null, "password": "securepassword"}),
        json!({"phoneNumber": [PHONE], "password": "securepassword"}),
    ] {
        let r = app.post(AGENT, body.clone()).await;
        assert_eq!(
            (r.status, r.body),
            (
                StatusCode::BAD_REQUEST,
                error("Phone number and password are required")
            ),
            "{body}"
        );
    }
}

#[tokio::test]
async fn agent_login_with_bad_credentials_or_as_a_non_agent_returns_404() {
    let app = TestApp::spawn().await;
    agent(&app, true).await;
    app.user(UserInput {
        username: Some("shopper".into()),
        phone: Some("+255712345679".into()),
        password: Some(Secret::from("securepassword")),
        role: Some("CUSTOMER".into()),
        ..UserInput::default()
    })
    .await;
    app.user(UserInput {
        username: Some("gone".into()),
        password: Some(Secret::from("securepassword")),
        is_active: Some(false),
        ..UserInput::default()
    })
    .await;
    for body in [
        json!({"phoneNumber": PHONE, "password": "wrong"}),
        json!({"phoneNumber": "+255700000000", "password": "securepassword"}),
        json!({"username": "nobody", "password": "securepassword"}),
        json!({"phoneNumber": "+255712345679", "password": "securepassword"}),
        json!({"username": "gone", "password": "securepassword"}),
    ] {
        let r = app.post(AGENT, body.clone()).await;
        assert_eq!(
            (r.status, r.body),
            (
                StatusCode::NOT_FOUND,
                error("Agent not found or invalid credentials")
            ),
            "{body}"
        );
    }
}

#[tokio::test]
async fn an_inactive_agent_with_the_right_password_gets_403() {
    let app = TestApp::spawn().await;
    agent(&app, false).await;
    let r = app
        .post(
            AGENT,
            json!({"phoneNumber": PHONE, "password": "securepassword"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::FORBIDDEN, error("Agent account is inactive"))
    );
    let r = app
        .post(AGENT, json!({"phoneNumber": PHONE, "password": "wrong"}))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn ten_failed_agent_logins_throttle_that_name_with_429_and_tell_nothing_of_its_phone() {
    let app = TestApp::spawn().await;
    let user = agent(&app, true).await;
    for i in 0..10 {
        let r = app
            .post(
                AGENT,
                json!({"username": "agent7", "password": format!("guess {i}")}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        app.clock.advance(1);
    }
    let good = json!({"username": "agent7", "password": "securepassword"});
    let r = app.post(AGENT, good.clone()).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (
            StatusCode::TOO_MANY_REQUESTS,
            error("Too many failed login attempts. Try again in 890 seconds.")
        )
    );
    assert_eq!(r.header("retry-after"), Some("890"));
    // Failures are counted per name as typed (INTERFACE.md, "Abuse limits"):
    // the same account by its phone is not throttled, so the throttle does
    // not link a username to its phone.
    let by_phone = json!({"phoneNumber": PHONE, "password": "securepassword"});
    let r = app.post(AGENT, by_phone).await;
    assert_eq!(
        (r.status, r.redacted()),
        (StatusCode::OK, agent_body(&user))
    );
    app.clock.advance(890);
    let r = app.post(AGENT, good).await;
    assert_eq!(
        (r.status, r.redacted()),
        (StatusCode::OK, agent_body(&user))
    );
}

#[tokio::test]
async fn an_agent_whose_account_requires_an_sms_code_cannot_log_in_by_password_alone() {
    let app = TestApp::spawn().await;
    let user = agent(&app, true).await;
    directory::update_user(
        app.state.accounts.store().as_ref(),
        user.id,
        UserInput {
            otp_enabled: Some(true),
            ..UserInput::default()
        },
        app.now(),
        false,
    )
    .await
    .unwrap();
    let r = app
        .post(
            AGENT,
            json!({"phoneNumber": PHONE, "password": "securepassword"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::NOT_FOUND,
            error("Agent not found or invalid credentials")
        )
    );
    assert_eq!(app.reload(&user).await.last_login, None);
}
