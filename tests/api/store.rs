//! The `Store` itself, on the backend under test: what no HTTP scenario
//! reaches directly.

use crate::harness::{backend, Backend, TestApp, TestDb};
use accountd::domain::phone::Phone;
use accountd::domain::ports::{
    Attempt, AttemptKey, AttemptReservation, Count, OtpCounts, OtpReservation, Reserved,
};

fn attempt<'a>(name: &'a str, client: &'a str, now: i64, max: i64) -> AttemptReservation<'a> {
    AttemptReservation {
        key: AttemptKey {
            scope: "login",
            name,
            client,
        },
        now,
        per_client: (now - 900, max),
        per_name: (now - 3600, 100),
        pending_since: now - 60,
    }
}

fn otp<'a>(phone: &'a Phone, client: &'a str, now: i64) -> OtpReservation<'a> {
    OtpReservation {
        phone,
        purpose: "login",
        code_hash: "h",
        client,
        now,
        expires_at: now + 300,
        resend_after: now - 60,
        window_start: now - 3600,
        max_per_phone: 5,
        max_per_client: 3,
        max_global: 1000,
    }
}

#[tokio::test]
async fn prune_removes_expired_rows_and_keeps_live_ones() {
    let app = TestApp::spawn().await;
    let user = app
        .user_with_password("ann", None, "ann's long password")
        .await;
    let store = app.state.accounts.store();
    let now = app.now();
    let phone = Phone::parse("+12025550123").unwrap();
    store
        .record_refresh_token("a", user.id, now, now + 10)
        .await
        .unwrap();
    store
        .record_refresh_token("b", user.id, now, now + 1_000_000)
        .await
        .unwrap();
    assert!(store.blacklist("a", user.id, now + 10, now).await.unwrap());
    assert!(!store.blacklist("a", user.id, now + 10, now).await.unwrap());
    let Attempt::Reserved(id) = store
        .reserve_attempt(&attempt("ann", "c", now, 10))
        .await
        .unwrap()
    else {
        panic!("no place for a first attempt");
    };
    let key = attempt("ann", "c", now, 10).key;
    store.settle_attempt(id, &key, true).await.unwrap();
    let reserved = store.reserve_otp(&otp(&phone, "c", now)).await.unwrap();
    assert!(matches!(reserved, Reserved::Granted(_)), "{reserved:?}");
    // Nothing has expired yet (the server's own pruner may have run first).
    assert_eq!(store.prune(now).await.unwrap(), 0);
    assert!(store.is_blacklisted("a").await.unwrap());
    // A day and more later: token "a", its blacklist entry, the failure and
    // the code go; token "b" stays.
    assert_eq!(store.prune(now + 86_401).await.unwrap(), 4);
    assert!(!store.is_blacklisted("a").await.unwrap());
    assert_eq!(app.count("SELECT COUNT(*) FROM attempts").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM refresh_tokens").await, 1);
}

#[tokio::test]
async fn attempts_hold_places_up_to_the_limit_counting_pending_and_failed_ones() {
    let app = TestApp::spawn().await;
    let store = app.state.accounts.store();
    let now = app.now();
    let mut ids = Vec::new();
    for i in 0..3 {
        match store
            .reserve_attempt(&attempt("k", "a", now + i, 3))
            .await
            .unwrap()
        {
            Attempt::Reserved(id) => ids.push(id),
            other => panic!("{other:?}"),
        }
    }
    // Three pending: no place, and no failure counted yet.
    let empty = Count { n: 0, oldest: None };
    assert_eq!(
        store
            .reserve_attempt(&attempt("k", "a", now + 5, 3))
            .await
            .unwrap(),
        Attempt::Refused {
            per_client: empty,
            per_name: empty
        }
    );
    // Another address, another name: places of their own.
    assert!(matches!(
        store
            .reserve_attempt(&attempt("k", "b", now, 3))
            .await
            .unwrap(),
        Attempt::Reserved(_)
    ));
    assert!(matches!(
        store
            .reserve_attempt(&attempt("other", "a", now, 3))
            .await
            .unwrap(),
        Attempt::Reserved(_)
    ));
    // Two fail, one succeeds: the success forgets this address's failures.
    let key = attempt("k", "a", now, 3).key;
    store.settle_attempt(ids[0], &key, true).await.unwrap();
    store.settle_attempt(ids[1], &key, true).await.unwrap();
    assert_eq!(
        store
            .reserve_attempt(&attempt("k", "a", now + 5, 2))
            .await
            .unwrap(),
        Attempt::Refused {
            per_client: Count {
                n: 2,
                oldest: Some(now)
            },
            per_name: Count {
                n: 2,
                oldest: Some(now)
            },
        }
    );
    store.settle_attempt(ids[2], &key, false).await.unwrap();
    assert_eq!(
        app.count("SELECT COUNT(*) FROM attempts WHERE name = 'k' AND client = 'a'")
            .await,
        0
    );
    // A pending attempt abandoned over a minute ago holds no place.
    assert!(matches!(
        store
            .reserve_attempt(&attempt("z", "a", now, 1))
            .await
            .unwrap(),
        Attempt::Reserved(_)
    ));
    assert!(matches!(
        store
            .reserve_attempt(&attempt("z", "a", now + 61, 1))
            .await
            .unwrap(),
        Attempt::Reserved(_)
    ));
}

#[tokio::test]
async fn codes_are_refused_past_the_address_budget_with_the_counts() {
    let app = TestApp::spawn().await;
    let store = app.state.accounts.store();
    let now = app.now();
    let phones: Vec<Phone> = (0..4)
        .map(|i| Phone::parse(&format!("+1202555010{i}")).unwrap())
        .collect();
    for (i, p) in phones.iter().take(3).enumerate() {
        let r = store
            .reserve_otp(&otp(p, "addr", now + i as i64))
            .await
            .unwrap();
        assert!(matches!(r, Reserved::Granted(_)), "{r:?}");
    }
    let r = store
        .reserve_otp(&otp(&phones[3], "addr", now + 5))
        .await
        .unwrap();
    assert_eq!(
        r,
        Reserved::Refused(OtpCounts {
            last_sent: None,
            phone: Count { n: 0, oldest: None },
            client: Count {
                n: 3,
                oldest: Some(now)
            },
            global: Count {
                n: 3,
                oldest: Some(now)
            },
        })
    );
    // Another address is within its own budget.
    let r = store
        .reserve_otp(&otp(&phones[3], "other", now + 5))
        .await
        .unwrap();
    assert!(matches!(r, Reserved::Granted(_)), "{r:?}");
}

/// The schema of a database as a set of comparable lines: every column
/// (table, name, type family, NOT NULL) and every index (table, columns,
/// unique; with its name unless it only backs a UNIQUE constraint). Primary
/// keys count as NOT NULL, as PostgreSQL reports them.
async fn schema_of(url: &str) -> std::collections::BTreeSet<String> {
    let mut lines = std::collections::BTreeSet::new();
    let family = |t: &str| match t.to_lowercase().as_str() {
        "bigint" | "integer" => "int".to_owned(),
        "text" => "text".to_owned(),
        "boolean" => "bool".to_owned(),
        other => other.to_owned(),
    };
    if let Some(path) = url.strip_prefix("sqlite://") {
        let conn = rusqlite::Connection::open(path).unwrap();
        let tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != '_sqlx_migrations'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for t in tables {
            let cols: Vec<(String, String, bool, bool)> = conn
                .prepare(&format!("PRAGMA table_info({t})"))
                .unwrap()
                .query_map([], |r| {
                    Ok((
                        r.get(1)?,
                        r.get(2)?,
                        r.get::<_, i64>(3)? != 0,
                        r.get::<_, i64>(5)? != 0,
                    ))
                })
                .unwrap()
                .map(Result::unwrap)
                .collect();
            for (name, ty, notnull, pk) in cols {
                lines.insert(format!(
                    "column {t}.{name} {} {}",
                    family(&ty),
                    notnull || pk
                ));
            }
            let indexes: Vec<(String, bool, String)> = conn
                .prepare(&format!("PRAGMA index_list({t})"))
                .unwrap()
                .query_map([], |r| Ok((r.get(1)?, r.get::<_, i64>(2)? != 0, r.get(3)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            for (name, unique, origin) in indexes {
                if origin == "pk" {
                    continue;
                }
                let cols: Vec<String> = conn
                    .prepare(&format!("PRAGMA index_info({name})"))
                    .unwrap()
                    .query_map([], |r| r.get(2))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect();
                let label = if origin == "u" { "" } else { name.as_str() };
                lines.insert(format!(
                    "index {t}({}) unique={unique} {label}",
                    cols.join(",")
                ));
            }
        }
    } else {
        use sqlx::{Connection, Row};
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        let cols = sqlx::query(
            "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text
             FROM information_schema.columns
             WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations'",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        for r in cols {
            let (t, c, ty, nullable): (String, String, String, String) =
                (r.get(0), r.get(1), r.get(2), r.get(3));
            lines.insert(format!(
                "column {t}.{c} {} {}",
                family(&ty),
                nullable == "NO"
            ));
        }
        let indexes = sqlx::query(
            "SELECT t.relname::text, i.relname::text, x.indisunique,
                    array_to_string(ARRAY(SELECT a.attname::text FROM unnest(x.indkey) WITH ORDINALITY k(n, o)
                        JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.n ORDER BY k.o), ','),
                    EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid AND c.contype = 'u')
             FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
             JOIN pg_namespace n ON n.oid = t.relnamespace
             WHERE n.nspname = 'public' AND NOT x.indisprimary AND t.relname <> '_sqlx_migrations'",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        for r in indexes {
            let (t, name, unique, cols, constraint): (String, String, bool, String, bool) =
                (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4));
            let label = if constraint { "" } else { name.as_str() };
            lines.insert(format!("index {t}({cols}) unique={unique} {label}"));
        }
        conn.close().await.unwrap();
    }
    lines
}

#[tokio::test]
async fn the_migrations_build_the_same_schema_on_sqlite_and_postgresql() {
    // Needs both servers: runs in the PostgreSQL pass of the suite.
    if backend() != Backend::Postgres {
        return;
    }
    let (lite, pg) = (
        TestDb::create_on(Backend::Sqlite),
        TestDb::create_on(Backend::Postgres),
    );
    accountd::store::open(&lite.url)
        .await
        .unwrap()
        .close()
        .await;
    accountd::store::open(&pg.url).await.unwrap().close().await;
    let (a, b) = (schema_of(&lite.url).await, schema_of(&pg.url).await);
    assert!(
        a.len() > 40 && a.iter().filter(|l| l.starts_with("index")).count() >= 12,
        "{a:#?}"
    );
    assert_eq!(
        a.symmetric_difference(&b).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "SQLite and PostgreSQL schemas differ"
    );
}

/// Apply the migrations the previous release kept per backend, recorded in
/// `_sqlx_migrations` as sqlx's migrator recorded them.
async fn migrate_as_the_previous_release(url: &str) {
    use sha2::{Digest, Sha384};
    let dir = match backend() {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let files = ["0001_core.sql", "0002_sessions.sql"];
    let scripts: Vec<(i64, &str, String)> = files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let path = format!(
                "{}/tests/fixtures/previous-migrations/{dir}/{f}",
                env!("CARGO_MANIFEST_DIR")
            );
            let desc = &f[5..f.len() - 4];
            (i as i64 + 1, desc, std::fs::read_to_string(path).unwrap())
        })
        .collect();
    match backend() {
        Backend::Sqlite => {
            let conn = rusqlite::Connection::open(url.trim_start_matches("sqlite://")).unwrap();
            conn.execute_batch(
                "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL,
                 installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, success BOOLEAN NOT NULL,
                 checksum BLOB NOT NULL, execution_time BIGINT NOT NULL)",
            )
            .unwrap();
            for (v, d, sql) in &scripts {
                conn.execute_batch(sql).unwrap();
                conn.execute(
                    "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (?1, ?2, 1, ?3, 1)",
                    rusqlite::params![v, d, Sha384::digest(sql.as_bytes()).to_vec()],
                )
                .unwrap();
            }
        }
        Backend::Postgres => {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::raw_sql(
                "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL,
                 installed_on TIMESTAMPTZ NOT NULL DEFAULT now(), success BOOLEAN NOT NULL,
                 checksum BYTEA NOT NULL, execution_time BIGINT NOT NULL)",
            )
            .execute(&mut conn)
            .await
            .unwrap();
            for (v, d, sql) in &scripts {
                sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
                sqlx::query("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES ($1, $2, TRUE, $3, 1)")
                    .bind(v)
                    .bind(*d)
                    .bind(Sha384::digest(sql.as_bytes()).to_vec())
                    .execute(&mut conn)
                    .await
                    .unwrap();
            }
            conn.close().await.unwrap();
        }
    }
}

#[tokio::test]
async fn a_database_of_the_previous_release_is_upgraded_to_the_schema_of_a_new_one() {
    let (old, new) = (TestDb::create(), TestDb::create());
    if backend() == Backend::Sqlite {
        // The file must exist before the previous release's SQL runs in it.
        rusqlite::Connection::open(old.url.trim_start_matches("sqlite://")).unwrap();
    }
    migrate_as_the_previous_release(&old.url).await;
    accountd::store::open(&old.url).await.unwrap().close().await;
    accountd::store::open(&new.url).await.unwrap().close().await;
    assert_eq!(schema_of(&old.url).await, schema_of(&new.url).await);
    // And a second start finds nothing to do.
    accountd::store::open(&old.url).await.unwrap().close().await;
}

#[tokio::test]
async fn a_database_whose_applied_migration_was_edited_is_refused() {
    let db = TestDb::create();
    accountd::store::open(&db.url).await.unwrap().close().await;
    match backend() {
        Backend::Sqlite => rusqlite::Connection::open(db.url.trim_start_matches("sqlite://"))
            .unwrap()
            .execute_batch("UPDATE _sqlx_migrations SET checksum = X'00' WHERE version = 2")
            .unwrap(),
        Backend::Postgres => {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
            sqlx::query("UPDATE _sqlx_migrations SET checksum = '\\x00'::bytea WHERE version = 2")
                .execute(&mut conn)
                .await
                .unwrap();
        }
    }
    let Err(e) = accountd::store::open(&db.url).await else {
        panic!("an edited migration was accepted");
    };
    assert!(
        e.to_string()
            .contains("migration 2 was applied from a different file"),
        "{e}"
    );
}

/// Statements (on PostgreSQL, round trips) one request sends.
async fn statements_of<F: std::future::Future<Output = crate::harness::Reply>>(
    app: &TestApp,
    request: F,
) -> (reqwest::StatusCode, u64) {
    let store = app.state.accounts.store().clone();
    let before = store.statements();
    let r = request.await;
    let after = store.statements();
    (r.status, after - before)
}

#[tokio::test]
async fn profile_refresh_and_me_take_one_database_round_trip_each() {
    use serde_json::json;
    // The audit trail is written apart from requests, in batches.
    let app = TestApp::spawn_without_audit().await;
    app.user_with_password("ann", Some("+12025550123"), "ann's long password")
        .await;
    let r = app
        .post(
            "/api/auth/login/",
            json!({"username": "ann", "password": "ann's long password"}),
        )
        .await;
    let access = r.body["access_token"].as_str().unwrap().to_owned();
    let refresh = r.body["refresh_token"].as_str().unwrap().to_owned();
    app.post(
        "/api/accounts/auth/send-otp/",
        json!({"phone_number": "+12025550123"}),
    )
    .await;
    let r = app
        .post(
            "/api/accounts/auth/verify-otp/",
            json!({"phone_number": "+12025550123", "otp": app.sms.last_code("+12025550123")}),
        )
        .await;
    let session_access = r.body["access_token"].as_str().unwrap().to_owned();
    let ok = reqwest::StatusCode::OK;
    assert_eq!(
        statements_of(&app, app.get("/api/auth/profile/", Some(&access))).await,
        (ok, 1)
    );
    assert_eq!(
        statements_of(
            &app,
            app.post("/api/auth/refresh/", json!({"refresh_token": refresh}))
        )
        .await,
        (ok, 1)
    );
    assert_eq!(
        statements_of(
            &app,
            app.get("/api/accounts/auth/me/", Some(&session_access))
        )
        .await,
        (ok, 1)
    );
}
