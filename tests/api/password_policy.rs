//! The password policy, through the real binary as operators meet it: every
//! rule refused with one line naming it, a non-zero exit, and nothing stored.

use crate::harness::{run_cli, temp_db, Run};
use accountd::domain::user::User;

/// Every stored user, password hashes included, read through the store.
fn stored(db: &str) -> Vec<User> {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        accountd::store::open(db)
            .await
            .unwrap()
            .list_users()
            .await
            .unwrap()
    })
}

fn assert_refused(run: &Run, message: &str) {
    assert_ne!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "", "{run:?}");
    assert_eq!(
        run.stderr.trim_end(),
        format!("accountd: {message}"),
        "{run:?}"
    );
    assert_eq!(run.stderr.trim_end().lines().count(), 1, "{run:?}");
}

const SHORT: &str = "password: too short: use at least 8 characters";
const LONG: &str = "password: too long: use at most 1024 bytes";
const COMMON: &str = "password: too common: it is on the list of the most common passwords";

#[test]
fn user_create_refuses_a_password_that_breaks_any_rule_and_stores_nothing() {
    let (_dir, db) = temp_db();
    let who = [
        "--username",
        "annabelle7",
        "--email",
        "ann.belle@uni.example",
        "--phone",
        "+255712345678",
    ];
    let too_long = "x".repeat(1025);
    let cases: [(&str, &str); 9] = [
        ("", SHORT),
        ("seven77", SHORT),
        (&too_long, LONG),
        ("AnnaBelle7", "password: the same as the username"),
        ("ANN.BELLE@uni.example", "password: the same as the email"),
        ("+255712345678", "password: the same as the phone"),
        ("255712345678", "password: the same as the phone"),
        ("password1", COMMON),
        ("QWERTY123", COMMON),
    ];
    for (password, message) in cases {
        let mut args = vec!["user", "create"];
        args.extend(who);
        args.extend(["--password", password]);
        assert_refused(&run_cli(&db, &args, None), message);
    }
    // The same rules hold for a password read from standard input.
    let mut args = vec!["user", "create", "--password-stdin"];
    args.extend(who);
    assert_refused(&run_cli(&db, &args, Some("iloveyou\n")), COMMON);
    assert_eq!(stored(&db), Vec::<User>::new());
    let list = run_cli(&db, &["user", "list"], None);
    assert_eq!((list.code, list.json()), (0, serde_json::json!([])));
}

#[test]
fn user_create_accepts_a_password_that_keeps_every_rule() {
    let (_dir, db) = temp_db();
    // Exactly eight characters, and exactly 1024 bytes, are both allowed.
    let run = run_cli(
        &db,
        &[
            "user",
            "create",
            "--username",
            "ann",
            "--password",
            "t1ger-Mo",
        ],
        None,
    );
    assert_eq!(run.code, 0, "{run:?}");
    let longest = "é".repeat(512);
    let run = run_cli(
        &db,
        &["user", "create", "--username", "bob", "--password-stdin"],
        Some(&format!("{longest}\n")),
    );
    assert_eq!(run.code, 0, "{run:?}");
    let users = stored(&db);
    assert_eq!(users.len(), 2);
    assert!(users.iter().all(|u| u
        .password_hash
        .as_deref()
        .is_some_and(|h| h.starts_with("$argon2id$"))));
}

#[test]
fn user_update_refuses_a_password_that_breaks_any_rule_and_changes_nothing() {
    let (_dir, db) = temp_db();
    let created = run_cli(
        &db,
        &[
            "user",
            "create",
            "--username",
            "annabelle7",
            "--email",
            "ann.belle@uni.example",
            "--phone",
            "+255712345678",
            "--password",
            "a perfectly fine passphrase",
        ],
        None,
    );
    assert_eq!(created.code, 0, "{created:?}");
    let before = stored(&db);
    let too_long = "x".repeat(1025);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--password", "seven77"], SHORT),
        (vec!["--password", &too_long], LONG),
        (
            vec!["--password", "ANNABELLE7"],
            "password: the same as the username",
        ),
        (
            vec!["--password", "ann.belle@UNI.example"],
            "password: the same as the email",
        ),
        (
            vec!["--password", "+255712345678"],
            "password: the same as the phone",
        ),
        (vec!["--password", "Sunshine"], COMMON),
        // Checked against the account as it will be: the new username, email and phone.
        (
            vec!["--username", "newname12", "--password", "NewName12"],
            "password: the same as the username",
        ),
        (
            vec![
                "--email",
                "new.one@uni.example",
                "--password",
                "new.one@uni.example",
            ],
            "password: the same as the email",
        ),
        (
            vec!["--phone", "+12025550123", "--password", "12025550123"],
            "password: the same as the phone",
        ),
        // A refused password leaves the other changes unmade too.
        (
            vec!["--first-name", "Anna", "--password", "football1"],
            COMMON,
        ),
    ];
    for (flags, message) in cases {
        let mut args = vec!["user", "update", "1"];
        args.extend(flags);
        assert_refused(&run_cli(&db, &args, None), message);
    }
    assert_refused(
        &run_cli(
            &db,
            &["user", "update", "1", "--password-stdin"],
            Some("password1\n"),
        ),
        COMMON,
    );
    assert_eq!(stored(&db), before);
    // A good one is taken, and replaces the hash.
    let run = run_cli(
        &db,
        &[
            "user",
            "update",
            "1",
            "--password",
            "another fine passphrase",
        ],
        None,
    );
    assert_eq!(run.code, 0, "{run:?}");
    let after = stored(&db);
    assert_ne!(after[0].password_hash, before[0].password_hash);
}
