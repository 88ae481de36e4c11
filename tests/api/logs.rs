//! INTERFACE.md, "Observability" and "Connections, queues, responses": every
//! request has an id (the client's when it is plain and short, else a new
//! one), echoed in `X-Request-Id` and carried by every log line of the
//! request; JSON lines parse; text lines escape what clients sent.

use crate::harness::{temp_db, Server, TestApp};
use serde_json::{json, Value};

/// The request ids a JSON log line carries, from its span and span list.
fn request_ids(line: &Value) -> Vec<String> {
    let mut ids: Vec<String> = line["spans"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(std::iter::once(&line["span"]))
        .filter_map(|s| s["request_id"].as_str().map(str::to_owned))
        .collect();
    ids.dedup();
    ids
}

#[tokio::test]
async fn a_plain_request_id_is_echoed_and_a_bad_one_replaced() {
    let app = TestApp::spawn().await;
    let r = app
        .client
        .get(format!("{}/healthz", app.url))
        .header("x-request-id", "client-id_1.2")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "client-id_1.2");
    for bad in ["has space", "semi;colon", &"x".repeat(65), ""] {
        let r = app
            .client
            .get(format!("{}/nope", app.url))
            .header("x-request-id", bad)
            .send()
            .await
            .unwrap();
        let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert_ne!(id, bad);
        assert_eq!(id.len(), 32, "{id}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    }
    // Without one, each request gets its own.
    let a = app.get("/healthz", None).await;
    let b = app.get("/healthz", None).await;
    assert_ne!(a.header("x-request-id"), b.header("x-request-id"));
}

#[test]
fn json_log_lines_parse_and_carry_the_request_id() {
    let (_db, url) = temp_db();
    let server = Server::start(
        &url,
        &[("ACCOUNTD_LOG_FORMAT", "json"), ("RUST_LOG", "info")],
    );
    let client = reqwest::blocking::Client::new();
    let r = client
        .post(format!("{}/accounts/login/", server.url))
        .header("x-request-id", "login-attempt-7")
        .json(&json!({"username": "nobody", "password": "wrong password"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["x-request-id"], "login-attempt-7");
    let r = client
        .get(format!("{}/nope", server.url))
        .header("x-request-id", "not ok!")
        .send()
        .unwrap();
    let fresh = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let (code, log) = server.stop_with_log();
    assert_eq!(code, 0);
    let lines: Vec<Value> = log
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let of = |id: &str| -> Vec<&Value> {
        lines
            .iter()
            .filter(|l| request_ids(l) == [id.to_owned()])
            .collect()
    };
    let login = of("login-attempt-7");
    // The domain's own line (a failed login is logged) and the access line,
    // both inside the request's span.
    assert!(login.len() >= 2, "{login:?}");
    let answered = login
        .iter()
        .find(|l| l["fields"]["message"] == "answered")
        .unwrap_or_else(|| panic!("{login:?}"));
    assert_eq!(answered["level"], "INFO");
    assert_eq!(answered["fields"]["status"], 401);
    // The path as routed: the trailing slash is normalised away first.
    assert_eq!(answered["span"]["path"], "/accounts/login");
    assert_eq!(answered["span"]["client"], "127.0.0.1");
    let other = of(&fresh);
    assert!(
        other
            .iter()
            .any(|l| l["fields"]["status"] == 404 && l["span"]["path"] == "/nope"),
        "{other:?}"
    );
    assert!(of("not ok!").is_empty());
}

#[test]
fn a_username_with_a_newline_does_not_break_a_text_log_line() {
    let (_db, url) = temp_db();
    let server = Server::start(&url, &[("RUST_LOG", "info")]);
    let client = reqwest::blocking::Client::new();
    let forged = "ann\n2026-01-01T00:00:00Z  INFO forged: admin logged in\u{1b}[2K";
    let r = client
        .post(format!("{}/accounts/login/", server.url))
        .json(&json!({"username": forged, "password": "wrong password"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = client
        .get(format!("{}/nope%0Aforged%1B", server.url))
        .send()
        .unwrap();
    assert_eq!(r.status(), 404);
    let (code, log) = server.stop_with_log();
    assert_eq!(code, 0);
    assert!(!log.is_empty());
    for line in &log {
        // Every line is one of ours: it starts with its timestamp.
        assert!(
            line.starts_with("20") && line.as_bytes()[4] == b'-',
            "a forged or broken line: {line:?}\n{log:#?}"
        );
        assert!(!line.contains('\u{1b}'), "{line:?}");
    }
    assert!(!log.iter().any(|l| l.starts_with("2026-01-01T00:00:00Z")));
}
