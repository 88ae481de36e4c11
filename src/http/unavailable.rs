//! The one answer to a database outage or a full password-hash queue
//! (INTERFACE.md, "Database outage"): 503 with `Retry-After`, in each
//! contract's own error shape. The sentence and the wait are the same
//! everywhere; each contract puts them under its own key.

/// What every contract says when the service cannot answer for now.
pub const MESSAGE: &str = "Service temporarily unavailable, try again later.";

/// Seconds a client is told to wait before trying again.
pub const RETRY_AFTER_SECONDS: i64 = 5;

/// Log why, once, where the error becomes the 503.
pub fn log(reason: &str) {
    tracing::warn!(reason, "service unavailable");
}
