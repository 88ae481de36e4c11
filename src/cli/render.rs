//! How the CLI shows stored records and errors to an operator.

use crate::domain::clock::rfc3339;
use crate::domain::org::Org;
use crate::domain::user::User;
use crate::domain::Error;
use serde_json::{json, Value};

/// Every stored field but the password hash.
pub fn user(u: &User) -> Value {
    json!({
        "id": u.id.0,
        "username": u.username,
        "email": u.email,
        "phone": u.phone.as_ref().map(|p| p.as_str()),
        "first_name": u.first_name,
        "last_name": u.last_name,
        "role": u.role,
        "is_active": u.is_active,
        "otp_enabled": u.otp_enabled,
        "date_joined": rfc3339(u.date_joined),
        "last_login": u.last_login.map(rfc3339),
        "profile": Value::Object(u.profile.clone()),
    })
}

pub fn org(o: &Org) -> Value {
    json!({"id": o.id.0, "name": o.name, "kind": o.kind, "is_verified": o.is_verified})
}

pub fn error(e: Error) -> String {
    match e {
        Error::Conflict(field) => format!("a user with that {field} already exists"),
        other => other.to_string(),
    }
}
