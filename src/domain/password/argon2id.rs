//! argon2 over a reusable memory block: today's argon2id hashes, and checks of
//! any argon2 PHC string (ours, Django's `argon2$…` after its prefix, older
//! parameters).
//!
//! `Argon2::hash_password` allocates its 19 MiB block for every hash and frees
//! it; glibc keeps such freed buffers, so a few hundred logins left the process
//! at ~600 MB (issue 7 item 12). Each hash worker owns one `Memory` instead and
//! every hash with today's parameters (or smaller ones) runs inside it.

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;

/// OWASP's argon2id minimum: m=19456 KiB, t=2, p=1.
pub const M_COST_KIB: u32 = 19_456;
pub const T_COST: u32 = 2;
pub const P_COST: u32 = 1;
const OUTPUT_LEN: usize = 32;

/// The largest argon2 memory a stored hash may ask for (512 MiB). Django's
/// default is 100 MiB; a bigger one in a database is more likely a mistake or
/// an attack on the server's memory than a real hash, and never verifies.
const MAX_FOREIGN_M_COST_KIB: u32 = 512 * 1024;

fn today() -> Params {
    // The constants are valid argon2 parameters; `DEFAULT` is never used.
    Params::new(M_COST_KIB, T_COST, P_COST, Some(OUTPUT_LEN)).unwrap_or(Params::DEFAULT)
}

/// One worker's argon2 memory: allocated on its first hash, then reused.
#[derive(Default)]
pub struct Memory {
    blocks: Vec<Block>,
}

impl Memory {
    /// Whether a block is allocated.
    #[cfg(test)]
    pub fn is_held(&self) -> bool {
        !self.blocks.is_empty()
    }

    /// Run `f` over `count` blocks: the kept block when it is big enough,
    /// otherwise a one-off allocation (a hash with larger parameters than
    /// today's, which is rare: it is replaced at the first login).
    fn with_blocks<R>(&mut self, count: usize, f: impl FnOnce(&mut [Block]) -> R) -> R {
        let kept = today().block_count();
        if count > kept {
            let mut once = vec![Block::new(); count];
            return f(&mut once);
        }
        if self.blocks.len() < kept {
            self.blocks = vec![Block::new(); kept];
        }
        f(&mut self.blocks[..count])
    }
}

/// A fresh argon2id PHC string with today's parameters.
pub fn hash(memory: &mut Memory, password: &[u8]) -> Result<String, String> {
    let params = today();
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_raw = salt
        .decode_b64(&mut salt_bytes)
        .map_err(|e| e.to_string())?;
    let mut out = [0u8; OUTPUT_LEN];
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    memory
        .with_blocks(params.block_count(), |blocks| {
            argon2.hash_password_into_with_memory(password, salt_raw, &mut out, blocks)
        })
        .map_err(|e| e.to_string())?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| e.to_string())?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| e.to_string())?),
    };
    Ok(phc.to_string())
}

/// How a PHC string compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    pub matches: bool,
    /// argon2id, version 0x13, with exactly today's m, t and p.
    pub current: bool,
}

/// Whether `phc` is an argon2 PHC string `check` could take, told without
/// hashing (for imports, which have no password to try).
pub fn well_formed(phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let version_ok = parsed.version.is_none_or(|v| Version::try_from(v).is_ok());
    Algorithm::try_from(parsed.algorithm).is_ok()
        && version_ok
        && Params::try_from(&parsed).is_ok_and(|p| p.m_cost() <= MAX_FOREIGN_M_COST_KIB)
        && parsed.hash.is_some()
        && parsed.salt.is_some()
}

/// Check `password` against an argon2 PHC string (`$argon2id$v=19$m=…`), as
/// argon2-cffi's `verify` does; None when the string is not one.
///
/// A string without `v=` is version 0x10, as in the reference implementation's
/// decoder (Django 1.10's hashes have none); the argon2 crate would assume 0x13.
pub fn check(memory: &mut Memory, phc: &str, password: &[u8]) -> Option<Checked> {
    let parsed = PasswordHash::new(phc).ok()?;
    let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).ok()?,
        None => Version::V0x10,
    };
    let params = Params::try_from(&parsed).ok()?;
    if params.m_cost() > MAX_FOREIGN_M_COST_KIB {
        return None;
    }
    let expected = parsed.hash?;
    let mut salt_bytes = [0u8; 64];
    let salt = parsed.salt?.decode_b64(&mut salt_bytes).ok()?;
    let mut out = vec![0u8; expected.len()];
    let argon2 = Argon2::new(algorithm, version, params.clone());
    memory
        .with_blocks(params.block_count(), |blocks| {
            argon2.hash_password_into_with_memory(password, salt, &mut out, blocks)
        })
        .ok()?;
    let now = today();
    Some(Checked {
        matches: bool::from(out.as_slice().ct_eq(expected.as_bytes())),
        current: algorithm == Algorithm::Argon2id
            && version == Version::V0x13
            && (params.m_cost(), params.t_cost(), params.p_cost())
                == (now.m_cost(), now.t_cost(), now.p_cost()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};

    #[test]
    fn our_hash_is_the_phc_string_the_argon2_crate_verifies() {
        let mut memory = Memory::default();
        let phc = hash(&mut memory, b"correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        let parsed = PasswordHash::new(&phc).unwrap();
        assert!(Argon2::default()
            .verify_password(b"correct horse", &parsed)
            .is_ok());
        assert_eq!(
            check(&mut memory, &phc, b"correct horse"),
            Some(Checked {
                matches: true,
                current: true
            })
        );
        assert_eq!(
            check(&mut memory, &phc, b"correct horsf"),
            Some(Checked {
                matches: false,
                current: true
            })
        );
    }

    #[test]
    fn a_reused_block_gives_the_same_answers_as_a_fresh_one_for_every_size() {
        // Small, today's, then small again: a block dirty from a bigger hash
        // must not change a smaller one's result.
        let mut memory = Memory::default();
        let small = Params::new(64, 1, 1, None).unwrap();
        let salt = SaltString::from_b64("c2FsdHNhbHRzYWx0").unwrap();
        let reference = Argon2::new(Algorithm::Argon2id, Version::V0x13, small)
            .hash_password(b"pw", &salt)
            .unwrap()
            .to_string();
        let ours = hash(&mut memory, b"pw").unwrap();
        for phc in [&reference, &ours, &reference] {
            assert!(check(&mut memory, phc, b"pw").unwrap().matches, "{phc}");
        }
        assert!(!check(&mut memory, &reference, b"pw").unwrap().current);
    }

    #[test]
    fn weaker_or_other_variants_match_but_are_not_current() {
        let mut memory = Memory::default();
        for (algorithm, m, t) in [
            (Algorithm::Argon2id, 8192, 2),
            (Algorithm::Argon2id, 19_456, 1),
            (Algorithm::Argon2i, 19_456, 2),
            (Algorithm::Argon2d, 19_456, 2),
        ] {
            let params = Params::new(m, t, 1, None).unwrap();
            let salt = SaltString::generate(&mut rand::rngs::OsRng);
            let phc = Argon2::new(algorithm, Version::V0x13, params)
                .hash_password(b"pw", &salt)
                .unwrap()
                .to_string();
            assert_eq!(
                check(&mut memory, &phc, b"pw"),
                Some(Checked {
                    matches: true,
                    current: false
                }),
                "{phc}"
            );
        }
    }

    #[test]
    fn too_much_memory_or_garbage_is_not_a_hash() {
        let mut memory = Memory::default();
        let huge = "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0$\
                    AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        assert_eq!(check(&mut memory, huge, b"pw"), None);
        for bad in [
            "",
            "$argon2id$",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$",
            "$argon2id$v=7$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAA",
            "$scrypt$ln=1,r=1,p=1$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert_eq!(check(&mut memory, bad, b"pw"), None, "{bad}");
        }
    }
}
