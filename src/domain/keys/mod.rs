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

mod material;
mod ring;

use material::random_kid;
pub use material::{generate, make_key, PublicKey, RSA_BITS};
pub(crate) use ring::Lookup;
pub use ring::{describe, KeyRing, Keys, Published, Source, FORCED_RELOAD_GAP, RELOAD_EVERY};

use super::clock::UnixTime;
use super::error::{Error, Result};
use super::ports::Store;
use super::secret::Secret;
use std::fmt;

/// Added to the longest token lifetime before a replaced key retires: other
/// instances may sign with it until their next reload, and hosts' clocks differ.
pub const OVERLAP_MARGIN: i64 = 60;

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

    #[test]
    fn algorithms_parse_in_any_case_and_print_as_jwt_headers_name_them() {
        assert_eq!(Algorithm::parse("eddsa"), Some(Algorithm::EdDsa));
        assert_eq!(Algorithm::parse("RS256"), Some(Algorithm::Rs256));
        assert_eq!(Algorithm::parse(" hs256 "), Some(Algorithm::Hs256));
        assert_eq!(Algorithm::parse("ES256"), None);
        assert_eq!(Algorithm::EdDsa.to_string(), "EdDSA");
    }
}
