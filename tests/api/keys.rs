//! Signing keys (INTERFACE.md, "Signing keys"; issue 12): HS256 exactly as
//! simplejwt signs it, EdDSA and RS256 with a `kid` and a published JWK set,
//! rotation without signing anyone out, retirement, the secret an earlier
//! version generated, `ACCOUNTD_JWT_PREVIOUS_SECRETS`, several instances, and
//! services checking the tokens with PyJWT and simplejwt's `JWK_URL`.

use crate::harness::{Reply, Server, TestApp, TestDb};
use accountd::domain::keys::{make_key, Algorithm, KeyState, StoredKey};
use accountd::domain::secret::Secret;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const PASSWORD: &str = "ann's long password";
const LOGIN: &str = "/accounts/login/";
const REFRESH: &str = "/accounts/refresh/";
const PROFILE: &str = "/api/auth/profile/";
const JWKS: &str = "/.well-known/jwks.json";
/// 30 days (delivery's refresh lifetime, the longest by default) and the margin.
const OVERLAP: i64 = 30 * 86_400 + 60;

async fn spawn(algorithm: Algorithm) -> TestApp {
    TestApp::spawn_with(|c| c.jwt_algorithm = algorithm).await
}

/// A token's header, as the text its first part decodes to.
fn header(token: &str) -> String {
    let part = token.split('.').next().unwrap();
    String::from_utf8(URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn kid(token: &str) -> Option<String> {
    let h: Value = serde_json::from_str(&header(token)).unwrap();
    h["kid"].as_str().map(str::to_owned)
}

/// (access, refresh) from pixel_genius's login; the user is made once.
async fn login(app: &TestApp) -> (String, String) {
    if app
        .state
        .accounts
        .store()
        .user_by_username("ann")
        .await
        .unwrap()
        .is_none()
    {
        app.user_with_password("ann", None, PASSWORD).await;
    }
    let r = app
        .post(LOGIN, json!({"username": "ann", "password": PASSWORD}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    (
        r.body["access"].as_str().unwrap().to_owned(),
        r.body["refresh"].as_str().unwrap().to_owned(),
    )
}

async fn profile(app: &TestApp, access: &str) -> Reply {
    app.get(PROFILE, Some(access)).await
}

async fn refresh(app: &TestApp, token: &str) -> Reply {
    app.post(REFRESH, json!({"refresh": token})).await
}

fn invalid_access() -> Value {
    json!({
        "detail": "Given token not valid for any token type",
        "code": "token_not_valid",
        "messages": [{
            "token_class": "AccessToken",
            "token_type": "access",
            "message": "Token is invalid or expired"
        }]
    })
}

fn invalid_refresh() -> Value {
    json!({"detail": "Token is invalid or expired", "code": "token_not_valid"})
}

/// Accepted at university's profile: 200 with the user.
async fn assert_accepted(app: &TestApp, access: &str) {
    let r = profile(app, access).await;
    assert_eq!(r.status, StatusCode::OK, "{}: {:?}", header(access), r.body);
    assert_eq!(r.body["user"]["username"], "ann");
}

/// Refused at university's profile as simplejwt refuses a bad token.
async fn assert_refused(app: &TestApp, access: &str) {
    let r = profile(app, access).await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::UNAUTHORIZED, invalid_access()),
        "{}",
        header(access)
    );
}

/// The database's keys, newest first (key material included: test only).
async fn stored_keys(app: &TestApp) -> Vec<StoredKey> {
    app.state
        .accounts
        .store()
        .signing_keys(false)
        .await
        .unwrap()
}

/// Sign `claims` as a key would, with `kid` in the header (or none).
fn sign_with(key: &StoredKey, kid: Option<&str>, claims: &Value) -> String {
    let private = key.private.as_ref().unwrap().expose();
    let encoding = match key.algorithm {
        Algorithm::Hs256 => jsonwebtoken::EncodingKey::from_secret(private.as_bytes()),
        Algorithm::EdDsa => {
            let body: String = private
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect();
            jsonwebtoken::EncodingKey::from_ed_der(&STANDARD.decode(body).unwrap())
        }
        Algorithm::Rs256 => jsonwebtoken::EncodingKey::from_rsa_pem(private.as_bytes()).unwrap(),
    };
    let mut header = jsonwebtoken::Header::new(match key.algorithm {
        Algorithm::Hs256 => jsonwebtoken::Algorithm::HS256,
        Algorithm::EdDsa => jsonwebtoken::Algorithm::EdDSA,
        Algorithm::Rs256 => jsonwebtoken::Algorithm::RS256,
    });
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &encoding).unwrap()
}

/// An access token of ann's (user 1) living until `exp`.
fn access_claims(app: &TestApp, exp: i64) -> Value {
    json!({"token_type": "access", "exp": exp, "iat": app.now(),
           "jti": "0123456789abcdef0123456789abcdef", "user_id": 1})
}

#[tokio::test]
async fn hs256_tokens_have_exactly_simplejwts_header_and_no_kid() {
    let app = TestApp::spawn().await;
    let (access, refresh_token) = login(&app).await;
    for token in [&access, &refresh_token] {
        assert_eq!(header(token), r#"{"typ":"JWT","alg":"HS256"}"#);
    }
    let r = refresh(&app, &refresh_token).await;
    assert_eq!(
        header(r.body["access"].as_str().unwrap()),
        r#"{"typ":"JWT","alg":"HS256"}"#
    );
    // The secret is never published.
    let r = app.get(JWKS, None).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (StatusCode::OK, json!({"keys": []}))
    );
    assert_eq!(r.header("cache-control"), Some("public, max-age=10"));
    assert_eq!(r.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn eddsa_and_rs256_tokens_carry_the_kid_of_the_current_key_published_as_jwks() {
    for (algorithm, alg) in [(Algorithm::EdDsa, "EdDSA"), (Algorithm::Rs256, "RS256")] {
        let app = spawn(algorithm).await;
        let (access, refresh_token) = login(&app).await;
        let keys = stored_keys(&app).await;
        assert_eq!(keys.len(), 1);
        let key = &keys[0];
        assert_eq!((key.algorithm, key.state), (algorithm, KeyState::Current));
        for token in [&access, &refresh_token] {
            assert_eq!(
                header(token),
                format!(r#"{{"typ":"JWT","alg":"{alg}","kid":"{}"}}"#, key.kid)
            );
        }
        assert_accepted(&app, &access).await;
        let r = app.get(JWKS, None).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.header("cache-control"), Some("public, max-age=10"));
        let expected = match &key.public {
            Some(accountd::domain::keys::PublicKey::Ed25519 { x }) => json!({
                "kty": "OKP", "crv": "Ed25519", "x": x, "kid": key.kid, "use": "sig", "alg": "EdDSA"
            }),
            Some(accountd::domain::keys::PublicKey::Rsa { n, e }) => json!({
                "kty": "RSA", "n": n, "e": e, "kid": key.kid, "use": "sig", "alg": "RS256"
            }),
            None => panic!("an asymmetric key without its public key"),
        };
        assert_eq!(r.body, json!({"keys": [expected]}));
        // Members in the order RFC 7517's examples write them.
        assert!(r.text.starts_with(r#"{"keys":[{"kty":"#), "{}", r.text);
    }
}

#[tokio::test]
async fn the_same_claims_give_the_same_token_under_every_algorithm() {
    for algorithm in [Algorithm::Hs256, Algorithm::EdDsa, Algorithm::Rs256] {
        let app = spawn(algorithm).await;
        let (access, _) = login(&app).await;
        let signer = app.state.accounts.signer();
        let claims = signer
            .verify(
                &access,
                accountd::domain::tokens::TokenKind::Access,
                app.now(),
            )
            .unwrap();
        let again = signer.sign(claims.clone()).unwrap();
        assert_eq!(again.token, access, "{algorithm}");
        assert_eq!(signer.sign(claims).unwrap().token, access, "{algorithm}");
    }
}

#[tokio::test]
async fn a_token_signed_before_keys_rotate_works_after_it_until_it_expires() {
    for algorithm in [Algorithm::Hs256, Algorithm::EdDsa, Algorithm::Rs256] {
        let app = spawn(algorithm).await;
        let (access, refresh_token) = login(&app).await;
        let before = stored_keys(&app).await[0].kid.clone();
        let rotation = app.state.accounts.rotate_keys().await.unwrap();
        assert_eq!(rotation.previous.kid, before);
        assert_eq!(
            rotation.previous.retire_after,
            Some(app.now() + OVERLAP),
            "{algorithm}"
        );
        // New tokens: the new key (named, unless HS256).
        let (new_access, _) = login(&app).await;
        let expected_kid = (algorithm != Algorithm::Hs256).then(|| rotation.current.kid.clone());
        assert_eq!(kid(&new_access), expected_kid, "{algorithm}");
        assert_ne!(new_access, access);
        assert_accepted(&app, &new_access).await;
        // Old tokens keep working.
        assert_accepted(&app, &access).await;
        let r = refresh(&app, &refresh_token).await;
        assert_eq!(r.status, StatusCode::OK, "{algorithm}: {:?}", r.body);
        assert_eq!(
            kid(r.body["access"].as_str().unwrap()),
            expected_kid,
            "a refresh signs with the current key"
        );
        // Until they expire (pixel_genius: 5 minutes, a day).
        app.clock.advance(300);
        assert_refused(&app, &access).await;
        app.clock.advance(86_400 - 300);
        let r = refresh(&app, &refresh_token).await;
        assert_eq!(
            (r.status, r.body),
            (StatusCode::UNAUTHORIZED, invalid_refresh())
        );
    }
}

#[tokio::test]
async fn a_token_of_a_retired_key_is_refused_even_before_its_exp() {
    for algorithm in [Algorithm::Hs256, Algorithm::EdDsa, Algorithm::Rs256] {
        let app = spawn(algorithm).await;
        login(&app).await;
        let old = stored_keys(&app).await.remove(0);
        app.state.accounts.rotate_keys().await.unwrap();
        // A token the old key signed with an exp past its retirement, as no
        // token of ours can have.
        let kid = (algorithm != Algorithm::Hs256).then_some(old.kid.as_str());
        let late = sign_with(&old, kid, &access_claims(&app, app.now() + 10 * OVERLAP));
        assert_accepted(&app, &late).await;
        app.clock.advance(OVERLAP - 1);
        app.state.accounts.reload_keys().await.unwrap();
        assert_accepted(&app, &late).await;
        app.clock.advance(1);
        // Retired as it is read, before the pruner records it.
        assert_refused(&app, &late).await;
        app.state.accounts.reload_keys().await.unwrap();
        assert_refused(&app, &late).await;
        // The pruner records it and erases its material; the JWK set no
        // longer has it.
        app.state.accounts.store().prune(app.now()).await.unwrap();
        let keys = stored_keys(&app).await;
        assert_eq!(keys[1].kid, old.kid);
        assert_eq!(keys[1].state, KeyState::Retired);
        assert_eq!(keys[1].retired_at, Some(app.now()));
        assert!(keys[1].private.is_none());
        let r = app.get(JWKS, None).await;
        let published: Vec<&str> = r.body["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        let expected: Vec<&str> = if algorithm == Algorithm::Hs256 {
            vec![]
        } else {
            vec![keys[0].kid.as_str()]
        };
        assert_eq!(published, expected);
        assert_refused(&app, &late).await;
    }
}

#[tokio::test]
async fn a_token_with_an_unknown_kid_or_no_kid_or_a_borrowed_kid_is_refused() {
    let app = spawn(Algorithm::EdDsa).await;
    let (access, refresh_token) = login(&app).await;
    let current = stored_keys(&app).await.remove(0);
    let stranger = make_key(Algorithm::EdDsa, app.now()).unwrap();
    let claims = access_claims(&app, app.now() + 300);
    // A key of no one's, under its own kid, under the current key's kid, and with none.
    for kid in [
        Some(stranger.kid.as_str()),
        Some(current.kid.as_str()),
        None,
    ] {
        assert_refused(&app, &sign_with(&stranger, kid, &claims)).await;
    }
    // The current key itself without its kid.
    assert_refused(&app, &sign_with(&current, None, &claims)).await;
    // HS256 keyed with the published public key (an algorithm confusion).
    let Some(accountd::domain::keys::PublicKey::Ed25519 { x }) = &current.public else {
        panic!("no public key");
    };
    let confused = StoredKey {
        algorithm: Algorithm::Hs256,
        private: Some(Secret::from(x.as_str())),
        ..current.clone()
    };
    assert_refused(&app, &sign_with(&confused, Some(&current.kid), &claims)).await;
    // An unknown kid at a refresh too.
    let mut refresh_claims = claims.clone();
    refresh_claims["token_type"] = "refresh".into();
    let r = refresh(
        &app,
        &sign_with(&stranger, Some(&stranger.kid), &refresh_claims),
    )
    .await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::UNAUTHORIZED, invalid_refresh())
    );
    // What the current key signs is fine.
    assert_accepted(&app, &sign_with(&current, Some(&current.kid), &claims)).await;
    assert_accepted(&app, &access).await;
    assert_eq!(refresh(&app, &refresh_token).await.status, StatusCode::OK);
}

async fn delivery_refresh(app: &TestApp, token: &str) -> Reply {
    app.post(
        "/api/accounts/auth/refresh/",
        json!({"refresh_token": token}),
    )
    .await
}

#[tokio::test]
async fn a_delivery_successor_signed_again_after_a_rotation_still_verifies() {
    for algorithm in [Algorithm::Hs256, Algorithm::EdDsa, Algorithm::Rs256] {
        let app = spawn(algorithm).await;
        let phone = "+12025550123";
        app.post(
            "/api/accounts/auth/send-otp/",
            json!({"phone_number": phone}),
        )
        .await;
        let r = app
            .post(
                "/api/accounts/auth/verify-otp/",
                json!({"phone_number": phone, "otp": app.sms.last_code(phone)}),
            )
            .await;
        let first = r.body["refresh_token"].as_str().unwrap().to_owned();
        let successor = delivery_refresh(&app, &first).await;
        assert_eq!(successor.status, StatusCode::OK, "{:?}", successor.body);
        // Asked for twice: the same pair, byte for byte.
        let again = delivery_refresh(&app, &first).await;
        assert_eq!(again.body, successor.body, "{algorithm}");
        // After a key rotation, the same successor signed by the new key.
        let rotation = app.state.accounts.rotate_keys().await.unwrap();
        let resigned = delivery_refresh(&app, &first).await;
        assert_eq!(resigned.status, StatusCode::OK, "{:?}", resigned.body);
        let access = resigned.body["access_token"].as_str().unwrap();
        let expected_kid = (algorithm != Algorithm::Hs256).then(|| rotation.current.kid.clone());
        assert_eq!(kid(access), expected_kid);
        for part in ["access_token", "refresh_token"] {
            let (a, b) = (
                successor.body[part].as_str().unwrap(),
                resigned.body[part].as_str().unwrap(),
            );
            // Same claims...
            assert_eq!(
                a.split('.').nth(1),
                b.split('.').nth(1),
                "{algorithm} {part}"
            );
        }
        let me = app.get("/api/accounts/auth/me/", Some(access)).await;
        assert_eq!(me.status, StatusCode::OK, "{algorithm}: {:?}", me.body);
        // The successor signed before the rotation works too: same session.
        let old_access = successor.body["access_token"].as_str().unwrap();
        let me = app.get("/api/accounts/auth/me/", Some(old_access)).await;
        assert_eq!(me.status, StatusCode::OK, "{algorithm}: {:?}", me.body);
        let next = delivery_refresh(&app, resigned.body["refresh_token"].as_str().unwrap()).await;
        assert_eq!(next.status, StatusCode::OK, "{algorithm}: {:?}", next.body);
    }
}

#[tokio::test]
async fn the_secret_an_earlier_version_generated_becomes_the_current_key_unchanged() {
    const LEGACY: &str = "7f3c2a0b9e8d7c6b5a49382716051f2e3d4c5b6a79881726354f5e6d7c8b9a0f";
    let first = TestApp::spawn().await;
    // A database as an earlier version left it: no keys, its secret in settings.
    first.execute_sql("DELETE FROM signing_keys").await;
    first
        .execute_sql(&format!(
            "INSERT INTO settings (name, value) VALUES ('jwt_secret', '{LEGACY}')"
        ))
        .await;
    first.user_with_password("ann", None, PASSWORD).await;
    let legacy = StoredKey {
        private: Some(Secret::from(LEGACY)),
        ..make_key(Algorithm::Hs256, first.now()).unwrap()
    };
    let old_token = sign_with(&legacy, None, &access_claims(&first, first.now() + 300));
    let upgraded = first.another_instance().await;
    assert_accepted(&upgraded, &old_token).await;
    let keys = stored_keys(&upgraded).await;
    assert_eq!(keys.len(), 1);
    assert_eq!(
        (keys[0].algorithm, keys[0].state, keys[0].private.as_ref()),
        (
            Algorithm::Hs256,
            KeyState::Current,
            Some(&Secret::from(LEGACY))
        )
    );
    assert_eq!(keys[0].created_at, upgraded.now());
    // It signs: same secret, so the same token for the same claims.
    let signer = upgraded.state.accounts.signer();
    let claims = signer
        .verify(
            &old_token,
            accountd::domain::tokens::TokenKind::Access,
            upgraded.now(),
        )
        .unwrap();
    assert_eq!(signer.sign(claims).unwrap().token, old_token);
    // Switching to EdDSA at a restart rotates: the old secret's tokens live on.
    let switched = first
        .another_instance_with(|c| c.jwt_algorithm = Algorithm::EdDsa)
        .await;
    assert_accepted(&switched, &old_token).await;
    let keys = stored_keys(&switched).await;
    assert_eq!(
        keys.iter()
            .map(|k| (k.algorithm, k.state))
            .collect::<Vec<_>>(),
        [
            (Algorithm::EdDsa, KeyState::Current),
            (Algorithm::Hs256, KeyState::Verifying)
        ]
    );
    assert_eq!(keys[1].retire_after, Some(switched.now() + OVERLAP));
    let (access, _) = login(&switched).await;
    assert_eq!(kid(&access), Some(keys[0].kid.clone()));
}

#[tokio::test]
async fn previous_secrets_keep_their_tokens_verifying_while_the_new_secret_signs() {
    let old = "the-secret-we-signed-with-until-yesterday";
    let new = "the-secret-we-sign-with-from-today-onwards";
    let app = TestApp::spawn_with(|c| {
        c.jwt_secret = Some(new.into());
        c.jwt_previous_secrets = vec![Secret::from(old)];
    })
    .await;
    app.user_with_password("ann", None, PASSWORD).await;
    let key = |secret: &str| StoredKey {
        private: Some(Secret::from(secret)),
        ..make_key(Algorithm::Hs256, 0).unwrap()
    };
    let claims = access_claims(&app, app.now() + 300);
    assert_accepted(&app, &sign_with(&key(old), None, &claims)).await;
    assert_accepted(&app, &sign_with(&key(new), None, &claims)).await;
    assert_refused(
        &app,
        &sign_with(&key("a-secret-nobody-here-ever-signed-with"), None, &claims),
    )
    .await;
    // New tokens: the new secret.
    let (access, _) = login(&app).await;
    let by_new = app.state.accounts.signer().verify(
        &access,
        accountd::domain::tokens::TokenKind::Access,
        app.now(),
    );
    assert_eq!(
        sign_with(
            &key(new),
            None,
            &serde_json::to_value(by_new.unwrap()).unwrap()
        ),
        access
    );
    // Nothing is stored, nothing published, and nothing to rotate.
    assert_eq!(app.count("SELECT COUNT(*) FROM signing_keys").await, 0);
    assert_eq!(app.get(JWKS, None).await.body, json!({"keys": []}));
    let e = app.state.accounts.rotate_keys().await.unwrap_err();
    assert!(
        e.to_string()
            .starts_with("ACCOUNTD_JWT_SECRET signs the tokens, not the database's keys"),
        "{e}"
    );
}

/// Run `accountd ARGS…` over `db_url` with `env`.
fn cli(db_url: &str, env: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_accountd"))
        .args(args)
        .env("ACCOUNTD_DATABASE_URL", db_url)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A listed key with its kid and times replaced, for whole-body comparison.
fn shape(v: &Value) -> Value {
    let mut v = v.clone();
    for field in ["kid", "created_at", "retire_after", "retired_at"] {
        if v[field].is_string() {
            v[field] = json!(format!("<{field}>"));
        }
    }
    v
}

#[tokio::test]
async fn keys_list_and_keys_rotate_print_keys_without_their_material() {
    let db = TestDb::create();
    let env = [("ACCOUNTD_JWT_ALGORITHM", "RS256")];
    let (code, out, err) = cli(&db.url, &env, &["keys", "list"]);
    assert_eq!(code, 0, "{err}");
    let listed: Value = serde_json::from_str(&out).unwrap();
    let first = listed[0].clone();
    assert_eq!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .map(shape)
            .collect::<Vec<_>>(),
        [
            json!({"kid": "<kid>", "algorithm": "RS256", "state": "current",
                "created_at": "<created_at>", "retire_after": null, "retired_at": null})
        ]
    );
    let (code, out, err) = cli(&db.url, &env, &["keys", "rotate"]);
    assert_eq!(code, 0, "{err}");
    let rotated: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        json!({"current": shape(&rotated["current"]), "previous": shape(&rotated["previous"])}),
        json!({
            "current": {"kid": "<kid>", "algorithm": "RS256", "state": "current",
                        "created_at": "<created_at>", "retire_after": null, "retired_at": null},
            "previous": {"kid": "<kid>", "algorithm": "RS256", "state": "verifying",
                         "created_at": "<created_at>", "retire_after": "<retire_after>", "retired_at": null}
        })
    );
    assert_eq!(rotated["previous"]["kid"], first["kid"]);
    assert_ne!(rotated["current"]["kid"], first["kid"]);
    let (_, out, _) = cli(&db.url, &env, &["keys", "list"]);
    let listed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(listed, json!([rotated["current"], rotated["previous"]]));
    assert!(!out.contains("PRIVATE") && !out.contains("\"n\""), "{out}");
    // With ACCOUNTD_JWT_SECRET there is nothing to rotate.
    let env = [(
        "ACCOUNTD_JWT_SECRET",
        "a-signing-secret-of-32-bytes-at-least",
    )];
    let (code, out, err) = cli(&db.url, &env, &["keys", "rotate"]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(
        err.trim(),
        "accountd: ACCOUNTD_JWT_SECRET signs the tokens, not the database's keys: to change it, \
         set the new secret and list the old one in ACCOUNTD_JWT_PREVIOUS_SECRETS until its tokens have expired"
    );
}

#[tokio::test]
async fn an_hs256_secret_with_an_asymmetric_algorithm_or_a_short_previous_secret_is_refused_at_start(
) {
    let db = TestDb::create();
    for (env, message) in [
        (
            vec![
                ("ACCOUNTD_JWT_SECRET", "a-signing-secret-of-32-bytes-at-least"),
                ("ACCOUNTD_JWT_ALGORITHM", "EdDSA"),
            ],
            "accountd: ACCOUNTD_JWT_SECRET is an HS256 secret: with ACCOUNTD_JWT_ALGORITHM=EdDSA leave it unset \
             (keys are made and kept in the database), and list it in ACCOUNTD_JWT_PREVIOUS_SECRETS while its tokens live",
        ),
        (
            vec![("ACCOUNTD_JWT_PREVIOUS_SECRETS", "a-signing-secret-of-32-bytes-at-least,short")],
            "accountd: ACCOUNTD_JWT_PREVIOUS_SECRETS: secret 2: must be at least 32 bytes long (got 5)",
        ),
        (
            vec![("ACCOUNTD_JWT_ALGORITHM", "ES256")],
            "accountd: ACCOUNTD_JWT_ALGORITHM: expected HS256, EdDSA or RS256, got \"ES256\"",
        ),
    ] {
        let (code, _, err) = cli(&db.url, &env, &["serve"]);
        assert_eq!((code, err.trim()), (1, message));
    }
}

#[tokio::test]
async fn the_startup_log_says_where_the_signing_key_came_from() {
    let db = TestDb::create();
    let server = Server::start(
        &db.url,
        &[("ACCOUNTD_JWT_ALGORITHM", "RS256"), ("RUST_LOG", "info")],
    );
    let (_, log) = server.stop_with_log();
    let (_, out, _) = cli(
        &db.url,
        &[("ACCOUNTD_JWT_ALGORITHM", "RS256")],
        &["keys", "list"],
    );
    let listed: Value = serde_json::from_str(&out).unwrap();
    let kid = listed[0]["kid"].as_str().unwrap();
    // The startup line (INTERFACE.md, "Observability").
    let wanted = format!("signing_key=RS256 key {kid} from the database");
    assert!(
        log.iter()
            .any(|l| l.contains("accountd starting") && l.contains(&wanted)),
        "{wanted} not in {log:#?}"
    );
    let server = Server::start(
        &db.url,
        &[
            (
                "ACCOUNTD_JWT_SECRET",
                "a-signing-secret-of-32-bytes-at-least",
            ),
            ("RUST_LOG", "info"),
        ],
    );
    let (_, log) = server.stop_with_log();
    let wanted = "signing_key=HS256 from ACCOUNTD_JWT_SECRET (environment)";
    assert!(
        log.iter()
            .any(|l| l.contains("accountd starting") && l.contains(wanted)),
        "{wanted} not in {log:#?}"
    );
}

/// Two instances over one database (on PostgreSQL the deployment this is for).
#[tokio::test]
async fn a_rotation_on_one_instance_or_the_cli_is_picked_up_by_another_at_once_and_signs_there_within_five_seconds(
) {
    let a = spawn(Algorithm::EdDsa).await;
    let b = a
        .another_instance_with(|c| c.jwt_algorithm = Algorithm::EdDsa)
        .await;
    let (before, _) = login(&b).await;
    // Through one instance.
    let rotation = a.state.accounts.rotate_keys().await.unwrap();
    let (access, _) = login(&a).await;
    assert_eq!(kid(&access), Some(rotation.current.kid.clone()));
    // B has not read the keys since; the new kid makes it read them at once.
    assert_accepted(&b, &access).await;
    assert_accepted(&b, &before).await;
    assert_eq!(
        b.get(JWKS, None).await.body["keys"][0]["kid"],
        json!(rotation.current.kid)
    );
    // Through the CLI: both sign with the new key within the reload period.
    let (code, out, err) = cli(
        &a.db_url,
        &[("ACCOUNTD_JWT_ALGORITHM", "EdDSA")],
        &["keys", "rotate"],
    );
    assert_eq!(code, 0, "{err}");
    let newest = serde_json::from_str::<Value>(&out).unwrap()["current"]["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    let started = Instant::now();
    for app in [&a, &b] {
        loop {
            let (access, _) = login(app).await;
            if kid(&access).as_deref() == Some(newest.as_str()) {
                assert_accepted(&a, &access).await;
                assert_accepted(&b, &access).await;
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(7),
                "still signing with {:?} after {:?}",
                kid(&access),
                started.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The venv's python, running `tests/django/check_jwks.py`.
fn check_with_python(jwks_url: &str, algorithm: &str, token: &str) -> Value {
    let python = crate::django::venv().join("bin/python");
    assert!(
        python.exists(),
        "no venv at {}: run .ci/venv",
        crate::django::venv().display()
    );
    let script =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/django/check_jwks.py");
    let out = std::process::Command::new(python)
        .arg(script)
        .args([jwks_url, algorithm, token])
        .env_remove("DJANGO_SETTINGS_MODULE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "check_jwks.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn pyjwt_and_simplejwt_with_jwk_url_accept_eddsa_and_rs256_tokens_from_the_published_jwks() {
    for (algorithm, alg) in [(Algorithm::EdDsa, "EdDSA"), (Algorithm::Rs256, "RS256")] {
        let app = spawn(algorithm).await;
        let (access, _) = login(&app).await;
        let jwks_url = format!("{}{JWKS}", app.url);
        // Python blocks: off the runtime that serves the app.
        let checked = {
            let (url, token) = (jwks_url.clone(), access.clone());
            tokio::task::spawn_blocking(move || check_with_python(&url, alg, &token))
                .await
                .unwrap()
        };
        let claims = crate::harness::claims(&access);
        assert_eq!(checked["pyjwt"], claims, "{alg}");
        assert_eq!(
            checked["drf"],
            json!({"status": 200, "body": {"user_id": claims["user_id"], "token_type": "access"}}),
            "{alg}"
        );
        assert_eq!(checked["drf_tampered"], 401, "{alg}");
        // After a rotation: the new key's tokens, found by their new kid.
        app.state.accounts.rotate_keys().await.unwrap();
        let (access, _) = login(&app).await;
        let checked =
            tokio::task::spawn_blocking(move || check_with_python(&jwks_url, alg, &access))
                .await
                .unwrap();
        assert_eq!(checked["drf"]["status"], 200, "{alg}: {checked}");
        assert!(
            checked["pyjwt"].get("user_id").is_some(),
            "{alg}: {checked}"
        );
    }
}
