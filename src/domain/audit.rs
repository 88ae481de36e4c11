//! The audit trail (INTERFACE.md, "Observability"): one record per auth
//! event, with who, where from and how it went; never a secret, a code, a
//! password or a token. The use cases emit events to an `EventSink`; the
//! store keeps them, and metrics count them.

use super::clock::UnixTime;
use super::error::{Error, TokenProblem};
use super::origin::Origin;
use super::user::UserId;
use serde_json::{Map, Value};

/// What happened. The names are INTERFACE.md's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    PasswordLogin,
    CodeSent,
    CodeVerified,
    Refresh,
    RefreshReuse,
    Logout,
    Throttled,
    Admin,
}

impl EventKind {
    pub const ALL: [EventKind; 8] = [
        EventKind::PasswordLogin,
        EventKind::CodeSent,
        EventKind::CodeVerified,
        EventKind::Refresh,
        EventKind::RefreshReuse,
        EventKind::Logout,
        EventKind::Throttled,
        EventKind::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::PasswordLogin => "password_login",
            EventKind::CodeSent => "code_sent",
            EventKind::CodeVerified => "code_verified",
            EventKind::Refresh => "refresh",
            EventKind::RefreshReuse => "refresh_reuse",
            EventKind::Logout => "logout",
            EventKind::Throttled => "throttled",
            EventKind::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One auth event.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub time: UnixTime,
    pub event: EventKind,
    /// `success`, or a short failure word (`invalid_password`, `invalid_code`, …).
    pub outcome: &'static str,
    pub user: Option<UserId>,
    pub contract: &'static str,
    pub client: String,
    pub request_id: Option<String>,
    /// Further facts (a limit's name and wait, an admin action and its
    /// target); never a secret.
    pub detail: Option<Map<String, Value>>,
}

impl AuditEvent {
    pub fn new(
        time: UnixTime,
        event: EventKind,
        outcome: &'static str,
        user: Option<UserId>,
        origin: &Origin,
    ) -> Self {
        Self {
            time,
            event,
            outcome,
            user,
            contract: origin.contract,
            client: origin.client.clone(),
            request_id: origin.request_id.clone(),
            detail: None,
        }
    }

    /// Add one fact to `detail`.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.detail
            .get_or_insert_with(Map::new)
            .insert(key.to_owned(), value.into());
        self
    }
}

/// The short failure word of an error, for `AuditEvent::outcome`.
pub fn outcome_of(e: &Error) -> &'static str {
    match e {
        Error::InvalidCredentials => "invalid_password",
        Error::Inactive => "inactive",
        Error::SecondFactorRequired => "second_factor_required",
        Error::OtpInvalid => "invalid_code",
        Error::OtpTooSoon { .. } => "too_soon",
        Error::Throttled { .. } => "throttled",
        Error::TokenInvalid(TokenProblem::InvalidOrExpired) => "invalid_token",
        Error::TokenInvalid(TokenProblem::WrongType) => "wrong_type",
        Error::TokenInvalid(TokenProblem::Revoked) => "revoked",
        Error::NotFound(_) => "not_found",
        Error::PhoneNotAllowed => "not_allowed",
        Error::SmsFailed => "sms_failed",
        Error::Unavailable(_) => "unavailable",
        Error::Conflict(_) | Error::Invalid(_) | Error::Internal(_) => "error",
    }
}

/// An audit record as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub id: i64,
    pub time: UnixTime,
    pub event: String,
    pub outcome: String,
    pub user: Option<UserId>,
    pub contract: String,
    pub client: String,
    pub request_id: Option<String>,
    pub detail: Option<Map<String, Value>>,
}

/// Which records to read, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub user: Option<UserId>,
    pub event: Option<EventKind>,
    pub since: Option<UnixTime>,
    /// Only records older than this id (paging backwards).
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// Where the use cases send events. `emit` never blocks and never fails the
/// request: the trail is written in batches off the request path.
#[async_trait::async_trait]
pub trait EventSink: Send + Sync {
    fn emit(&self, event: AuditEvent);
    /// Wait until every event emitted so far is kept.
    async fn flush(&self) {}
}

/// A sink that keeps nothing (tools that need no trail).
pub struct Discard;

impl EventSink for Discard {
    fn emit(&self, _: AuditEvent) {}
}
