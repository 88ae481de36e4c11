//! The real SMS gateways against local stand-ins that check each request
//! exactly as the provider documents it (method, path, auth, form fields) and
//! answer success or failure: Twilio and Africa's Talking. (The webhook has
//! its own file, sms_webhook.rs.)

use crate::harness::{code_in, TestApp};
use accountd::config::{AfricasTalkingConfig, SmsProvider, TwilioConfig};
use accountd::domain::directory::UserInput;
use accountd::domain::phone::Phone;
use accountd::domain::ports::SmsSender;
use accountd::domain::secret::Secret;
use accountd::sms::{AfricasTalkingSms, TwilioSms};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "tw-secret-token";
/// base64("AC0123456789abcdef0123456789abcdef:tw-secret-token")
const BASIC: &str = "Basic QUMwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZjp0dy1zZWNyZXQtdG9rZW4=";
const API_KEY: &str = "at-secret-key";

/// One request the stand-in received.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn form(&self) -> Vec<(String, String)> {
        serde_urlencoded::from_str(&self.body).unwrap()
    }
}

/// What the stand-in answers; `None` never answers at all.
type Answer = Option<(StatusCode, String, &'static str)>;

#[derive(Clone)]
struct Gateway {
    seen: Arc<Mutex<Vec<Seen>>>,
    answer: Arc<Mutex<Answer>>,
}

impl Gateway {
    /// A stand-in on 127.0.0.1:0; returns it and its base URL.
    async fn spawn(status: StatusCode, body: Value) -> (Gateway, String) {
        let gateway = Gateway {
            seen: Arc::default(),
            answer: Arc::new(Mutex::new(Some((
                status,
                body.to_string(),
                "application/json",
            )))),
        };
        let app = axum::Router::new()
            .fallback(record)
            .with_state(gateway.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (gateway, url)
    }

    fn answer(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn only(&self) -> Seen {
        let seen = self.seen();
        assert_eq!(seen.len(), 1, "{seen:?}");
        seen[0].clone()
    }
}

async fn record(
    State(g): State<Gateway>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    g.seen.lock().unwrap().push(Seen {
        method,
        path: uri.path().to_owned(),
        headers,
        body: String::from_utf8(body.to_vec()).unwrap(),
    });
    let answer = g.answer.lock().unwrap().clone();
    match answer {
        Some((status, body, content_type)) => {
            (status, [("content-type", content_type)], body).into_response()
        }
        None => std::future::pending().await,
    }
}

fn twilio(base_url: &str, from: &str) -> TwilioConfig {
    TwilioConfig {
        account_sid: SID.into(),
        auth_token: Secret::from(TOKEN),
        from: from.into(),
        base_url: base_url.into(),
    }
}

fn africastalking(base_url: &str, from: Option<&str>) -> AfricasTalkingConfig {
    AfricasTalkingConfig {
        username: "sandbox".into(),
        api_key: Secret::from(API_KEY),
        from: from.map(Into::into),
        base_url: base_url.into(),
    }
}

fn twilio_created() -> Value {
    json!({"sid": "SM0123", "status": "queued", "error_code": null})
}

fn at_answer(code: i64, status: &str) -> Value {
    json!({"SMSMessageData": {"Message": "Sent to 1/1 Total Cost: TZS 20.0000", "Recipients": [
        {"statusCode": code, "number": "+255712345678", "status": status,
         "cost": "TZS 20.0000", "messageId": "ATXid_0123"}]}})
}

fn phone(p: &str) -> Phone {
    Phone::parse(p).unwrap()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn twilio_delivers_a_delivery_code_as_a_form_post_with_basic_auth() {
    let (gateway, base) = Gateway::spawn(StatusCode::CREATED, twilio_created()).await;
    let app =
        TestApp::spawn_with(|c| c.sms = SmsProvider::Twilio(twilio(&base, "+15005550006"))).await;
    let r = app
        .post(
            "/api/accounts/auth/send-otp/",
            json!({"phone_number": "+12025550123"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let seen = gateway.only();
    assert_eq!(seen.method, Method::POST);
    assert_eq!(
        seen.path,
        format!("/2010-04-01/Accounts/{SID}/Messages.json")
    );
    assert_eq!(seen.header("authorization"), Some(BASIC));
    assert_eq!(
        seen.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let form = seen.form();
    let code = code_in(&form[2].1);
    assert_eq!(code.len(), 6);
    assert_eq!(
        form,
        pairs(&[
            ("To", "+12025550123"),
            ("From", "+15005550006"),
            ("Body", &format!("Your verification code is {code}")),
        ])
    );
    // The code that went through the gateway signs in.
    let r = app
        .post(
            "/api/accounts/auth/verify-otp/",
            json!({"phone_number": "+12025550123", "otp": code}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

#[tokio::test]
async fn twilio_sends_from_a_messaging_service_when_the_sender_is_one() {
    let (gateway, base) = Gateway::spawn(StatusCode::CREATED, twilio_created()).await;
    let service = "MG0123456789abcdef0123456789abcdef";
    let sms = TwilioSms::new(&twilio(&base, service), Duration::from_secs(5)).unwrap();
    sms.send(&phone("+255712345678"), "Your verification code is 12345")
        .await
        .unwrap();
    assert_eq!(
        gateway.only().form(),
        pairs(&[
            ("To", "+255712345678"),
            ("MessagingServiceSid", service),
            ("Body", "Your verification code is 12345"),
        ])
    );
}

#[tokio::test]
async fn a_twilio_refusal_is_a_failed_send_that_names_no_secret() {
    let (gateway, base) = Gateway::spawn(
        StatusCode::BAD_REQUEST,
        json!({"code": 21211, "message": "The 'To' number is not a valid phone number.",
               "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}),
    )
    .await;
    let sms = TwilioSms::new(&twilio(&base, "+15005550006"), Duration::from_secs(5)).unwrap();
    let e = sms
        .send(&phone("+255712345678"), "Your verification code is 12345")
        .await
        .unwrap_err();
    assert_eq!(
        e.0,
        "twilio answered 400 Bad Request: error 21211: The 'To' number is not a valid phone number."
    );
    // A 200 is not Twilio's "created" either.
    gateway.answer(Some((StatusCode::OK, "{}".into(), "application/json")));
    let e = sms.send(&phone("+255712345678"), "x").await.unwrap_err();
    assert_eq!(e.0, "twilio answered 200 OK");
    assert!(!format!("{sms:?}").contains(TOKEN), "{sms:?}");
}

#[tokio::test]
async fn a_failed_twilio_send_answers_500_at_delivery_and_leaves_no_wait() {
    let (gateway, base) = Gateway::spawn(
        StatusCode::UNAUTHORIZED,
        json!({"code": 20003, "status": 401}),
    )
    .await;
    let app =
        TestApp::spawn_with(|c| c.sms = SmsProvider::Twilio(twilio(&base, "+15005550006"))).await;
    let send = json!({"phone_number": "+12025550123"});
    let r = app.post("/api/accounts/auth/send-otp/", send.clone()).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"error": "Failed to send OTP"})
        )
    );
    gateway.answer(Some((
        StatusCode::CREATED,
        twilio_created().to_string(),
        "application/json",
    )));
    let r = app.post("/api/accounts/auth/send-otp/", send).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(gateway.seen().len(), 2);
}

#[tokio::test]
async fn africastalking_delivers_a_kikapu_code_with_its_api_key_header_and_form() {
    let (gateway, base) = Gateway::spawn(StatusCode::CREATED, at_answer(101, "Success")).await;
    let app = TestApp::spawn_with(|c| {
        c.sms = SmsProvider::AfricasTalking(africastalking(&base, Some("KIKAPU")))
    })
    .await;
    app.user(UserInput {
        phone: Some("+255712345678".into()),
        ..UserInput::default()
    })
    .await;
    let r = app
        .post(
            "/auth/api/resend-otp/",
            json!({"phoneNumber": "+255712345678"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::OK,
            json!({"message": "OTP resent successfully"})
        )
    );
    let seen = gateway.only();
    assert_eq!(seen.method, Method::POST);
    assert_eq!(seen.path, "/version1/messaging");
    assert_eq!(seen.header("apikey"), Some(API_KEY));
    assert_eq!(seen.header("accept"), Some("application/json"));
    assert_eq!(
        seen.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(seen.header("authorization"), None);
    let form = seen.form();
    let code = code_in(&form[2].1);
    assert_eq!(code.len(), 5);
    assert_eq!(
        form,
        pairs(&[
            ("username", "sandbox"),
            ("to", "+255712345678"),
            ("message", &format!("Your verification code is {code}")),
            ("from", "KIKAPU"),
        ])
    );
    let r = app
        .post(
            "/auth/api/verify-otp/",
            json!({"phoneNumber": "+255712345678", "otp": code}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

#[tokio::test]
async fn africastalking_without_a_sender_id_sends_no_from_and_counts_queued_as_sent() {
    let (gateway, base) = Gateway::spawn(StatusCode::CREATED, at_answer(102, "Success")).await;
    let sms = AfricasTalkingSms::new(&africastalking(&base, None), Duration::from_secs(5)).unwrap();
    sms.send(&phone("+255712345678"), "hello").await.unwrap();
    assert_eq!(
        gateway.only().form(),
        pairs(&[
            ("username", "sandbox"),
            ("to", "+255712345678"),
            ("message", "hello"),
        ])
    );
}

#[tokio::test]
async fn africastalking_failures_are_read_from_the_recipient_status_and_name_no_secret() {
    let (gateway, base) =
        Gateway::spawn(StatusCode::CREATED, at_answer(403, "InvalidPhoneNumber")).await;
    let sms = AfricasTalkingSms::new(&africastalking(&base, None), Duration::from_secs(5)).unwrap();
    let to = phone("+255712345678");
    let e = sms.send(&to, "hello").await.unwrap_err();
    assert_eq!(
        e.0,
        "africastalking answered 201 Created: recipient status 403 (\"InvalidPhoneNumber\")"
    );
    gateway.answer(Some((
        StatusCode::CREATED,
        json!({"SMSMessageData": {"Message": "InvalidSenderId", "Recipients": []}}).to_string(),
        "application/json",
    )));
    let e = sms.send(&to, "hello").await.unwrap_err();
    assert_eq!(
        e.0,
        "africastalking answered 201 Created: no recipient accepted: \"InvalidSenderId\""
    );
    gateway.answer(Some((
        StatusCode::UNAUTHORIZED,
        "The supplied authentication is invalid".into(),
        "text/plain",
    )));
    let e = sms.send(&to, "hello").await.unwrap_err();
    assert_eq!(
        e.0,
        "africastalking answered 401 Unauthorized without a JSON body"
    );
    assert!(!format!("{sms:?}").contains(API_KEY), "{sms:?}");
}

#[tokio::test]
async fn a_failed_africastalking_send_answers_500_at_kikapu() {
    let (_gateway, base) =
        Gateway::spawn(StatusCode::CREATED, at_answer(405, "InsufficientBalance")).await;
    let app =
        TestApp::spawn_with(|c| c.sms = SmsProvider::AfricasTalking(africastalking(&base, None)))
            .await;
    app.user(UserInput {
        phone: Some("+255712345678".into()),
        ..UserInput::default()
    })
    .await;
    let r = app
        .post(
            "/auth/api/resend-otp/",
            json!({"phoneNumber": "+255712345678"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"error": "Failed to send SMS"})
        )
    );
}

#[tokio::test]
async fn a_gateway_that_never_answers_is_a_failed_send_after_the_timeout() {
    let (gateway, base) = Gateway::spawn(StatusCode::CREATED, twilio_created()).await;
    gateway.answer(None);
    let to = phone("+255712345678");
    let twilio =
        TwilioSms::new(&twilio(&base, "+15005550006"), Duration::from_millis(300)).unwrap();
    let e = twilio.send(&to, "hello").await.unwrap_err();
    assert!(e.0.starts_with("twilio: "), "{}", e.0);
    let at =
        AfricasTalkingSms::new(&africastalking(&base, None), Duration::from_millis(300)).unwrap();
    let e = at.send(&to, "hello").await.unwrap_err();
    assert!(e.0.starts_with("africastalking: "), "{}", e.0);
    assert_eq!(gateway.seen().len(), 2);
}
