//! The audit trail's writer: events from the use cases are queued and kept
//! in batches by a task of their own, so an auth request never waits for its
//! audit record (refresh stays one database round trip).

use crate::domain::audit::{AuditEvent, EventSink};
use crate::domain::ports::Store;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Events waiting to be written; beyond this they are dropped and counted
/// (a database outage must not grow memory without bound).
const QUEUE: usize = 10_000;
/// Events written in one batch at most.
const BATCH: usize = 256;
/// How long an event may wait for others to share its batch.
const LINGER: Duration = Duration::from_millis(50);

enum Msg {
    Event(AuditEvent),
    Flush(oneshot::Sender<()>),
}

/// The `EventSink` that keeps events in the store.
pub struct AuditWriter {
    queue: mpsc::Sender<Msg>,
    dropped: Arc<AtomicU64>,
}

impl AuditWriter {
    /// Start the writer task over `store`.
    pub fn start(store: Arc<dyn Store>) -> Arc<Self> {
        let (queue, rx) = mpsc::channel(QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        tokio::spawn(write(store, rx, dropped.clone()));
        Arc::new(Self { queue, dropped })
    }

    /// Events lost so far (queue full, or the database refused a batch).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[async_trait::async_trait]
impl EventSink for AuditWriter {
    fn emit(&self, event: AuditEvent) {
        if self.queue.try_send(Msg::Event(event)).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.queue.send(Msg::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

async fn write(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Msg>, dropped: Arc<AtomicU64>) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut waiting = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        let deadline = tokio::time::Instant::now() + LINGER;
        // Gather what comes within LINGER, up to BATCH; a flush request
        // closes the batch at once.
        loop {
            match next.take() {
                Some(Msg::Event(e)) => batch.push(e),
                Some(Msg::Flush(done)) => {
                    waiting.push(done);
                    break;
                }
                None => {}
            }
            if batch.len() >= BATCH {
                break;
            }
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(m)) => next = Some(m),
                _ => break,
            }
        }
        if !batch.is_empty() {
            if let Err(e) = store.record_audit(&batch).await {
                dropped.fetch_add(batch.len() as u64, Ordering::Relaxed);
                tracing::warn!(error = %e, events = batch.len(), "audit events could not be kept");
            }
            batch.clear();
        }
        for done in waiting.drain(..) {
            let _ = done.send(());
        }
    }
}
