//! Any string as a stored password hash, as an import reads it: telling its
//! format never panics, and the name it reports is a fixed word, never a
//! piece of what was stored (a plaintext password must not leak through it).
#![no_main]

use accountd::domain::password::{classify, Stored};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(stored) = std::str::from_utf8(data) else {
        return;
    };
    if let Stored::Unknown(name) = classify(stored) {
        let word = name.strip_suffix(" (malformed)").unwrap_or(&name);
        const FIXED: [&str; 22] = [
            "unrecognised", "md5", "sha1", "unsalted_md5", "unsalted_sha1", "crypt", "argon2i",
            "argon2d", "pbkdf2", "sha256", "sha512", "bcrypt_sha512", "scrypt_sha256", "ldap",
            "plain", "argon2", "bcrypt", "pbkdf2_sha256", "pbkdf2_sha1", "scrypt", "bcrypt_sha256", "fbscrypt",
        ];
        assert!(FIXED.contains(&word), "{name:?} from {stored:?}");
    }
});
