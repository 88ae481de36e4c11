//! The keys in use at one moment (a [`KeyRing`]), and [`Keys`], which holds
//! the ring every request uses and replaces it when the database changes.

use super::material::pem_der;
use super::{ensure_signing_key, Algorithm, KeyPolicy, KeyState, PublicKey, StoredKey};
use crate::domain::clock::UnixTime;
use crate::domain::error::{Error, Result};
use crate::domain::ports::Store;
use crate::domain::secret::Secret;
use jsonwebtoken::{DecodingKey, EncodingKey, Header};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// How often an instance re-reads the keys: a rotation made elsewhere signs
/// here within this long.
pub const RELOAD_EVERY: Duration = Duration::from_secs(5);
/// The least time between two reloads asked for by unknown keys: a stream of
/// made-up `kid`s costs the database at most one cheap query a second.
pub const FORCED_RELOAD_GAP: Duration = Duration::from_secs(1);
/// How long a request waits for such a reload before the token is refused
/// (the database may be down; the request does not need it otherwise):
/// within the 2 s an answer takes during an outage (INTERFACE.md).
const FORCED_RELOAD_WITHIN: Duration = Duration::from_millis(1500);

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
    /// Held by a reload from its read to its swap: a slower reload of older
    /// rows cannot replace the ring a later one built.
    reloading: tokio::sync::Mutex<()>,
}

impl Keys {
    fn new(ring: KeyRing, policy: KeyPolicy) -> Self {
        Keys {
            ring: RwLock::new(Arc::new(ring)),
            policy,
            forced: tokio::sync::Mutex::new(None),
            reloading: tokio::sync::Mutex::new(()),
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
        let _one_at_a_time = self.reloading.lock().await;
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
        match tokio::time::timeout(FORCED_RELOAD_WITHIN, attempt).await {
            Ok(reloaded) => reloaded,
            Err(_) => {
                tracing::warn!(
                    within = ?FORCED_RELOAD_WITHIN,
                    "signing keys not reloaded in time"
                );
                false
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::keys::make_key;

    fn key(algorithm: Algorithm) -> StoredKey {
        make_key(algorithm, 1000).unwrap()
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
