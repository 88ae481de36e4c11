//! Old password hashes at login (issue 9): a right password against a Django
//! or GoTrue hash signs in and the hash becomes today's argon2id; a wrong one
//! changes nothing. Over real HTTP on both backends.

use crate::django::django_fixture;
use crate::harness::{TestApp, TestDb};
use accountd::domain::user::User;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Made by real Django 5.2.19 with cheap parameters (so the test is fast):
/// `PBKDF2PasswordHasher().encode(OLD_PASSWORD, "cheapsaltcheapsalt", iterations=1000)`
/// and `BCryptSHA256PasswordHasher().encode(OLD_PASSWORD, bcrypt.gensalt(4))`.
const OLD_PASSWORD: &str = "old django password";
const DJANGO_PBKDF2: &str =
    "pbkdf2_sha256$1000$cheapsaltcheapsalt$MECEd+XuBXgmszoGzEDUYnfJEcVzzy/fN0kJrSaPH2E=";
const DJANGO_BCRYPT_SHA256: &str =
    "bcrypt_sha256$$2b$04$cAvDxhxbElYeLAiN/il0PuCH2ptgmH0bI9Tg5u2yxOIL3lVyv4UxC";
const TODAY: &str = "$argon2id$v=19$m=19456,t=2,p=1$";

/// A user whose stored hash is `hash`, as an import leaves it.
async fn user_with_hash(app: &TestApp, username: &str, hash: &str) -> User {
    let user = app
        .user_with_password(username, None, "a placeholder password")
        .await;
    let store = app.state.accounts.store();
    let current = user.password_hash.clone().unwrap();
    assert!(store
        .set_password_hash(user.id, hash, &current)
        .await
        .unwrap());
    let user = app.reload(&user).await;
    assert_eq!(user.password_hash.as_deref(), Some(hash));
    user
}

async fn login(app: &TestApp, username: &str, password: &str) -> (StatusCode, Value) {
    let r = app
        .post(
            "/accounts/login/",
            json!({"username": username, "password": password}),
        )
        .await;
    (r.status, r.redacted())
}

fn signed_in() -> (StatusCode, Value) {
    (
        StatusCode::OK,
        json!({"refresh": "<jwt>", "access": "<jwt>"}),
    )
}

fn refused() -> (StatusCode, Value) {
    (
        StatusCode::UNAUTHORIZED,
        json!({"message": "Invalid credentials."}),
    )
}

/// The stored hash once it is no longer `old` (the upgrade runs after the
/// answer), or `old` if it stays for `patience`.
async fn hash_after(app: &TestApp, user: &User, old: &str, patience: Duration) -> String {
    let start = Instant::now();
    loop {
        let now = app.reload(user).await.password_hash.unwrap();
        if now != old || start.elapsed() > patience {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_right_password_against_a_django_hash_signs_in_and_the_hash_becomes_argon2id() {
    let app = TestApp::spawn().await;
    for (name, hash) in [("pbkdf2", DJANGO_PBKDF2), ("bcrypt", DJANGO_BCRYPT_SHA256)] {
        let user = user_with_hash(&app, name, hash).await;
        assert_eq!(login(&app, name, OLD_PASSWORD).await, signed_in(), "{name}");
        let fresh = hash_after(&app, &user, hash, Duration::from_secs(10)).await;
        assert!(fresh.starts_with(TODAY), "{name}: {fresh}");
        // The same password keeps working against the new hash, which stays.
        assert_eq!(login(&app, name, OLD_PASSWORD).await, signed_in(), "{name}");
        assert_eq!(login(&app, name, "not it").await, refused(), "{name}");
        assert_eq!(
            hash_after(&app, &user, &fresh, Duration::from_millis(300)).await,
            fresh
        );
    }
}

#[tokio::test]
async fn a_wrong_password_against_a_django_hash_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let user = user_with_hash(&app, "olduser", DJANGO_PBKDF2).await;
    assert_eq!(
        login(&app, "olduser", "old django passwords").await,
        refused()
    );
    assert_eq!(
        hash_after(&app, &user, DJANGO_PBKDF2, Duration::from_millis(500)).await,
        DJANGO_PBKDF2
    );
}

#[tokio::test]
async fn an_unusable_django_password_never_signs_in() {
    let app = TestApp::spawn().await;
    user_with_hash(&app, "nopass", "!Kx8hTgJyQ4wq2VhYrWz7pLmNbC3dE5fG6hJ").await;
    for password in ["", "!Kx8hTgJyQ4wq2VhYrWz7pLmNbC3dE5fG6hJ", OLD_PASSWORD] {
        let (status, body) = login(&app, "nopass", password).await;
        // An empty password is DRF's "may not be blank" before any check.
        if password.is_empty() {
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        } else {
            assert_eq!((status, body), refused(), "{password:?}");
        }
    }
}

#[tokio::test]
async fn the_upgrade_never_overwrites_a_password_changed_meanwhile() {
    // The store replaces a hash only while it is still the one the login
    // checked: an operator's new password, set between the check and the
    // upgrade, stays.
    let app = TestApp::spawn().await;
    let user = user_with_hash(&app, "olduser", DJANGO_PBKDF2).await;
    let store = app.state.accounts.store();
    let changed = "$argon2id$v=19$m=19456,t=2,p=1$bmV3c2FsdG5ld3NhbHQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    assert!(store
        .set_password_hash(user.id, changed, DJANGO_PBKDF2)
        .await
        .unwrap());
    assert!(!store
        .set_password_hash(user.id, "$argon2id$upgrade", DJANGO_PBKDF2)
        .await
        .unwrap());
    assert_eq!(
        app.reload(&user).await.password_hash.as_deref(),
        Some(changed)
    );
}

#[tokio::test]
async fn every_hash_real_django_makes_signs_in_with_its_password_and_becomes_argon2id() {
    // Django makes its users in a database of its own (same backend), then
    // each stored hash is given to an accountd user of the same name.
    let django_db = TestDb::create();
    let fixture = django_fixture(&django_db.url);
    let app = TestApp::spawn().await;
    let users = fixture["users"].as_array().unwrap();
    let hashers: Vec<&str> = users.iter().filter_map(|u| u["hasher"].as_str()).collect();
    assert_eq!(
        hashers,
        [
            "pbkdf2_sha256",
            "pbkdf2_sha1",
            "argon2",
            "bcrypt_sha256",
            "bcrypt",
            "scrypt"
        ]
    );
    for u in users {
        let (name, hash) = (u["username"].as_str().unwrap(), u["hash"].as_str().unwrap());
        let user = user_with_hash(&app, name, hash).await;
        match u["password"].as_str() {
            Some(password) => {
                assert_eq!(login(&app, name, "wrong").await, refused(), "{name}");
                assert_eq!(login(&app, name, password).await, signed_in(), "{name}");
                let fresh = hash_after(&app, &user, hash, Duration::from_secs(20)).await;
                assert!(fresh.starts_with(TODAY), "{name}: {fresh}");
                assert_eq!(login(&app, name, password).await, signed_in(), "{name}");
            }
            None => {
                assert!(hash.starts_with('!'), "{name}: {hash}");
                assert_eq!(login(&app, name, "anything").await, refused(), "{name}");
            }
        }
    }
}
