//! Tokens from elsewhere, taken as simplejwt 5.4 (over PyJWT) takes them
//! (INTERFACE.md, "Signing keys" and "Connections, queues, responses"):
//! `aud` ignored unless an audience is configured, a future `nbf` refused, a
//! `crit` header refused, and a signing secret of at least 32 bytes.
//! Exercised at pixel_genius's refresh, which answers in simplejwt's words.

use crate::harness::{run_cli, temp_db, TestApp};
use accountd::domain::user::User;
use reqwest::StatusCode;
use serde_json::{json, Value};

const SECRET: &str = "a-shared-signing-secret-of-32-bytes!";

async fn app_with(audience: Option<&str>) -> TestApp {
    let audience = audience.map(str::to_owned);
    TestApp::spawn_with(move |c| {
        c.jwt_secret = Some(SECRET.into());
        c.jwt_audience = audience;
    })
    .await
}

fn refresh_claims(app: &TestApp, user: &User) -> Value {
    json!({
        "token_type": "refresh", "exp": app.now() + 600, "iat": app.now(),
        "jti": "0123456789abcdef0123456789abcdef", "user_id": user.id.0
    })
}

fn sign(claims: &Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

/// A token whose header holds exactly `header` (jsonwebtoken cannot write `crit`).
fn sign_with_header(header: &Value, claims: &Value) -> String {
    use base64::Engine;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let input = format!("{}.{}", b64(header), b64(claims));
    let signature = jsonwebtoken::crypto::sign(
        input.as_bytes(),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
        jsonwebtoken::Algorithm::HS256,
    )
    .unwrap();
    format!("{input}.{signature}")
}

fn invalid_or_expired() -> Value {
    json!({"detail": "Token is invalid or expired", "code": "token_not_valid"})
}

async fn refresh(app: &TestApp, token: &str) -> crate::harness::Reply {
    app.post("/accounts/refresh/", json!({"refresh": token}))
        .await
}

#[tokio::test]
async fn an_aud_claim_is_ignored_when_no_audience_is_configured() {
    let app = app_with(None).await;
    let ann = app
        .user_with_password("ann", None, "ann's long password")
        .await;
    let mut claims = refresh_claims(&app, &ann);
    claims["aud"] = json!("some-other-service");
    let r = refresh(&app, &sign(&claims)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.redacted(), json!({"access": "<jwt>"}));
}

#[tokio::test]
async fn with_an_audience_configured_tokens_carry_it_and_others_are_refused() {
    let app = app_with(Some("accounts.example")).await;
    let ann = app
        .user_with_password("ann", None, "ann's long password")
        .await;
    let login = app
        .post(
            "/accounts/login/",
            json!({"username": "ann", "password": "ann's long password"}),
        )
        .await;
    let issued = login.body["refresh"].as_str().unwrap().to_owned();
    assert_eq!(crate::harness::claims(&issued)["aud"], "accounts.example");
    let r = refresh(&app, &issued).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        crate::harness::claims(r.body["access"].as_str().unwrap())["aud"],
        "accounts.example"
    );

    let mut claims = refresh_claims(&app, &ann);
    claims["aud"] = json!("accounts.example");
    assert_eq!(refresh(&app, &sign(&claims)).await.status, StatusCode::OK);
    for aud in [Some("elsewhere"), None] {
        let mut claims = refresh_claims(&app, &ann);
        if let Some(a) = aud {
            claims["aud"] = json!(a);
        }
        let r = refresh(&app, &sign(&claims)).await;
        assert_eq!(
            (r.status, r.body),
            (StatusCode::UNAUTHORIZED, invalid_or_expired()),
            "aud {aud:?}"
        );
    }
}

#[tokio::test]
async fn a_token_whose_nbf_is_still_ahead_is_refused_until_then() {
    let app = app_with(None).await;
    let ann = app
        .user_with_password("ann", None, "ann's long password")
        .await;
    let mut claims = refresh_claims(&app, &ann);
    claims["nbf"] = json!(app.now() + 60);
    let token = sign(&claims);
    let r = refresh(&app, &token).await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::UNAUTHORIZED, invalid_or_expired())
    );
    // Judged by the server's clock: once it passes nbf, the token is good.
    app.clock.advance(60);
    assert_eq!(refresh(&app, &token).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_token_with_a_crit_header_is_refused() {
    let app = app_with(None).await;
    let ann = app
        .user_with_password("ann", None, "ann's long password")
        .await;
    let claims = refresh_claims(&app, &ann);
    let crit = json!({"alg": "HS256", "typ": "JWT", "crit": ["b64"], "b64": true});
    let r = refresh(&app, &sign_with_header(&crit, &claims)).await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::UNAUTHORIZED, invalid_or_expired())
    );
    let plain = json!({"alg": "HS256", "typ": "JWT"});
    let r = refresh(&app, &sign_with_header(&plain, &claims)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[test]
fn a_jwt_secret_shorter_than_32_bytes_is_refused_at_start() {
    let (_db, url) = temp_db();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_accountd"))
        .arg("serve")
        .env("ACCOUNTD_DATABASE_URL", &url)
        .env("ACCOUNTD_LISTEN", "127.0.0.1:0")
        .env("ACCOUNTD_JWT_SECRET", "short")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "accountd: ACCOUNTD_JWT_SECRET: must be at least 32 bytes long (got 5)"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "",
        "it never listened"
    );
    // The generated secret needs no setting and is long enough.
    assert_eq!(run_cli(&url, &["migrate"], None).code, 0);
}
