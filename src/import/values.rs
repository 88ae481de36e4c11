//! What a source value means, and how it goes into a profile: as Django REST
//! Framework renders it (INTERFACE.md, "Import": dates as `YYYY-MM-DD`,
//! decimals as strings), so a contract that shows a profile attribute shows
//! what the old API showed.

use super::source::{Column, Kind};
use crate::domain::clock::UnixTime;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::Value;

/// An instant: Unix seconds and microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Instant {
    pub seconds: UnixTime,
    pub micros: u32,
}

/// An instant as read: Unix seconds with a fraction (PostgreSQL's
/// `EXTRACT(EPOCH …)`), or a date and time as Django's SQLite backend stores
/// it (`2026-11-30 00:22:01.756670`, UTC; a `T`, and an offset, are taken too).
pub fn instant(text: &str) -> Option<Instant> {
    let t = text.trim();
    if let Some(epoch) = epoch(t) {
        return Some(epoch);
    }
    let at = DateTime::parse_from_rfc3339(&t.replacen(' ', "T", 1))
        .map(|d| d.with_timezone(&Utc))
        .or_else(|_| {
            NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f")
                .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f"))
                .map(|n| n.and_utc())
        })
        .ok()?;
    Some(Instant {
        seconds: at.timestamp(),
        micros: at.timestamp_subsec_micros(),
    })
}

/// `1795998123.107726` exactly, without going through a float.
fn epoch(t: &str) -> Option<Instant> {
    let (whole, fraction) = t.split_once('.').unwrap_or((t, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let unsigned = whole.strip_prefix('-').unwrap_or(whole);
    if unsigned.is_empty() || !digits(unsigned) || !digits(fraction) {
        return None;
    }
    let seconds: i64 = whole.parse().ok()?;
    let mut micros = 0u32;
    for (i, b) in fraction.bytes().take(6).enumerate() {
        micros += u32::from(b - b'0') * 10u32.pow(5 - i as u32);
    }
    // Before 1970 the fraction counts down from the whole second.
    if seconds < 0 && micros > 0 {
        return Some(Instant {
            seconds: seconds - 1,
            micros: 1_000_000 - micros,
        });
    }
    Some(Instant { seconds, micros })
}

/// DRF's rendering of an aware datetime in UTC: ISO 8601, microseconds only
/// when there are some, `Z` for `+00:00`.
pub fn drf_datetime(at: Instant) -> String {
    let Some(t) = DateTime::from_timestamp(at.seconds, at.micros * 1000) else {
        return String::new();
    };
    if at.micros == 0 {
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
    }
}

pub fn boolean(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "t" | "true" => Some(true),
        "0" | "f" | "false" => Some(false),
        _ => None,
    }
}

/// Digits after the decimal point.
fn scale_of(text: &str) -> usize {
    text.split_once('.').map_or(0, |(_, f)| f.len())
}

/// The number of decimal places a decimal column's values are shown with.
///
/// PostgreSQL gives each value with its column's scale (`4.00`). Django's
/// SQLite backend declares a bare `decimal`, and SQLite keeps `4.00` as the
/// integer 4 and `2.50` as the real 2.5, so the scale is not in the file:
/// the most places any value of the column has is taken as the column's
/// (exact whenever one value uses them all, as 3.75 does).
pub fn decimal_scale<'a>(values: impl Iterator<Item = &'a str>) -> usize {
    values.map(scale_of).max().unwrap_or(0)
}

/// A decimal as DRF renders it (`COERCE_DECIMAL_TO_STRING`): a string with
/// the column's decimal places.
pub fn decimal(text: &str, scale: usize) -> String {
    let t = text.trim();
    let (whole, fraction) = t.split_once('.').unwrap_or((t, ""));
    if scale == 0 {
        return whole.to_owned();
    }
    format!("{whole}.{fraction:0<scale$}")
}

/// A cell as a profile value; None for NULL, and for what cannot be read
/// as its kind (then the text itself is kept).
pub fn profile_value(column: &Column, text: &str, scale: usize) -> Value {
    match column.kind {
        Kind::Bool => boolean(text).map_or_else(|| Value::from(text), Value::from),
        Kind::Int => text
            .trim()
            .parse::<i64>()
            .map_or_else(|_| Value::from(text), Value::from),
        Kind::Float => text
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| Value::from(text), Value::Number),
        Kind::Decimal => Value::from(decimal(text, scale)),
        Kind::Instant => {
            instant(text).map_or_else(|| Value::from(text), |i| drf_datetime(i).into())
        }
        Kind::Json => serde_json::from_str(text).unwrap_or_else(|_| Value::from(text)),
        Kind::Date | Kind::Text => Value::from(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_are_read_from_django_sqlite_text_and_postgresql_epochs() {
        let at = Instant {
            seconds: 1_795_998_121,
            micros: 756_670,
        };
        assert_eq!(instant("2026-11-30 00:22:01.756670"), Some(at));
        assert_eq!(instant("2026-11-30T00:22:01.756670+00:00"), Some(at));
        assert_eq!(instant("2026-11-30 02:22:01.75667+02:00"), Some(at));
        assert_eq!(instant("1795998121.75667"), Some(at));
        assert_eq!(
            instant("2026-12-01 00:22:03"),
            Some(Instant {
                seconds: 1_796_084_523,
                micros: 0
            })
        );
        assert_eq!(
            instant("-1.5"),
            Some(Instant {
                seconds: -2,
                micros: 500_000
            })
        );
        for bad in ["", "soon", "2026-13-01 00:00:00", "1.2.3", "Infinity"] {
            assert_eq!(instant(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn datetimes_render_as_drf_does() {
        let whole = Instant {
            seconds: 1_795_998_121,
            micros: 0,
        };
        assert_eq!(drf_datetime(whole), "2026-11-30T00:22:01Z");
        assert_eq!(
            drf_datetime(Instant {
                micros: 756_670,
                ..whole
            }),
            "2026-11-30T00:22:01.756670Z"
        );
    }

    #[test]
    fn decimals_keep_their_columns_places_even_from_sqlite() {
        // Django's SQLite file for 3.75, 4.00, 2.50, 0.05.
        let stored = ["3.75", "4", "2.5", "0.05"];
        let scale = decimal_scale(stored.iter().copied());
        assert_eq!(scale, 2);
        let shown: Vec<String> = stored.iter().map(|s| decimal(s, scale)).collect();
        assert_eq!(shown, ["3.75", "4.00", "2.50", "0.05"]);
        assert_eq!(decimal("-7", 1), "-7.0");
        assert_eq!(decimal("12", 0), "12");
    }

    #[test]
    fn cells_become_profile_values_of_their_kind() {
        let col = |kind| Column {
            name: "c".into(),
            kind,
        };
        assert_eq!(profile_value(&col(Kind::Bool), "1", 0), Value::Bool(true));
        assert_eq!(
            profile_value(&col(Kind::Bool), "false", 0),
            Value::Bool(false)
        );
        assert_eq!(profile_value(&col(Kind::Int), "42", 0), Value::from(42));
        assert_eq!(profile_value(&col(Kind::Float), "0.5", 0), Value::from(0.5));
        assert_eq!(
            profile_value(&col(Kind::Decimal), "4", 2),
            Value::from("4.00")
        );
        assert_eq!(
            profile_value(&col(Kind::Date), "2000-01-15", 0),
            Value::from("2000-01-15")
        );
        assert_eq!(
            profile_value(&col(Kind::Json), r#"{"a": [1]}"#, 0),
            serde_json::json!({"a": [1]})
        );
        assert_eq!(
            profile_value(&col(Kind::Instant), "2026-11-30 00:22:01", 0),
            Value::from("2026-11-30T00:22:01Z")
        );
    }
}
