//! The `webhook` SMS provider against a real local HTTP endpoint.

use crate::harness::{code_in, TestApp};
use accountd::config::SmsProvider;
use accountd::domain::directory::UserInput;
use accountd::domain::secret::Secret;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::routing::post;
use axum::{Json, Router};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const PHONE: &str = "+12025550188";

/// A gateway that records what it receives and answers with a chosen status,
/// optionally after a delay.
#[derive(Default)]
struct Gateway {
    received: Mutex<Vec<(HeaderMap, Value)>>,
    status: AtomicU16,
    delay_ms: AtomicU64,
}

async fn receive(
    State(gw): State<Arc<Gateway>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> AxumStatus {
    gw.received.lock().unwrap().push((headers, body));
    tokio::time::sleep(Duration::from_millis(gw.delay_ms.load(Ordering::SeqCst))).await;
    AxumStatus::from_u16(gw.status.load(Ordering::SeqCst)).unwrap()
}

async fn gateway() -> (Arc<Gateway>, String) {
    let gw = Arc::new(Gateway::default());
    gw.status.store(200, Ordering::SeqCst);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/sms", listener.local_addr().unwrap());
    let router = Router::new()
        .route("/sms", post(receive))
        .with_state(gw.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (gw, url)
}

async fn app_with(url: String) -> TestApp {
    let app = TestApp::spawn_with(|c| {
        c.sms = SmsProvider::Webhook { url };
        c.sms_timeout_seconds = 1;
    })
    .await;
    app.user(UserInput {
        username: Some("olga".into()),
        phone: Some(PHONE.into()),
        password: Some(Secret::from("olga's long password")),
        otp_enabled: Some(true),
        ..UserInput::default()
    })
    .await;
    app
}

fn login(otp: Option<&str>) -> Value {
    let mut body = json!({"username": "olga", "password": "olga's long password"});
    if let Some(code) = otp {
        body["otp"] = json!(code);
    }
    body
}

#[tokio::test]
async fn codes_are_posted_to_the_webhook_as_json_to_and_message() {
    let (gw, url) = gateway().await;
    let app = app_with(url).await;
    let r = app.post("/accounts/login/", login(None)).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::OK,
            json!({"message": "OTP sent to your phone number."})
        )
    );
    let received = gw.received.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    let (headers, body) = &received[0];
    assert_eq!(headers["content-type"], "application/json");
    let code = code_in(body["message"].as_str().unwrap());
    assert_eq!(code.len(), 6);
    assert_eq!(
        body,
        &json!({"to": PHONE, "message": format!("Your verification code is {code}")})
    );
    let r = app.post("/accounts/login/", login(Some(&code))).await;
    assert_eq!(
        (r.status, r.redacted()),
        (
            StatusCode::OK,
            json!({"refresh": "<jwt>", "access": "<jwt>"})
        )
    );
}

#[tokio::test]
async fn a_failing_webhook_leaves_no_usable_code_and_no_wait() {
    let (gw, url) = gateway().await;
    let app = app_with(url).await;
    gw.status.store(503, Ordering::SeqCst);
    let r = app.post("/accounts/login/", login(None)).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"message": "Failed to send OTP."})
        )
    );
    let lost = code_in(
        gw.received.lock().unwrap()[0].1["message"]
            .as_str()
            .unwrap(),
    );
    let r = app.post("/accounts/login/", login(Some(&lost))).await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::BAD_REQUEST, json!({"message": "Invalid OTP."}))
    );
    // No wait was started: the very next request sends a new code.
    gw.status.store(200, Ordering::SeqCst);
    let r = app.post("/accounts/login/", login(None)).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::OK,
            json!({"message": "OTP sent to your phone number."})
        )
    );
    assert_eq!(gw.received.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_webhook_slower_than_the_timeout_is_a_failed_send() {
    let (gw, url) = gateway().await;
    let app = app_with(url).await;
    gw.delay_ms.store(3_000, Ordering::SeqCst);
    let r = app.post("/accounts/login/", login(None)).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"message": "Failed to send OTP."})
        )
    );
    gw.delay_ms.store(0, Ordering::SeqCst);
    assert_eq!(
        app.post("/accounts/login/", login(None)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_unreachable_webhook_is_a_failed_send() {
    // Bind and drop a listener: nothing answers on that port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = app_with(format!("http://127.0.0.1:{port}/sms")).await;
    let r = app.post("/accounts/login/", login(None)).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"message": "Failed to send OTP."})
        )
    );
}
