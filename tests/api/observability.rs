//! INTERFACE.md, "Observability": `/metrics` on the admin listener moves as
//! requests, auth events and SMS sends happen; the configuration is checked
//! and shown through the real binary (unknown keys, `serve --help`,
//! `accountd config`, the startup line and the console provider's warning);
//! `accountd audit list` prints the trail as JSON lines, newest first.

use crate::harness::{run_cli, temp_db, Server, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::BTreeMap;

const PASSWORD: &str = "ann's long password";
const PHONE: &str = "+12025550123";

/// The samples of a metrics text: `name{labels}` → value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (name, value) = l.rsplit_once(' ').unwrap();
            (name.to_owned(), value.parse().unwrap())
        })
        .collect()
}

async fn scrape(app: &TestApp) -> (String, BTreeMap<String, f64>) {
    let admin = app.admin_url.as_ref().unwrap();
    let r = app
        .client
        .get(format!("{admin}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let text = r.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    let s = samples(&text);
    (text, s)
}

#[tokio::test]
async fn metrics_count_requests_auth_events_and_sms_sends_as_they_happen() {
    let app = TestApp::spawn().await;
    app.user_with_password("ann", Some(PHONE), PASSWORD).await;
    let (_, before) = scrape(&app).await;
    // Nothing happened yet but the gauge.
    assert_eq!(before.get("accountd_password_hash_waiting"), Some(&0.0));
    assert!(!before
        .keys()
        .any(|k| k.starts_with("accountd_http_requests_total")));

    let ok = json!({"username": "ann", "password": PASSWORD});
    let bad = json!({"username": "ann", "password": "wrong password"});
    assert_eq!(app.post("/api/login/", ok.clone()).await.status, 200);
    assert_eq!(app.post("/api/login", ok).await.status, 200);
    assert_eq!(app.post("/api/login/", bad).await.status, 401);
    let r = app
        .post(
            "/api/accounts/auth/send-otp/",
            json!({"phone_number": PHONE}),
        )
        .await;
    assert_eq!(r.status, 200);
    app.sms.fail(true);
    let r = app
        .post(
            "/api/accounts/auth/send-otp/",
            json!({"phone_number": "+12025550199"}),
        )
        .await;
    assert_eq!(r.status, 500, "{:?}", r.body);
    assert_eq!(app.get("/no/such/path/42", None).await.status, 404);
    assert_eq!(app.get("/healthz", None).await.status, 200);

    let (text, after) = scrape(&app).await;
    let expect = [
        // With and without the trailing slash: one route.
        (
            r#"accountd_http_requests_total{contract="simple",route="/api/login",status="200"}"#,
            2.0,
        ),
        (
            r#"accountd_http_requests_total{contract="simple",route="/api/login",status="401"}"#,
            1.0,
        ),
        (
            r#"accountd_http_requests_total{contract="delivery",route="/api/accounts/auth/send-otp",status="200"}"#,
            1.0,
        ),
        (
            r#"accountd_http_requests_total{contract="delivery",route="/api/accounts/auth/send-otp",status="500"}"#,
            1.0,
        ),
        // The raw path of a 404 never becomes a label.
        (
            r#"accountd_http_requests_total{contract="none",route="unmatched",status="404"}"#,
            1.0,
        ),
        (
            r#"accountd_http_requests_total{contract="accountd",route="/healthz",status="200"}"#,
            1.0,
        ),
        (
            r#"accountd_http_request_duration_seconds_count{contract="simple",route="/api/login"}"#,
            3.0,
        ),
        (
            r#"accountd_http_request_duration_seconds_bucket{le="+Inf",contract="simple",route="/api/login"}"#,
            3.0,
        ),
        (
            r#"accountd_auth_events_total{contract="simple",event="password_login",outcome="success"}"#,
            2.0,
        ),
        (
            r#"accountd_auth_events_total{contract="simple",event="password_login",outcome="invalid_password"}"#,
            1.0,
        ),
        (
            r#"accountd_auth_events_total{contract="delivery",event="code_sent",outcome="success"}"#,
            1.0,
        ),
        (
            r#"accountd_auth_events_total{contract="delivery",event="code_sent",outcome="sms_failed"}"#,
            1.0,
        ),
        // The tests' SMS recorder stands in for the configured provider.
        (
            r#"accountd_sms_sends_total{provider="console",outcome="sent"}"#,
            1.0,
        ),
        (
            r#"accountd_sms_sends_total{provider="console",outcome="failed"}"#,
            1.0,
        ),
        ("accountd_password_hash_waiting", 0.0),
    ];
    for (sample, value) in expect {
        assert_eq!(after.get(sample), Some(&value), "{sample} in\n{text}");
    }
    assert!(!text.contains("/no/such/path"), "{text}");
    for help in [
        "# TYPE accountd_http_requests counter",
        "# TYPE accountd_http_request_duration_seconds histogram",
        "# TYPE accountd_auth_events counter",
        "# TYPE accountd_sms_sends counter",
        "# TYPE accountd_password_hash_waiting gauge",
    ] {
        assert!(text.lines().any(|l| l == help), "{help} in\n{text}");
    }
    // Not on the main listener.
    assert_eq!(app.get("/metrics", None).await.status, 404);
}

#[test]
fn an_unknown_setting_stops_every_command_naming_it() {
    let (_dir, db) = temp_db();
    for args in [&["serve"][..], &["user", "list"], &["config"]] {
        let run = std::process::Command::new(env!("CARGO_BIN_EXE_accountd"))
            .args(args)
            .env("ACCOUNTD_DATABASE_URL", &db)
            .env("ACCOUNTD_LISTEN", "127.0.0.1:0")
            .env("ACCOUNTD_OTP_TTL_SECOND", "30")
            .output()
            .unwrap();
        assert_eq!(run.status.code(), Some(1), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&run.stderr),
            "accountd: ACCOUNTD_OTP_TTL_SECOND: unknown setting (accountd serve --help lists the settings)\n",
            "{args:?}"
        );
        assert!(run.stdout.is_empty());
    }
    // A file key too.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("accountd.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:0\"\nsms_provder = \"webhook\"\n",
    )
    .unwrap();
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_accountd"))
        .arg("config")
        .env("ACCOUNTD_CONFIG", &file)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr
            .ends_with("unknown key \"sms_provder\" (accountd serve --help lists the settings)\n"),
        "{stderr}"
    );
}

#[test]
fn serve_help_lists_every_setting_with_its_default() {
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_accountd"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0));
    let help = String::from_utf8(run.stdout).unwrap();
    let line = |name: &str| {
        help.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("{name} not in\n{help}"))
            .to_owned()
    };
    assert!(line("ACCOUNTD_DATABASE_URL").ends_with("[sqlite://accountd.db]"));
    assert!(line("ACCOUNTD_LISTEN").ends_with("[127.0.0.1:8000]"));
    assert!(line("ACCOUNTD_ADMIN_LISTEN").ends_with("[127.0.0.1:8001]"));
    assert!(line("ACCOUNTD_OTP_TTL_SECONDS").ends_with("[300]"));
    assert!(line("ACCOUNTD_AUDIT_RETENTION_DAYS").ends_with("[90]"));
    assert!(line("ACCOUNTD_LOG_FORMAT").ends_with("[text]"));
    assert!(line("ACCOUNTD_DELIVERY_REFRESH_SECONDS").ends_with("[2592000]"));
    // Every setting `accountd config` shows is listed.
    let (_dir, db) = temp_db();
    let config = run_cli(&db, &["config"], None);
    assert_eq!(config.code, 0, "{config:?}");
    for key in config.stdout.lines().map(|l| l.split('=').next().unwrap()) {
        line(key);
    }
}

#[test]
fn config_prints_the_effective_settings_with_secrets_hidden() {
    let secret = "s3cret-signing-key-of-thirty-two-bytes";
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_accountd"))
        .arg("config")
        .env(
            "ACCOUNTD_DATABASE_URL",
            "postgres://app:hunter2@db.internal/accounts",
        )
        .env("ACCOUNTD_JWT_SECRET", secret)
        .env("ACCOUNTD_OTP_TTL_SECONDS", "120")
        .env("ACCOUNTD_SMS_PROVIDER", "webhook")
        .env(
            "ACCOUNTD_SMS_WEBHOOK_URL",
            "https://hooks.example/sms?token=abc123",
        )
        .env(
            "ACCOUNTD_TEST_ANYTHING",
            "harness variables are not settings",
        )
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0));
    let out = String::from_utf8(run.stdout).unwrap();
    let shown: BTreeMap<&str, &str> = out.lines().map(|l| l.split_once('=').unwrap()).collect();
    assert_eq!(
        shown["ACCOUNTD_DATABASE_URL"],
        "postgres://app:***@db.internal/accounts"
    );
    assert_eq!(shown["ACCOUNTD_JWT_SECRET"], "(set, hidden)");
    assert_eq!(shown["ACCOUNTD_ADMIN_TOKEN"], "-");
    assert_eq!(shown["ACCOUNTD_OTP_TTL_SECONDS"], "120");
    assert_eq!(shown["ACCOUNTD_OTP_RESEND_SECONDS"], "60");
    assert_eq!(shown["ACCOUNTD_SMS_PROVIDER"], "webhook");
    assert_eq!(
        shown["ACCOUNTD_SMS_WEBHOOK_URL"],
        "https://hooks.example/sms?***"
    );
    assert_eq!(
        shown["ACCOUNTD_CONTRACTS"],
        "pixel_genius,delivery,simple,university,kikapu"
    );
    for leak in [secret, "hunter2", "abc123"] {
        assert!(!out.contains(leak), "{leak} in {out}");
    }
}

#[test]
fn serve_says_what_it_runs_with_and_warns_of_the_console_provider() {
    let (_dir, db) = temp_db();
    let server = Server::start(
        &db,
        &[("RUST_LOG", "info"), ("ACCOUNTD_LOG_FORMAT", "json")],
    );
    let (code, log) = server.stop_with_log();
    assert_eq!(code, 0);
    let lines: Vec<Value> = log
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    let start = lines
        .iter()
        .find(|l| l["fields"]["message"] == "accountd starting")
        .unwrap_or_else(|| panic!("no startup line in {log:?}"));
    assert_eq!(start["fields"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(start["fields"]["sms"], "console");
    assert!(
        start["fields"]["signing_key"]
            .as_str()
            .unwrap()
            .contains("HS256"),
        "{start}"
    );
    let warning = lines
        .iter()
        .find(|l| l["level"] == "WARN")
        .unwrap_or_else(|| panic!("no warning in {log:?}"));
    assert_eq!(
        warning["fields"]["message"],
        "ACCOUNTD_SMS_PROVIDER=console: codes are written to this log, not sent; for development only"
    );
    // A real provider: no warning.
    let (_dir2, db2) = temp_db();
    let server = Server::start(
        &db2,
        &[
            ("ACCOUNTD_SMS_PROVIDER", "webhook"),
            ("ACCOUNTD_SMS_WEBHOOK_URL", "http://127.0.0.1:9/sms"),
        ],
    );
    let (code, log) = server.stop_with_log();
    assert_eq!(code, 0);
    assert!(!log.iter().any(|l| l.contains("console")), "{log:?}");
}

#[test]
fn audit_list_prints_json_lines_newest_first_by_user_and_limit() {
    let (_dir, db) = temp_db();
    let ann = run_cli(
        &db,
        &["user", "create", "--username", "ann", "--password-stdin"],
        Some(PASSWORD),
    );
    assert_eq!(ann.code, 0, "{ann:?}");
    let ann_id = ann.json()["id"].as_i64().unwrap();
    let server = Server::start(&db, &[]);
    let client = reqwest::blocking::Client::new();
    for (password, rid) in [(PASSWORD, "rid-1"), ("wrong password", "rid-2")] {
        client
            .post(format!("{}/api/auth/login/", server.url))
            .header("x-request-id", rid)
            .json(&json!({"username": "ann", "password": password}))
            .send()
            .unwrap();
    }
    assert_eq!(server.stop(), 0);

    let all = run_cli(&db, &["audit", "list", "--user", &ann_id.to_string()], None);
    assert_eq!(all.code, 0, "{all:?}");
    let records: Vec<Value> = all
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The CLI's own `user create` is an admin record, oldest.
    let brief: Vec<(&str, &str, Option<&str>)> = records
        .iter()
        .map(|r| {
            (
                r["event"].as_str().unwrap(),
                r["outcome"].as_str().unwrap(),
                r["request_id"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        brief,
        [
            ("password_login", "invalid_password", Some("rid-2")),
            ("password_login", "success", Some("rid-1")),
            ("admin", "success", None),
        ]
    );
    let newest = &records[0];
    let keys: Vec<&str> = newest
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "time",
            "event",
            "outcome",
            "user_id",
            "contract",
            "client",
            "request_id",
            "detail"
        ]
    );
    assert_eq!(newest["user_id"], ann_id);
    assert_eq!(newest["contract"], "university");
    assert_eq!(newest["client"], "127.0.0.1");
    assert!(newest["time"].as_str().unwrap().ends_with('Z'), "{newest}");
    assert!(!all.stdout.contains(PASSWORD));

    let one = run_cli(&db, &["audit", "list", "--limit", "1"], None);
    assert_eq!(one.stdout.lines().count(), 1, "{one:?}");
    let refused = run_cli(&db, &["audit", "list", "--limit", "0"], None);
    assert_eq!(refused.code, 2, "{refused:?}");
}
