//! INTERFACE.md, "Listeners": `/healthz` while the process runs, `/readyz`
//! while the database answers within a second.

use crate::harness::{backend, Backend, TestApp};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn healthz_answers_ok_and_readyz_ready_while_the_database_answers() {
    let app = TestApp::spawn().await;
    let r = app.get("/healthz", None).await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::OK, json!({"status": "ok"}))
    );
    let r = app.get("/readyz/", None).await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::OK, json!({"status": "ready"}))
    );
    // Probes are GETs; anything else is DRF's 405 like every other route.
    let r = app.post("/healthz", json!({})).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn readyz_answers_503_unavailable_and_healthz_still_ok_with_the_database_gone() {
    let app = TestApp::spawn().await;
    app.break_database().await;
    let r = app.get("/healthz", None).await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::OK, json!({"status": "ok"}))
    );
    let r = app.get("/readyz", None).await;
    assert_eq!(r.header("retry-after"), Some("5"));
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "unavailable"})
        )
    );
}

#[tokio::test]
async fn a_sqlite_file_that_goes_away_answers_503_then_200_again_when_it_is_back() {
    if backend() != Backend::Sqlite {
        return;
    }
    let app = TestApp::spawn().await;
    app.user_with_password("ann", None, "ann's long password")
        .await;
    let login = json!({"username": "ann", "password": "ann's long password"});
    app.break_database().await;
    let started = std::time::Instant::now();
    let r = app.post("/api/login/", login.clone()).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "Service temporarily unavailable, try again later."})
        )
    );
    assert_eq!(
        app.get("/readyz", None).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    // Back, with no restart.
    app.restore_database().await;
    assert_eq!(app.get("/readyz", None).await.status, StatusCode::OK);
    let r = app.post("/api/login/", login).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}
