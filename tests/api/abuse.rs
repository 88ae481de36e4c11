//! Abuse limits (INTERFACE.md, "Abuse limits"): failed logins per name and
//! address and per name, codes sent per address, in all and by country,
//! wrong codes per address, the second factor at code-only contracts, and
//! throttles that tell nothing about which names exist.

use crate::harness::{Reply, TestApp};
use accountd::config::Config;
use reqwest::StatusCode;
use serde_json::json;

const SIMPLE_LOGIN: &str = "/api/login/";
const SEND: &str = "/api/accounts/auth/send-otp/";
const VERIFY: &str = "/api/accounts/auth/verify-otp/";
const KIKAPU_VERIFY: &str = "/auth/api/verify-otp/";
const KIKAPU_RESEND: &str = "/auth/api/resend-otp/";
const PASSWORD: &str = "ann's long password";

fn behind_proxy(c: &mut Config) {
    c.trusted_proxy_header = Some("X-Forwarded-For".into());
}

async fn ann(app: &TestApp) {
    app.user_with_password("ann", Some("+12025550123"), PASSWORD)
        .await;
}

async fn login_from(app: &TestApp, addr: &str, password: &str) -> Reply {
    app.post_from(
        addr,
        SIMPLE_LOGIN,
        json!({"username": "ann", "password": password}),
    )
    .await
}

fn throttled(wait: i64) -> serde_json::Value {
    json!({"error": format!("Too many failed login attempts. Try again in {wait} seconds.")})
}

#[tokio::test]
async fn twenty_four_simultaneous_logins_with_the_right_password_all_answer_200() {
    let app = TestApp::spawn().await;
    ann(&app).await;
    let logins = (0..24).map(|_| {
        app.post(
            SIMPLE_LOGIN,
            json!({"username": "ann", "password": PASSWORD}),
        )
    });
    let statuses: Vec<StatusCode> = futures::future::join_all(logins)
        .await
        .into_iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, vec![StatusCode::OK; 24]);
    // Nothing was left counted against the name.
    assert_eq!(app.count("SELECT COUNT(*) FROM attempts").await, 0);
}

#[tokio::test]
async fn simultaneous_wrong_guesses_cannot_overshoot_the_limit() {
    let app = TestApp::spawn().await;
    ann(&app).await;
    let guesses = (0..30).map(|i| {
        app.post(
            SIMPLE_LOGIN,
            json!({"username": "ann", "password": format!("guess {i}")}),
        )
    });
    let replies = futures::future::join_all(guesses).await;
    let checked = replies
        .iter()
        .filter(|r| r.status == StatusCode::UNAUTHORIZED)
        .count();
    let refused = replies
        .iter()
        .filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((checked, refused), (10, 20));
}

#[tokio::test]
async fn failures_from_one_address_throttle_that_address_but_not_another() {
    let app = TestApp::spawn_with(behind_proxy).await;
    ann(&app).await;
    for i in 0..10 {
        let r = login_from(&app, "203.0.113.1", &format!("guess {i}")).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    for _ in 0..2 {
        let r = login_from(&app, "203.0.113.1", PASSWORD).await;
        assert_eq!(r.header("retry-after"), Some("900"));
        assert_eq!(
            (r.status, r.body),
            (StatusCode::TOO_MANY_REQUESTS, throttled(900))
        );
    }
    // The owner, elsewhere, signs in; the proxy's own hop is what counts,
    // not what a client put before it.
    let r = app
        .post_from(
            "203.0.113.1, 198.51.100.7",
            SIMPLE_LOGIN,
            json!({"username": "ann", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

#[tokio::test]
async fn a_hundred_failures_from_many_addresses_throttle_the_name_everywhere() {
    let app = TestApp::spawn_with(behind_proxy).await;
    ann(&app).await;
    for n in 0..10 {
        let addr = format!("203.0.113.{n}");
        for i in 0..10 {
            let r = login_from(&app, &addr, &format!("guess {i}")).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{addr} {i}");
        }
        app.clock.advance(60);
    }
    // A fresh address with the right password: the name's hour is full.
    // The first failure was 600 seconds ago.
    let r = login_from(&app, "198.51.100.7", PASSWORD).await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::TOO_MANY_REQUESTS, throttled(3000))
    );
    // Once the oldest failures leave the hour, the owner gets in.
    app.clock.advance(3000);
    let r = login_from(&app, "198.51.100.7", PASSWORD).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

#[tokio::test]
async fn known_and_unknown_names_are_throttled_alike() {
    let app = TestApp::spawn().await;
    ann(&app).await;
    let mut answers = Vec::new();
    for name in ["ann", "nobody"] {
        for i in 0..10 {
            let r = app
                .post(
                    SIMPLE_LOGIN,
                    json!({"username": name, "password": format!("guess {i}")}),
                )
                .await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        }
        let r = app
            .post(SIMPLE_LOGIN, json!({"username": name, "password": "x"}))
            .await;
        let wait = r.header("retry-after").map(str::to_owned);
        answers.push((r.status, r.body, wait));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0].0, StatusCode::TOO_MANY_REQUESTS);
    // And the phone of "ann" is a name of its own: not linked to "ann".
    let r = app
        .post(
            SIMPLE_LOGIN,
            json!({"username": "+12025550123", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn an_otp_enabled_account_is_refused_a_code_alone_and_sent_nothing() {
    let app = TestApp::spawn().await;
    let phone = "+255712345678";
    let user = app
        .user(accountd::domain::directory::UserInput {
            username: Some("ann".into()),
            phone: Some(phone.into()),
            password: Some(PASSWORD.into()),
            otp_enabled: Some(true),
            ..Default::default()
        })
        .await;
    // delivery: answered as sent, nothing sent; a code is refused as invalid.
    let r = app.post(SEND, json!({"phone_number": phone})).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::OK,
            json!({"success": true, "message": "OTP sent successfully to your phone", "phone_number": phone})
        )
    );
    // kikapu alike.
    let r = app.post(KIKAPU_RESEND, json!({"phoneNumber": phone})).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::OK,
            json!({"message": "OTP resent successfully"})
        )
    );
    assert_eq!(app.sms.all(), vec![]);
    // Its pixel_genius code (password first) exists, and is still no key here.
    let r = app
        .post(
            "/accounts/login/",
            json!({"username": "ann", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let code = app.sms.last_code(phone);
    let r = app
        .post(VERIFY, json!({"phone_number": phone, "otp": code}))
        .await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::UNAUTHORIZED,
            json!({"error": "Invalid or expired OTP"})
        )
    );
    let r = app
        .post(
            KIKAPU_VERIFY,
            json!({"phoneNumber": phone, "otp": &code[..5]}),
        )
        .await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::UNAUTHORIZED,
            json!({"error": "Invalid or expired OTP"})
        )
    );
    // No session, no login stamped by either contract.
    assert_eq!(app.count("SELECT COUNT(*) FROM sessions").await, 0);
    assert_eq!(app.reload(&user).await.last_login, None);
    // The code still completes the pixel_genius login it was sent for.
    let r = app
        .post(
            "/accounts/login/",
            json!({"username": "ann", "password": PASSWORD, "otp": code}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

fn limits(c: &mut Config) {
    behind_proxy(c);
    c.sms_max_per_address_per_hour = 3;
    c.sms_max_per_hour = 5;
}

#[tokio::test]
async fn codes_are_bounded_per_address_and_in_all_across_two_instances() {
    let one = TestApp::spawn_with(limits).await;
    let two = one.another_instance_with(limits).await;
    async fn send(app: &TestApp, addr: &str, n: u32) -> Reply {
        let phone = format!("+1202555{n:04}");
        app.post_from(addr, SEND, json!({"phone_number": phone}))
            .await
    }
    // Address A: three codes to three phones, across both instances.
    for (n, app) in [&one, &two, &one].into_iter().enumerate() {
        let r = send(app, "203.0.113.1", n as u32).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        one.clock.advance(10);
    }
    let r = send(&two, "203.0.113.1", 3).await;
    assert_eq!(r.header("retry-after"), Some("3570"));
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::TOO_MANY_REQUESTS,
            json!({"error": "For security purposes, you can only request this after 3570 seconds."})
        )
    );
    // Address B: two more reach the fleet's five.
    for n in 4..6 {
        let r = send(&two, "203.0.113.2", n).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    let r = send(&one, "203.0.113.3", 6).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::TOO_MANY_REQUESTS,
            json!({"error": "For security purposes, you can only request this after 3570 seconds."})
        )
    );
    // Five codes went out, no more.
    assert_eq!(one.sms.all().len(), 5);
}

#[tokio::test]
async fn codes_to_a_country_not_allowed_are_refused_as_invalid_numbers_and_not_sent() {
    let app = TestApp::spawn_with(|c| c.sms_allowed_countries = vec![255]).await;
    let r = app
        .post(SEND, json!({"phone_number": "+12025550123"}))
        .await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::BAD_REQUEST,
            json!({"error": {"phone_number": ["Phone number must be in E.164 format (e.g., +1234567890)"]}})
        )
    );
    app.user(accountd::domain::directory::UserInput {
        phone: Some("+12025550124".into()),
        ..Default::default()
    })
    .await;
    let r = app
        .post(KIKAPU_RESEND, json!({"phoneNumber": "+12025550124"}))
        .await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::BAD_REQUEST,
            json!({"error": "Invalid phone number. Use the E.164 format (e.g., +255712345678)"})
        )
    );
    // An allowed country is sent to.
    let r = app
        .post(SEND, json!({"phone_number": "+255712345678"}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(app.sms.all().len(), 1);
}

#[tokio::test]
async fn wrong_codes_from_one_address_are_throttled_whatever_phone_they_name() {
    let app = TestApp::spawn_with(|c| {
        behind_proxy(c);
        c.otp_max_failures_per_address_per_hour = 3;
    })
    .await;
    for n in 0..3 {
        let r = app
            .post_from(
                "203.0.113.1",
                VERIFY,
                json!({"phone_number": format!("+120255501{n:02}"), "otp": "123456"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        app.clock.advance(100);
    }
    // The fourth, with a code that would be right: refused unchecked.
    let phone = "+12025550199";
    app.user(accountd::domain::directory::UserInput {
        phone: Some(phone.into()),
        ..Default::default()
    })
    .await;
    let r = app
        .post_from("203.0.113.9", SEND, json!({"phone_number": phone}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let code = app.sms.last_code(phone);
    let r = app
        .post_from(
            "203.0.113.1",
            VERIFY,
            json!({"phone_number": phone, "otp": code}),
        )
        .await;
    assert_eq!(r.header("retry-after"), Some("3300"));
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::TOO_MANY_REQUESTS,
            json!({"error": "Too many failed attempts. Try again in 3300 seconds."})
        )
    );
    let r = app
        .post_from(
            "203.0.113.1",
            KIKAPU_VERIFY,
            json!({"phoneNumber": phone, "otp": "12345"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    // Another address is not throttled, and the code was not spent.
    let r = app
        .post_from(
            "203.0.113.2",
            VERIFY,
            json!({"phone_number": phone, "otp": code}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

#[tokio::test]
async fn a_login_abandoned_by_its_client_mid_check_gives_its_place_back_at_once() {
    let app = TestApp::spawn().await;
    ann(&app).await;
    // Ten clients that give up before their hashes are done.
    let impatient = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(5))
        .build()
        .unwrap();
    let gone = (0..10).map(|_| {
        impatient
            .post(format!("{}{SIMPLE_LOGIN}", app.url))
            .json(&json!({"username": "ann", "password": PASSWORD}))
            .send()
    });
    for r in futures::future::join_all(gone).await {
        assert!(r.is_err(), "a client meant to give up got an answer");
    }
    // Their places come back as the server drops their requests (or their
    // checks end), not a minute later when they would go stale. 30 s: ten
    // hashes at nice 10 on a machine busy with a parallel build can take
    // seconds; staleness would take 60.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while app.count("SELECT COUNT(*) FROM attempts").await > 0 {
        assert!(std::time::Instant::now() < deadline, "places still held");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let r = app
        .post(
            SIMPLE_LOGIN,
            json!({"username": "ann", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
}
