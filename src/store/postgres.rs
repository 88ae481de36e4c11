//! The shared backend: one PostgreSQL database behind any number of accountd
//! instances, so revocation, rotation and every limit hold across all of them.
//!
//! PostgreSQL runs writers concurrently (READ COMMITTED). The statements of
//! the store are safe under it as written: a conditional `UPDATE … WHERE
//! <state>` makes a second writer wait for the first and re-check its WHERE
//! on the newest row version, so exactly one of many racing requests matches
//! (rotation, logout, consuming a code); `INSERT … ON CONFLICT` is safe on a
//! unique key. A limit that counts rows which do not exist yet cannot lock
//! them: `Pool::locked` takes an advisory lock first (see `Db::locked`).

use super::db::{Arg, DbError, FromRow, Query, Row, STATEMENT_TIMEOUT};
use super::migrate;
use super::pg_connections::Connections;
use crate::domain::error::{Error, Result};
use sqlx::postgres::{PgArguments, PgConnectOptions, PgRow};
use sqlx::{Arguments, Connection, Row as _};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// Connections per instance: N instances need N × this within the server's
/// `max_connections` (100 by default).
const MAX_CONNECTIONS: usize = 10;
/// How long a request waits for a connection, or for a new one to be made,
/// before it answers 503: inside the 2 s INTERFACE.md gives an outage.
const ACQUIRE_TIMEOUT: Duration = Duration::from_millis(1500);
/// Any fixed number: the lock every instance takes to migrate.
const MIGRATION_LOCK: i64 = 0x6163_636f_756e_7464; // "accountd"

#[derive(Clone)]
pub struct Pool {
    pool: Arc<Connections>,
}

fn options(url: &str) -> Result<PgConnectOptions> {
    // The URL may carry a password: errors name neither.
    Ok(PgConnectOptions::from_str(url)
        .map_err(|e| Error::Invalid(format!("bad database URL: {e}")))?
        // The server abandons a statement that waits longer (a lock held by
        // someone else), and the request answers 503.
        .options([(
            "statement_timeout",
            format!("{}ms", STATEMENT_TIMEOUT.as_millis()),
        )]))
}

impl Pool {
    /// Connect and apply pending migrations.
    pub async fn open(url: &str) -> Result<Self> {
        let pool = Connections::new(options(url)?, MAX_CONNECTIONS, ACQUIRE_TIMEOUT);
        let this = Self {
            pool: Arc::new(pool),
        };
        this.migrate().await?;
        Ok(this)
    }

    async fn migrate(&self) -> Result<()> {
        let failed = |e: sqlx::Error| Error::Unavailable(format!("migration failed: {e}"));
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| Error::Unavailable(format!("cannot connect to PostgreSQL: {e}")))?;
        let mut tx = conn.begin().await.map_err(failed)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
        sqlx::raw_sql(&migrate::bookkeeping_table(false))
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
        let applied: Vec<(i64, Vec<u8>, bool)> = sqlx::query_as(migrate::APPLIED)
            .fetch_all(&mut *tx)
            .await
            .map_err(failed)?;
        for m in migrate::pending(&applied)? {
            let started = std::time::Instant::now();
            sqlx::raw_sql(m.sql)
                .execute(&mut *tx)
                .await
                .map_err(failed)?;
            sqlx::query(migrate::RECORD)
                .bind(m.version)
                .bind(m.description)
                .bind(m.checksum())
                .bind(started.elapsed().as_nanos() as i64)
                .execute(&mut *tx)
                .await
                .map_err(failed)?;
        }
        tx.commit().await.map_err(failed)?;
        conn.give_back();
        Ok(())
    }

    /// Run `work` on a connection, bounded in time; the connection goes
    /// back to the pool only if the work finished at the database (a
    /// statement the server refused leaves it sound; an I/O error or a
    /// timeout does not).
    async fn with<T, F>(&self, work: F) -> Result<T>
    where
        F: for<'c> FnOnce(&'c mut sqlx::PgConnection) -> Work<'c, T>,
    {
        let pool = &self.pool;
        bounded(async move {
            let mut conn = pool.acquire().await?;
            match work(&mut conn).await {
                Ok(done) => {
                    conn.give_back();
                    Ok(done)
                }
                Err(e @ sqlx::Error::Database(_)) => {
                    conn.give_back();
                    Err(e)
                }
                Err(e) => {
                    if matches!(e, sqlx::Error::Io(_)) {
                        pool.forget_idle();
                    }
                    Err(e)
                }
            }
        })
        .await
    }

    pub async fn all<T: FromRow>(&self, q: Query) -> Result<Vec<T>> {
        let args = arguments(&q)?;
        let rows = self
            .with(move |c| Box::pin(sqlx::query_with(q.sql, args).fetch_all(c)))
            .await?;
        rows.iter().map(|r| T::from_row(&PgRowRef(r))).collect()
    }

    pub async fn run(&self, q: Query) -> Result<u64> {
        let args = arguments(&q)?;
        let done = self
            .with(move |c| Box::pin(sqlx::query_with(q.sql, args).execute(c)))
            .await?;
        Ok(done.rows_affected())
    }

    pub async fn batch(&self, qs: Vec<Query>) -> Result<Vec<u64>> {
        self.with(move |c| Box::pin(async move { transaction(c, &qs).await }))
            .await
    }

    /// `batch` with no bound on the whole (each statement keeps the
    /// server's `statement_timeout`): bulk work at the command line.
    pub async fn long_batch(&self, qs: Vec<Query>) -> Result<Vec<u64>> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| Error::from(map_error(e)))?;
        let done = transaction(&mut conn, &qs).await;
        if done.is_ok() {
            conn.give_back();
        }
        done.map_err(|e| map_error(e).into())
    }

    /// `q` inside a transaction holding the advisory lock of `key`.
    pub async fn locked<T: FromRow>(&self, key: &str, q: Query) -> Result<Vec<T>> {
        let key = key.to_owned();
        let args = arguments(&q)?;
        let rows = self
            .with(move |c| {
                Box::pin(async move {
                    let mut tx = c.begin().await?;
                    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                        .bind(key)
                        .execute(&mut *tx)
                        .await?;
                    let rows = sqlx::query_with(q.sql, args).fetch_all(&mut *tx).await?;
                    tx.commit().await?;
                    Ok(rows)
                })
            })
            .await?;
        rows.iter().map(|r| T::from_row(&PgRowRef(r))).collect()
    }

    pub async fn ping(&self) -> Result<()> {
        self.with(|c| Box::pin(c.ping())).await
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Statements in order in one transaction on `conn`.
async fn transaction(
    conn: &mut sqlx::PgConnection,
    qs: &[Query],
) -> std::result::Result<Vec<u64>, sqlx::Error> {
    {
        let mut tx = conn.begin().await?;
        let mut counts = Vec::with_capacity(qs.len());
        for q in qs {
            let args = arguments(q).map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
            counts.push(
                sqlx::query_with(q.sql, args)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected(),
            );
        }
        tx.commit().await?;
        Ok(counts)
    }
}

/// Work on one connection, borrowed for as long as it runs.
type Work<'c, T> = std::pin::Pin<
    Box<dyn std::future::Future<Output = std::result::Result<T, sqlx::Error>> + Send + 'c>,
>;

/// A database call bounded in time: a server that stopped answering (a
/// network partition keeps sockets open for minutes) is an outage too.
async fn bounded<T>(
    f: impl std::future::Future<Output = std::result::Result<T, sqlx::Error>>,
) -> Result<T> {
    match tokio::time::timeout(STATEMENT_TIMEOUT + Duration::from_secs(1), f).await {
        Ok(done) => done.map_err(|e| map_error(e).into()),
        Err(_) => Err(Error::Unavailable(
            "PostgreSQL did not answer in time".into(),
        )),
    }
}

fn arguments(q: &Query) -> Result<PgArguments> {
    let mut args = PgArguments::default();
    for a in &q.args {
        let added = match a {
            Arg::Int(v) => args.add(*v),
            Arg::Text(v) => args.add(v.clone()),
            Arg::Bool(v) => args.add(*v),
            Arg::Bytes(v) => args.add(v.clone()),
        };
        added.map_err(|e| Error::Internal(format!("cannot bind an argument: {e}")))?;
    }
    Ok(args)
}

fn map_error(e: sqlx::Error) -> DbError {
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() {
            return DbError::Unique(format!(
                "{} {}",
                db.message(),
                db.constraint().unwrap_or_default()
            ));
        }
        if db.is_foreign_key_violation() {
            return DbError::ForeignKey;
        }
    }
    DbError::Other(e.to_string())
}

struct PgRowRef<'a>(&'a PgRow);

impl PgRowRef<'_> {
    fn get<'r, T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>>(
        &'r self,
        i: usize,
    ) -> Result<T> {
        self.0
            .try_get::<T, usize>(i)
            .map_err(|e| Error::Unavailable(format!("column {i}: {e}")))
    }
}

impl Row for PgRowRef<'_> {
    fn int(&self, i: usize) -> Result<i64> {
        self.get(i)
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        self.get(i)
    }
    fn text(&self, i: usize) -> Result<String> {
        self.get(i)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>> {
        self.get(i)
    }
    fn boolean(&self, i: usize) -> Result<bool> {
        self.get(i)
    }
    fn bytes(&self, i: usize) -> Result<Vec<u8>> {
        self.get(i)
    }
}
