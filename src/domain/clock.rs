//! Time is an input: the domain asks a Clock, tests move one.

use std::sync::atomic::{AtomicI64, Ordering};

/// Seconds since the Unix epoch; the unit of every stored instant.
pub type UnixTime = i64;

pub trait Clock: Send + Sync {
    fn now(&self) -> UnixTime;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixTime {
        chrono::Utc::now().timestamp()
    }
}

/// A clock that starts at the wall time and moves only when told to.
#[derive(Debug)]
pub struct ManualClock {
    now: AtomicI64,
}

impl ManualClock {
    pub fn new() -> Self {
        Self {
            now: AtomicI64::new(chrono::Utc::now().timestamp()),
        }
    }

    pub fn advance(&self, seconds: i64) {
        self.now.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixTime {
        self.now.load(Ordering::SeqCst)
    }
}

/// RFC 3339 in UTC with a `Z`, as Django REST Framework renders datetimes.
pub fn rfc3339(t: UnixTime) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}
