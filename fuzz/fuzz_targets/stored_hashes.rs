//! Any string as a stored password hash, as an import reads it: telling its
//! format never panics, and a name it reports is a short word, never a
//! piece of what was stored (a plaintext password must not leak through it).
#![no_main]

use accountd::domain::password::{classify, Stored};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(stored) = std::str::from_utf8(data) else {
        return;
    };
    if let Stored::Unknown(name) = classify(stored) {
        assert!(name.len() <= 40, "{name:?}");
        assert!(
            name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || " _()".contains(c)),
            "{name:?}"
        );
    }
});
