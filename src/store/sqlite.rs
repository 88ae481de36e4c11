//! The embedded backend: one SQLite file in WAL mode, created on first run,
//! driven through rusqlite on threads of its own.
//!
//! Why not sqlx: measured on this project's 2-core machine, one sqlx-sqlite
//! point read cut a bare axum server from ~75k to ~27k req/s, while the same
//! read through rusqlite on dedicated threads kept ~65k (docs/benchmarks.md).
//!
//! Shape: a few reader threads, each with its own read-only connection, take
//! statements that only read from one shared queue; one writer thread with
//! the only writing connection takes everything else, in order. Writes are
//! therefore serialised inside the process without SQLite's busy-wait
//! backoff, and reads never wait for writes (WAL). Other processes (the CLI,
//! a backup) still take SQLite's locks, waited for up to `STATEMENT_TIMEOUT`.
//!
//! A watchdog checks four times a second that the path still names the file
//! these connections hold and that it can be opened: while it does not
//! (deleted, moved away, unreadable), every statement answers
//! `Unavailable` at once; when a different file appears there, the
//! connections are opened again on it. No restart either way.

use super::db::{DbError, FromRow, Query, Row, STATEMENT_TIMEOUT};
use super::migrate;
use crate::domain::error::{Error, Result};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

enum Msg {
    Job(Job),
    Stop,
}

/// The connections of one SQLite file.
#[derive(Clone)]
pub struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    readers: crossbeam_channel::Sender<Msg>,
    writer: crossbeam_channel::Sender<Msg>,
    threads: usize,
    /// False while the watchdog finds the file gone or unreadable.
    healthy: Arc<AtomicBool>,
    stopped: Arc<AtomicBool>,
    workers: std::sync::Mutex<Vec<std::thread::JoinHandle<()>>>,
}

/// The file a URL names: `sqlite://PATH`, `sqlite:PATH`, query string ignored.
pub(crate) fn path_of(url: &str) -> Result<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| Error::Invalid(format!("not a sqlite URL: {url}")))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Err(Error::Invalid(
            "ACCOUNTD_DATABASE_URL: give sqlite://PATH to a file (an in-memory database would vanish at exit)".into(),
        ));
    }
    Ok(PathBuf::from(path))
}

/// Create the database file readable by its owner only, before SQLite opens
/// it: it holds the signing secret and the code key, and SQLite gives the
/// `-wal` and `-shm` files the mode of the database file.
fn create_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::Unavailable(format!(
            "cannot create {}: {e}",
            path.display()
        ))),
    }
}

fn open_connection(path: &Path, writer: bool) -> rusqlite::Result<Connection> {
    // Never create here: the file was created (0600) before; a file that
    // vanished must stay an outage, not become an empty database.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(STATEMENT_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(64);
    // NORMAL is durable in WAL mode except for the last transactions before
    // a power loss; it is what every WAL deployment of SQLite uses.
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
    if !writer {
        // A statement routed to a reader by mistake fails instead of writing
        // around the writer thread.
        conn.execute_batch("PRAGMA query_only = ON;")?;
    }
    Ok(conn)
}

/// Switch a new file to WAL. Two processes creating one file at once: the
/// switch can answer "locked" without waiting on the busy handler; it clears
/// as soon as the other process is through.
fn enable_wal(path: &Path) -> Result<()> {
    let mut attempt = 0u64;
    loop {
        let done = open_connection(path, true)
            .and_then(|c| c.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)));
        match done {
            Ok(mode) if mode.eq_ignore_ascii_case("wal") => return Ok(()),
            Ok(mode) => {
                return Err(Error::Unavailable(format!(
                    "{}: cannot use WAL (journal mode {mode})",
                    path.display()
                )))
            }
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && attempt < 40 =>
            {
                attempt += 1;
                std::thread::sleep(Duration::from_millis(25 * attempt.min(8)));
            }
            Err(e) => {
                return Err(Error::Unavailable(format!(
                    "cannot open {}: {e}",
                    path.display()
                )))
            }
        }
    }
}

fn identity(path: &Path) -> Option<(u64, u64)> {
    // Opening proves the file is readable by this process, which a bare
    // stat would not.
    let file = std::fs::File::open(path).ok()?;
    let meta = file.metadata().ok()?;
    Some((meta.dev(), meta.ino()))
}

impl Pool {
    /// Open (creating if needed) the file a `sqlite://` URL names and apply
    /// pending migrations.
    pub async fn open(url: &str) -> Result<Self> {
        let path = path_of(url)?;
        let setup = path.clone();
        tokio::task::spawn_blocking(move || -> Result<()> {
            create_private(&setup)?;
            enable_wal(&setup)?;
            let mut conn = open_connection(&setup, true).map_err(unavailable)?;
            migrate::sqlite(&mut conn)
        })
        .await
        .map_err(Error::internal)??;
        Self::start(path)
    }

    fn start(path: PathBuf) -> Result<Self> {
        let id = identity(&path)
            .ok_or_else(|| Error::Unavailable(format!("cannot open {}", path.display())))?;
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .clamp(2, 8);
        let (readers, reader_rx) = crossbeam_channel::unbounded::<Msg>();
        let (writer, writer_rx) = crossbeam_channel::unbounded::<Msg>();
        let healthy = Arc::new(AtomicBool::new(true));
        let generation = Arc::new(AtomicU64::new(0));
        let stopped = Arc::new(AtomicBool::new(false));
        let mut workers = Vec::new();
        for n in 0..=threads {
            let is_writer = n == threads;
            let rx = if is_writer {
                writer_rx.clone()
            } else {
                reader_rx.clone()
            };
            let path = path.clone();
            let generation = generation.clone();
            let name = if is_writer {
                "sqlite-writer".to_owned()
            } else {
                format!("sqlite-reader-{n}")
            };
            let handle = std::thread::Builder::new()
                .name(name)
                .spawn(move || serve(&path, is_writer, &rx, &generation))
                .map_err(Error::internal)?;
            workers.push(handle);
        }
        let watchdog = {
            let (path, healthy, generation, stopped) = (
                path.clone(),
                healthy.clone(),
                generation.clone(),
                stopped.clone(),
            );
            std::thread::Builder::new()
                .name("sqlite-watchdog".into())
                .spawn(move || watch(&path, id, &healthy, &generation, &stopped))
                .map_err(Error::internal)?
        };
        workers.push(watchdog);
        Ok(Self {
            inner: Arc::new(Inner {
                path,
                readers,
                writer,
                threads,
                healthy,
                stopped,
                workers: std::sync::Mutex::new(workers),
            }),
        })
    }

    /// Send `f` to a reader (or the writer) and wait for its answer, at most
    /// `STATEMENT_TIMEOUT` and a little.
    async fn call<T: Send + 'static>(
        &self,
        write: bool,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.call_within(write, Some(STATEMENT_TIMEOUT + Duration::from_secs(1)), f)
            .await
    }

    /// `call`, waiting for the answer at most `bound` (None: until it comes).
    async fn call_within<T: Send + 'static>(
        &self,
        write: bool,
        bound: Option<Duration>,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        if !self.inner.healthy.load(Ordering::Acquire) {
            return Err(Error::Unavailable(format!(
                "{} is missing or unreadable",
                self.inner.path.display()
            )));
        }
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let _ = tx.send(f(conn));
        });
        let queue = if write {
            &self.inner.writer
        } else {
            &self.inner.readers
        };
        queue
            .send(Msg::Job(job))
            .map_err(|_| Error::Unavailable("the database is closed".into()))?;
        let answer = match bound {
            Some(bound) => match tokio::time::timeout(bound, rx).await {
                Ok(answer) => answer,
                Err(_) => {
                    return Err(Error::Unavailable(
                        "the database did not answer in time".into(),
                    ))
                }
            },
            None => rx.await,
        };
        answer.unwrap_or_else(|_| Err(Error::Unavailable("a database thread stopped".into())))
    }

    pub async fn all<T: FromRow>(&self, q: Query) -> Result<Vec<T>> {
        self.call(!q.reads_only(), move |c| rows(c, &q)).await
    }

    pub async fn run(&self, q: Query) -> Result<u64> {
        self.call(true, move |c| execute(c, &q)).await
    }

    pub async fn batch(&self, qs: Vec<Query>) -> Result<Vec<u64>> {
        self.call(true, move |c| transaction(c, &qs)).await
    }

    /// `batch` with no bound on the whole: bulk work at the command line.
    /// Each statement still waits at most `STATEMENT_TIMEOUT` for a lock;
    /// an answer given up on while the transaction went on could report a
    /// failure for what was in fact committed.
    pub async fn long_batch(&self, qs: Vec<Query>) -> Result<Vec<u64>> {
        self.call_within(true, None, move |c| transaction(c, &qs))
            .await
    }

    pub async fn ping(&self) -> Result<()> {
        self.call(false, |c| {
            c.query_row("SELECT 1", [], |_| Ok(())).map_err(unavailable)
        })
        .await
    }

    /// Stop every thread; the writer closes last, and the last connection to
    /// close checkpoints the WAL into the file.
    pub async fn close(&self) {
        let inner = self.inner.clone();
        let _ = tokio::task::spawn_blocking(move || {
            inner.stopped.store(true, Ordering::Release);
            for _ in 0..inner.threads {
                let _ = inner.readers.send(Msg::Stop);
            }
            let handles: Vec<_> = match inner.workers.lock() {
                Ok(mut w) => w.drain(..).collect(),
                Err(_) => return,
            };
            // Readers first (the writer is the last handle but one, the
            // watchdog the last), so the writer's close is the final one.
            let mut handles = handles.into_iter();
            for h in handles.by_ref().take(inner.threads) {
                let _ = h.join();
            }
            let _ = inner.writer.send(Msg::Stop);
            for h in handles {
                let _ = h.join();
            }
        })
        .await;
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Threads hold only receivers: closing the queues ends them.
        self.stopped.store(true, Ordering::Release);
    }
}

/// A connection thread: run jobs until told to stop or the queue closes,
/// reopening the connection when the watchdog saw another file appear.
fn serve(path: &Path, writer: bool, rx: &crossbeam_channel::Receiver<Msg>, generation: &AtomicU64) {
    let opened = |g| open_connection(path, writer).ok().map(|c| (c, g));
    let mut conn: Option<(Connection, u64)> = opened(generation.load(Ordering::Acquire));
    while let Ok(Msg::Job(job)) = rx.recv() {
        let current = generation.load(Ordering::Acquire);
        if conn.as_ref().is_none_or(|(_, g)| *g != current) {
            conn = opened(current);
        }
        match conn.as_mut() {
            Some((c, _)) => job(c),
            // Dropping the job drops its answer channel: the caller sees
            // "a database thread stopped", an outage, and tries again later.
            None => drop(job),
        }
    }
}

fn watch(
    path: &Path,
    mut id: (u64, u64),
    healthy: &AtomicBool,
    generation: &AtomicU64,
    stopped: &AtomicBool,
) {
    while !stopped.load(Ordering::Acquire) {
        std::thread::sleep(Duration::from_millis(250));
        match identity(path) {
            None => {
                if healthy.swap(false, Ordering::AcqRel) {
                    tracing::error!(path = %path.display(), "database file is missing or unreadable");
                }
            }
            Some(now) => {
                if now != id {
                    tracing::warn!(path = %path.display(), "database file was replaced; reopening");
                    id = now;
                    generation.fetch_add(1, Ordering::AcqRel);
                }
                if !healthy.swap(true, Ordering::AcqRel) {
                    tracing::info!(path = %path.display(), "database file is back");
                }
            }
        }
    }
}

fn unavailable(e: rusqlite::Error) -> Error {
    map_error(e).into()
}

fn map_error(e: rusqlite::Error) -> DbError {
    if let rusqlite::Error::SqliteFailure(f, msg) = &e {
        if f.code == rusqlite::ErrorCode::ConstraintViolation {
            let text = msg.clone().unwrap_or_default();
            match f.extended_code {
                rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY => return DbError::Unique(text),
                rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY => return DbError::ForeignKey,
                _ => {}
            }
        }
    }
    DbError::Other(e.to_string())
}

/// Prepare (cached) and bind `$N` parameters by name: SQLite numbers named
/// parameters by first appearance, so `$2 … $1` would otherwise swap.
fn prepare<'c>(conn: &'c Connection, q: &Query) -> Result<rusqlite::CachedStatement<'c>> {
    let mut stmt = conn.prepare_cached(q.sql).map_err(unavailable)?;
    for i in 1..=stmt.parameter_count() {
        let n = stmt
            .parameter_name(i)
            .and_then(|name| name.strip_prefix('$'))
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n >= 1)
            .ok_or_else(|| {
                Error::Internal(format!("statement parameter {i} is not $N: {}", q.sql))
            })?;
        let arg = q
            .args
            .get(n - 1)
            .ok_or_else(|| Error::Internal(format!("no argument for ${n}: {}", q.sql)))?;
        let bound = match arg {
            super::db::Arg::Int(v) => stmt.raw_bind_parameter(i, v),
            super::db::Arg::Text(v) => stmt.raw_bind_parameter(i, v),
            super::db::Arg::Bool(v) => stmt.raw_bind_parameter(i, v),
            super::db::Arg::Bytes(v) => stmt.raw_bind_parameter(i, v),
        };
        bound.map_err(unavailable)?;
    }
    Ok(stmt)
}

fn rows<T: FromRow>(conn: &Connection, q: &Query) -> Result<Vec<T>> {
    let mut stmt = prepare(conn, q)?;
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(unavailable)? {
        out.push(T::from_row(&SqliteRow(row))?);
    }
    Ok(out)
}

fn transaction(c: &mut Connection, qs: &[Query]) -> Result<Vec<u64>> {
    let tx = c.transaction().map_err(unavailable)?;
    let mut counts = Vec::with_capacity(qs.len());
    for q in qs {
        counts.push(execute(&tx, q)?);
    }
    tx.commit().map_err(unavailable)?;
    Ok(counts)
}

fn execute(conn: &Connection, q: &Query) -> Result<u64> {
    let mut stmt = prepare(conn, q)?;
    stmt.raw_execute().map(|n| n as u64).map_err(unavailable)
}

struct SqliteRow<'a, 'b>(&'a rusqlite::Row<'b>);

fn decode(i: usize, what: &str, v: ValueRef<'_>) -> Error {
    Error::Unavailable(format!(
        "column {i}: expected {what}, found {:?}",
        v.data_type()
    ))
}

impl Row for SqliteRow<'_, '_> {
    fn int(&self, i: usize) -> Result<i64> {
        self.opt_int(i)?
            .ok_or_else(|| Error::Unavailable(format!("column {i}: unexpected NULL")))
    }

    fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        match self.0.get_ref(i).map_err(unavailable)? {
            ValueRef::Null => Ok(None),
            ValueRef::Integer(n) => Ok(Some(n)),
            other => Err(decode(i, "an integer", other)),
        }
    }

    fn text(&self, i: usize) -> Result<String> {
        self.opt_text(i)?
            .ok_or_else(|| Error::Unavailable(format!("column {i}: unexpected NULL")))
    }

    fn opt_text(&self, i: usize) -> Result<Option<String>> {
        match self.0.get_ref(i).map_err(unavailable)? {
            ValueRef::Null => Ok(None),
            ValueRef::Text(t) => String::from_utf8(t.to_vec())
                .map(Some)
                .map_err(|_| Error::Unavailable(format!("column {i}: text is not UTF-8"))),
            other => Err(decode(i, "text", other)),
        }
    }

    fn boolean(&self, i: usize) -> Result<bool> {
        Ok(self.int(i)? != 0)
    }

    fn bytes(&self, i: usize) -> Result<Vec<u8>> {
        match self.0.get_ref(i).map_err(unavailable)? {
            ValueRef::Blob(b) | ValueRef::Text(b) => Ok(b.to_vec()),
            other => Err(decode(i, "bytes", other)),
        }
    }
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        map_error(e)
    }
}
