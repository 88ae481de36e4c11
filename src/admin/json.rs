//! The admin surface's JSON: users, sessions and audit records as the CLI
//! prints them and the admin API answers them (docs/admin-openapi.json).

use crate::domain::admin::LiveSession;
use crate::domain::audit::AuditRecord;
use crate::domain::clock::rfc3339;
use crate::domain::user::User;
use serde_json::{json, Value};

/// Every stored field but the password hash (and the revocation instant,
/// which is the server's bookkeeping).
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
        "is_staff": u.is_staff,
        "otp_enabled": u.otp_enabled,
        "date_joined": rfc3339(u.date_joined),
        "last_login": u.last_login.map(rfc3339),
        "profile": Value::Object(u.profile.clone()),
    })
}

/// A live session or refresh token; its id is a session id or a `jti`,
/// never a token.
pub fn session(s: &LiveSession) -> Value {
    json!({
        "id": s.id,
        "kind": s.kind.as_str(),
        "user_id": s.user.0,
        "created_at": s.created_at.map(rfc3339),
        "expires_at": rfc3339(s.expires_at),
        "last_used": s.last_used.map(rfc3339),
    })
}

/// An audit record, with the keys of INTERFACE.md's `accountd audit list`
/// and its id (to page backwards with `before`).
pub fn audit(r: &AuditRecord) -> Value {
    json!({
        "id": r.id,
        "time": rfc3339(r.time),
        "event": r.event,
        "outcome": r.outcome,
        "user_id": r.user.map(|u| u.0),
        "contract": r.contract,
        "client": r.client,
        "request_id": r.request_id,
        "detail": r.detail.clone().map(Value::Object),
    })
}
