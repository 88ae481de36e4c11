//! One way to run a statement on either database.
//!
//! Every statement of the store is written once, in PostgreSQL's `$N`
//! placeholder syntax, with its arguments as [`Arg`]s and its rows read by
//! column index through [`Row`]; [`Db`] runs it on SQLite (rusqlite on
//! threads of its own, `sqlite.rs`) or PostgreSQL (sqlx, `postgres.rs`).
//! The only per-backend code above this layer is [`Db::locked`], where the
//! concurrency argument really differs.
//!
//! Every failure of the database becomes `Error::Unavailable` (INTERFACE.md,
//! "Database outage"), except the two a caller can act on: a unique
//! violation (`Conflict`, naming the field) and a foreign-key violation.

use super::{postgres, sqlite};
use crate::domain::error::{Error, Result};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The longest a statement may wait, for a lock or a connection, before it
/// is abandoned as an outage (INTERFACE.md, "Connections, queues, responses").
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);

/// A value bound to a `$N` parameter. NULLs keep their type: PostgreSQL
/// refuses an untyped NULL where it infers none.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Int(Option<i64>),
    Text(Option<String>),
    Bool(Option<bool>),
    Bytes(Option<Vec<u8>>),
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(Some(v))
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        Arg::Int(v)
    }
}
impl From<bool> for Arg {
    fn from(v: bool) -> Self {
        Arg::Bool(Some(v))
    }
}
impl From<Option<bool>> for Arg {
    fn from(v: Option<bool>) -> Self {
        Arg::Bool(v)
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(Some(v.to_owned()))
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(Some(v))
    }
}
impl From<&String> for Arg {
    fn from(v: &String) -> Self {
        Arg::Text(Some(v.clone()))
    }
}
impl From<Option<&str>> for Arg {
    fn from(v: Option<&str>) -> Self {
        Arg::Text(v.map(str::to_owned))
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Arg::Text(v)
    }
}
impl From<&Option<String>> for Arg {
    fn from(v: &Option<String>) -> Self {
        Arg::Text(v.clone())
    }
}
impl From<&[u8]> for Arg {
    fn from(v: &[u8]) -> Self {
        Arg::Bytes(Some(v.to_vec()))
    }
}

/// A statement and its arguments.
#[derive(Debug, Clone)]
pub struct Query {
    pub sql: &'static str,
    pub args: Vec<Arg>,
}

/// `query(SQL).bind(a).bind(b)`: SQL uses `$1`, `$2`, … on both backends.
pub fn query(sql: &'static str) -> Query {
    Query {
        sql,
        args: Vec::new(),
    }
}

impl Query {
    pub fn bind(mut self, arg: impl Into<Arg>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// A statement that only reads may run on any connection; on SQLite the
    /// rest go to the one writer.
    pub fn reads_only(&self) -> bool {
        let head = self.sql.trim_start();
        head.get(..6)
            .is_some_and(|w| w.eq_ignore_ascii_case("select"))
    }

    /// Neither database can hold a NUL in text (PostgreSQL refuses it, and a
    /// C string would end there): refused here, before any statement runs,
    /// so no backend ever sees one and both answer alike.
    fn check(&self) -> Result<()> {
        let nul = self.args.iter().any(|a| match a {
            Arg::Text(Some(s)) => s.contains('\0'),
            _ => false,
        });
        if nul {
            return Err(Error::Invalid(
                "text containing a NUL character cannot be stored".into(),
            ));
        }
        Ok(())
    }
}

/// A row read by column index, whichever database it came from.
pub trait Row {
    fn int(&self, i: usize) -> Result<i64>;
    fn opt_int(&self, i: usize) -> Result<Option<i64>>;
    fn text(&self, i: usize) -> Result<String>;
    fn opt_text(&self, i: usize) -> Result<Option<String>>;
    fn boolean(&self, i: usize) -> Result<bool>;
    fn bytes(&self, i: usize) -> Result<Vec<u8>>;
}

/// A value made from one row.
pub trait FromRow: Sized + Send + 'static {
    fn from_row(row: &dyn Row) -> Result<Self>;
}

impl FromRow for i64 {
    fn from_row(r: &dyn Row) -> Result<Self> {
        r.int(0)
    }
}
impl FromRow for Option<i64> {
    fn from_row(r: &dyn Row) -> Result<Self> {
        r.opt_int(0)
    }
}
impl FromRow for String {
    fn from_row(r: &dyn Row) -> Result<Self> {
        r.text(0)
    }
}
impl FromRow for bool {
    fn from_row(r: &dyn Row) -> Result<Self> {
        r.boolean(0)
    }
}

/// A failure reported by a driver, as the store maps it.
#[derive(Debug)]
pub enum DbError {
    /// A unique constraint; the text names the constraint or columns.
    Unique(String),
    ForeignKey,
    /// Anything else: the database did not do what was asked.
    Other(String),
}

impl From<DbError> for Error {
    /// Unique violations name the field taken, read from the message and
    /// constraint name: SQLite says `UNIQUE constraint failed: users.phone`,
    /// PostgreSQL names `users_phone_key`.
    fn from(e: DbError) -> Self {
        match e {
            DbError::Unique(text) => {
                for field in ["username", "email", "phone"] {
                    if text.contains(field) {
                        return Error::Conflict(field.to_owned());
                    }
                }
                Error::Conflict("value".to_owned())
            }
            DbError::ForeignKey => Error::NotFound("referenced record"),
            DbError::Other(text) => {
                tracing::error!(error = %text, "database statement failed");
                Error::Unavailable(text)
            }
        }
    }
}

/// The database, whichever it is. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    backend: Backend,
    /// Statements sent to the database: on PostgreSQL each is one round trip.
    statements: Arc<AtomicU64>,
}

#[derive(Clone)]
enum Backend {
    Sqlite(sqlite::Pool),
    Postgres(postgres::Pool),
}

impl Db {
    pub fn sqlite(pool: sqlite::Pool) -> Self {
        Self::new(Backend::Sqlite(pool))
    }

    pub fn postgres(pool: postgres::Pool) -> Self {
        Self::new(Backend::Postgres(pool))
    }

    fn new(backend: Backend) -> Self {
        Self {
            backend,
            statements: Arc::new(AtomicU64::new(0)),
        }
    }

    /// How many statements (PostgreSQL: round trips) were sent so far.
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    fn count(&self, n: u64) {
        self.statements.fetch_add(n, Ordering::Relaxed);
    }

    pub fn is_sqlite(&self) -> bool {
        matches!(self.backend, Backend::Sqlite(_))
    }

    /// Every row.
    pub async fn all<T: FromRow>(&self, q: Query) -> Result<Vec<T>> {
        q.check()?;
        self.count(1);
        match &self.backend {
            Backend::Sqlite(p) => p.all(q).await,
            Backend::Postgres(p) => p.all(q).await,
        }
    }

    /// The first row, if any.
    pub async fn opt<T: FromRow>(&self, q: Query) -> Result<Option<T>> {
        Ok(self.all(q).await?.into_iter().next())
    }

    /// The first row; a statement that answered none is a bug or a vanished row.
    pub async fn one<T: FromRow>(&self, q: Query) -> Result<T> {
        self.opt(q).await?.ok_or_else(|| {
            Error::Internal("a statement expected to answer a row answered none".into())
        })
    }

    /// Run a statement; how many rows it changed.
    pub async fn run(&self, q: Query) -> Result<u64> {
        q.check()?;
        self.count(1);
        match &self.backend {
            Backend::Sqlite(p) => p.run(q).await,
            Backend::Postgres(p) => p.run(q).await,
        }
    }

    /// Run statements in order in one transaction: all of them or none.
    /// Returns how many rows each changed.
    pub async fn batch(&self, qs: Vec<Query>) -> Result<Vec<u64>> {
        for q in &qs {
            q.check()?;
        }
        self.count(qs.len() as u64 + 2);
        match &self.backend {
            Backend::Sqlite(p) => p.batch(qs).await,
            Backend::Postgres(p) => p.batch(qs).await,
        }
    }

    /// Run an import's statements in one transaction, with no bound on the
    /// whole (bulk work at the command line; each statement keeps its own),
    /// where some insert users under ids of their own: users created
    /// afterwards must get ids above them (INTERFACE.md, "Import").
    ///
    /// The backends differ here. SQLite's AUTOINCREMENT keeps the largest id
    /// ever inserted, explicit ones too, and numbers from there by itself.
    /// PostgreSQL's sequence knows nothing of explicit ids: in the same
    /// transaction it is moved to the largest id, never back.
    pub async fn import_batch(&self, mut qs: Vec<Query>, user_ids: bool) -> Result<Vec<u64>> {
        for q in &qs {
            q.check()?;
        }
        match &self.backend {
            Backend::Sqlite(p) => {
                self.count(qs.len() as u64 + 2);
                p.long_batch(qs).await
            }
            Backend::Postgres(p) => {
                if user_ids {
                    // `users_id_seq`: the name PostgreSQL gives the sequence
                    // of `users.id BIGSERIAL` (migrations/0001_core.sql).
                    qs.push(query(
                        "SELECT setval('users_id_seq', GREATEST(
                             (SELECT COALESCE(MAX(id), 0) FROM users),
                             (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM users_id_seq),
                             1))",
                    ));
                }
                self.count(qs.len() as u64 + 2);
                p.long_batch(qs).await
            }
        }
    }

    /// The id the next user row will get: above every id ever given,
    /// deleted users' too. SQLite keeps the largest in `sqlite_sequence`,
    /// PostgreSQL in the sequence; either may be behind explicit ids
    /// written since (PostgreSQL's), hence the larger of it and MAX(id).
    pub async fn next_user_id(&self) -> Result<i64> {
        let q = match &self.backend {
            Backend::Sqlite(_) => query(
                "SELECT MAX(COALESCE((SELECT MAX(id) FROM users), 0),
                    COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'users'), 0)) + 1",
            ),
            Backend::Postgres(_) => query(
                "SELECT GREATEST(COALESCE((SELECT MAX(id) FROM users), 0),
                    (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM users_id_seq)) + 1",
            ),
        };
        self.one(q).await
    }

    /// Run `q`, whose conditions count rows that may not exist yet (a
    /// limit: "fewer than N attempts since T, then insert one"), so that no
    /// two callers naming the same `key` can both pass the count.
    ///
    /// This is where the backends differ. SQLite has one writer, and `q` is
    /// one statement that reads and writes together: nothing can come
    /// between its count and its insert. PostgreSQL runs writers
    /// concurrently (READ COMMITTED) and cannot lock rows that do not exist,
    /// so `q` runs in a transaction that first takes the advisory lock of
    /// `key`: one such statement per key at a time, on every instance.
    pub async fn locked<T: FromRow>(&self, key: &str, q: Query) -> Result<Vec<T>> {
        q.check()?;
        match &self.backend {
            Backend::Sqlite(p) => {
                self.count(1);
                p.all(q).await
            }
            Backend::Postgres(p) => {
                self.count(4);
                p.locked(key, q).await
            }
        }
    }

    /// One trivial query, bounded in time (`/readyz`).
    pub async fn ping(&self) -> Result<()> {
        match &self.backend {
            Backend::Sqlite(p) => p.ping().await,
            Backend::Postgres(p) => p.ping().await,
        }
    }

    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite(p) => p.close().await,
            Backend::Postgres(p) => p.close().await,
        }
    }
}
