//! Key material: making keys of each algorithm, and the public half of
//! asymmetric ones as JWK members.

use super::{Algorithm, KeyState, StoredKey};
use crate::domain::clock::UnixTime;
use crate::domain::error::{Error, Result};
use crate::domain::secret::Secret;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::DecodingKey;
use sha2::{Digest, Sha256};

/// RSA keys are made with this many bits: what RS256 deployments commonly
/// use (RFC 7518 asks for at least 2048); rotation bounds a key's life.
pub const RSA_BITS: usize = 2048;

/// The public half of an asymmetric key, as a JWK's parameters (RFC 7517,
/// RFC 8037 for Ed25519), each base64url without padding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    Ed25519 { x: String },
    Rsa { n: String, e: String },
}

impl PublicKey {
    /// The members of its JWK that identify the key, in RFC 7638's
    /// (lexicographic) order.
    fn members(&self) -> Vec<(&'static str, &str)> {
        match self {
            PublicKey::Ed25519 { x } => vec![("crv", "Ed25519"), ("kty", "OKP"), ("x", x)],
            PublicKey::Rsa { n, e } => vec![("e", e), ("kty", "RSA"), ("n", n)],
        }
    }

    /// As the database keeps it: those members as a JSON object.
    pub fn to_jwk_text(&self) -> String {
        let map: serde_json::Map<String, serde_json::Value> = self
            .members()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), serde_json::Value::from(v)))
            .collect();
        serde_json::Value::Object(map).to_string()
    }

    /// Read back what `to_jwk_text` wrote.
    pub fn from_jwk_text(text: &str) -> Option<Self> {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        let member = |k: &str| v.get(k).and_then(|m| m.as_str()).map(str::to_owned);
        match (member("kty")?.as_str(), member("crv").as_deref()) {
            ("OKP", Some("Ed25519")) => Some(PublicKey::Ed25519 { x: member("x")? }),
            ("RSA", _) => Some(PublicKey::Rsa {
                n: member("n")?,
                e: member("e")?,
            }),
            _ => None,
        }
    }

    /// The RFC 7638 thumbprint: the `kid` of an asymmetric key, so anyone
    /// holding the public key can tell which `kid` it has.
    pub fn thumbprint(&self) -> String {
        let canonical = self
            .members()
            .into_iter()
            .map(|(k, v)| format!("\"{k}\":\"{v}\""))
            .collect::<Vec<_>>()
            .join(",");
        URL_SAFE_NO_PAD.encode(Sha256::digest(format!("{{{canonical}}}")))
    }

    pub(super) fn decoding(&self) -> std::result::Result<DecodingKey, String> {
        match self {
            PublicKey::Ed25519 { x } => DecodingKey::from_ed_components(x),
            PublicKey::Rsa { n, e } => DecodingKey::from_rsa_components(n, e),
        }
        .map_err(|e| format!("unreadable public key: {e}"))
    }
}

/// An id for a key whose tokens never show it (HS256).
pub(super) fn random_kid() -> String {
    hex::encode(rand::random::<[u8; 8]>())
}

/// A secret as earlier versions generated them: 64 hex characters, whose
/// bytes are the HMAC key.
fn random_secret() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

pub(super) fn pem_der(text: &str) -> std::result::Result<Vec<u8>, String> {
    let body: String = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----"))
        .collect();
    STANDARD
        .decode(body)
        .map_err(|e| format!("unreadable PEM: {e}"))
}

/// A new key of `algorithm`, current from `now`. RSA key generation takes
/// tens to hundreds of milliseconds: run it off the async runtime ([`generate`]).
pub fn make_key(algorithm: Algorithm, now: UnixTime) -> std::result::Result<StoredKey, String> {
    let (private, public) = match algorithm {
        Algorithm::Hs256 => (random_secret(), None),
        Algorithm::EdDsa => {
            use ring::signature::{Ed25519KeyPair, KeyPair};
            let rng = ring::rand::SystemRandom::new();
            let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)
                .map_err(|_| "cannot generate an Ed25519 key".to_owned())?;
            let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
                .map_err(|e| format!("cannot read the Ed25519 key just made: {e}"))?;
            let x = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
            (
                pem("PRIVATE KEY", pkcs8.as_ref()),
                Some(PublicKey::Ed25519 { x }),
            )
        }
        Algorithm::Rs256 => {
            use rsa::pkcs8::{EncodePrivateKey, LineEnding};
            use rsa::traits::PublicKeyParts;
            let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, RSA_BITS)
                .map_err(|e| format!("cannot generate an RSA key: {e}"))?;
            let text = key
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|e| format!("cannot encode the RSA key: {e}"))?;
            let public = PublicKey::Rsa {
                n: URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
                e: URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
            };
            (text.to_string(), Some(public))
        }
    };
    Ok(StoredKey {
        kid: public
            .as_ref()
            .map_or_else(random_kid, PublicKey::thumbprint),
        algorithm,
        state: KeyState::Current,
        private: Some(Secret::new(private)),
        public,
        created_at: now,
        retire_after: None,
        retired_at: None,
    })
}

/// [`make_key`] on a blocking thread.
pub async fn generate(algorithm: Algorithm, now: UnixTime) -> Result<StoredKey> {
    tokio::task::spawn_blocking(move || make_key(algorithm, now))
        .await
        .map_err(Error::internal)?
        .map_err(Error::Internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(algorithm: Algorithm) -> StoredKey {
        make_key(algorithm, 1000).unwrap()
    }

    #[test]
    fn asymmetric_keys_are_named_by_their_rfc_7638_thumbprint() {
        // RFC 7638 §3.1's example key and thumbprint.
        let rsa = PublicKey::Rsa {
            n: "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw".into(),
            e: "AQAB".into(),
        };
        assert_eq!(
            rsa.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
        let k = key(Algorithm::EdDsa);
        assert_eq!(k.kid, k.public.as_ref().unwrap().thumbprint());
        assert_eq!(
            PublicKey::from_jwk_text(&rsa.to_jwk_text()),
            Some(rsa.clone())
        );
    }

    #[test]
    fn a_hs256_key_is_a_64_hex_character_secret_as_earlier_versions_made_them() {
        let k = key(Algorithm::Hs256);
        let secret = k.private.unwrap();
        assert_eq!(secret.expose().len(), 64);
        assert!(secret.expose().bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(k.public.is_none());
    }
}
