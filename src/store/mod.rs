//! Storage: one `Store` implementation per database, SQL kept beside it.

pub mod postgres;
mod rows;
pub mod sqlite;

use crate::domain::ports::Store;
use crate::domain::Error;
use std::sync::Arc;

/// Open (creating if needed) the database a URL names, with migrations applied.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, Error> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::open(url).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(postgres::PgStore::open(url).await?))
    } else {
        Err(Error::Invalid(format!(
            "unsupported database URL scheme in {:?}: use sqlite://PATH or postgres://…",
            url.split(':').next().unwrap_or_default()
        )))
    }
}

/// Map a sqlx error: unique violations name the field taken, the rest are internal.
/// The field is read from the message and constraint name: SQLite says
/// `UNIQUE constraint failed: users.phone`, PostgreSQL names `users_phone_key`.
pub(crate) fn map_err(e: sqlx::Error) -> Error {
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() {
            let text = format!("{} {}", db.message(), db.constraint().unwrap_or_default());
            for field in ["username", "email", "phone"] {
                if text.contains(field) {
                    return Error::Conflict(field.to_owned());
                }
            }
            return Error::Conflict("value".to_owned());
        }
        if db.is_foreign_key_violation() {
            return Error::NotFound("referenced record");
        }
    }
    Error::internal(e)
}
