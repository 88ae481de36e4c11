//! Any string as a phone number: never a panic, and what is accepted is
//! E.164 (a `+`, a country code not starting with 0, 2 to 15 ASCII digits).
#![no_main]

use accountd::domain::phone::Phone;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = Phone::parse(text) {
        let digits = p.as_str().strip_prefix('+').unwrap();
        assert!((2..=15).contains(&digits.len()), "{text:?}");
        assert!(digits.bytes().all(|b| b.is_ascii_digit()), "{text:?}");
        assert!(!digits.starts_with('0'), "{text:?}");
        let _ = p.calling_code();
    }
    if Phone::parse_dialable(text).is_ok() {
        assert!(Phone::parse(text).is_ok(), "{text:?}");
    }
});
