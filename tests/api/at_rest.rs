//! The SQLite file at rest (issue 7, item 7): readable by its owner only,
//! and whole after a clean stop, so a plain copy is a backup.

use crate::harness::{backend, run_cli, Backend, Server};
use serde_json::json;
use std::os::unix::fs::PermissionsExt;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_database_file_and_its_wal_are_readable_by_the_owner_only() {
    if backend() != Backend::Sqlite {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("accountd.db").display());
    let server = Server::start(&db, &[]);
    let run = run_cli(&db, &["user", "create", "--username", "ann"], None);
    assert_eq!(run.code, 0, "{run:?}");
    for file in ["accountd.db", "accountd.db-wal", "accountd.db-shm"] {
        assert_eq!(mode(&dir.path().join(file)), 0o600, "{file}");
    }
    assert_eq!(server.stop(), 0);
}

#[test]
fn after_a_clean_stop_a_plain_copy_of_the_file_is_the_whole_database() {
    if backend() != Backend::Sqlite {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("accountd.db").display());
    let server = Server::start(&db, &[]);
    let run = run_cli(
        &db,
        &["user", "create", "--username", "ann", "--password-stdin"],
        Some("ann's long password\n"),
    );
    assert_eq!(run.code, 0, "{run:?}");
    // A login writes `last_login` through the server's own connection.
    let r = reqwest::blocking::Client::new()
        .post(format!("{}/api/login/", server.url))
        .json(&json!({"username": "ann", "password": "ann's long password"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(server.stop(), 0);
    // Only the main file is copied: nothing may be left in -wal.
    let copy = tempfile::tempdir().unwrap();
    std::fs::copy(dir.path().join("accountd.db"), copy.path().join("copy.db")).unwrap();
    let copied = format!("sqlite://{}", copy.path().join("copy.db").display());
    let run = run_cli(&copied, &["user", "list"], None);
    assert_eq!(run.code, 0, "{run:?}");
    let copied_users = run.json();
    let original = run_cli(&db, &["user", "list"], None).json();
    assert_eq!(copied_users, original);
    assert_eq!(original[0]["username"], json!("ann"));
    assert_ne!(
        original[0]["last_login"],
        serde_json::Value::Null,
        "{original}"
    );
}
