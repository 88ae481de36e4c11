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
    match backend() {
        Backend::Postgres => {
            assert_eq!(
                (r.status, r.body.clone()),
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({"status": "unavailable"})
                )
            );
            assert_eq!(r.header("retry-after"), Some("5"));
        }
        // A renamed users table does not stop `SELECT 1` answering: SQLite's
        // outage (an unreadable file) is tested with the store's own work.
        Backend::Sqlite => assert_eq!(r.status, StatusCode::OK),
    }
}
