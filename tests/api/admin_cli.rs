//! The operator's administration commands through the real binary
//! (INTERFACE.md, "Administration"): `user find`, `user delete`, `user
//! sessions`, `--staff`, each change an audit record of contract `cli`; and
//! `accountd backup` while a server writes.

use crate::harness::{run_cli, temp_db, Run, Server};
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;

fn ok(run: Run) -> Value {
    assert_eq!(run.code, 0, "{run:?}");
    run.json()
}

fn refused(run: &Run, says: &str) {
    assert_ne!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "", "{run:?}");
    assert_eq!(
        run.stderr.trim_end(),
        format!("accountd: {says}"),
        "{run:?}"
    );
}

fn create(db: &str, args: &[&str]) -> Value {
    let mut all = vec!["user", "create"];
    all.extend_from_slice(args);
    ok(run_cli(db, &all, None))
}

fn usernames(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect()
}

#[test]
fn user_find_prints_every_user_whose_username_phone_or_email_contains_the_text() {
    let (_db, db) = temp_db();
    create(&db, &["--username", "ann", "--email", "ann@example.com"]);
    create(&db, &["--username", "bob", "--phone", "+255712000001"]);
    create(
        &db,
        &["--username", "carol", "--email", "CAROL@Example.org"],
    );
    for (text, want) in [
        ("an", vec!["ann"]),
        ("+2557", vec!["bob"]),
        ("EXAMPLE", vec!["ann", "carol"]),
        ("_", vec![]),
        ("", vec!["ann", "bob", "carol"]),
    ] {
        let found = ok(run_cli(&db, &["user", "find", text], None));
        assert_eq!(usernames(&found), want, "{text:?}");
    }
    // The whole user, as `user show` prints it.
    let found = ok(run_cli(&db, &["user", "find", "bob"], None));
    assert_eq!(found[0], ok(run_cli(&db, &["user", "show", "2"], None)));
}

#[test]
fn staff_is_set_with_create_and_taken_away_with_update_staff_false() {
    let (_db, db) = temp_db();
    let u = create(&db, &["--username", "root", "--staff"]);
    assert_eq!(u["is_staff"], json!(true));
    let u = ok(run_cli(
        &db,
        &["user", "update", "1", "--staff=false"],
        None,
    ));
    assert_eq!(u["is_staff"], json!(false));
    let u = ok(run_cli(&db, &["user", "update", "1", "--staff"], None));
    assert_eq!(u["is_staff"], json!(true));
    let u = create(&db, &["--username", "ann"]);
    assert_eq!(u["is_staff"], json!(false));
}

#[test]
fn user_delete_removes_the_user_and_says_so_and_an_unknown_id_fails() {
    let (_db, db) = temp_db();
    create(&db, &["--username", "ann"]);
    create(&db, &["--username", "bob"]);
    assert_eq!(
        ok(run_cli(&db, &["user", "delete", "1"], None)),
        json!({"id": 1, "deleted": true})
    );
    assert_eq!(
        usernames(&ok(run_cli(&db, &["user", "list"], None))),
        ["bob"]
    );
    refused(
        &run_cli(&db, &["user", "delete", "1"], None),
        "user not found",
    );
    refused(
        &run_cli(&db, &["user", "show", "1"], None),
        "user not found",
    );
    // A new user never gets the deleted one's id.
    assert_eq!(create(&db, &["--username", "cy"])["id"], json!(3));
}

#[test]
fn user_sessions_prints_live_refresh_tokens_and_every_change_is_audited_as_cli() {
    let (_db, db) = temp_db();
    let password = "ann's long password";
    let run = run_cli(
        &db,
        &["user", "create", "--username", "ann", "--password-stdin"],
        Some(&format!("{password}\n")),
    );
    ok(run);
    assert_eq!(
        ok(run_cli(&db, &["user", "sessions", "1"], None)),
        json!([])
    );
    let server = Server::start(&db, &[]);
    let r = reqwest::blocking::Client::new()
        .post(format!("{}/accounts/login/", server.url))
        .json(&json!({"username": "ann", "password": password}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let refresh = r.json::<Value>().unwrap()["refresh"]
        .as_str()
        .unwrap()
        .to_owned();
    let jti = crate::harness::claims(&refresh)["jti"].clone();
    let sessions = ok(run_cli(&db, &["user", "sessions", "1"], None));
    let s = &sessions[0];
    assert_eq!(
        sessions,
        json!([{"id": jti, "kind": "refresh_token", "user_id": 1, "created_at": s["created_at"],
                "expires_at": s["expires_at"], "last_used": null}])
    );
    refused(
        &run_cli(&db, &["user", "sessions", "9"], None),
        "user not found",
    );
    ok(run_cli(&db, &["user", "logout", "1"], None));
    assert_eq!(
        ok(run_cli(&db, &["user", "sessions", "1"], None)),
        json!([])
    );
    ok(run_cli(&db, &["user", "deactivate", "1"], None));
    ok(run_cli(&db, &["user", "unlock", "1"], None));
    assert_eq!(server.stop(), 0);
    // The trail, read back from the database: one admin record per change,
    // from the command line.
    let records = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = accountd::store::open(&db).await.unwrap();
        let filter = accountd::domain::audit::AuditFilter {
            event: Some(accountd::domain::audit::EventKind::Admin),
            limit: 100,
            ..Default::default()
        };
        let mut all = store.audit(&filter).await.unwrap();
        store.close().await;
        all.reverse();
        all
    });
    let details: Vec<Value> = records
        .iter()
        .map(|r| {
            assert_eq!(
                (r.outcome.as_str(), r.contract.as_str(), r.client.as_str()),
                ("success", "cli", "local")
            );
            Value::Object(r.detail.clone().unwrap())
        })
        .collect();
    assert_eq!(
        details,
        [
            json!({"action": "create", "target": 1, "fields": ["username", "password"]}),
            json!({"action": "logout", "target": 1}),
            json!({"action": "deactivate", "target": 1}),
            json!({"action": "unlock", "target": 1, "cleared_attempts": 0}),
        ]
    );
    assert!(!format!("{records:?}").contains(password));
}

#[test]
fn backup_copies_the_database_while_a_server_writes_and_the_copy_holds_the_users() {
    let (_db, db) = temp_db();
    if !db.starts_with("sqlite:") {
        // PostgreSQL: one line naming pg_dump, non-zero, nothing written.
        let dir = tempfile::tempdir().unwrap();
        let to = dir.path().join("copy.db");
        refused(
            &run_cli(&db, &["backup", to.to_str().unwrap()], None),
            "backup copies SQLite databases; for PostgreSQL use pg_dump (e.g. pg_dump -Fc -f accountd.dump \"$ACCOUNTD_DATABASE_URL\")",
        );
        assert!(!to.exists());
        return;
    }
    let password = "a long enough password";
    for i in 0..20 {
        let name = format!("user{i:02}");
        ok(run_cli(
            &db,
            &["user", "create", "--username", &name, "--password-stdin"],
            Some(&format!("{password}\n")),
        ));
    }
    let server = Server::start(&db, &[]);
    // Logins in a loop while the copies are taken: each writes (last login,
    // attempts, refresh tokens, audit records).
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (url, flag) = (server.url.clone(), stop.clone());
    let writer = std::thread::spawn(move || {
        let client = reqwest::blocking::Client::new();
        let mut n = 0u32;
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            let r = client
                .post(format!("{url}/accounts/login/"))
                .json(&json!({"username": format!("user{:02}", n % 20), "password": password}))
                .send()
                .unwrap();
            assert_eq!(r.status(), 200);
            n += 1;
        }
        n
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    let dir = tempfile::tempdir().unwrap();
    let mut copies = Vec::new();
    for i in 0..3 {
        let to = dir.path().join(format!("copy{i}.db"));
        let done = ok(run_cli(&db, &["backup", to.to_str().unwrap()], None));
        let bytes = std::fs::metadata(&to).unwrap().len();
        assert_eq!(
            done,
            json!({"backup": to.to_str().unwrap(), "bytes": bytes, "users": 20})
        );
        assert_eq!(
            std::fs::metadata(&to).unwrap().permissions().mode() & 0o777,
            0o600
        );
        copies.push(to);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let logins = writer.join().unwrap();
    assert!(logins > 0);
    // Writing never stopped for the copies: the server still answers.
    assert_eq!(server.stop(), 0);
    for to in &copies {
        let url = format!("sqlite://{}", to.display());
        let users = ok(run_cli(&url, &["user", "list"], None));
        assert_eq!(users.as_array().unwrap().len(), 20);
        let check = rusqlite::Connection::open(to).unwrap();
        let integrity: String = check
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(integrity, "ok");
    }
    // A copy is never written over.
    refused(
        &run_cli(&db, &["backup", copies[0].to_str().unwrap()], None),
        &format!(
            "backup: {} already exists; give a new file",
            copies[0].display()
        ),
    );
}

#[test]
fn backup_of_a_database_that_is_not_there_fails_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let missing = format!("sqlite://{}", dir.path().join("none.db").display());
    let to = dir.path().join("copy.db");
    refused(
        &run_cli(&missing, &["backup", to.to_str().unwrap()], None),
        &format!(
            "backup: no database at {}",
            dir.path().join("none.db").display()
        ),
    );
    assert!(!to.exists());
    assert!(!dir.path().join("none.db").exists());
}
