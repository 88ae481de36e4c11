//! Signing keys (INTERFACE.md, "Signing keys"; issue 12): which key signs
//! new tokens, which keys still verify old ones, and which public keys are
//! published as a JWK set.
//!
//! Keys live in the database (`signing_keys`), each with an id (`kid`), an
//! algorithm, a state and its material:
//! - `current`: signs every new token. At most one (a unique index says so),
//!   so instances starting or rotating at once cannot both win.
//! - `verifying`: signed tokens before a rotation and keeps verifying them
//!   until `retire_after` = the rotation + the longest configured token
//!   lifetime + [`OVERLAP_MARGIN`]; no token it signed lives longer.
//! - `retired`: verifies nothing. Retirement needs no one to act: a verifying
//!   key past `retire_after` counts as retired wherever it is read (the ring
//!   below, the JWK set, `accountd keys list`); the pruner later records it
//!   as retired and erases its material.
//!
//! HS256 keeps the simplejwt dialect exactly: no `kid` in the header, and
//! every HS256 key that may still verify is tried. EdDSA and RS256 tokens
//! carry the `kid` of their key and are checked by that key alone.
//!
//! `ACCOUNTD_JWT_SECRET` bypasses the table: it signs (HS256), it is never
//! stored, and the database's keys are not used. `ACCOUNTD_JWT_PREVIOUS_SECRETS`
//! verify kid-less HS256 tokens either way.
//!
//! Instances share the table: each re-reads it every [`RELOAD_EVERY`], and at
//! once (at most every [`FORCED_RELOAD_GAP`]) when a token names a key it
//! does not know, so a token signed on another instance just after a
//! rotation verifies here too. Only key material is kept in memory; nothing
//! about revocation is.

use super::clock::UnixTime;
use super::error::{Error, Result};
use super::ports::Store;
use super::secret::Secret;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{DecodingKey, EncodingKey, Header};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// How often an instance re-reads the keys: a rotation made elsewhere signs
/// here within this long.
pub const RELOAD_EVERY: Duration = Duration::from_secs(5);
/// The least time between two reloads asked for by unknown keys: a stream of
/// made-up `kid`s costs the database at most one cheap query a second.
pub const FORCED_RELOAD_GAP: Duration = Duration::from_secs(1);
/// How long a request waits for such a reload before the token is refused
/// (the database may be down; the request does not need it otherwise).
const FORCED_RELOAD_WITHIN: Duration = Duration::from_secs(1);
/// Added to the longest token lifetime before a replaced key retires: other
/// instances may sign with it until their next reload, and hosts' clocks differ.
pub const OVERLAP_MARGIN: i64 = 60;
/// RSA keys are made with this many bits: what RS256 deployments commonly
/// use (RFC 7518 asks for at least 2048); rotation bounds a key's life.
pub const RSA_BITS: usize = 2048;

/// How tokens are signed (`ACCOUNTD_JWT_ALGORITHM`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// HMAC-SHA256 with a shared secret: the simplejwt dialect.
    Hs256,
    /// Ed25519.
    EdDsa,
    /// RSA PKCS#1 v1.5 with SHA-256.
    Rs256,
}

impl Algorithm {
    /// The name of the algorithm in a JWT header and in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Hs256 => "HS256",
            Algorithm::EdDsa => "EdDSA",
            Algorithm::Rs256 => "RS256",
        }
    }

    /// `HS256`, `EdDSA` or `RS256`, in any case.
    pub fn parse(s: &str) -> Option<Self> {
        [Algorithm::Hs256, Algorithm::EdDsa, Algorithm::Rs256]
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s.trim()))
    }

    pub(crate) fn jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            Algorithm::Hs256 => jsonwebtoken::Algorithm::HS256,
            Algorithm::EdDsa => jsonwebtoken::Algorithm::EdDSA,
            Algorithm::Rs256 => jsonwebtoken::Algorithm::RS256,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    Current,
    Verifying,
    Retired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Current => "current",
            KeyState::Verifying => "verifying",
            KeyState::Retired => "retired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [KeyState::Current, KeyState::Verifying, KeyState::Retired]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

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

    fn decoding(&self) -> std::result::Result<DecodingKey, String> {
        match self {
            PublicKey::Ed25519 { x } => DecodingKey::from_ed_components(x),
            PublicKey::Rsa { n, e } => DecodingKey::from_rsa_components(n, e),
        }
        .map_err(|e| format!("unreadable public key: {e}"))
    }
}

/// A signing key as the database keeps it.
#[derive(Debug, Clone)]
pub struct StoredKey {
    pub kid: String,
    pub algorithm: Algorithm,
    /// As recorded; see [`StoredKey::state_at`] for what it is now.
    pub state: KeyState,
    /// HS256: the secret (its bytes are the HMAC key); EdDSA and RS256: the
    /// private key, PKCS#8 PEM. Erased once the key is recorded as retired.
    pub private: Option<Secret>,
    /// EdDSA and RS256: the public key.
    pub public: Option<PublicKey>,
    pub created_at: UnixTime,
    /// A verifying key verifies until this instant.
    pub retire_after: Option<UnixTime>,
    pub retired_at: Option<UnixTime>,
}

impl StoredKey {
    /// Its state at `now`: a verifying key past `retire_after` is retired,
    /// whether or not the pruner has recorded it yet.
    pub fn state_at(&self, now: UnixTime) -> KeyState {
        match self.state {
            KeyState::Verifying if self.retire_after.is_some_and(|t| t <= now) => KeyState::Retired,
            state => state,
        }
    }

    /// When it retired, if it has by `now`.
    pub fn retired_at_as_of(&self, now: UnixTime) -> Option<UnixTime> {
        match self.state_at(now) {
            KeyState::Retired => self.retired_at.or(self.retire_after),
            _ => None,
        }
    }
}

/// An id for a key whose tokens never show it (HS256).
fn random_kid() -> String {
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

fn pem_der(text: &str) -> std::result::Result<Vec<u8>, String> {
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

/// What signing and verifying are configured with.
#[derive(Debug, Clone)]
pub struct KeyPolicy {
    /// The algorithm of new keys (`ACCOUNTD_JWT_ALGORITHM`).
    pub algorithm: Algorithm,
    /// `ACCOUNTD_JWT_SECRET`: signs instead of the database's keys.
    pub env_secret: Option<Secret>,
    /// `ACCOUNTD_JWT_PREVIOUS_SECRETS`: verify kid-less HS256 tokens only.
    pub previous_secrets: Vec<Secret>,
    /// How long a replaced key keeps verifying, in seconds.
    pub overlap: i64,
}

/// A key that may verify until `until` (None: as long as it is in the ring).
struct Verifier {
    algorithm: Algorithm,
    key: DecodingKey,
    until: Option<UnixTime>,
}

impl Verifier {
    fn live(&self, now: UnixTime) -> bool {
        self.until.is_none_or(|t| now < t)
    }
}

/// A public key that may still verify, as the JWK set publishes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub kid: String,
    pub algorithm: Algorithm,
    pub public: PublicKey,
    until: Option<UnixTime>,
}

/// Where the signing key came from (the startup log says it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `ACCOUNTD_JWT_SECRET`.
    Environment,
    /// The current key in the database.
    Database { kid: String },
}

/// Which keys a token with this header may be checked with.
pub(crate) enum Lookup<'a> {
    /// These, in order. `unknown_if_none`: if none verifies, the key may be
    /// one another instance has just made (a kid-less HS256 token while the
    /// database's keys are in use).
    Try {
        keys: Vec<&'a DecodingKey>,
        unknown_if_none: bool,
    },
    /// A `kid` this ring does not hold: perhaps made by another instance since
    /// the last reload.
    Unknown,
    /// Never good here: a retired key, a key of another algorithm, an
    /// algorithm not taken, an asymmetric token without a `kid`.
    Refused,
}

/// The keys in use at one moment.
pub struct KeyRing {
    signing_kid: Option<String>,
    signing_algorithm: Algorithm,
    signing_key: EncodingKey,
    /// Asymmetric keys by `kid`.
    by_kid: HashMap<String, Verifier>,
    /// HS256 keys, tried in order: the database's current one first (or
    /// `ACCOUNTD_JWT_SECRET`), then those verifying, then previous secrets.
    secrets: Vec<Verifier>,
    published: Vec<Published>,
    source: Source,
    from_database: bool,
    /// How many of `secrets` are `ACCOUNTD_JWT_PREVIOUS_SECRETS`.
    previous: usize,
    /// What it was built from: a reload that reads the same builds nothing.
    stamp: Vec<(String, KeyState, Option<UnixTime>)>,
}

fn stamp(rows: &[StoredKey], now: UnixTime) -> Vec<(String, KeyState, Option<UnixTime>)> {
    let mut s: Vec<_> = rows
        .iter()
        .map(|k| (k.kid.clone(), k.state_at(now), k.retire_after))
        .collect();
    s.sort_by(|a, b| a.0.cmp(&b.0));
    s
}

fn encoding_key(
    algorithm: Algorithm,
    private: &Secret,
) -> std::result::Result<EncodingKey, String> {
    let key = match algorithm {
        Algorithm::Hs256 => EncodingKey::from_secret(private.expose().as_bytes()),
        Algorithm::EdDsa => EncodingKey::from_ed_der(&pem_der(private.expose())?),
        Algorithm::Rs256 => EncodingKey::from_rsa_pem(private.expose().as_bytes())
            .map_err(|e| format!("unreadable RSA key: {e}"))?,
    };
    // jsonwebtoken reads DER lazily, at each signature: prove the key signs now.
    jsonwebtoken::crypto::sign(b"accountd", &key, algorithm.jwt())
        .map_err(|e| format!("the key does not sign: {e}"))?;
    Ok(key)
}

fn hs256_verifier(secret: &Secret, until: Option<UnixTime>) -> Verifier {
    Verifier {
        algorithm: Algorithm::Hs256,
        key: DecodingKey::from_secret(secret.expose().as_bytes()),
        until,
    }
}

impl KeyRing {
    /// One HS256 secret signs (`ACCOUNTD_JWT_SECRET`); `previous` verify too.
    pub fn from_secret(secret: &Secret, previous: &[Secret]) -> Self {
        let mut secrets = vec![hs256_verifier(secret, None)];
        secrets.extend(previous.iter().map(|s| hs256_verifier(s, None)));
        KeyRing {
            signing_kid: None,
            signing_algorithm: Algorithm::Hs256,
            signing_key: EncodingKey::from_secret(secret.expose().as_bytes()),
            by_kid: HashMap::new(),
            secrets,
            published: Vec::new(),
            source: Source::Environment,
            from_database: false,
            previous: previous.len(),
            stamp: Vec::new(),
        }
    }

    /// The ring of the database's keys `rows` (retired ones are left out)
    /// and the previous secrets. An error if no current key can sign.
    pub fn from_rows(
        rows: &[StoredKey],
        previous: &[Secret],
        now: UnixTime,
    ) -> std::result::Result<Self, String> {
        let mut live: Vec<&StoredKey> = rows
            .iter()
            .filter(|k| k.state_at(now) != KeyState::Retired)
            .collect();
        // The current key first, then the newest.
        live.sort_by_key(|k| (k.state != KeyState::Current, -k.created_at));
        let current = live
            .first()
            .filter(|k| k.state == KeyState::Current)
            .ok_or("the database holds no current signing key")?;
        let private = current
            .private
            .as_ref()
            .ok_or("the current signing key has no private key")?;
        let signing_key = encoding_key(current.algorithm, private)
            .map_err(|e| format!("signing key {}: {e}", current.kid))?;
        let mut ring = KeyRing {
            signing_kid: (current.algorithm != Algorithm::Hs256).then(|| current.kid.clone()),
            signing_algorithm: current.algorithm,
            signing_key,
            by_kid: HashMap::new(),
            secrets: Vec::new(),
            published: Vec::new(),
            source: Source::Database {
                kid: current.kid.clone(),
            },
            from_database: true,
            previous: previous.len(),
            stamp: stamp(rows, now),
        };
        for k in live {
            let until = match k.state {
                KeyState::Current => None,
                _ => k.retire_after,
            };
            match (k.algorithm, &k.private, &k.public) {
                (Algorithm::Hs256, Some(secret), _) => {
                    ring.secrets.push(hs256_verifier(secret, until))
                }
                (algorithm, _, Some(public)) if algorithm != Algorithm::Hs256 => {
                    match public.decoding() {
                        Ok(key) => {
                            ring.by_kid.insert(
                                k.kid.clone(),
                                Verifier {
                                    algorithm,
                                    key,
                                    until,
                                },
                            );
                            ring.published.push(Published {
                                kid: k.kid.clone(),
                                algorithm,
                                public: public.clone(),
                                until,
                            });
                        }
                        Err(e) => {
                            tracing::warn!(kid = %k.kid, error = %e, "skipping a signing key")
                        }
                    }
                }
                _ => tracing::warn!(kid = %k.kid, "skipping a signing key without its material"),
            }
        }
        ring.secrets
            .extend(previous.iter().map(|s| hs256_verifier(s, None)));
        Ok(ring)
    }

    /// The header and key new tokens are signed with. HS256: exactly
    /// `{"typ":"JWT","alg":"HS256"}`, as simplejwt writes it.
    pub(crate) fn signing(&self) -> (Header, &EncodingKey) {
        let mut header = Header::new(self.signing_algorithm.jwt());
        header.kid = self.signing_kid.clone();
        (header, &self.signing_key)
    }

    /// The keys a token signed with `alg` and naming `kid` may be checked
    /// with at `now`.
    pub(crate) fn lookup(
        &self,
        alg: jsonwebtoken::Algorithm,
        kid: Option<&str>,
        now: UnixTime,
    ) -> Lookup<'_> {
        match alg {
            // kid-less in this dialect; one a foreign HS256 token carries is
            // ignored, as it always was.
            jsonwebtoken::Algorithm::HS256 => Lookup::Try {
                keys: self
                    .secrets
                    .iter()
                    .filter(|v| v.live(now))
                    .map(|v| &v.key)
                    .collect(),
                unknown_if_none: self.from_database,
            },
            jsonwebtoken::Algorithm::EdDSA | jsonwebtoken::Algorithm::RS256 => {
                let Some(kid) = kid else {
                    return Lookup::Refused;
                };
                match self.by_kid.get(kid) {
                    None if self.from_database => Lookup::Unknown,
                    None => Lookup::Refused,
                    Some(v) if v.algorithm.jwt() == alg && v.live(now) => Lookup::Try {
                        keys: vec![&v.key],
                        unknown_if_none: false,
                    },
                    Some(_) => Lookup::Refused,
                }
            }
            _ => Lookup::Refused,
        }
    }

    /// The public keys that may verify at `now`, the signing one first.
    pub fn published(&self, now: UnixTime) -> Vec<Published> {
        self.published
            .iter()
            .filter(|p| p.until.is_none_or(|t| now < t))
            .cloned()
            .collect()
    }

    pub fn source(&self) -> &Source {
        &self.source
    }

    pub fn algorithm(&self) -> Algorithm {
        self.signing_algorithm
    }
}

/// The keys in use, shared by every request and replaced whole on a reload.
pub struct Keys {
    ring: RwLock<Arc<KeyRing>>,
    policy: KeyPolicy,
    /// When a request last asked for a reload; held while it runs, so those
    /// arriving meanwhile wait for it rather than ask again.
    forced: tokio::sync::Mutex<Option<Instant>>,
}

impl Keys {
    fn new(ring: KeyRing, policy: KeyPolicy) -> Self {
        Keys {
            ring: RwLock::new(Arc::new(ring)),
            policy,
            forced: tokio::sync::Mutex::new(None),
        }
    }

    /// One fixed HS256 secret and the previous ones; never reloaded.
    pub fn from_secret(secret: &Secret, previous: Vec<Secret>) -> Self {
        let ring = KeyRing::from_secret(secret, &previous);
        Keys::new(
            ring,
            KeyPolicy {
                algorithm: Algorithm::Hs256,
                env_secret: Some(secret.clone()),
                previous_secrets: previous,
                overlap: 0,
            },
        )
    }

    /// The keys `policy` asks for: `ACCOUNTD_JWT_SECRET` when set, else the
    /// database's, after making sure there is a current key of the configured
    /// algorithm ([`ensure_signing_key`]).
    pub async fn load(store: &dyn Store, policy: KeyPolicy, now: UnixTime) -> Result<Self> {
        if let Some(secret) = &policy.env_secret {
            let ring = KeyRing::from_secret(secret, &policy.previous_secrets);
            return Ok(Keys::new(ring, policy));
        }
        let rows = ensure_signing_key(store, &policy, now).await?;
        let ring =
            KeyRing::from_rows(&rows, &policy.previous_secrets, now).map_err(Error::Internal)?;
        Ok(Keys::new(ring, policy))
    }

    /// The ring in use now.
    pub fn ring(&self) -> Arc<KeyRing> {
        self.ring
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub fn policy(&self) -> &KeyPolicy {
        &self.policy
    }

    /// Read the database's keys again; the ring is rebuilt if they changed.
    /// A ring that cannot be built from what was read (no current key, an
    /// unreadable one) leaves the one in use in place, with a warning.
    pub async fn reload(&self, store: &dyn Store, now: UnixTime) -> Result<()> {
        if self.policy.env_secret.is_some() {
            return Ok(());
        }
        let rows = store.signing_keys(true).await?;
        if stamp(&rows, now) == self.ring().stamp {
            return Ok(());
        }
        match KeyRing::from_rows(&rows, &self.policy.previous_secrets, now) {
            Ok(ring) => {
                let before = self.ring().source.clone();
                if ring.source != before {
                    tracing::info!(signing_key = %describe(&ring), "signing key changed");
                }
                *self
                    .ring
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(ring);
            }
            Err(e) => tracing::warn!(error = %e, "signing keys not reloaded"),
        }
        Ok(())
    }

    /// A reload asked for by a token naming a key this instance does not
    /// know: at most one every [`FORCED_RELOAD_GAP`], waited for at most
    /// [`FORCED_RELOAD_WITHIN`]. True if the ring may have changed since the
    /// token was looked up (worth a second look).
    pub async fn reload_soon(&self, store: &dyn Store, now: UnixTime) -> bool {
        if self.policy.env_secret.is_some() {
            return false;
        }
        let attempt = async {
            let mut last = self.forced.lock().await;
            if last.is_some_and(|t| t.elapsed() < FORCED_RELOAD_GAP) {
                // Reloaded a moment ago (perhaps while this one waited).
                return true;
            }
            *last = Some(Instant::now());
            match self.reload(store, now).await {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(error = %e, "signing keys not reloaded");
                    false
                }
            }
        };
        tokio::time::timeout(FORCED_RELOAD_WITHIN, attempt)
            .await
            .unwrap_or(false)
    }

    /// The public keys that may verify at `now` (the JWK set).
    pub fn published(&self, now: UnixTime) -> Vec<Published> {
        self.ring().published(now)
    }

    /// Where the signing key came from, for the startup log.
    pub fn describe(&self) -> String {
        describe(&self.ring())
    }
}

/// Where a ring's signing key came from: `HS256 from ACCOUNTD_JWT_SECRET
/// (environment)` or `EdDSA key <kid> from the database`, and how many
/// previous secrets verify besides.
pub fn describe(ring: &KeyRing) -> String {
    let mut text = match &ring.source {
        Source::Environment => "HS256 from ACCOUNTD_JWT_SECRET (environment)".to_owned(),
        Source::Database { kid } => {
            format!("{} key {kid} from the database", ring.signing_algorithm)
        }
    };
    if ring.previous > 0 {
        text.push_str(&format!(
            "; {} previous secret(s) from ACCOUNTD_JWT_PREVIOUS_SECRETS verify too",
            ring.previous
        ));
    }
    text
}

fn current_of(rows: &[StoredKey]) -> Option<&StoredKey> {
    rows.iter().find(|k| k.state == KeyState::Current)
}

/// Make sure the database holds a current key: the HS256 secret an earlier
/// version generated (`settings.jwt_secret`) is taken as it is, so its
/// tokens keep verifying; a database with neither gets a new key of the
/// configured algorithm. Safe when instances start together: at most one
/// current key can be written. Returns the live keys.
pub async fn ensure_current(
    store: &dyn Store,
    policy: &KeyPolicy,
    now: UnixTime,
) -> Result<Vec<StoredKey>> {
    let rows = store.signing_keys(true).await?;
    if current_of(&rows).is_some() {
        return Ok(rows);
    }
    if store.adopt_jwt_secret(&random_kid(), now).await? {
        tracing::info!("the generated HS256 secret is now the current signing key");
    }
    let rows = store.signing_keys(true).await?;
    if current_of(&rows).is_some() {
        return Ok(rows);
    }
    store
        .insert_current_key(&generate(policy.algorithm, now).await?)
        .await?;
    store.signing_keys(true).await
}

/// [`ensure_current`], then, if the current key is of another algorithm
/// than the configured one, a rotation to a key of the configured one (the
/// old key verifies its tokens until they have expired). Run at start.
pub async fn ensure_signing_key(
    store: &dyn Store,
    policy: &KeyPolicy,
    now: UnixTime,
) -> Result<Vec<StoredKey>> {
    let rows = ensure_current(store, policy, now).await?;
    let Some(current) = current_of(&rows).filter(|k| k.algorithm != policy.algorithm) else {
        return Ok(rows);
    };
    tracing::info!(
        from = %current.algorithm,
        to = %policy.algorithm,
        "ACCOUNTD_JWT_ALGORITHM changed: rotating the signing key"
    );
    match rotate_from(store, policy, current, now).await {
        // Another instance switched at the same moment.
        Ok(_) | Err(Error::Conflict(_)) => {}
        Err(e) => return Err(e),
    }
    store.signing_keys(true).await
}

/// What a rotation did.
#[derive(Debug, Clone)]
pub struct Rotation {
    /// The key that signed until now, verifying until its `retire_after`.
    pub previous: StoredKey,
    /// The new current key.
    pub current: StoredKey,
}

async fn rotate_from(
    store: &dyn Store,
    policy: &KeyPolicy,
    current: &StoredKey,
    now: UnixTime,
) -> Result<Rotation> {
    let next = generate(policy.algorithm, now).await?;
    let retire_after = now + policy.overlap;
    store
        .rotate_signing_key(&current.kid, retire_after, &next)
        .await
        .map_err(|e| match e {
            Error::Conflict(_) => Error::Conflict(
                "another rotation happened at the same moment: list the keys and try again".into(),
            ),
            other => other,
        })?;
    let previous = StoredKey {
        state: KeyState::Verifying,
        retire_after: Some(retire_after),
        ..current.clone()
    };
    Ok(Rotation {
        previous,
        current: next,
    })
}

/// `accountd keys rotate`: a new key of the configured algorithm becomes
/// current; the one before keeps verifying for `policy.overlap` seconds.
pub async fn rotate(store: &dyn Store, policy: &KeyPolicy, now: UnixTime) -> Result<Rotation> {
    if policy.env_secret.is_some() {
        return Err(Error::Invalid(
            "ACCOUNTD_JWT_SECRET signs the tokens, not the database's keys: to change it, \
             set the new secret and list the old one in ACCOUNTD_JWT_PREVIOUS_SECRETS \
             until its tokens have expired"
                .into(),
        ));
    }
    let rows = ensure_current(store, policy, now).await?;
    let current = current_of(&rows)
        .ok_or_else(|| Error::Internal("no current signing key after making one".into()))?;
    rotate_from(store, policy, current, now).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(algorithm: Algorithm) -> StoredKey {
        make_key(algorithm, 1000).unwrap()
    }

    #[test]
    fn algorithms_parse_in_any_case_and_print_as_jwt_headers_name_them() {
        assert_eq!(Algorithm::parse("eddsa"), Some(Algorithm::EdDsa));
        assert_eq!(Algorithm::parse("RS256"), Some(Algorithm::Rs256));
        assert_eq!(Algorithm::parse(" hs256 "), Some(Algorithm::Hs256));
        assert_eq!(Algorithm::parse("ES256"), None);
        assert_eq!(Algorithm::EdDsa.to_string(), "EdDSA");
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

    #[test]
    fn the_ring_signs_with_the_current_key_and_names_it_unless_hs256() {
        let mut old = key(Algorithm::Hs256);
        old.state = KeyState::Verifying;
        old.retire_after = Some(5000);
        let current = key(Algorithm::EdDsa);
        let ring = KeyRing::from_rows(&[old, current.clone()], &[], 2000).unwrap();
        let (header, _) = ring.signing();
        assert_eq!(header.kid.as_deref(), Some(current.kid.as_str()));
        assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
        assert_eq!(ring.published(2000).len(), 1);
        // The old HS256 key verifies until it retires, then not at all.
        let hs = |now| match ring.lookup(jsonwebtoken::Algorithm::HS256, None, now) {
            Lookup::Try { keys, .. } => keys.len(),
            _ => 99,
        };
        assert_eq!((hs(4999), hs(5000)), (1, 0));
        assert!(matches!(
            ring.lookup(jsonwebtoken::Algorithm::EdDSA, Some("nope"), 2000),
            Lookup::Unknown
        ));
        assert!(matches!(
            ring.lookup(jsonwebtoken::Algorithm::EdDSA, None, 2000),
            Lookup::Refused
        ));
        // A kid of an EdDSA key presented as RS256 is refused outright.
        assert!(matches!(
            ring.lookup(jsonwebtoken::Algorithm::RS256, Some(&current.kid), 2000),
            Lookup::Refused
        ));
    }

    #[test]
    fn a_verifying_key_past_its_retire_after_counts_as_retired() {
        let mut k = key(Algorithm::Rs256);
        k.state = KeyState::Verifying;
        k.retire_after = Some(3000);
        assert_eq!(k.state_at(2999), KeyState::Verifying);
        assert_eq!(k.state_at(3000), KeyState::Retired);
        assert_eq!(k.retired_at_as_of(3000), Some(3000));
        assert_eq!(k.retired_at_as_of(2999), None);
        // With no current key there is nothing to sign with.
        assert!(KeyRing::from_rows(&[k], &[], 1000).is_err());
    }

    #[test]
    fn describe_says_where_the_signing_key_came_from() {
        let env = KeyRing::from_secret(
            &Secret::from("s".repeat(32)),
            &[Secret::from("t".repeat(32))],
        );
        assert_eq!(
            describe(&env),
            "HS256 from ACCOUNTD_JWT_SECRET (environment); 1 previous secret(s) from ACCOUNTD_JWT_PREVIOUS_SECRETS verify too"
        );
        let k = key(Algorithm::EdDsa);
        let ring = KeyRing::from_rows(std::slice::from_ref(&k), &[], 1000).unwrap();
        assert_eq!(
            describe(&ring),
            format!("EdDSA key {} from the database", k.kid)
        );
    }
}
