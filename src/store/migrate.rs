//! Schema migrations, written once for both databases (`migrations/`).
//!
//! Each file is PostgreSQL syntax that SQLite also accepts; the one thing
//! SQLite is given differently is the auto-numbered key (`BIGSERIAL PRIMARY
//! KEY` becomes `INTEGER PRIMARY KEY AUTOINCREMENT`, which never reuses an
//! id). `tests/api/store.rs` builds both and compares the schemas.
//!
//! Bookkeeping stays in sqlx's `_sqlx_migrations` table (version, checksum =
//! SHA-384 of the file), which databases created before this runner have.
//! The whole check-and-apply runs in one transaction under one lock, so two
//! instances starting at once on a new database cannot both apply a step:
//! SQLite `BEGIN EXCLUSIVE`, PostgreSQL a transaction-scoped advisory lock.

use crate::domain::error::{Error, Result};
use sha2::{Digest, Sha384};

pub struct Migration {
    pub version: i64,
    pub description: &'static str,
    pub sql: &'static str,
}

/// `("0001", "core")` is `migrations/0001_core.sql`, version 1.
macro_rules! migrations {
    ($(($number:literal, $name:literal)),* $(,)?) => {
        &[$(Migration {
            version: parse_version($number),
            description: $name,
            sql: include_str!(concat!("../../migrations/", $number, "_", $name, ".sql")),
        }),*]
    };
}

const fn parse_version(digits: &str) -> i64 {
    let bytes = digits.as_bytes();
    let mut n = 0i64;
    let mut i = 0;
    while i < bytes.len() {
        n = n * 10 + (bytes[i] - b'0') as i64;
        i += 1;
    }
    n
}

/// In order. Adding a migration: a file `migrations/NNNN_name.sql` and a line here.
pub const MIGRATIONS: &[Migration] = migrations![
    ("0001", "core"),
    ("0002", "sessions"),
    ("0003", "shared_indexes"),
    ("0004", "limits_and_revocation"),
    ("0005", "audit"),
    ("0006", "imports"),
    ("0007", "admin"),
    ("0008", "signing_keys"),
];

/// Checksums that sqlx's migrator recorded for steps 1 and 2 when each
/// backend still had its own files (migrations/{sqlite,postgres} until the
/// store was written once). Those databases are as good as new ones once
/// step 3 has run.
const HISTORIC: &[(i64, &str)] = &[
    (1, "dc5a00b3fc54dcb205bb5bc47f76fd13f5d0efef300c2ddb763e8de6fb298b802c4ef20ec6deb5a356cf05d09a244040"),
    (1, "09f1fad9776098d59acf729ad9c2c6dfa7e1ca3abdd6668611e30b9e84b55843667549386a4dc2c12be237955c5d0f26"),
    (2, "5966623b4f9cf3003cb23f6fbb10e0b9d8311226b2bcb690b6fed5a0e72de442711926fd29f54c106bb1ce8409951053"),
    (2, "9ba40fe0eb5528c6af31d0133bb6eb7b86c8b8e09078591f1bff84aef5cadea29fb2f881f19eaafe08076a47d504c5a3"),
];

impl Migration {
    pub fn checksum(&self) -> Vec<u8> {
        Sha384::digest(self.sql.as_bytes()).to_vec()
    }

    /// The SQL as SQLite is given it.
    pub fn sqlite_sql(&self) -> String {
        self.sql
            .replace("BIGSERIAL PRIMARY KEY", "INTEGER PRIMARY KEY AUTOINCREMENT")
    }
}

/// The sqlx bookkeeping table; `checksum` is BLOB on SQLite, BYTEA on PostgreSQL.
pub fn bookkeeping_table(sqlite: bool) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS _sqlx_migrations (
            version BIGINT PRIMARY KEY,
            description TEXT NOT NULL,
            installed_on {} NOT NULL DEFAULT CURRENT_TIMESTAMP,
            success BOOLEAN NOT NULL,
            checksum {} NOT NULL,
            execution_time BIGINT NOT NULL
        )",
        if sqlite { "TIMESTAMP" } else { "TIMESTAMPTZ" },
        if sqlite { "BLOB" } else { "BYTEA" },
    )
}

pub const APPLIED: &str = "SELECT version, checksum, success FROM _sqlx_migrations";
pub const RECORD: &str = "INSERT INTO _sqlx_migrations
    (version, description, success, checksum, execution_time) VALUES ($1, $2, TRUE, $3, $4)";

/// The steps still to apply, given what the database recorded; an edited or
/// failed step already applied is an error, as with sqlx.
pub fn pending(applied: &[(i64, Vec<u8>, bool)]) -> Result<Vec<&'static Migration>> {
    let mut todo = Vec::new();
    for m in MIGRATIONS {
        match applied.iter().find(|(v, _, _)| *v == m.version) {
            None => todo.push(m),
            Some((_, _, false)) => {
                return Err(Error::Unavailable(format!(
                    "migration {} failed earlier and left the database dirty",
                    m.version
                )))
            }
            Some((_, sum, true)) => {
                let known = *sum == m.checksum()
                    || HISTORIC
                        .iter()
                        .any(|(v, h)| *v == m.version && hex::encode(sum) == *h);
                if !known {
                    return Err(Error::Unavailable(format!(
                        "migration {} was applied from a different file than this version of accountd has",
                        m.version
                    )));
                }
            }
        }
    }
    // A database from a newer accountd: refuse rather than run against a
    // schema this binary does not know.
    if let Some((v, _, _)) = applied
        .iter()
        .find(|(v, _, _)| MIGRATIONS.iter().all(|m| m.version != *v))
    {
        return Err(Error::Unavailable(format!(
            "the database has migration {v}, which this accountd does not know: run a newer accountd"
        )));
    }
    Ok(todo)
}

/// Apply pending migrations to a SQLite connection, under `BEGIN EXCLUSIVE`:
/// a second process waits on the busy handler, then finds everything applied.
pub fn sqlite(conn: &mut rusqlite::Connection) -> Result<()> {
    let failed = |e: rusqlite::Error| Error::Unavailable(format!("migration failed: {e}"));
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Exclusive)
        .map_err(failed)?;
    tx.execute_batch(&bookkeeping_table(true)).map_err(failed)?;
    let applied = {
        let mut stmt = tx.prepare(APPLIED).map_err(failed)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(failed)?;
        rows.collect::<rusqlite::Result<Vec<(i64, Vec<u8>, bool)>>>()
            .map_err(failed)?
    };
    for m in pending(&applied)? {
        let started = std::time::Instant::now();
        tx.execute_batch(&m.sqlite_sql()).map_err(failed)?;
        tx.execute(
            &RECORD.replace('$', "?"),
            rusqlite::params![
                m.version,
                m.description,
                m.checksum(),
                started.elapsed().as_nanos() as i64
            ],
        )
        .map_err(failed)?;
    }
    tx.commit().map_err(failed)
}
