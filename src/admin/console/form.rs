//! Reading the console's forms and query strings, and comparing tokens.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A posted `application/x-www-form-urlencoded` body. One that cannot be
/// read is an empty form: it carries no CSRF token, so it is refused.
pub struct Form(Vec<(String, String)>);

impl Form {
    pub fn parse(body: &[u8]) -> Self {
        Form(serde_urlencoded::from_bytes(body).unwrap_or_default())
    }

    /// The last value given for `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A checkbox: sent (as `true`) when ticked, absent when not.
    pub fn checked(&self, name: &str) -> bool {
        matches!(self.get(name), Some("true" | "on"))
    }
}

/// A query string's parameters; one that cannot be read has none.
pub fn params(query: Option<&str>) -> Vec<(String, String)> {
    serde_urlencoded::from_str(query.unwrap_or("")).unwrap_or_default()
}

/// The first non-empty value of `name`.
pub fn param<'a>(all: &'a [(String, String)], name: &str) -> Option<&'a str> {
    all.iter()
        .find(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.as_str())
}

/// Whether two tokens are equal, in constant time (digests first, so not
/// even the length shows).
pub fn same(a: &str, b: &str) -> bool {
    bool::from(Sha256::digest(a.as_bytes()).ct_eq(&Sha256::digest(b.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_value_of_a_field_counts_and_checkboxes_are_true_when_sent() {
        let f = Form::parse(b"a=1&a=2&box=true&csrf=x%20y");
        assert_eq!(f.get("a"), Some("2"));
        assert_eq!(f.get("csrf"), Some("x y"));
        assert!(f.checked("box"));
        assert!(!f.checked("other"));
        assert_eq!(Form::parse(b"%%%").get("csrf"), None);
    }

    #[test]
    fn tokens_compare_exactly() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", ""));
    }
}
