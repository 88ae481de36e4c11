//! The connection loop (INTERFACE.md, "Connections, queues, responses"):
//! hyper-util's auto (HTTP/1 and HTTP/2) connections, each watched so that
//! a request's headers must arrive within the header timeout and an idle
//! keep-alive connection is closed after the idle timeout; accept errors such
//! as EMFILE back off instead of spinning; shutdown drains requests in flight
//! up to a deadline, then drops what is left.
//!
//! hyper's own `header_read_timeout` is not used: it also runs while a
//! keep-alive connection waits for its next request, so it would close idle
//! connections after the header timeout (10 s) rather than the idle one (60 s).

use axum::extract::ConnectInfo;
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::Service;

/// The clocks every connection runs under.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// From a connection's first byte of a request (or its opening) to the
    /// end of that request's headers.
    pub header: Duration,
    /// A keep-alive connection with no request for this long is closed.
    pub idle: Duration,
    /// After the shutdown signal, requests in flight have this long to finish.
    pub drain: Duration,
}

/// Serve `app` on `listener` until `shutdown` resolves; then stop accepting,
/// let requests in flight finish within `limits.drain`, and drop every
/// connection still open.
pub async fn serve<S>(
    listener: TcpListener,
    app: S,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()>
where
    S: Service<axum::http::Request<Incoming>, Response = Response, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        // Ours is in `watch`; see the module comment.
        .header_read_timeout(None)
        .keep_alive(true);
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    let mut backoff = AcceptBackoff::default();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            // Reap finished connections so the set does not grow without bound.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = listener.accept() => match accepted {
                Ok(pair) => {
                    backoff.reset();
                    pair
                }
                Err(e) => {
                    backoff.wait(&e).await;
                    continue;
                }
            },
        };
        // Small answers are written whole; do not hold them for Nagle.
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity::new());
        let io = TokioIo::new(Watched {
            inner: stream,
            activity: activity.clone(),
        });
        let service = TowerToHyperService::new(Tracked {
            inner: app.clone(),
            activity: activity.clone(),
            peer,
        });
        let connection = graceful.watch(builder.serve_connection(io, service).into_owned());
        connections.spawn(async move {
            tokio::select! {
                result = connection => {
                    if let Err(e) = result {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                }
                why = watch(&activity, limits) => {
                    // Dropping the connection closes the socket.
                    tracing::debug!(%peer, reason = why, "connection closed");
                }
            }
        });
    }
    drop(listener);
    let open = graceful.count();
    if open > 0 {
        tracing::info!(connections = open, "draining connections");
    }
    if tokio::time::timeout(limits.drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            connections = connections.len(),
            "shutdown deadline passed; dropping the connections still open"
        );
    }
    connections.shutdown().await;
    Ok(())
}

/// What a connection is doing, as its watchdog needs to know.
struct Activity {
    phase: Mutex<Phase>,
    /// Woken when the deadline may have come closer (a request's first bytes).
    changed: Notify,
}

struct Phase {
    /// Requests handed to the application and not yet answered.
    in_flight: usize,
    /// Waiting for a request's headers (rather than idle) since `since`.
    awaiting_head: bool,
    since: Instant,
}

impl Activity {
    /// A new connection is expected to send a request at once.
    fn new() -> Self {
        Self {
            phase: Mutex::new(Phase {
                in_flight: 0,
                awaiting_head: true,
                since: Instant::now(),
            }),
            changed: Notify::new(),
        }
    }

    fn phase(&self) -> std::sync::MutexGuard<'_, Phase> {
        // Nothing panics while holding it; a poisoned lock still holds valid counts.
        self.phase.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Bytes arrived: with no request in flight, they start a request's head.
    fn bytes_read(&self) {
        let mut p = self.phase();
        if p.in_flight == 0 && !p.awaiting_head {
            p.awaiting_head = true;
            p.since = Instant::now();
            drop(p);
            self.changed.notify_one();
        }
    }

    fn request_started(self: &Arc<Self>) -> InFlight {
        let mut p = self.phase();
        p.in_flight += 1;
        p.awaiting_head = false;
        InFlight(self.clone())
    }
}

/// One request being answered; dropped when its answer is ready (or the
/// request is abandoned), which makes the connection idle again.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut p = self.0.phase();
        p.in_flight = p.in_flight.saturating_sub(1);
        if p.in_flight == 0 {
            p.awaiting_head = false;
            p.since = Instant::now();
        }
    }
}

/// Resolves when the connection has overstayed: headers not complete within
/// `limits.header`, or idle for `limits.idle`. A request in flight is the
/// request timeout's business, not this one's.
async fn watch(activity: &Activity, limits: Limits) -> &'static str {
    loop {
        let deadline = {
            let p = activity.phase();
            if p.in_flight > 0 {
                None
            } else if p.awaiting_head {
                Some((p.since + limits.header, "header timeout"))
            } else {
                Some((p.since + limits.idle, "idle timeout"))
            }
        };
        match deadline {
            Some((at, why)) if Instant::now() >= at => return why,
            Some((at, _)) => {
                tokio::select! {
                    () = activity.changed.notified() => {}
                    () = tokio::time::sleep_until(at) => {}
                }
            }
            // Busy: look again later (deadlines only move later while busy).
            None => {
                tokio::select! {
                    () = activity.changed.notified() => {}
                    () = tokio::time::sleep(limits.header) => {}
                }
            }
        }
    }
}

/// The socket, telling the watchdog when bytes arrive.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bytes_read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The application, given the client's address (`ConnectInfo`, as
/// `axum::serve` gives it) and counted in flight while it answers.
#[derive(Clone)]
struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
    peer: SocketAddr,
}

impl<S> Service<axum::http::Request<Incoming>> for Tracked<S>
where
    S: Service<axum::http::Request<Incoming>, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: axum::http::Request<Incoming>) -> Self::Future {
        req.extensions_mut().insert(ConnectInfo(self.peer));
        let in_flight = self.activity.request_started();
        let answer = self.inner.call(req);
        Box::pin(async move {
            let response = answer.await;
            drop(in_flight);
            response
        })
    }
}

/// Waits after a failed accept. Out of file descriptors (EMFILE, ENFILE) or
/// memory, accept fails at once and would fail again at once: back off from
/// 10 ms up to 1 s so the loop neither spins nor stops, and say so in the log.
#[derive(Default)]
struct AcceptBackoff {
    delay: Option<Duration>,
}

impl AcceptBackoff {
    fn reset(&mut self) {
        self.delay = None;
    }

    async fn wait(&mut self, e: &io::Error) {
        // A connection that died before we took it: nothing wrong with us.
        if matches!(
            e.kind(),
            io::ErrorKind::ConnectionAborted
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionRefused
                | io::ErrorKind::Interrupted
        ) {
            return;
        }
        let delay = self.delay.map_or(Duration::from_millis(10), |d| {
            (d * 2).min(Duration::from_secs(1))
        });
        self.delay = Some(delay);
        tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "accept failed");
        tokio::time::sleep(delay).await;
    }
}
