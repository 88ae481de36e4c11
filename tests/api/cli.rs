//! The operator's commands, through the real binary (INTERFACE.md, "The binary and its commands").

use crate::harness::{run_cli, temp_db};
use serde_json::json;

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
    assert_eq!(run.code, 0, "{run:?}");
    let mut user = run.json();
    let joined = user["date_joined"].take();
    assert!(joined.as_str().unwrap().ends_with('Z'), "{joined}");
    assert_eq!(
        user,
        json!({"id": 1, "username": "ann", "email": "ann@example.com", "phone": "+255712345678",
               "first_name": "Ann", "last_name": "Lee", "role": "AGENT", "is_active": true,
               "otp_enabled": false, "date_joined": null, "last_login": null, "profile": {"agent_id": "AG1"}})
    );
    assert!(!run.stdout.contains("argon2"));
}
