//! Failed-login throttling: at most N failures per account in a window
//! (INTERFACE.md, "Logins that guess").

/// Fifteen minutes, as INTERFACE.md fixes.
pub const LOGIN_WINDOW_SECONDS: i64 = 15 * 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginThrottle {
    pub max_failures: i64,
    pub window_seconds: i64,
}

impl LoginThrottle {
    pub fn new(max_failures: i64) -> Self {
        Self {
            max_failures,
            window_seconds: LOGIN_WINDOW_SECONDS,
        }
    }

    /// Seconds to wait when throttled: until the oldest failure in the
    /// window leaves it, at least one.
    pub fn wait_after(&self, oldest: i64, now: i64) -> i64 {
        (oldest + self.window_seconds - now).max(1)
    }
}
