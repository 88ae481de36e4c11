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
}

impl User {
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
    /// The key failed logins are counted under when no account matches, so an
    /// unknown name is throttled exactly like a known one.
    pub fn throttle_key(&self) -> String {
        match self {
            LoginName::Username(u) | LoginName::UsernameOrPhone(u) => {
                format!("name:{}", u.to_lowercase())
            }
            LoginName::Phone(p) => format!("name:{p}"),
        }
    }
}
