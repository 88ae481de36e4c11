//! argon2id password hashing, off the async runtime and bounded in parallelism.
//!
//! Each hash holds 19 MiB for tens of milliseconds. An unbounded
//! `spawn_blocking` per login lets a login storm allocate gigabytes, so at
//! most one hash per core runs at a time; the rest wait their turn.

use super::error::{Error, Result};
use super::secret::Secret;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// OWASP's argon2id minimum: m=19456 KiB, t=2, p=1.
const M_COST_KIB: u32 = 19_456;
const T_COST: u32 = 2;
const P_COST: u32 = 1;

#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    /// A hash of a random password, verified against when no user matches so
    /// that an unknown name costs the same time as a wrong password.
    dummy: Arc<String>,
}

fn argon2() -> Result<Argon2<'static>> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None).map_err(Error::internal)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn hash_blocking(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon2()?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(Error::internal)
}

fn verify_blocking(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    // Verify with the parameters stored in the hash, so hashes made under
    // older parameters keep working.
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

impl PasswordHasher {
    /// `workers`: how many hashes may run at once (about one per core).
    pub fn new(workers: usize) -> Result<Self> {
        let random: String = hex::encode(rand::random::<[u8; 16]>());
        Ok(Self {
            permits: Arc::new(Semaphore::new(workers.max(1))),
            dummy: Arc::new(hash_blocking(&random)?),
        })
    }

    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let _permit = self.permits.acquire().await.map_err(Error::internal)?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(Error::internal)
    }

    pub async fn hash(&self, password: &Secret) -> Result<String> {
        let password = password.clone();
        self.run(move || hash_blocking(password.expose())).await?
    }

    /// True when `password` matches `phc`. With no hash (unknown user, or a
    /// phone-only user) it spends the same time on the dummy and says false.
    pub async fn verify(&self, password: &Secret, phc: Option<&str>) -> Result<bool> {
        let password = password.clone();
        let (target, real) = match phc {
            Some(h) => (h.to_owned(), true),
            None => (self.dummy.as_ref().clone(), false),
        };
        let ok = self
            .run(move || verify_blocking(password.expose(), &target))
            .await?;
        Ok(ok && real)
    }
}

/// Blocking hash for the CLI, which has no runtime contention to care about.
pub fn hash_now(password: &Secret) -> Result<String> {
    hash_blocking(password.expose())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let h = PasswordHasher::new(1).unwrap();
        let phc = h.hash(&Secret::from("correct horse")).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(h
            .verify(&Secret::from("correct horse"), Some(&phc))
            .await
            .unwrap());
        assert!(!h.verify(&Secret::from("wrong"), Some(&phc)).await.unwrap());
        assert!(!h
            .verify(&Secret::from("correct horse"), None)
            .await
            .unwrap());
        assert!(!h
            .verify(&Secret::from("x"), Some("not a hash"))
            .await
            .unwrap());
    }
}
