//! The stored user, and the values used to create and change one.

use super::clock::UnixTime;
use super::phone::Phone;
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UserId(pub i64);

/// A user as stored. `profile` holds any further attributes a contract shows
/// (university's majors and staff offices, kikapu's agent ids, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: UserId,
    pub username: Option<String>,
    pub email: Option<String>,
    pub phone: Option<Phone>,
    pub first_name: String,
    pub last_name: String,
    pub role: Option<String>,
    pub is_active: bool,
    pub otp_enabled: bool,
    pub date_joined: UnixTime,
    pub last_login: Option<UnixTime>,
    pub profile: Map<String, Value>,
    /// argon2id PHC string; None for phone-only users who never set one.
    pub password_hash: Option<String>,
    /// Tokens issued before this instant are refused (set by a reactivation,
    /// a password change, `user logout`).
    pub tokens_valid_after: Option<UnixTime>,
    /// May sign in to the admin console.
    pub is_staff: bool,
}

impl User {
    /// Whether a token issued at `iat` was issued before the user's tokens
    /// were last revoked. Instants are whole seconds: a token issued in the
    /// very second of the revocation still passes, so that signing in right
    /// after a reactivation or a password change works; refresh tokens and
    /// sessions of that second are ended explicitly by the revocation.
    pub fn token_revoked(&self, iat: UnixTime) -> bool {
        self.tokens_valid_after.is_some_and(|after| iat < after)
    }

    /// First and last name joined by one space, empty parts left out.
    pub fn full_name(&self) -> String {
        [self.first_name.trim(), self.last_name.trim()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.role.as_deref() == Some(role)
    }

    /// A profile attribute, or None when absent.
    pub fn attr(&self, key: &str) -> Option<&Value> {
        self.profile.get(key)
    }
}

/// A user to create. The password is hashed before it reaches the store.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub username: Option<String>,
    pub email: Option<String>,
    pub phone: Option<Phone>,
    pub first_name: String,
    pub last_name: String,
    pub role: Option<String>,
    pub is_active: bool,
    pub otp_enabled: bool,
    pub profile: Map<String, Value>,
    pub password_hash: Option<String>,
    pub date_joined: UnixTime,
    pub is_staff: bool,
}

/// Changes to a user; None leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub username: Option<String>,
    pub email: Option<String>,
    pub phone: Option<Phone>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub role: Option<String>,
    pub is_active: Option<bool>,
    pub otp_enabled: Option<bool>,
    pub profile: Option<Map<String, Value>>,
    pub password_hash: Option<String>,
    pub is_staff: Option<bool>,
}

/// How a password login names its account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginName {
    Username(String),
    Phone(Phone),
    /// simple's `username` field "is actually the phone number": try it as a
    /// username, then as a phone (002-simple-login.md, User Login).
    UsernameOrPhone(String),
}

impl LoginName {
    /// The name as typed: failed logins are counted under it (keyed, never
    /// stored as typed), whether or not an account has it, so the answers
    /// after N failures never tell which names exist.
    pub fn as_typed(&self) -> &str {
        match self {
            LoginName::Username(u) | LoginName::UsernameOrPhone(u) => u,
            LoginName::Phone(p) => p.as_str(),
        }
    }
}
