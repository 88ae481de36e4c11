//! Several accountd instances behind a load balancer, over ONE database: each
//! rule that protects an account must hold across them, not per process.
//!
//! Two `App`s share a database, a clock and an SMS recorder, each on its own
//! port. These run on both backends: on PostgreSQL (`ACCOUNTD_TEST_BACKEND=
//! postgres`) this is the deployment the backend exists for; on SQLite two
//! instances on one file is a smaller version of it (one host, two
//! processes), and the same rules must hold there too.

use crate::harness::{backend, Backend, TestApp};
use accountd::domain::directory::UserInput;
use accountd::domain::secret::Secret;
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::json;
use std::collections::HashSet;

/// Two instances over one database. On PostgreSQL they start at the same
/// moment on the fresh database (migrations under sqlx's advisory lock, the
/// signing secret settled by one upsert). On SQLite the second starts after
/// the first: sqlx takes no migration lock there, and two processes migrating
/// one fresh file at once fail with "table settings already exists".
async fn two_instances() -> (TestApp, TestApp) {
    match backend() {
        Backend::Postgres => TestApp::spawn_two_at_once().await,
        Backend::Sqlite => {
            let a = TestApp::spawn().await;
            let b = a.another_instance().await;
            (a, b)
        }
    }
}

/// Instance A for even `i`, B for odd: a round-robin balancer.
fn pick<'a>(a: &'a TestApp, b: &'a TestApp, i: usize) -> &'a TestApp {
    if i.is_multiple_of(2) {
        a
    } else {
        b
    }
}

#[tokio::test]
async fn a_refresh_token_logged_out_on_one_instance_is_refused_on_the_other() {
    let (a, b) = two_instances().await;
    a.user_with_password("ann", None, "ann's long password")
        .await;
    let login = b
        .post(
            "/accounts/login/",
            json!({"username": "ann", "password": "ann's long password"}),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{:?}", login.body);
    let refresh = login.body["refresh"].clone();
    // Both instances sign with the one secret kept in the database.
    let r = a
        .post("/accounts/refresh/", json!({"refresh": refresh}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = a
        .post("/accounts/logout/", json!({"refresh": refresh}))
        .await;
    assert_eq!(r.status, StatusCode::RESET_CONTENT, "{:?}", r.body);
    let r = b
        .post("/accounts/refresh/", json!({"refresh": refresh}))
        .await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::UNAUTHORIZED,
            json!({"detail": "Token is blacklisted", "code": "token_not_valid"})
        )
    );
    let r = b
        .post("/accounts/logout/", json!({"refresh": refresh}))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn twenty_concurrent_delivery_refreshes_across_two_instances_yield_one_successor() {
    const PHONE: &str = "+1234567890";
    let (a, b) = two_instances().await;
    let r = a
        .post(
            "/api/accounts/auth/send-otp/",
            json!({"phone_number": PHONE}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = b
        .post(
            "/api/accounts/auth/verify-otp/",
            json!({"phone_number": PHONE, "otp": a.sms.last_code(PHONE)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let first = r.body["refresh_token"].as_str().unwrap().to_owned();
    a.clock.advance(60);
    let replies = join_all((0..20).map(|i| {
        pick(&a, &b, i).post(
            "/api/accounts/auth/refresh/",
            json!({"refresh_token": first}),
        )
    }))
    .await;
    let mut successors = HashSet::new();
    for r in &replies {
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        successors.insert(r.body["refresh_token"].as_str().unwrap().to_owned());
    }
    assert_eq!(successors.len(), 1, "{successors:?}");
    let successor = successors.into_iter().next().unwrap();
    assert_ne!(successor, first);
    // That one successor is the live token, on either instance.
    a.clock.advance(60);
    let r = b
        .post(
            "/api/accounts/auth/refresh/",
            json!({"refresh_token": successor}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

#[tokio::test]
async fn twenty_concurrent_otp_logins_across_two_instances_send_one_sms() {
    const PHONE: &str = "+12025550123";
    let (a, b) = two_instances().await;
    a.user(UserInput {
        username: Some("olga".into()),
        phone: Some(PHONE.into()),
        password: Some(Secret::from("olga's long password")),
        otp_enabled: Some(true),
        ..UserInput::default()
    })
    .await;
    let olga = json!({"username": "olga", "password": "olga's long password"});
    let replies =
        join_all((0..20).map(|i| pick(&a, &b, i).post("/accounts/login/", olga.clone()))).await;
    let sent = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    let waited = replies
        .iter()
        .filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((sent, waited), (1, 19), "{replies:?}");
    assert_eq!(a.sms.all().len(), 1);
    // And that one code signs in once, wherever it is presented.
    let code = a.sms.last_code(PHONE);
    let with_code = json!({"username": "olga", "password": "olga's long password", "otp": code});
    let replies =
        join_all((0..20).map(|i| pick(&a, &b, i).post("/accounts/login/", with_code.clone())))
            .await;
    let ok = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    assert_eq!(ok, 1, "{replies:?}");
}

#[tokio::test]
async fn failed_logins_on_one_instance_count_towards_the_throttle_on_the_other() {
    let (a, b) = two_instances().await;
    a.user_with_password("ann", None, "ann's long password")
        .await;
    for i in 0..10 {
        let r = pick(&a, &b, i)
            .post(
                "/accounts/login/",
                json!({"username": "ann", "password": format!("guess {i}")}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{:?}", r.body);
        a.clock.advance(1);
    }
    let good = json!({"username": "ann", "password": "ann's long password"});
    for app in [&a, &b] {
        let r = app.post("/accounts/login/", good.clone()).await;
        assert_eq!(
            (r.status, r.body),
            (
                StatusCode::TOO_MANY_REQUESTS,
                json!({"message": "Too many failed login attempts. Try again in 890 seconds."})
            )
        );
    }
    a.clock.advance(890);
    let r = b.post("/accounts/login/", good).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

#[tokio::test]
async fn a_database_outage_is_an_error_never_not_found() {
    let app = TestApp::spawn().await;
    let user = app
        .user_with_password("ann", None, "ann's long password")
        .await;
    let store = app.state.accounts.store();
    assert!(store.user_by_id(user.id).await.unwrap().is_some());
    app.break_database().await;
    assert!(store.user_by_id(user.id).await.is_err());
    assert!(store.user_by_username("ann").await.is_err());
    // Over HTTP: unavailable, not "no such user" nor a new delivery user.
    let r = app
        .post(
            "/accounts/login/",
            json!({"username": "ann", "password": "ann's long password"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"message": "Service temporarily unavailable, try again later."})
        )
    );
}
