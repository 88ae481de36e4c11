//! Storage: the domain's `Store`, written once for SQLite and PostgreSQL.
//!
//! - `queries.rs`: every statement, in `$N` syntax, run through `db.rs`;
//! - `db.rs`: runs a statement on either database, maps every failure to
//!   one outcome, and holds the only per-backend concurrency code (`locked`);
//! - `sqlite.rs`, `postgres.rs`: connections and migration locking;
//! - `migrate.rs`: the migrations of `migrations/`, one file each for both;
//! - `rows.rs`: rows read into domain values;
//! - `audit.rs`: the audit trail's batching writer;
//! - `backup.rs`: `accountd backup`, a consistent copy of a SQLite database.

mod audit;
mod backup;
pub mod db;
mod migrate;
mod pg_connections;
pub mod postgres;
mod queries;
mod rows;
pub mod sqlite;

pub use audit::AuditWriter;
pub use backup::{backup, Backup};
pub use queries::SqlStore;

use crate::domain::ports::Store;
use crate::domain::Error;
use std::sync::Arc;

/// Open (creating if needed) the database a URL names, with migrations applied.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, Error> {
    Ok(Arc::new(open_sql(url).await?))
}

/// As `open`, with the concrete store (its `Db` counts statements).
pub async fn open_sql(url: &str) -> Result<SqlStore, Error> {
    let db = if url.starts_with("sqlite:") {
        db::Db::sqlite(sqlite::Pool::open(url).await?)
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        db::Db::postgres(postgres::Pool::open(url).await?)
    } else {
        return Err(Error::Invalid(format!(
            "unsupported database URL scheme in {:?}: use sqlite://PATH or postgres://…",
            url.split(':').next().unwrap_or_default()
        )));
    };
    Ok(SqlStore::new(db))
}
