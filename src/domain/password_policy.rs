//! The rules a password must keep wherever one is set (NIST SP 800-63B
//! §5.1.1.2, OWASP ASVS 2.1): long enough, not absurdly long, not the
//! account's own name, address or phone, and not one of the most common
//! passwords. Composition rules are deliberately absent, as NIST asks.

use super::error::{Error, Result};
use super::secret::Secret;
use std::collections::HashSet;
use std::sync::LazyLock;

/// Fewest characters (Unicode scalar values, as Django's `len()` counts them).
pub const MIN_CHARS: usize = 8;
/// Most bytes of UTF-8; argon2 would take more, but nobody types more.
pub const MAX_BYTES: usize = 1024;

/// Django's list of the 20,000 most common passwords, lowercased
/// (data/README.md says where it comes from and under which licence).
static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../../data/common-passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
});

/// What the password must not equal: the account it belongs to, as it will
/// be once stored.
#[derive(Debug, Default, Clone, Copy)]
pub struct Owner<'a> {
    pub username: Option<&'a str>,
    pub email: Option<&'a str>,
    /// E.164, as stored.
    pub phone: Option<&'a str>,
}

fn refuse(rule: String) -> Error {
    Error::Invalid(format!("password: {rule}"))
}

/// Check a new password; the error names the rule it breaks.
pub fn check(password: &Secret, owner: Owner<'_>) -> Result<()> {
    let password = password.expose();
    if password.chars().count() < MIN_CHARS {
        return Err(refuse(format!(
            "too short: use at least {MIN_CHARS} characters"
        )));
    }
    if password.len() > MAX_BYTES {
        return Err(refuse(format!("too long: use at most {MAX_BYTES} bytes")));
    }
    let lower = password.to_lowercase();
    let phone_digits = owner.phone.map(|p| p.trim_start_matches('+'));
    let own = [
        ("username", owner.username),
        ("email", owner.email),
        ("phone", owner.phone),
        // A phone typed without its "+" is still the phone.
        ("phone", phone_digits),
    ];
    for (field, value) in own {
        if value.is_some_and(|v| v.to_lowercase() == lower) {
            return Err(refuse(format!("the same as the {field}")));
        }
    }
    // Django's CommonPasswordValidator compares `password.lower().strip()`.
    if COMMON.contains(lower.trim()) {
        return Err(refuse(
            "too common: it is on the list of the most common passwords".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(p: &str, owner: Owner<'_>) -> String {
        check(&Secret::from(p), owner).unwrap_err().to_string()
    }

    #[test]
    fn the_list_holds_at_least_ten_thousand_lowercased_passwords() {
        assert!(COMMON.len() >= 10_000, "{}", COMMON.len());
        assert!(COMMON.contains("password") && COMMON.contains("123456789"));
        assert!(COMMON.iter().all(|p| *p == p.to_lowercase()));
    }

    #[test]
    fn each_rule_is_named() {
        let owner = Owner {
            username: Some("Ann.Lee"),
            email: Some("Ann.Lee@Example.com"),
            phone: Some("+255712345678"),
        };
        assert_eq!(
            err("short", owner),
            "password: too short: use at least 8 characters"
        );
        assert_eq!(
            err(&"x".repeat(1025), owner),
            "password: too long: use at most 1024 bytes"
        );
        // Characters count for the minimum, bytes for the maximum.
        assert!(check(&Secret::from("ééééééé1"), owner).is_ok());
        assert_eq!(
            err(&"é".repeat(513), owner),
            "password: too long: use at most 1024 bytes"
        );
        assert_eq!(
            err("ann.lee@example.COM", owner),
            "password: the same as the email"
        );
        assert_eq!(
            err("+255712345678", owner),
            "password: the same as the phone"
        );
        assert_eq!(
            err("255712345678", owner),
            "password: the same as the phone"
        );
        assert_eq!(
            err("PassWord1", owner),
            "password: too common: it is on the list of the most common passwords"
        );
        assert!(check(&Secret::from("correct horse battery staple"), owner).is_ok());
    }

    #[test]
    fn a_username_of_eight_or_more_characters_is_refused_in_any_case() {
        let owner = Owner {
            username: Some("longname"),
            ..Owner::default()
        };
        assert_eq!(err("LongName", owner), "password: the same as the username");
    }
}
