//! One-time codes: drawn from the OS CSPRNG, kept only as a keyed hash,
//! compared in constant time (INTERFACE.md, "One-time codes").

use super::secret::Secret;
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;

/// The limits on codes, from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtpPolicy {
    pub ttl_seconds: i64,
    pub resend_seconds: i64,
    pub max_attempts: i64,
    pub max_sends_per_hour: i64,
}

/// What a caller wants a code for: a purpose name (codes of one purpose never
/// satisfy another) and the number of digits its contract sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtpSpec {
    pub purpose: &'static str,
    pub digits: usize,
}

/// A code of `digits` uniformly drawn decimal digits.
pub fn generate(digits: usize) -> Secret {
    let mut rng = rand::rngs::OsRng;
    let code: String = (0..digits)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect();
    Secret::new(code)
}

/// HMAC-SHA256 keyed with a server secret, over purpose, phone and code, so a
/// leaked table does not give the codes away to a 10^6 brute force.
#[derive(Clone)]
pub struct OtpKey(Vec<u8>);

impl OtpKey {
    pub fn new(key: &[u8]) -> Self {
        Self(key.to_vec())
    }

    fn mac(&self, purpose: &str, phone: &str, code: &str) -> Hmac<Sha256> {
        // HMAC takes keys of any length, so this cannot fail.
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!());
        for part in [purpose, phone, code] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac
    }

    pub fn hash(&self, purpose: &str, phone: &str, code: &Secret) -> String {
        hex::encode(
            self.mac(purpose, phone, code.expose())
                .finalize()
                .into_bytes(),
        )
    }

    /// A keyed tag of `text` (32 hex characters): limits count under it, so
    /// what a client typed (a name, perhaps a password typed in the wrong
    /// field) is never stored as typed.
    pub fn tag(&self, purpose: &str, text: &str) -> String {
        let mut tag = hex::encode(self.mac(purpose, "", text).finalize().into_bytes());
        tag.truncate(32);
        tag
    }

    /// Constant-time comparison against a stored hash.
    pub fn matches(&self, purpose: &str, phone: &str, code: &Secret, stored_hex: &str) -> bool {
        match hex::decode(stored_hex) {
            Ok(stored) => self
                .mac(purpose, phone, code.expose())
                .verify_slice(&stored)
                .is_ok(),
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_the_asked_length_and_only_digits() {
        for digits in [5, 6] {
            let c = generate(digits);
            assert_eq!(c.expose().len(), digits);
            assert!(c.expose().bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn keyed_hash_matches_only_the_same_code_purpose_and_phone() {
        let k = OtpKey::new(b"key");
        let h = k.hash("login", "+1234567890", &Secret::from("123456"));
        assert!(k.matches("login", "+1234567890", &Secret::from("123456"), &h));
        assert!(!k.matches("login", "+1234567890", &Secret::from("123457"), &h));
        assert!(!k.matches("other", "+1234567890", &Secret::from("123456"), &h));
        assert!(!k.matches("login", "+1234567891", &Secret::from("123456"), &h));
        assert!(!OtpKey::new(b"yek").matches("login", "+1234567890", &Secret::from("123456"), &h));
    }
}
