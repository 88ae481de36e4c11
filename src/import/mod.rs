//! `accountd import django` and `accountd import supabase` (INTERFACE.md,
//! "Import"; issue 9): read another system's database, map its rows to
//! accountd's users, tokens and sessions, and write them through the Store
//! in one transaction.
//!
//! - `source.rs`: the other database, read only, in one snapshot;
//! - `values.rs`: what its values mean, rendered as DRF renders them;
//! - `django.rs`, `supabase.rs`: each system's tables, mapped.
//!
//! The rules about which accountd user a row becomes, and why one cannot be
//! imported, are the domain's (`domain::import`). All or nothing: every bad
//! row is named, one line each, and then nothing is written.

pub mod django;
mod source;
pub mod supabase;
mod values;

use crate::domain::audit::{AuditEvent, EventKind};
use crate::domain::clock::UnixTime;
use crate::domain::error::Error;
use crate::domain::import::Incoming;
use crate::domain::origin::Origin;
use crate::domain::ports::Store;
use serde_json::Value;

/// Why an import wrote nothing.
#[derive(Debug)]
pub enum Failure {
    /// The source database cannot be reached or read, or the options do not
    /// fit it: one line.
    Source(String),
    /// Rows that cannot be imported, one line each, naming the row.
    Rows(Vec<String>),
    /// accountd's own database failed or refused the write.
    Target(Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Target(e)
    }
}

/// A user imported without a password because its hash is in a format
/// accountd does not verify.
#[derive(Debug, Clone, PartialEq)]
pub struct UnknownHash {
    /// The user's id in the other system (Django's integer, GoTrue's UUID).
    pub source_id: Value,
    /// The format's name (`md5`, `fbscrypt`, …).
    pub format: String,
}

/// What `accountd import django` read and wrote (or would write).
#[derive(Debug, Clone, PartialEq)]
pub struct DjangoSummary {
    pub users: usize,
    pub outstanding_tokens: usize,
    pub blacklisted_tokens: usize,
    pub without_password: usize,
    pub unknown_hash_formats: Vec<UnknownHash>,
}

/// What `accountd import supabase` read and wrote (or would write).
#[derive(Debug, Clone, PartialEq)]
pub struct SupabaseSummary {
    pub users: usize,
    pub sessions: usize,
    pub without_password: usize,
    pub unknown_hash_formats: Vec<UnknownHash>,
}

/// Rows mapped from the source, and the lines of those that could not be.
struct Mapped {
    incoming: Vec<Incoming>,
    bad: Vec<String>,
    unknown: Vec<UnknownHash>,
}

impl Mapped {
    fn without_password(&self) -> usize {
        self.incoming
            .iter()
            .filter(|r| r.password_hash.is_none())
            .count()
    }
}

/// Keep an import in the audit trail as the operator's action, with its
/// counts. After the write, which stands whether or not this record can be
/// kept: a failure here is logged, not reported as a failed import.
async fn audit(
    store: &dyn Store,
    now: UnixTime,
    origin: &Origin,
    source: &str,
    counts: &[(&str, usize)],
) {
    let mut event = AuditEvent::new(now, EventKind::Admin, "success", None, origin)
        .with("action", "import")
        .with("source", source);
    for (key, n) in counts {
        event = event.with(key, *n);
    }
    if let Err(e) = store.record_audit(&[event]).await {
        tracing::warn!(error = %e, "the import is done, but its audit record could not be kept");
    }
}
