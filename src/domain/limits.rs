//! Abuse limits (INTERFACE.md, "Logins that guess", "Abuse limits"): how
//! many failed logins, codes sent and wrong codes are allowed, per what and
//! in which window. The store keeps the counters; the rules are here.

use super::clock::UnixTime;

/// Fifteen minutes, as INTERFACE.md fixes for failed logins per address.
pub const LOGIN_WINDOW_SECONDS: i64 = 15 * 60;
/// An hour: the account ceiling, the SMS budgets and wrong codes per address.
pub const HOUR: i64 = 3600;
/// A pending attempt older than this was abandoned (its process died) and
/// no longer holds a place.
pub const PENDING_SECONDS: i64 = 60;

/// At most `max` in `window` seconds; `max` of `i64::MAX` is no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub max: i64,
    pub window: i64,
}

impl Budget {
    pub const UNLIMITED: Budget = Budget {
        max: i64::MAX,
        window: HOUR,
    };

    /// A limit from configuration, where 0 means none.
    pub fn per_hour_or_none(max: i64) -> Self {
        if max <= 0 {
            Self::UNLIMITED
        } else {
            Self { max, window: HOUR }
        }
    }

    pub fn since(&self, now: UnixTime) -> UnixTime {
        now - self.window
    }

    /// Seconds to wait when `count` reached the limit: until the oldest
    /// counted event leaves the window, at least one.
    pub fn wait(&self, oldest: Option<UnixTime>, now: UnixTime) -> i64 {
        oldest.map_or(1, |o| (o + self.window - now).max(1))
    }

    pub fn reached(&self, count: i64) -> bool {
        count >= self.max
    }
}

/// The limits, from configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Failed password logins per (login name, client address) in 15 minutes.
    pub login_per_client: Budget,
    /// Failed password logins per login name, from all addresses, in an hour.
    pub login_per_name: Budget,
    /// Codes sent per client address in an hour.
    pub sms_per_client: Budget,
    /// Codes sent in all, across instances, in an hour.
    pub sms_global: Budget,
    /// Country calling codes a code may be sent to; empty: all.
    pub sms_countries: Vec<u16>,
    /// Wrong codes per client address in an hour.
    pub guesses_per_client: Budget,
}

impl Limits {
    /// INTERFACE.md's defaults, with `login_max_failures` per address.
    pub fn new(login_max_failures: i64) -> Self {
        Self {
            login_per_client: Budget {
                max: login_max_failures,
                window: LOGIN_WINDOW_SECONDS,
            },
            login_per_name: Budget {
                max: 100,
                window: HOUR,
            },
            sms_per_client: Budget::per_hour_or_none(60),
            sms_global: Budget::per_hour_or_none(1000),
            sms_countries: Vec::new(),
            guesses_per_client: Budget::per_hour_or_none(30),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_waits_until_its_oldest_event_leaves_the_window() {
        let b = Budget {
            max: 3,
            window: 900,
        };
        assert_eq!(b.wait(Some(100), 100), 900);
        assert_eq!(b.wait(Some(100), 999), 1);
        assert_eq!(b.wait(Some(100), 5000), 1);
        assert_eq!(b.wait(None, 5000), 1);
        assert!(!b.reached(2) && b.reached(3));
        assert!(!Budget::per_hour_or_none(0).reached(i64::MAX - 1));
    }
}
