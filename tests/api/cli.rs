//! The operator's commands and `serve`, through the real binary
//! (INTERFACE.md, "The binary and its commands").

use crate::harness::{run_cli, temp_db, Run, Server};
use serde_json::{json, Value};

fn ok(run: Run) -> Value {
    assert_eq!(run.code, 0, "{run:?}");
    run.json()
}

/// A failed command: non-zero, one line on stderr, nothing on stdout.
fn refused(run: &Run, says: &str) {
    assert_ne!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "", "{run:?}");
    assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
    assert!(
        run.stderr.contains(says),
        "expected {says:?} in {:?}",
        run.stderr
    );
}

fn without_dates(mut v: Value) -> Value {
    for key in ["date_joined", "last_login"] {
        if let Some(d) = v.get_mut(key).filter(|d| d.is_string()) {
            assert!(d.as_str().unwrap().ends_with('Z'), "{d}");
            *d = json!("<date>");
        }
    }
    v
}

fn user_count(db: &str) -> usize {
    ok(run_cli(db, &["user", "list"], None))
        .as_array()
        .unwrap()
        .len()
}

#[test]
fn user_create_prints_the_stored_user_without_its_password() {
    let (_dir, db) = temp_db();
    let run = run_cli(
        &db,
        &[
            "user",
            "create",
            "--username",
            "ann",
            "--phone",
            "+255712345678",
            "--email",
            "ann@example.com",
            "--password",
            "a long enough password",
            "--first-name",
            "Ann",
            "--last-name",
            "Lee",
            "--role",
            "AGENT",
            "--profile",
            r#"{"agent_id": "AG1"}"#,
        ],
        None,
    );
    assert!(!run.stdout.contains("argon2"));
    assert_eq!(
        without_dates(ok(run)),
        json!({"id": 1, "username": "ann", "email": "ann@example.com", "phone": "+255712345678",
               "first_name": "Ann", "last_name": "Lee", "role": "AGENT", "is_active": true,
               "is_staff": false, "otp_enabled": false, "date_joined": "<date>", "last_login": null, "profile": {"agent_id": "AG1"}})
    );
}

#[test]
fn user_create_reads_the_password_from_stdin_and_takes_flags_for_otp_and_inactive() {
    let (_dir, db) = temp_db();
    let user = ok(run_cli(
        &db,
        &[
            "user",
            "create",
            "--phone",
            "+12025550111",
            "--password-stdin",
            "--otp-enabled",
            "--inactive",
        ],
        Some("from stdin password\n"),
    ));
    assert_eq!(
        without_dates(user),
        json!({"id": 1, "username": null, "email": null, "phone": "+12025550111", "first_name": "",
               "last_name": "", "role": null, "is_active": false, "is_staff": false, "otp_enabled": true,
               "date_joined": "<date>", "last_login": null, "profile": {}})
    );
}

#[test]
fn user_create_refuses_bad_input_with_one_line_and_writes_nothing() {
    let (_dir, db) = temp_db();
    ok(run_cli(
        &db,
        &[
            "user",
            "create",
            "--username",
            "ann",
            "--phone",
            "+12025550111",
            "--email",
            "a@b.co",
        ],
        None,
    ));
    let cases: &[(&[&str], &str)] = &[
        (
            &["user", "create"],
            "at least one of --username, --phone, --email",
        ),
        (
            &["user", "create", "--username", "ann"],
            "a user with that username already exists",
        ),
        (
            &["user", "create", "--phone", "+12025550111"],
            "a user with that phone already exists",
        ),
        (
            &["user", "create", "--email", "a@b.co"],
            "a user with that email already exists",
        ),
        (&["user", "create", "--phone", "0712 345 678"], "E.164"),
        (
            &["user", "create", "--email", "not-an-email"],
            "not a valid address",
        ),
        (&["user", "create", "--username", "has space"], "username"),
        (
            &["user", "create", "--username", "bo", "--profile", "[1]"],
            "profile must be a JSON object",
        ),
        (
            &["user", "create", "--username", "bo", "--profile", "{"],
            "profile is not valid JSON",
        ),
        (
            &["user", "create", "--username", "bo", "--otp-enabled"],
            "--otp-enabled needs a --phone",
        ),
        (
            &["user", "create", "--username", "bo", "--password-stdin"],
            "no password on standard input",
        ),
        (
            &["user", "create", "--username", "bo", "--bogus"],
            "--bogus",
        ),
        (&["user", "frobnicate"], "frobnicate"),
    ];
    for (args, says) in cases {
        refused(&run_cli(&db, args, None), says);
    }
    assert_eq!(user_count(&db), 1);
}

#[test]
fn user_list_show_update_and_deactivate_work_on_stored_users() {
    let (_dir, db) = temp_db();
    ok(run_cli(&db, &["user", "create", "--username", "ann"], None));
    ok(run_cli(
        &db,
        &["user", "create", "--username", "bob", "--role", "student"],
        None,
    ));
    let list = ok(run_cli(&db, &["user", "list"], None));
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ann", "bob"]);
    assert_eq!(
        ok(run_cli(&db, &["user", "show", "2"], None))["role"],
        "student"
    );
    let updated = ok(run_cli(
        &db,
        &[
            "user",
            "update",
            "2",
            "--first-name",
            "Bob",
            "--phone",
            "+12025550112",
            "--otp-enabled",
            "--profile",
            r#"{"major": "Physics"}"#,
        ],
        None,
    ));
    assert_eq!(
        without_dates(updated),
        json!({"id": 2, "username": "bob", "email": null, "phone": "+12025550112", "first_name": "Bob",
               "last_name": "", "role": "student", "is_active": true, "is_staff": false, "otp_enabled": true,
               "date_joined": "<date>", "last_login": null, "profile": {"major": "Physics"}})
    );
    let off = ok(run_cli(
        &db,
        &["user", "update", "2", "--otp-enabled=false"],
        None,
    ));
    assert_eq!(off["otp_enabled"], false);
    let gone = ok(run_cli(&db, &["user", "deactivate", "1"], None));
    assert_eq!(
        (gone["id"].clone(), gone["is_active"].clone()),
        (json!(1), json!(false))
    );
    let back = ok(run_cli(
        &db,
        &["user", "update", "1", "--inactive=false"],
        None,
    ));
    assert_eq!(back["is_active"], true);
}

#[test]
fn user_commands_on_missing_users_or_taken_values_fail_cleanly() {
    let (_dir, db) = temp_db();
    ok(run_cli(&db, &["user", "create", "--username", "ann"], None));
    ok(run_cli(&db, &["user", "create", "--username", "bob"], None));
    refused(
        &run_cli(&db, &["user", "show", "9"], None),
        "user not found",
    );
    refused(
        &run_cli(&db, &["user", "update", "9", "--role", "x"], None),
        "user not found",
    );
    refused(
        &run_cli(&db, &["user", "deactivate", "9"], None),
        "user not found",
    );
    refused(&run_cli(&db, &["user", "show", "abc"], None), "abc");
    refused(
        &run_cli(&db, &["user", "update", "2", "--username", "ann"], None),
        "username already exists",
    );
    assert_eq!(
        ok(run_cli(&db, &["user", "show", "2"], None))["username"],
        "bob"
    );
}

#[test]
fn org_create_and_add_member_print_json_and_refuse_unknown_ids() {
    let (_dir, db) = temp_db();
    ok(run_cli(&db, &["user", "create", "--username", "ann"], None));
    let org = ok(run_cli(
        &db,
        &[
            "org",
            "create",
            "--name",
            "My Store",
            "--kind",
            "retailer",
            "--verified",
        ],
        None,
    ));
    assert_eq!(
        org,
        json!({"id": 1, "name": "My Store", "kind": "retailer", "is_verified": true})
    );
    let plain = ok(run_cli(&db, &["org", "create", "--name", "Kiosk"], None));
    assert_eq!(
        plain,
        json!({"id": 2, "name": "Kiosk", "kind": null, "is_verified": false})
    );
    assert_eq!(
        ok(run_cli(
            &db,
            &["org", "add-member", "--org", "1", "--user", "1"],
            None
        )),
        json!({"org_id": 1, "user_id": 1})
    );
    // Adding twice is harmless.
    assert_eq!(
        run_cli(
            &db,
            &["org", "add-member", "--org", "1", "--user", "1"],
            None
        )
        .code,
        0
    );
    refused(
        &run_cli(
            &db,
            &["org", "add-member", "--org", "1", "--user", "7"],
            None,
        ),
        "user not found",
    );
    refused(
        &run_cli(
            &db,
            &["org", "add-member", "--org", "7", "--user", "1"],
            None,
        ),
        "organization not found",
    );
    refused(
        &run_cli(&db, &["org", "create", "--name", " "], None),
        "name must not be empty",
    );
    refused(&run_cli(&db, &["org", "create"], None), "--name");
}

#[test]
fn bad_configuration_is_one_line_and_a_non_zero_exit() {
    let (_dir, db) = temp_db();
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_accountd"))
        .args(["user", "list"])
        .env("ACCOUNTD_DATABASE_URL", &db)
        .env("ACCOUNTD_OTP_TTL_SECONDS", "soon")
        .output()
        .unwrap();
    assert_ne!(run.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("ACCOUNTD_OTP_TTL_SECONDS"), "{stderr}");
}

#[test]
fn migrate_creates_the_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    let run = run_cli(&format!("sqlite://{}", path.display()), &["migrate"], None);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "migrations applied\n"),
        "{run:?}"
    );
    assert!(path.exists());
}

#[test]
fn tokens_issued_before_a_restart_still_work_after_it_and_sigterm_exits_zero() {
    let (_dir, db) = temp_db();
    ok(run_cli(
        &db,
        &[
            "user",
            "create",
            "--username",
            "ann",
            "--password",
            "ann's long password",
        ],
        None,
    ));
    let client = reqwest::blocking::Client::new();
    let server = Server::start(&db, &[]);
    let login: Value = client
        .post(format!("{}/accounts/login/", server.url))
        .json(&json!({"username": "ann", "password": "ann's long password"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(server.stop(), 0);

    let server = Server::start(&db, &[]);
    let refresh = client
        .post(format!("{}/accounts/refresh/", server.url))
        .json(&json!({"refresh": login["refresh"]}))
        .send()
        .unwrap();
    assert_eq!(refresh.status(), 200);
    let logout = client
        .post(format!("{}/accounts/logout", server.url))
        .json(&json!({"refresh": login["refresh"]}))
        .send()
        .unwrap();
    assert_eq!(logout.status(), 205);
    assert_eq!(server.stop(), 0);
}

#[test]
fn serve_mounts_only_the_contracts_it_is_told_to() {
    let (_dir, db) = temp_db();
    let server = Server::start(&db, &[("ACCOUNTD_CONTRACTS", "simple")]);
    let client = reqwest::blocking::Client::new();
    let gone = client
        .post(format!("{}/accounts/login/", server.url))
        .json(&json!({}))
        .send()
        .unwrap();
    assert_eq!(gone.status(), 404);
    let here = client
        .post(format!("{}/api/login/", server.url))
        .json(&json!({}))
        .send()
        .unwrap();
    assert_eq!(here.status(), 400);
}

#[test]
fn sigterm_drains_a_request_in_flight_before_exiting_zero() {
    // A webhook gateway that takes a second to answer keeps a login in flight.
    let gateway = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hook = format!("http://{}/sms", gateway.local_addr().unwrap());
    let (arrived, sms_arrived) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in gateway.incoming() {
            let mut stream = stream.unwrap();
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = arrived.send(());
            std::thread::sleep(std::time::Duration::from_millis(1000));
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    let (_dir, db) = temp_db();
    ok(run_cli(
        &db,
        &[
            "user",
            "create",
            "--username",
            "olga",
            "--phone",
            "+12025550123",
            "--otp-enabled",
            "--password",
            "olga's long password",
        ],
        None,
    ));
    let server = Server::start(
        &db,
        &[
            ("ACCOUNTD_SMS_PROVIDER", "webhook"),
            ("ACCOUNTD_SMS_WEBHOOK_URL", &hook),
        ],
    );
    let url = format!("{}/accounts/login/", server.url);
    let in_flight = std::thread::spawn(move || {
        let r = reqwest::blocking::Client::new()
            .post(url)
            .json(&json!({"username": "olga", "password": "olga's long password"}))
            .send()
            .unwrap();
        (r.status().as_u16(), r.text().unwrap())
    });
    // The login is now waiting on the gateway: stop the server under it.
    sms_arrived
        .recv_timeout(std::time::Duration::from_secs(30))
        .unwrap();
    assert_eq!(server.stop(), 0);
    assert_eq!(
        in_flight.join().unwrap(),
        (
            200,
            r#"{"message":"OTP sent to your phone number."}"#.to_owned()
        )
    );
}

#[test]
fn two_processes_starting_on_one_new_sqlite_file_at_once_both_succeed() {
    // Both migrate under one exclusive lock, and a new file's switch to WAL
    // can report "locked" (retried). Racy by nature, so try often.
    for _ in 0..10 {
        // SQLite whatever the test backend: PostgreSQL takes an advisory lock.
        let dir = tempfile::tempdir().unwrap();
        let db = format!("sqlite://{}", dir.path().join("new.db").display());
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| run_cli(&db, &["migrate"], None));
            let b = s.spawn(|| run_cli(&db, &["migrate"], None));
            (a.join().unwrap(), b.join().unwrap())
        });
        assert_eq!((a.code, b.code), (0, 0), "{a:?} {b:?}");
    }
}
