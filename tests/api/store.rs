//! The `Store` itself, on the backend under test: what no HTTP scenario
//! reaches directly.

use crate::harness::{backend, Backend, TestApp, TestDb};
use accountd::domain::phone::Phone;
use accountd::domain::ports::{LoginAttempt, OtpReservation, Reserved};

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
    assert_eq!(
        store
            .reserve_login_attempt("ann", now, now - 900, 10)
            .await
            .unwrap(),
        LoginAttempt::Counted
    );
    let reserved = store
        .reserve_otp(&OtpReservation {
            phone: &phone,
            purpose: "login",
            code_hash: "h",
            now,
            expires_at: now + 300,
            resend_after: now - 60,
            window_start: now - 3600,
            max_in_window: 5,
        })
        .await
        .unwrap();
    assert!(matches!(reserved, Reserved::Granted(_)), "{reserved:?}");
    // Nothing has expired yet (the server's own pruner may have run first).
    assert_eq!(store.prune(now).await.unwrap(), 0);
    assert!(store.is_blacklisted("a").await.unwrap());
    // A day and more later: token "a", its blacklist entry, the failure and
    // the code go; token "b" stays.
    assert_eq!(store.prune(now + 86_401).await.unwrap(), 4);
    assert!(!store.is_blacklisted("a").await.unwrap());
    assert_eq!(
        store.login_failures("ann", now - 1).await.unwrap(),
        (0, None)
    );
}

#[tokio::test]
async fn login_attempts_are_counted_up_to_the_limit_then_refused_with_the_oldest() {
    let app = TestApp::spawn().await;
    let store = app.state.accounts.store();
    let now = app.now();
    for i in 0..3 {
        assert_eq!(
            store
                .reserve_login_attempt("k", now + i, now - 900, 3)
                .await
                .unwrap(),
            LoginAttempt::Counted
        );
    }
    assert_eq!(
        store
            .reserve_login_attempt("k", now + 5, now - 900, 3)
            .await
            .unwrap(),
        LoginAttempt::Throttled { oldest: now }
    );
    // Another key is its own count; clearing frees the key at once.
    assert_eq!(
        store
            .reserve_login_attempt("other", now, now - 900, 3)
            .await
            .unwrap(),
        LoginAttempt::Counted
    );
    store.clear_login_failures("k").await.unwrap();
    assert_eq!(
        store
            .reserve_login_attempt("k", now + 6, now - 900, 3)
            .await
            .unwrap(),
        LoginAttempt::Counted
    );
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
