//! How the CLI shows stored records and errors to an operator.

use crate::domain::org::Org;
use crate::domain::user::User;
use crate::domain::Error;
use crate::import::{DjangoSummary, Failure, SupabaseSummary, UnknownHash};
use serde_json::{json, Value};
use std::io::Write;

/// Every stored field but the password hash, as the admin API shows it.
pub fn user(u: &User) -> Value {
    crate::admin::json::user(u)
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

fn unknown_hashes(all: &[UnknownHash]) -> Value {
    all.iter()
        .map(|u| json!({"id": u.source_id, "format": u.format}))
        .collect()
}

/// INTERFACE.md, "Import": the summary's four keys, and which users came
/// without a password because their hash's format is unknown.
pub fn django_summary(s: &DjangoSummary) -> Value {
    json!({
        "users": s.users,
        "outstanding_tokens": s.outstanding_tokens,
        "blacklisted_tokens": s.blacklisted_tokens,
        "without_password": s.without_password,
        "unknown_hash_formats": unknown_hashes(&s.unknown_hash_formats),
    })
}

pub fn supabase_summary(s: &SupabaseSummary) -> Value {
    json!({
        "users": s.users,
        "sessions": s.sessions,
        "without_password": s.without_password,
        "unknown_hash_formats": unknown_hashes(&s.unknown_hash_formats),
    })
}

/// Why an import wrote nothing: each bad row on its own line of stderr
/// (written here), then the line the command ends with.
pub fn import_failure(f: Failure) -> String {
    match f {
        Failure::Source(why) => format!("import: {why}; nothing was written"),
        Failure::Rows(lines) => {
            let mut err = std::io::stderr().lock();
            for line in &lines {
                let _ = writeln!(err, "accountd: import: {line}");
            }
            let n = lines.len();
            format!(
                "import failed: {n} row{} cannot be imported; nothing was written",
                if n == 1 { "" } else { "s" }
            )
        }
        Failure::Target(e) => format!("import failed: {}; nothing was written", error(e)),
    }
}
