//! The audit trail (INTERFACE.md, "Observability"): one record per auth
//! event, with its outcome, user, contract, client and request id, and
//! never a secret.

use crate::harness::TestApp;
use accountd::domain::audit::{AuditFilter, EventKind};
use accountd::domain::user::UserId;
use reqwest::StatusCode;
use serde_json::{json, Value};

const PASSWORD: &str = "ann's long password";
const PHONE: &str = "+12025550123";

/// POST as client `addr` with request id `rid`.
async fn post(
    app: &TestApp,
    addr: &str,
    rid: &str,
    path: &str,
    body: Value,
) -> crate::harness::Reply {
    let r = app
        .client
        .post(format!("{}{path}", app.url))
        .header("x-forwarded-for", addr)
        .header("x-request-id", rid)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    crate::harness::Reply {
        status,
        headers: Default::default(),
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

/// event, outcome, user, contract, client, request id.
type Row = (String, String, Option<i64>, String, String, Option<String>);

#[tokio::test]
async fn the_trail_records_logins_codes_refreshes_reuse_and_logouts_with_no_secret() {
    let app =
        TestApp::spawn_with(|c| c.trusted_proxy_header = Some("X-Forwarded-For".into())).await;
    let ann = app.user_with_password("ann", Some(PHONE), PASSWORD).await;
    let a = "203.0.113.1";
    let mut secrets: Vec<String> = vec![PASSWORD.into(), "wrong password".into()];

    let r = post(
        &app,
        a,
        "r-login",
        "/api/login/",
        json!({"username": "ann", "password": PASSWORD}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    secrets.push(r.body["refresh"].as_str().unwrap().into());
    secrets.push(r.body["access"].as_str().unwrap().into());
    let r = post(
        &app,
        a,
        "r-bad",
        "/api/login/",
        json!({"username": "ann", "password": "wrong password"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = post(
        &app,
        a,
        "r-unknown",
        "/api/login/",
        json!({"username": "nobody", "password": "wrong password"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    let r = post(
        &app,
        a,
        "r-send",
        "/api/accounts/auth/send-otp/",
        json!({"phone_number": PHONE}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let code = app.sms.last_code(PHONE);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    secrets.push(code.clone());
    let r = post(
        &app,
        a,
        "r-wrong",
        "/api/accounts/auth/verify-otp/",
        json!({"phone_number": PHONE, "otp": wrong}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = post(
        &app,
        a,
        "r-verify",
        "/api/accounts/auth/verify-otp/",
        json!({"phone_number": PHONE, "otp": code}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let first = r.body["refresh_token"].as_str().unwrap().to_owned();
    let access = r.body["access_token"].as_str().unwrap().to_owned();
    secrets.extend([first.clone(), access.clone()]);

    let r = post(
        &app,
        a,
        "r-rotate",
        "/api/accounts/auth/refresh/",
        json!({"refresh_token": first}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    secrets.push(r.body["refresh_token"].as_str().unwrap().into());
    app.clock.advance(11);
    let r = post(
        &app,
        a,
        "r-reuse",
        "/api/accounts/auth/refresh/",
        json!({"refresh_token": first}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    let r = post(
        &app,
        a,
        "r-login2",
        "/api/login/",
        json!({"username": "ann", "password": PASSWORD}),
    )
    .await;
    let refresh = r.body["refresh"].as_str().unwrap().to_owned();
    secrets.push(refresh.clone());
    let r = post(
        &app,
        a,
        "r-logout",
        "/accounts/logout/",
        json!({"refresh": refresh}),
    )
    .await;
    assert_eq!(r.status, StatusCode::RESET_CONTENT);

    app.state.accounts.events().flush().await;
    let store = app.state.accounts.store();
    let mut records = store
        .audit(&AuditFilter {
            limit: 100,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    records.reverse();
    let seen: Vec<Row> = records
        .iter()
        .map(|r| {
            (
                r.event.clone(),
                r.outcome.clone(),
                r.user.map(|u| u.0),
                r.contract.clone(),
                r.client.clone(),
                r.request_id.clone(),
            )
        })
        .collect();
    let id = Some(ann.id.0);
    let row = |e: &str, o: &str, u: Option<i64>, c: &str, rid: &str| {
        (
            e.to_owned(),
            o.to_owned(),
            u,
            c.to_owned(),
            a.to_owned(),
            Some(rid.to_owned()),
        )
    };
    assert_eq!(
        seen,
        vec![
            row("password_login", "success", id, "simple", "r-login"),
            row("password_login", "invalid_password", id, "simple", "r-bad"),
            row(
                "password_login",
                "invalid_password",
                None,
                "simple",
                "r-unknown"
            ),
            row("code_sent", "success", id, "delivery", "r-send"),
            row("code_verified", "invalid_code", id, "delivery", "r-wrong"),
            row("code_verified", "success", id, "delivery", "r-verify"),
            row("refresh", "success", id, "delivery", "r-rotate"),
            row(
                "refresh_reuse",
                "session_revoked",
                id,
                "delivery",
                "r-reuse"
            ),
            row("refresh", "revoked", id, "delivery", "r-reuse"),
            row("password_login", "success", id, "simple", "r-login2"),
            row("logout", "success", id, "pixel_genius", "r-logout"),
        ]
    );
    // Filters: by user and by event, newest first.
    let mine = store
        .audit(&AuditFilter {
            user: Some(UserId(ann.id.0)),
            event: Some(EventKind::Logout),
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].request_id.as_deref(), Some("r-logout"));
    // No secret, code, password or token anywhere in the trail.
    let all = format!("{records:?}");
    for s in &secrets {
        assert!(!all.contains(s.as_str()), "the trail holds a secret: {s}");
    }
    assert!(!all.contains("nobody"), "the trail holds a name as typed");
}

#[tokio::test]
async fn throttles_are_recorded_with_the_limit_and_the_wait() {
    let app = TestApp::spawn().await;
    app.user_with_password("ann", Some(PHONE), PASSWORD).await;
    for i in 0..11 {
        app.post(
            "/api/login/",
            json!({"username": "ann", "password": format!("guess {i}")}),
        )
        .await;
    }
    app.post(
        "/api/accounts/auth/send-otp/",
        json!({"phone_number": PHONE}),
    )
    .await;
    app.post(
        "/api/accounts/auth/send-otp/",
        json!({"phone_number": PHONE}),
    )
    .await;
    app.state.accounts.events().flush().await;
    let throttled = app
        .state
        .accounts
        .store()
        .audit(&AuditFilter {
            event: Some(EventKind::Throttled),
            limit: 10,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    let details: Vec<Value> = throttled
        .iter()
        .rev()
        .map(|r| Value::Object(r.detail.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        details,
        vec![
            json!({"limit": "login_per_address", "wait": 900}),
            json!({"limit": "resend_wait", "wait": 60}),
        ]
    );
}
