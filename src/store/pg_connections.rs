//! PostgreSQL connections, at most a fixed number per instance.
//!
//! Why not sqlx's pool: it pings every connection when it is given back
//! (sqlx-core 0.8 `return_to_pool`), a second round trip for every
//! statement — counted on the wire with `bench/lib/pg_count.py`: a profile
//! request sent `Bind Execute Close Sync`, then a lone `Sync`. Here a
//! connection goes back only when its work finished; one whose work was
//! cancelled or failed at the connection is dropped instead (it may be left
//! mid-protocol), so no ping is needed to trust what is idle. A connection
//! idle for longer than `STALE_AFTER` (it may have died with a server
//! restart) is pinged before use; and an I/O error drops every idle
//! connection, which a restart has most likely broken too.

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::Connection;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, SemaphorePermit};

/// Idle this long, a connection is pinged before it is trusted again.
const STALE_AFTER: Duration = Duration::from_secs(5);

pub struct Connections {
    options: PgConnectOptions,
    idle: Mutex<Vec<(PgConnection, Instant)>>,
    permits: Semaphore,
    acquire_timeout: Duration,
    closed: AtomicBool,
}

/// A connection lent out; `give_back` returns it, dropping the lease
/// closes it.
pub struct Lease<'a> {
    conn: Option<PgConnection>,
    pool: &'a Connections,
    _permit: SemaphorePermit<'a>,
}

impl std::ops::Deref for Lease<'_> {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        // Present from acquire until give_back consumes the lease.
        self.conn.as_ref().unwrap_or_else(|| unreachable!())
    }
}

impl std::ops::DerefMut for Lease<'_> {
    fn deref_mut(&mut self) -> &mut PgConnection {
        self.conn.as_mut().unwrap_or_else(|| unreachable!())
    }
}

impl Lease<'_> {
    /// The work on it finished: it may serve again.
    pub fn give_back(mut self) {
        if let Some(conn) = self.conn.take() {
            if !self.pool.closed.load(Ordering::Acquire) {
                if let Ok(mut idle) = self.pool.idle.lock() {
                    idle.push((conn, Instant::now()));
                }
            }
        }
    }
}

impl Connections {
    pub fn new(options: PgConnectOptions, max: usize, acquire_timeout: Duration) -> Self {
        Self {
            options,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(max),
            acquire_timeout,
            closed: AtomicBool::new(false),
        }
    }

    /// A connection: an idle one (the most recently used), or a new one;
    /// waiting at most the acquire timeout in all.
    pub async fn acquire(&self) -> Result<Lease<'_>, sqlx::Error> {
        tokio::time::timeout(self.acquire_timeout, self.acquire_untimed())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
    }

    async fn acquire_untimed(&self) -> Result<Lease<'_>, sqlx::Error> {
        if self.closed.load(Ordering::Acquire) {
            return Err(sqlx::Error::PoolClosed);
        }
        let permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?;
        loop {
            let next = self.idle.lock().ok().and_then(|mut idle| idle.pop());
            let Some((mut conn, since)) = next else {
                break;
            };
            if since.elapsed() < STALE_AFTER || conn.ping().await.is_ok() {
                return Ok(Lease {
                    conn: Some(conn),
                    pool: self,
                    _permit: permit,
                });
            }
        }
        let conn = PgConnection::connect_with(&self.options).await?;
        Ok(Lease {
            conn: Some(conn),
            pool: self,
            _permit: permit,
        })
    }

    /// An error at the connection (not a statement refused by the server):
    /// the idle ones have most likely gone the same way.
    pub fn forget_idle(&self) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
    }

    /// Close every idle connection; lent ones close when their lease ends.
    pub async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let idle: Vec<_> = match self.idle.lock() {
            Ok(mut idle) => idle.drain(..).collect(),
            Err(_) => Vec::new(),
        };
        for (conn, _) in idle {
            let _ = conn.close().await;
        }
    }
}
