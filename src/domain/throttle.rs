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

    /// Seconds to wait, if `failures` since the window start say the account is throttled.
    pub fn wait(&self, failures: i64, oldest: Option<i64>, now: i64) -> Option<i64> {
        if failures < self.max_failures {
            return None;
        }
        let until = oldest.unwrap_or(now) + self.window_seconds;
        Some((until - now).max(1))
    }
}
