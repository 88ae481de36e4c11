//! Checks of password hashes made by other systems, exactly as they check them:
//! Django's `contrib/auth/hashers.py` (5.2) and GoTrue's bcrypt. Users
//! imported from those systems (INTERFACE.md, "Import") sign in with their old
//! password; the first success replaces the hash with today's argon2id.
//!
//! pbkdf2 comes from ring (already linked for TLS) rather than RustCrypto's
//! generic `pbkdf2`: a generic is compiled at the calling crate's level, so in
//! the unoptimised test build Django's 1,000,000 rounds took 7 s per check;
//! ring's is compiled optimised in its own crate (0.3 s) and is as audited.
//!
//! Django compares by re-encoding: it hashes the candidate with the stored
//! parameters, formats the whole string again and compares the two strings in
//! constant time. The pbkdf2 and scrypt checks do the same, so a stored string
//! Django would refuse (a non-canonical number, other padding) is refused here.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use std::num::NonZeroU32;
use subtle::ConstantTimeEq;

/// The most memory a Django scrypt hash can ask for: Python's
/// `hashlib.scrypt(maxmem=0)` (Django's `maxmem`) leaves OpenSSL's default of
/// 32 MiB, so Django itself could not check a bigger one.
const SCRYPT_MAX_MEM: u64 = 32 * 1024 * 1024;

fn equal(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The digest behind a `pbkdf2_*` hasher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pbkdf2Digest {
    Sha256,
    Sha1,
}

impl Pbkdf2Digest {
    fn algorithm(self) -> &'static str {
        match self {
            Pbkdf2Digest::Sha256 => "pbkdf2_sha256",
            Pbkdf2Digest::Sha1 => "pbkdf2_sha1",
        }
    }
}

/// Django's `PBKDF2PasswordHasher` / `PBKDF2SHA1PasswordHasher`:
/// `pbkdf2_sha256$<iterations>$<salt>$<base64(pbkdf2(password, salt))>`, the
/// salt used as its UTF-8 text, the key as long as the digest.
/// None: not a well-formed hash of that kind.
pub fn pbkdf2(digest: Pbkdf2Digest, encoded: &str, password: &[u8]) -> Option<bool> {
    let (iterations, salt) = pbkdf2_parts(digest, encoded)?;
    let (algorithm, len) = match digest {
        Pbkdf2Digest::Sha256 => (ring::pbkdf2::PBKDF2_HMAC_SHA256, 32),
        Pbkdf2Digest::Sha1 => (ring::pbkdf2::PBKDF2_HMAC_SHA1, 20),
    };
    let mut key = [0u8; 32];
    let key = &mut key[..len];
    ring::pbkdf2::derive(algorithm, iterations, salt.as_bytes(), password, key);
    let again = format!(
        "{}${iterations}${salt}${}",
        digest.algorithm(),
        STANDARD.encode(key)
    );
    Some(equal(encoded, &again))
}

/// The iterations and salt of a well-formed `pbkdf2_*` string of `digest`.
fn pbkdf2_parts(digest: Pbkdf2Digest, encoded: &str) -> Option<(NonZeroU32, &str)> {
    let mut parts = encoded.splitn(4, '$');
    let (algorithm, iterations, salt, _hash) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if algorithm != digest.algorithm() {
        return None;
    }
    // Django treats 0 as "its default", which then differs from the stored
    // number: such a string never verifies there either.
    Some((iterations.parse().ok()?, salt))
}

/// Whether `encoded` is a `pbkdf2_*` string `pbkdf2` could check.
pub fn pbkdf2_well_formed(digest: Pbkdf2Digest, encoded: &str) -> bool {
    pbkdf2_parts(digest, encoded).is_some()
}

/// Django's `ScryptPasswordHasher` (Django ≥ 4.2):
/// `scrypt$<N>$<salt>$<r>$<p>$<base64(scrypt(password, salt, N, r, p, 64))>`.
pub fn scrypt(encoded: &str, password: &[u8]) -> Option<bool> {
    let (n, salt, r, p, params) = scrypt_parts(encoded)?;
    let mut key = [0u8; 64];
    scrypt::scrypt(password, salt.as_bytes(), &params, &mut key).ok()?;
    let again = format!("scrypt${n}${salt}${r}${p}${}", STANDARD.encode(key));
    Some(equal(encoded, &again))
}

/// Whether `encoded` is a `scrypt$…` string `scrypt` could check.
pub fn scrypt_well_formed(encoded: &str) -> bool {
    scrypt_parts(encoded).is_some()
}

/// N, salt, r, p and the parameters of a well-formed `scrypt$…` string.
fn scrypt_parts(encoded: &str) -> Option<(u64, &str, u32, u32, scrypt::Params)> {
    let mut parts = encoded.splitn(6, '$');
    let (algorithm, n, salt, r, p, _hash) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if algorithm != "scrypt" {
        return None;
    }
    let n: u64 = n.parse().ok()?;
    let r: u32 = r.parse().ok()?;
    let p: u32 = p.parse().ok()?;
    // OpenSSL wants N a power of two above 1, and B + V within maxmem.
    if n < 2 || !n.is_power_of_two() {
        return None;
    }
    let memory = 128u64
        .checked_mul(u64::from(r))?
        .checked_mul(n.checked_add(2)?.checked_add(u64::from(p))?)?;
    if memory > SCRYPT_MAX_MEM {
        return None;
    }
    let log_n = u8::try_from(n.trailing_zeros()).ok()?;
    let params = scrypt::Params::new(log_n, r, p, 64).ok()?;
    Some((n, salt, r, p, params))
}

/// A bcrypt string, `$2b$12$<22 salt><31 hash>` (also `$2a$`, `$2y$`):
/// GoTrue's `encrypted_password` as it is, and the part of Django's `bcrypt$…`
/// after its prefix. Passwords over 72 bytes are cut there, as bcrypt did
/// when every such hash was made (bcrypt 5 for Python refuses them instead,
/// so no newer hash exists to disagree).
pub fn bcrypt(hash: &str, password: &[u8]) -> Option<bool> {
    bcrypt::verify(password, hash).ok()
}

/// Whether `hash` is a bcrypt string `bcrypt` could check.
pub fn bcrypt_well_formed(hash: &str) -> bool {
    hash.parse::<bcrypt::HashParts>()
        .is_ok_and(|p| (4..=31).contains(&p.get_cost()))
}

/// Django's `BCryptSHA256PasswordHasher`: bcrypt of the hex SHA-256 of the
/// password (so nothing is cut at 72 bytes): `bcrypt_sha256$$2b$12$…`.
pub fn bcrypt_sha256(hash: &str, password: &[u8]) -> Option<bool> {
    let hex = hex::encode(Sha256::digest(password));
    bcrypt(hash, hex.as_bytes())
}

#[cfg(test)]
pub(super) mod tests {
    //! Every hash here was made by real Django 5.2.19 (argon2-cffi 25.1.0,
    //! bcrypt 5.0.0) with `make_password(PASSWORD, hasher=…)` and pasted.
    use super::*;

    pub const PASSWORD: &str = "Tr0ub4dor&3 ünïcode";
    pub const PBKDF2_SHA256: &str =
        "pbkdf2_sha256$1000000$Mf2Aan2WCWelFiuATGQMA4$RmzarAuQFfCchv8hdL8IgjxqvxAqaiqULMMCmInOwmk=";
    pub const PBKDF2_SHA1: &str =
        "pbkdf2_sha1$1000000$TlNvW6kanTxQ3H4YFd3TYV$nxp27djXolRhV7iavQ+5qsTkzag=";
    pub const BCRYPT_SHA256: &str =
        "bcrypt_sha256$$2b$12$3F/yR5Ats1lIt7/eN079LO.KrBU9SBRL8mtQrMVmeXkXP7ZpfJCjS";
    pub const BCRYPT: &str = "bcrypt$$2b$12$z7RAlgOvb2cseWiek4m9DOnxCpNrB7pRyta82EpSVVT0CaWYYx2zq";
    pub const SCRYPT: &str = "scrypt$16384$KTrnVGw7Td6Sj6YllpqBiU$8$5$4P6yijkB2sMwHHUYkNpOSnLSncrDC4f76gKU55UmrTxGxjXhKeJqsgsnjxHh2prfRPYr9mgyZBu5zu4f8x31rg==";
    /// Python's bcrypt asked for Go's `$2a$` prefix at cost 10, as GoTrue stores them.
    pub const GOTRUE_BCRYPT: &str = "$2a$10$JMXy91HHKNt5j/DLDr3lGuo3iv8N2yiAH/ntvamgzzHJTu6otKxFq";

    const WRONG: &[u8] = b"Tr0ub4dor&3 unicode";

    #[test]
    fn django_pbkdf2_sha256_and_sha1_verify_the_right_password_only() {
        for (digest, hash) in [
            (Pbkdf2Digest::Sha256, PBKDF2_SHA256),
            (Pbkdf2Digest::Sha1, PBKDF2_SHA1),
        ] {
            assert_eq!(pbkdf2(digest, hash, PASSWORD.as_bytes()), Some(true));
            assert_eq!(pbkdf2(digest, hash, WRONG), Some(false));
        }
        // Each name is its own digest.
        assert_eq!(
            pbkdf2(Pbkdf2Digest::Sha1, PBKDF2_SHA256, PASSWORD.as_bytes()),
            None
        );
    }

    #[test]
    fn pbkdf2_strings_django_would_refuse_are_refused() {
        let pw = PASSWORD.as_bytes();
        for bad in [
            "pbkdf2_sha256",
            "pbkdf2_sha256$1000000$Mf2Aan2WCWelFiuATGQMA4",
            "pbkdf2_sha256$0$Mf2Aan2WCWelFiuATGQMA4$RmzarAuQFfCchv8hdL8IgjxqvxAqaiqULMMCmInOwmk=",
            "pbkdf2_sha256$-1$Mf2Aan2WCWelFiuATGQMA4$RmzarAuQFfCchv8hdL8IgjxqvxAqaiqULMMCmInOwmk=",
            "pbkdf2_sha256$lots$Mf2Aan2WCWelFiuATGQMA4$RmzarAuQFfCchv8hdL8IgjxqvxAqaiqULMMCmInOwmk=",
        ] {
            assert_eq!(pbkdf2(Pbkdf2Digest::Sha256, bad, pw), None, "{bad}");
        }
        // Well formed but not what Django writes: a leading zero, no padding,
        // a truncated hash. Django re-encodes and compares, so they fail.
        for odd in [
            "pbkdf2_sha256$01000000$Mf2Aan2WCWelFiuATGQMA4$RmzarAuQFfCchv8hdL8IgjxqvxAqaiqULMMCmInOwmk=",
            "pbkdf2_sha256$1000000$Mf2Aan2WCWelFiuATGQMA4$RmzarAuQFfCchv8hdL8IgjxqvxAqaiqULMMCmInOwmk",
            "pbkdf2_sha256$1000000$Mf2Aan2WCWelFiuATGQMA4$RmzarAuQFfCchv8hdL8Igj",
        ] {
            assert_eq!(pbkdf2(Pbkdf2Digest::Sha256, odd, pw), Some(false), "{odd}");
        }
    }

    #[test]
    fn django_scrypt_verifies_the_right_password_only() {
        assert_eq!(scrypt(SCRYPT, PASSWORD.as_bytes()), Some(true));
        assert_eq!(scrypt(SCRYPT, WRONG), Some(false));
    }

    #[test]
    fn scrypt_strings_django_could_not_check_are_refused() {
        let pw = PASSWORD.as_bytes();
        let tail = "$KTrnVGw7Td6Sj6YllpqBiU$8$5$4P6y";
        for bad in [
            format!("scrypt$16383{tail}"),   // N not a power of two
            format!("scrypt$1{tail}"),       // N too small
            format!("scrypt$1048576{tail}"), // 1 GiB: over OpenSSL's 32 MiB
            format!("scrypt$x{tail}"),
            "scrypt$16384$salt$8$5".to_owned(),      // no hash
            "scrypt$16384$salt$0$5$AAAA".to_owned(), // r = 0
            "scrypt$16384$salt$8$0$AAAA".to_owned(), // p = 0
        ] {
            assert_eq!(scrypt(&bad, pw), None, "{bad}");
        }
    }

    #[test]
    fn django_bcrypt_and_bcrypt_sha256_verify_the_right_password_only() {
        let plain = BCRYPT.strip_prefix("bcrypt$").unwrap();
        assert_eq!(bcrypt(plain, PASSWORD.as_bytes()), Some(true));
        assert_eq!(bcrypt(plain, WRONG), Some(false));
        let sha = BCRYPT_SHA256.strip_prefix("bcrypt_sha256$").unwrap();
        assert_eq!(bcrypt_sha256(sha, PASSWORD.as_bytes()), Some(true));
        assert_eq!(bcrypt_sha256(sha, WRONG), Some(false));
        // The two are not interchangeable.
        assert_eq!(bcrypt(sha, PASSWORD.as_bytes()), Some(false));
    }

    #[test]
    fn gotrue_bcrypt_verifies_the_right_password_only() {
        assert_eq!(bcrypt(GOTRUE_BCRYPT, PASSWORD.as_bytes()), Some(true));
        assert_eq!(bcrypt(GOTRUE_BCRYPT, WRONG), Some(false));
    }

    #[test]
    fn malformed_bcrypt_is_not_a_hash() {
        for bad in [
            "",
            "$2b$12$",
            "$2b$12$z7RAlgOvb2cseWiek4m9DO",
            "$3b$12$z7RAlgOvb2cseWiek4m9DOnxCpNrB7pRyta82EpSVVT0CaWYYx2zq",
            "$2b$99$z7RAlgOvb2cseWiek4m9DOnxCpNrB7pRyta82EpSVVT0CaWYYx2zq",
            "$2b$xx$z7RAlgOvb2cseWiek4m9DOnxCpNrB7pRyta82EpSVVT0CaWYYx2zq",
        ] {
            assert_eq!(bcrypt(bad, PASSWORD.as_bytes()), None, "{bad:?}");
        }
    }
}
