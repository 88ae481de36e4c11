//! `accountd import django` (issue 9, INTERFACE.md "Import"): a real Django
//! database comes over with its ids, password hashes, profiles and simplejwt
//! tokens; bad input fails naming each bad row and writes nothing; a second
//! run changes nothing; `--dry-run` writes nothing. The real binary for the
//! CLI, real HTTP for what users then do.

use crate::django::django_fixture;
use crate::harness::{backend, run_cli, Backend, Run, TestApp, TestDb};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const LOGIN: &str = "/api/auth/login/";
const PROFILE: &str = "/api/auth/profile/";
const REFRESH: &str = "/api/token/refresh/";
const TODAY: &str = "$argon2id$v=19$m=19456,t=2,p=1$";
/// Imports recorded in the audit trail (as the command line's admin actions).
const IMPORTS_AUDITED: &str = "SELECT COUNT(*) FROM audit_events
    WHERE event = 'admin' AND contract = 'cli' AND detail LIKE '%\"action\":\"import\"%'";

/// `accountd import django` of the fixture's custom user model.
fn import(app: &TestApp, from: &str, table: &str, more: &[&str]) -> Run {
    let mut args = vec![
        "import",
        "django",
        "--from",
        from,
        "--user-table",
        table,
        "--phone-column",
        "phone_number",
        "--role-column",
        "user_type",
    ];
    args.extend_from_slice(more);
    run_cli(&app.db_url, &args, None)
}

/// What the fixture holds: 7 users (one with an unusable password), a live
/// refresh token for each of the 6 who logged in, one of them blacklisted.
fn fixture_summary() -> Value {
    json!({
        "users": 7,
        "outstanding_tokens": 6,
        "blacklisted_tokens": 1,
        "without_password": 1,
        "unknown_hash_formats": []
    })
}

/// Rows in the tables an import writes.
async fn counts(app: &TestApp) -> [i64; 3] {
    [
        app.count("SELECT COUNT(*) FROM users").await,
        app.count("SELECT COUNT(*) FROM refresh_tokens").await,
        app.count("SELECT COUNT(*) FROM blacklisted_tokens").await,
    ]
}

/// The university user object of a fixture user, as accountd must show it.
fn university_user(u: &Value) -> Value {
    let extra = &u["extra"];
    json!({
        "id": u["id"],
        "username": u["username"],
        "email": u["email"],
        "first_name": u["first_name"],
        "last_name": u["last_name"],
        "university_id": null,
        "user_type": extra["user_type"],
        "phone_number": extra["phone_number"],
        "date_of_birth": extra["date_of_birth"],
        "major": null,
        "academic_level": null,
        "enrollment_year": null,
        "department": null,
        "position": null,
        "is_student": extra["user_type"] == "student",
        "is_staff_member": extra["user_type"] == "staff",
        "student_profile": null,
        "staff_profile": null
    })
}

/// The stored hash once it is no longer `old` (the upgrade runs after the answer).
async fn hash_after(app: &TestApp, id: i64, old: &str) -> String {
    let start = Instant::now();
    loop {
        let user = app
            .state
            .accounts
            .store()
            .user_by_id(accountd::domain::user::UserId(id))
            .await
            .unwrap()
            .unwrap();
        let now = user.password_hash.unwrap_or_default();
        if now != old || start.elapsed() > Duration::from_secs(20) {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Everything the fixture promises, over HTTP, once it is imported.
async fn users_keep_everything(app: &TestApp, fixture: &Value) {
    let store = app.state.accounts.store();
    for u in fixture["users"].as_array().unwrap() {
        let (id, name) = (u["id"].as_i64().unwrap(), u["username"].as_str().unwrap());
        let stored = store
            .user_by_id(accountd::domain::user::UserId(id))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("user {id} was not imported"));
        assert_eq!(stored.username.as_deref(), Some(name), "ids are kept");
        // Columns no field takes go into the profile as DRF shows them.
        let mut profile = json!({});
        for key in ["date_of_birth", "gpa"] {
            if !u["extra"][key].is_null() {
                profile[key] = u["extra"][key].clone();
            }
        }
        assert_eq!(Value::Object(stored.profile.clone()), profile, "{name}");
        let Some(password) = u["password"].as_str() else {
            // Django's unusable password: no password here either.
            assert_eq!(stored.password_hash, None, "{name}");
            let r = app
                .post(
                    LOGIN,
                    json!({"username": name, "password": "anything at all"}),
                )
                .await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{name}: {}", r.text);
            continue;
        };
        let old_hash = u["hash"].as_str().unwrap();
        assert_eq!(stored.password_hash.as_deref(), Some(old_hash), "{name}");

        // The refresh token Django issued refreshes here (simplejwt 5.5
        // writes user_id as a string), at every simplejwt contract; the
        // blacklisted one stays refused, in each contract's words.
        let refresh = &u["refresh"];
        let answers = [
            (
                app.post(REFRESH, json!({"refresh": refresh})).await,
                json!({"access": "<jwt>"}),
                json!({"error": "Invalid or expired refresh token"}),
            ),
            (
                app.post("/accounts/refresh/", json!({"refresh": refresh}))
                    .await,
                json!({"access": "<jwt>"}),
                json!({"detail": "Token is blacklisted", "code": "token_not_valid"}),
            ),
            (
                app.post("/api/auth/refresh/", json!({"refresh_token": refresh}))
                    .await,
                json!({"success": true, "access_token": "<jwt>"}),
                json!({"success": false, "message": "Invalid refresh token"}),
            ),
        ];
        for (r, works, refused) in answers {
            let want = match u["blacklisted"] == true {
                true => (StatusCode::UNAUTHORIZED, refused),
                false => (StatusCode::OK, works),
            };
            assert_eq!((r.status, r.redacted()), want, "{name}");
        }
        // Django's access token is taken too, and shows the extra columns.
        let r = app.get(PROFILE, u["access"].as_str()).await;
        assert_eq!(
            (r.status, r.body),
            (
                StatusCode::OK,
                json!({"success": true, "user": university_user(u)})
            ),
            "{name}"
        );

        // The old password signs in, and the hash becomes argon2id.
        let r = app
            .post(LOGIN, json!({"username": name, "password": password}))
            .await;
        assert_eq!(
            (r.status, r.redacted()),
            (
                StatusCode::OK,
                json!({
                    "success": true,
                    "message": "Login successful",
                    "access_token": "<jwt>",
                    "refresh_token": "<jwt>",
                    "user": university_user(u)
                })
            ),
            "{name}"
        );
        let fresh = hash_after(app, id, old_hash).await;
        assert!(fresh.starts_with(TODAY), "{name}: {fresh}");
    }
}

#[tokio::test]
async fn a_real_django_database_comes_over_with_ids_passwords_profiles_and_tokens() {
    // Django's own SQLite file; accountd on the backend under test.
    let django = TestDb::create_on(Backend::Sqlite);
    let fixture = django_fixture(&django.url);
    let table = fixture["user_table"].as_str().unwrap();
    let key = fixture["signing_key"].as_str().unwrap().to_owned();
    let app = TestApp::spawn_with(|c| c.jwt_secret = Some(key)).await;

    // A dry run reads and checks everything, and writes nothing.
    let dry = import(&app, &django.url, table, &["--dry-run"]);
    assert_eq!((dry.code, dry.json()), (0, fixture_summary()), "{dry:?}");
    assert_eq!(counts(&app).await, [0, 0, 0]);
    assert_eq!(app.count(IMPORTS_AUDITED).await, 0);

    let run = import(&app, &django.url, table, &[]);
    assert_eq!((run.code, run.json()), (0, fixture_summary()), "{run:?}");
    assert_eq!(counts(&app).await, [7, 6, 1]);
    // The operator's import is in the audit trail, with its counts.
    assert_eq!(app.count(IMPORTS_AUDITED).await, 1);

    // Again over the same data: the same summary, and nothing changes.
    let list = || run_cli(&app.db_url, &["user", "list"], None).json();
    let before = list();
    let again = import(&app, &django.url, table, &[]);
    assert_eq!(
        (again.code, again.json()),
        (0, fixture_summary()),
        "{again:?}"
    );
    assert_eq!(list(), before);
    assert_eq!(counts(&app).await, [7, 6, 1]);

    users_keep_everything(&app, &fixture).await;

    // A user made afterwards gets the id after the imported ones.
    let made = run_cli(
        &app.db_url,
        &["user", "create", "--username", "after_import"],
        None,
    );
    assert_eq!((made.code, &made.json()["id"]), (0, &json!(8)), "{made:?}");

    // Once users signed in here, another run keeps accountd's hashes and
    // their later logins.
    let after_logins = list();
    let third = import(&app, &django.url, table, &[]);
    assert_eq!((third.code, third.json()), (0, fixture_summary()));
    assert_eq!(list(), after_logins);
    for u in fixture["users"].as_array().unwrap() {
        if u["password"].is_string() {
            let id = u["id"].as_i64().unwrap();
            let kept = hash_after(&app, id, "").await;
            assert!(kept.starts_with(TODAY), "{kept}");
        }
    }
}

#[tokio::test]
async fn a_django_database_on_postgresql_comes_over_too() {
    // Needs a PostgreSQL server for Django: runs in the PostgreSQL pass.
    if backend() != Backend::Postgres {
        return;
    }
    let django = TestDb::create_on(Backend::Postgres);
    let fixture = django_fixture(&django.url);
    let table = fixture["user_table"].as_str().unwrap();
    let key = fixture["signing_key"].as_str().unwrap().to_owned();
    let app = TestApp::spawn_with(|c| c.jwt_secret = Some(key)).await;
    let run = import(&app, &django.url, table, &[]);
    assert_eq!((run.code, run.json()), (0, fixture_summary()), "{run:?}");
    users_keep_everything(&app, &fixture).await;
    let made = run_cli(
        &app.db_url,
        &["user", "create", "--username", "after_import"],
        None,
    );
    assert_eq!((made.code, &made.json()["id"]), (0, &json!(8)), "{made:?}");
}

/// A Django SQLite file with `auth_user` as Django's migrations make it,
/// holding `rows` (id, username, email, password).
fn django_sqlite(dir: &tempfile::TempDir, rows: &[(i64, &str, &str, &str)]) -> String {
    let path = dir.path().join("django.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        r#"CREATE TABLE "auth_user" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT,
            "password" varchar(128) NOT NULL, "last_login" datetime NULL,
            "is_superuser" bool NOT NULL, "username" varchar(150) NOT NULL UNIQUE,
            "last_name" varchar(150) NOT NULL, "email" varchar(254) NOT NULL,
            "is_staff" bool NOT NULL, "is_active" bool NOT NULL,
            "date_joined" datetime NOT NULL, "first_name" varchar(150) NOT NULL);"#,
    )
    .unwrap();
    for (id, username, email, password) in rows {
        conn.execute(
            "INSERT INTO auth_user (id, password, last_login, is_superuser, username, last_name,
                 email, is_staff, is_active, date_joined, first_name)
             VALUES (?1, ?2, NULL, 0, ?3, '', ?4, 0, 1, '2024-03-01 09:30:00.123456', '')",
            rusqlite::params![id, password, username, email],
        )
        .unwrap();
    }
    format!("sqlite://{}", path.display())
}

/// `PBKDF2PasswordHasher().encode("old django password", "cheapsaltcheapsalt",
/// iterations=1000)` by real Django 5.2 (cheap, so the test is fast).
const PBKDF2: &str =
    "pbkdf2_sha256$1000$cheapsaltcheapsalt$MECEd+XuBXgmszoGzEDUYnfJEcVzzy/fN0kJrSaPH2E=";

fn stderr_lines(run: &Run) -> Vec<&str> {
    run.stderr.lines().collect()
}

#[tokio::test]
async fn rows_whose_id_or_username_another_user_has_fail_the_import_by_name_and_nothing_is_written()
{
    let app = TestApp::spawn().await;
    let bob = app
        .user_with_password("bob", None, "bob's long password")
        .await;
    assert_eq!(bob.id.0, 1);
    let dir = tempfile::tempdir().unwrap();
    let from = django_sqlite(
        &dir,
        &[
            (1, "alice", "alice@example.com", PBKDF2),
            (5, "bob", "", PBKDF2),
            (6, "carol", "", PBKDF2),
        ],
    );
    let run = run_cli(&app.db_url, &["import", "django", "--from", &from], None);
    assert_eq!((run.code, run.stdout.as_str()), (1, ""), "{run:?}");
    assert_eq!(
        stderr_lines(&run),
        [
            "accountd: import: user id 1 (\"alice\"): id 1 is another user in accountd (user 1 (\"bob\"))",
            "accountd: import: user id 5 (\"bob\"): its username \"bob\" is also that of user 1 (\"bob\") in accountd",
            "accountd: import failed: 2 rows cannot be imported; nothing was written",
        ]
    );
    assert_eq!(counts(&app).await, [1, 0, 0]);
    assert_eq!(app.reload(&bob).await, bob);
}

#[tokio::test]
async fn a_hash_in_an_unknown_format_is_imported_as_no_password_and_listed() {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let from = django_sqlite(
        &dir,
        &[
            (
                3,
                "md5_user",
                "",
                "md5$salt$8c5e4ab8e1f4b5d2b3c0b1a2d3e4f5a6",
            ),
            (4, "plain_user", "", "a password stored in clear"),
            (9, "pbkdf2_user", "p@example.com", PBKDF2),
        ],
    );
    let run = run_cli(&app.db_url, &["import", "django", "--from", &from], None);
    assert_eq!(
        (run.code, run.json()),
        (
            0,
            json!({
                "users": 3,
                "outstanding_tokens": 0,
                "blacklisted_tokens": 0,
                "without_password": 2,
                "unknown_hash_formats": [
                    {"id": 3, "format": "md5"},
                    {"id": 4, "format": "unrecognised"}
                ]
            })
        ),
        "{run:?}"
    );
    let users = run_cli(&app.db_url, &["user", "list"], None).json();
    assert_eq!(
        users
            .as_array()
            .unwrap()
            .iter()
            .map(|u| (
                u["id"].clone(),
                u["username"].clone(),
                u["email"].clone(),
                u["date_joined"].clone()
            ))
            .collect::<Vec<_>>(),
        [
            (
                json!(3),
                json!("md5_user"),
                Value::Null,
                json!("2024-03-01T09:30:00Z")
            ),
            (
                json!(4),
                json!("plain_user"),
                Value::Null,
                json!("2024-03-01T09:30:00Z")
            ),
            (
                json!(9),
                json!("pbkdf2_user"),
                json!("p@example.com"),
                json!("2024-03-01T09:30:00Z")
            ),
        ]
    );
    let store = app.state.accounts.store();
    for (id, username) in [(3, "md5_user"), (4, "plain_user")] {
        let u = store
            .user_by_id(accountd::domain::user::UserId(id))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(u.password_hash, None, "{username}");
    }
    // Nobody signs in with what was stored for them; the known format does.
    let login = |u: &'static str, p: &'static str| {
        app.post("/api/login/", json!({"username": u, "password": p}))
    };
    assert_eq!(
        login("plain_user", "a password stored in clear")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let r = login("pbkdf2_user", "old django password").await;
    assert_eq!(
        (r.status, r.redacted()),
        (
            StatusCode::OK,
            json!({"refresh": "<jwt>", "access": "<jwt>"})
        )
    );
}

#[tokio::test]
async fn an_unreachable_or_missing_source_database_fails_clearly_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let missing = format!("sqlite://{}", dir.path().join("no-such.db").display());
    for (from, says) in [
        (
            "postgres://django:secret@127.0.0.1:1/django".to_owned(),
            "accountd: import: cannot read the source database postgres://django:***@127.0.0.1:1/django: ",
        ),
        (
            missing.clone(),
            "accountd: import: cannot read the source database sqlite://",
        ),
    ] {
        let run = run_cli(&app.db_url, &["import", "django", "--from", &from], None);
        assert_eq!((run.code, run.stdout.as_str()), (1, ""), "{run:?}");
        let lines = stderr_lines(&run);
        assert_eq!(lines.len(), 1, "{run:?}");
        assert!(lines[0].starts_with(says), "{run:?}");
        assert!(lines[0].ends_with("; nothing was written"), "{run:?}");
        assert!(!run.stderr.contains("secret"), "{run:?}");
    }
    // The file was not created by trying.
    assert!(!dir.path().join("no-such.db").exists());
    // A table that is not there, or a column that is not: named.
    let from = django_sqlite(&dir, &[(1, "ann", "", PBKDF2)]);
    let run = run_cli(
        &app.db_url,
        &[
            "import",
            "django",
            "--from",
            &from,
            "--user-table",
            "accounts_user",
        ],
        None,
    );
    assert_eq!(
        (run.code, stderr_lines(&run)),
        (
            1,
            vec!["accountd: import: the Django database has no table accounts_user (a custom user model's table: give --user-table); nothing was written"]
        )
    );
    let run = run_cli(
        &app.db_url,
        &[
            "import",
            "django",
            "--from",
            &from,
            "--phone-column",
            "mobile",
        ],
        None,
    );
    assert_eq!(
        (run.code, stderr_lines(&run)),
        (
            1,
            vec!["accountd: import: --phone-column: table auth_user has no column \"mobile\"; nothing was written"]
        )
    );
    assert_eq!(counts(&app).await, [0, 0, 0]);
}
