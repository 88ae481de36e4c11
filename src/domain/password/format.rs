//! Which format a stored password hash is in, and checking a password against
//! it: today's argon2id PHC strings, and the old formats users are imported
//! with (INTERFACE.md, "Import"; issue 9).

use super::argon2id::{self, Memory};
use super::legacy::{self, Pbkdf2Digest};

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Wrong password, or no usable hash (none, unusable, unknown, malformed).
    Wrong,
    /// Right, and the hash is today's argon2id with today's parameters.
    Right,
    /// Right, but the hash is another format or argon2 with other parameters:
    /// it should be replaced by a fresh argon2id hash now that the password is known.
    RightButStale,
}

impl Verdict {
    pub fn is_right(self) -> bool {
        self != Verdict::Wrong
    }

    fn of(matches: bool, current: bool) -> Verdict {
        match (matches, current) {
            (false, _) => Verdict::Wrong,
            (true, true) => Verdict::Right,
            (true, false) => Verdict::RightButStale,
        }
    }
}

/// Check `password` against `stored`. None when `stored` is not a hash that
/// can ever verify: empty, Django's unusable password (`!…`), a format not
/// known here, or malformed. The caller then spends a dummy hash so that such
/// an account costs the same time as a wrong password.
pub fn check(memory: &mut Memory, stored: &str, password: &[u8]) -> Option<Verdict> {
    let pw = password;
    if stored.starts_with("$argon2") {
        let c = argon2id::check(memory, stored, pw)?;
        return Some(Verdict::of(c.matches, c.current));
    }
    // GoTrue stores bare bcrypt strings (`$2a$10$…`).
    if stored.starts_with("$2") {
        return legacy::bcrypt(stored, pw).map(|m| Verdict::of(m, false));
    }
    // Django: `<algorithm>$<the rest>` (contrib/auth/hashers.py); an unusable
    // password starts with "!" and has no `$` algorithm we know.
    let (algorithm, rest) = stored.split_once('$')?;
    let matches = match algorithm {
        "pbkdf2_sha256" => legacy::pbkdf2(Pbkdf2Digest::Sha256, stored, pw)?,
        "pbkdf2_sha1" => legacy::pbkdf2(Pbkdf2Digest::Sha1, stored, pw)?,
        "scrypt" => legacy::scrypt(stored, pw)?,
        "bcrypt_sha256" => legacy::bcrypt_sha256(rest, pw)?,
        "bcrypt" => legacy::bcrypt(rest, pw)?,
        // Django hands `"$" + rest` to argon2-cffi.
        "argon2" => argon2id::check(memory, &format!("${rest}"), pw)?.matches,
        _ => return None,
    };
    // Any format but our own PHC string is replaced after a right password.
    Some(Verdict::of(matches, false))
}

/// What a stored hash is, told without a password: what an import decides
/// whether to keep it by (INTERFACE.md, "Import").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// A well-formed hash in a format `check` verifies.
    Usable,
    /// No password at all: empty, or Django's unusable password (`!…`).
    NoPassword,
    /// Anything else; the name of its format as far as it can be told
    /// (`md5`, `fbscrypt`, `pbkdf2_sha256 (malformed)`), or `unrecognised`.
    /// The name is never a piece of the stored string beyond a short
    /// lowercase word, so a plaintext password cannot leak through it.
    Unknown(String),
}

/// Tell what `stored` is, as `check` would take it.
pub fn classify(stored: &str) -> Stored {
    if stored.is_empty() || stored.starts_with('!') {
        return Stored::NoPassword;
    }
    let (name, well_formed) = if stored.starts_with("$argon2") {
        ("argon2", argon2id::well_formed(stored))
    } else if stored.starts_with("$2") {
        ("bcrypt", legacy::bcrypt_well_formed(stored))
    } else {
        let (algorithm, rest) = stored.split_once('$').unwrap_or((stored, ""));
        let well_formed = match algorithm {
            "pbkdf2_sha256" => legacy::pbkdf2_well_formed(Pbkdf2Digest::Sha256, stored),
            "pbkdf2_sha1" => legacy::pbkdf2_well_formed(Pbkdf2Digest::Sha1, stored),
            "scrypt" => legacy::scrypt_well_formed(stored),
            "bcrypt_sha256" | "bcrypt" => legacy::bcrypt_well_formed(rest),
            "argon2" => argon2id::well_formed(&format!("${rest}")),
            _ => return Stored::Unknown(format_name(stored)),
        };
        (algorithm, well_formed)
    };
    if well_formed {
        Stored::Usable
    } else {
        Stored::Unknown(format!("{name} (malformed)"))
    }
}

/// Formats accountd cannot verify but can name: Django's older and
/// unsafe hashers, and common ones of other stacks.
const NAMED: [&str; 15] = [
    "md5",
    "sha1",
    "unsalted_md5",
    "unsalted_sha1",
    "crypt",
    "argon2i",
    "argon2d",
    "pbkdf2",
    "sha256",
    "sha512",
    "bcrypt_sha512",
    "scrypt_sha256",
    "ldap",
    "plain",
    // Firebase's scrypt, which GoTrue imports.
    "fbscrypt",
];

/// The name of an unknown format: Django's `<algorithm>$…` or a PHC-like
/// `$<id>$…`, only when it is one of the names above. Anything else is
/// `unrecognised`: a stored string may be a plaintext password, and no
/// piece of it may reach the import's output (found by fuzzing: a word
/// taken from the string could be the start of a password).
fn format_name(stored: &str) -> String {
    let word = match stored.strip_prefix('$') {
        Some(rest) => rest.split('$').next(),
        None => stored.split_once('$').map(|(a, _)| a),
    };
    let known = word.and_then(|w| NAMED.iter().find(|n| **n == w));
    known.map_or("unrecognised", |n| n).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made by real Django 5.2.19; see legacy.rs for the others.
    const PASSWORD: &str = "Tr0ub4dor&3 ünïcode";
    /// Django's default argon2: argon2id, m=102400 (100 MiB), t=2, p=8.
    const DJANGO_ARGON2ID: &str = "argon2$argon2id$v=19$m=102400,t=2,p=8$a2lVcHF2eHEwYkhORjdDMW1FT0s4ZQ$MBugIygmcycNjExMWxKa4Jtmv28S5vsjiG4axbiopIk";
    /// argon2i with version 0x10, as the argon2-cffi of Django 1.10's time made them.
    const DJANGO_ARGON2I_V16: &str =
        "argon2$argon2i$v=16$m=512,t=2,p=2$cGVwcGVycGVwcGVyMTIzNA$7XX2njA/R2pwrypNTogY8g";
    /// The same hash as its first format had it: no `v=`, which means 0x10
    /// (argon2-cffi 25.1 and Django 5.2 verify it).
    const DJANGO_ARGON2I_NO_VERSION: &str =
        "argon2$argon2i$m=512,t=2,p=2$cGVwcGVycGVwcGVyMTIzNA$7XX2njA/R2pwrypNTogY8g";

    fn verdict(stored: &str, password: &str) -> Option<Verdict> {
        check(&mut Memory::default(), stored, password.as_bytes())
    }

    #[test]
    fn every_django_format_and_gotrue_bcrypt_verify_and_ask_to_be_replaced() {
        use super::super::legacy::tests as django;
        for stored in [
            django::PBKDF2_SHA256,
            django::PBKDF2_SHA1,
            DJANGO_ARGON2ID,
            DJANGO_ARGON2I_V16,
            DJANGO_ARGON2I_NO_VERSION,
            django::BCRYPT_SHA256,
            django::BCRYPT,
            django::SCRYPT,
            django::GOTRUE_BCRYPT,
        ] {
            assert_eq!(
                verdict(stored, PASSWORD),
                Some(Verdict::RightButStale),
                "{stored}"
            );
            assert_eq!(
                verdict(stored, "Tr0ub4dor&3 ünïcodE"),
                Some(Verdict::Wrong),
                "{stored}"
            );
        }
    }

    #[test]
    fn the_version_of_an_argon2_hash_counts() {
        let as_v19 = DJANGO_ARGON2I_V16.replace("v=16", "v=19");
        assert_eq!(verdict(&as_v19, PASSWORD), Some(Verdict::Wrong));
    }

    #[test]
    fn our_own_argon2id_is_right_and_current() {
        let phc = argon2id::hash(&mut Memory::default(), PASSWORD.as_bytes()).unwrap();
        assert_eq!(verdict(&phc, PASSWORD), Some(Verdict::Right));
        assert_eq!(verdict(&phc, "nope"), Some(Verdict::Wrong));
        // The same PHC string under Django's prefix is Django's format: replaced.
        assert_eq!(
            verdict(&format!("argon2{phc}"), PASSWORD),
            Some(Verdict::RightButStale)
        );
    }

    #[test]
    fn imports_tell_usable_hashes_from_none_and_unknown_formats_without_a_password() {
        use super::super::legacy::tests as django;
        for stored in [
            django::PBKDF2_SHA256,
            django::PBKDF2_SHA1,
            DJANGO_ARGON2ID,
            DJANGO_ARGON2I_NO_VERSION,
            django::BCRYPT_SHA256,
            django::BCRYPT,
            django::SCRYPT,
            django::GOTRUE_BCRYPT,
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert_eq!(classify(stored), Stored::Usable, "{stored}");
        }
        for stored in ["", "!", "!Kx8hTgJyQ4wq2VhYrWz7pLmNbC3dE5fG6hJ"] {
            assert_eq!(classify(stored), Stored::NoPassword, "{stored:?}");
        }
        for (stored, name) in [
            ("md5$salt$8c5e4ab8e1f4b5d2b3c0b1a2d3e4f5a6", "md5"),
            (
                "unsalted_md5$$8c5e4ab8e1f4b5d2b3c0b1a2d3e4f5a6",
                "unsalted_md5",
            ),
            ("$fbscrypt$v=1,n=14,r=8,p=1$c2FsdA$aGFzaA", "fbscrypt"),
            ("plain text password", "unrecognised"),
            ("Secret$Password", "unrecognised"),
            // A lowercase word before a `$` may be a password's start: only
            // known names are told (the fuzzer's "$--1").
            ("hunter2$and more", "unrecognised"),
            ("$--1", "unrecognised"),
            ("pbkdf2_sha256$lots$salt$hash", "pbkdf2_sha256 (malformed)"),
            ("bcrypt$$2b$12$short", "bcrypt (malformed)"),
            ("$2b$12$short", "bcrypt (malformed)"),
            (
                "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAA",
                "argon2 (malformed)",
            ),
        ] {
            assert_eq!(classify(stored), Stored::Unknown(name.into()), "{stored}");
        }
    }

    #[test]
    fn unusable_empty_unknown_and_malformed_hashes_never_verify() {
        for stored in [
            "",
            "!",
            "!Kx8hTgJyQ4wq2VhYrWz7pLmNbC3dE5fG6hJ",
            // An unusable password is never a hash, whatever follows the "!".
            "!pbkdf2_sha256$1000000$Mf2Aan2WCWelFiuATGQMA4$RmzarAuQFfCchv8hdL8IgjxqvxAqaiqULMMCmInOwmk=",
            "md5$salt$8c5e4ab8e1f4b5d2b3c0b1a2d3e4f5a6",
            "unsalted_md5$$8c5e4ab8e1f4b5d2b3c0b1a2d3e4f5a6",
            "plain text password",
            PASSWORD,
            "pbkdf2_sha256$",
            "argon2$",
            "argon2$argon2id$v=19$m=102400",
            "bcrypt$",
            "bcrypt_sha256$$2b$12$short",
            "scrypt$$$$$",
            "$2b$",
            "$argon2id$",
        ] {
            assert_eq!(verdict(stored, PASSWORD), None, "{stored:?}");
        }
    }
}
