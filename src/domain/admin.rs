//! Administration as a use case (INTERFACE.md, "Administration"; issue 11):
//! every action an operator takes on users, once, for the CLI, the admin API
//! and the console alike. They differ only in how they parse and render.
//!
//! Every change is an audit record of event `admin` whose `detail` names the
//! action and its target (`{"action": "deactivate", "target": 42}`), plus
//! the acting staff user's id when a person at the console or API acted,
//! and which fields an update touched; never a value, never a password.

use super::audit::{outcome_of, AuditEvent, AuditFilter, AuditRecord, EventKind, EventSink};
use super::clock::UnixTime;
use super::directory::{self, UserInput};
use super::error::{Error, Result};
use super::origin::Origin;
use super::otp::OtpKey;
use super::ports::Store;
use super::user::{User, UserId};

/// Users shown on one page when the caller does not say.
pub const DEFAULT_PER_PAGE: i64 = 20;
/// The most users one page may hold.
pub const MAX_PER_PAGE: i64 = 100;
/// The most audit records one read may return.
pub const MAX_AUDIT_LIMIT: i64 = 1000;
/// Audit records read when the caller does not say.
pub const DEFAULT_AUDIT_LIMIT: i64 = 100;
/// The longest search text: longer cannot be in any username, phone or email.
const MAX_SEARCH: usize = 254;

/// Who acts: where from (`Origin` with contract `cli` or `admin`) and, at the
/// console or through the API with a console session, which staff user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub origin: Origin,
    pub staff: Option<UserId>,
}

impl Actor {
    /// An operator at the command line.
    pub fn cli() -> Self {
        Self {
            origin: Origin::cli(),
            staff: None,
        }
    }
}

/// A page of a listing, 1-based, checked against its bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    page: i64,
    per_page: i64,
}

impl Paging {
    /// `page` ≥ 1 (default 1) and 1 ≤ `per_page` ≤ `MAX_PER_PAGE` (default
    /// `DEFAULT_PER_PAGE`); a page so far that its offset overflows is refused too.
    pub fn new(page: Option<i64>, per_page: Option<i64>) -> Result<Self> {
        let page = page.unwrap_or(1);
        let per_page = per_page.unwrap_or(DEFAULT_PER_PAGE);
        if page < 1 {
            return Err(Error::Invalid("page must be 1 or more".into()));
        }
        if !(1..=MAX_PER_PAGE).contains(&per_page) {
            return Err(Error::Invalid(format!(
                "per_page must be between 1 and {MAX_PER_PAGE}"
            )));
        }
        if (page - 1).checked_mul(per_page).is_none() {
            return Err(Error::Invalid("page is too large".into()));
        }
        Ok(Self { page, per_page })
    }

    /// Every match at once (the CLI's `user find`).
    pub fn everything() -> Self {
        Self {
            page: 1,
            per_page: i64::MAX,
        }
    }

    pub fn page(&self) -> i64 {
        self.page
    }

    pub fn per_page(&self) -> i64 {
        self.per_page
    }

    /// Rows to skip; `new` made sure it does not overflow.
    pub fn offset(&self) -> i64 {
        (self.page - 1).saturating_mul(self.per_page)
    }

    /// How many pages `total` rows fill (at least one).
    pub fn pages(&self, total: i64) -> i64 {
        ((total + self.per_page - 1) / self.per_page).max(1)
    }
}

/// One page of users found, and how many match in all.
#[derive(Debug, Clone, PartialEq)]
pub struct UserPage {
    pub users: Vec<User>,
    pub total: i64,
}

/// What a user is signed in with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// A delivery sign-in: a server-side session whose refresh token rotates.
    Session,
    /// An outstanding refresh token of the simplejwt dialect (pixel_genius,
    /// simple, university, kikapu), neither expired nor blacklisted.
    RefreshToken,
    /// A Supabase session brought over by an import and not yet used.
    ImportedSession,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Session => "session",
            SessionKind::RefreshToken => "refresh_token",
            SessionKind::ImportedSession => "imported_session",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            SessionKind::Session,
            SessionKind::RefreshToken,
            SessionKind::ImportedSession,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A live way in: a session, or a refresh token, that still works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSession {
    /// The session's id, or the refresh token's `jti` (never the token).
    pub id: String,
    pub kind: SessionKind,
    pub user: UserId,
    /// When it began (unknown for imported sessions).
    pub created_at: Option<UnixTime>,
    /// When it stops working by itself.
    pub expires_at: UnixTime,
    /// The last refresh (sessions only).
    pub last_used: Option<UnixTime>,
}

/// The administration use cases, for one actor at one instant.
pub struct Admin<'a> {
    pub store: &'a dyn Store,
    /// Where the audit records go.
    pub events: &'a dyn EventSink,
    /// The server's key, under which failed logins are counted (unlock).
    pub key: &'a OtpKey,
    /// `ACCOUNTD_PHONE_STRICT`: phones must be dialable.
    pub dialable: bool,
    pub now: UnixTime,
    pub actor: Actor,
}

impl Admin<'_> {
    /// One audit record of an action on `target`, however it went.
    fn record<T>(
        &self,
        action: &'static str,
        target: Option<UserId>,
        result: &Result<T>,
        more: impl FnOnce(AuditEvent) -> AuditEvent,
    ) {
        let outcome = result.as_ref().map_or_else(outcome_of, |_| "success");
        let mut event = AuditEvent::new(
            self.now,
            EventKind::Admin,
            outcome,
            target,
            &self.actor.origin,
        )
        .with("action", action);
        if let Some(target) = target {
            event = event.with("target", target.0);
        }
        if let Some(staff) = self.actor.staff {
            event = event.with("staff", staff.0);
        }
        self.events.emit(more(event));
    }

    /// Users whose username, phone or email contains `text` (any case), by
    /// id; an empty text finds everyone.
    pub async fn find_users(&self, text: &str, paging: Paging) -> Result<UserPage> {
        let text = text.trim();
        if text.len() > MAX_SEARCH {
            return Err(Error::Invalid(format!(
                "the search text is longer than {MAX_SEARCH} bytes"
            )));
        }
        let text = (!text.is_empty()).then_some(text);
        let (users, total) = self
            .store
            .find_users(text, paging.offset(), paging.per_page())
            .await?;
        Ok(UserPage { users, total })
    }

    pub async fn user(&self, id: UserId) -> Result<User> {
        self.store
            .user_by_id(id)
            .await?
            .ok_or(Error::NotFound("user"))
    }

    pub async fn create_user(&self, input: UserInput) -> Result<User> {
        let fields = input.fields();
        let done = directory::create_user(self.store, input, self.now, self.dialable).await;
        self.record("create", done.as_ref().ok().map(|u| u.id), &done, |e| {
            e.with("fields", fields)
        });
        done
    }

    /// Change the given fields (reactivating or a new password ends every
    /// token issued before: `directory::update_user`).
    pub async fn update_user(&self, id: UserId, input: UserInput) -> Result<User> {
        let fields = input.fields();
        let done = directory::update_user(self.store, id, input, self.now, self.dialable).await;
        self.record("update", Some(id), &done, |e| e.with("fields", fields));
        done
    }

    /// Its logins and tokens stop working until it is reactivated.
    pub async fn deactivate(&self, id: UserId) -> Result<User> {
        let done = directory::deactivate_user(self.store, id).await;
        self.record("deactivate", Some(id), &done, |e| e);
        done
    }

    /// Active again; every token issued before stays dead.
    pub async fn reactivate(&self, id: UserId) -> Result<User> {
        let input = UserInput {
            is_active: Some(true),
            ..UserInput::default()
        };
        let done = directory::update_user(self.store, id, input, self.now, self.dialable).await;
        self.record("reactivate", Some(id), &done, |e| e);
        done
    }

    /// The user and everything of theirs: tokens, sessions, memberships,
    /// console sessions. Their audit records stay: the trail outlives them.
    pub async fn delete_user(&self, id: UserId) -> Result<()> {
        let done = match self.store.delete_user(id).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(Error::NotFound("user")),
            Err(e) => Err(e),
        };
        self.record("delete", Some(id), &done, |e| e);
        done
    }

    /// End every refresh token, session and access token issued to the
    /// user until now.
    pub async fn logout_user(&self, id: UserId) -> Result<User> {
        let done = directory::logout_user(self.store, id, self.now).await;
        self.record("logout", Some(id), &done, |e| e);
        done
    }

    /// Clear the user's failed-login throttle; how many counted attempts went.
    pub async fn unlock_user(&self, id: UserId) -> Result<u64> {
        let done = directory::unlock_user(self.store, self.key, id).await;
        self.record("unlock", Some(id), &done, |e| match &done {
            Ok(n) => e.with("cleared_attempts", *n),
            Err(_) => e,
        });
        done
    }

    /// What the user is signed in with now, newest first.
    pub async fn sessions(&self, id: UserId) -> Result<Vec<LiveSession>> {
        self.user(id).await?;
        self.store.live_sessions(Some(id), None, self.now).await
    }

    /// End one live session or refresh token, by its id (`jti` for a
    /// refresh token), whoever's it is.
    pub async fn end_session(&self, id: &str) -> Result<LiveSession> {
        let done = self.end(id).await;
        let target = done.as_ref().ok().map(|s| s.user);
        self.record("end_session", target, &done, |e| match &done {
            Ok(s) => e
                .with("session", s.id.clone())
                .with("kind", s.kind.as_str()),
            Err(_) => e,
        });
        done
    }

    async fn end(&self, id: &str) -> Result<LiveSession> {
        let live = self
            .store
            .live_sessions(None, Some(id), self.now)
            .await?
            .into_iter()
            .next()
            .ok_or(Error::NotFound("session"))?;
        // Each is one conditional statement; one that lost a race to a
        // logout or a rotation has nothing left to end, which is no failure.
        match live.kind {
            SessionKind::Session => {
                self.store.end_session(id, self.now, "admin").await?;
            }
            SessionKind::RefreshToken => {
                self.store
                    .blacklist(id, live.user, live.expires_at, self.now)
                    .await?;
            }
            SessionKind::ImportedSession => {
                self.store.end_imported_session(id, self.now).await?;
            }
        }
        Ok(live)
    }

    /// Audit records, newest first.
    pub async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>> {
        if !(1..=MAX_AUDIT_LIMIT).contains(&filter.limit) {
            return Err(Error::Invalid(format!(
                "limit must be between 1 and {MAX_AUDIT_LIMIT}"
            )));
        }
        // What this instance recorded so far is in the answer: an operator
        // sees their own change at once.
        self.events.flush().await;
        self.store.audit(filter).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_is_bounded() {
        assert_eq!(
            Paging::new(None, None).unwrap(),
            Paging {
                page: 1,
                per_page: DEFAULT_PER_PAGE
            }
        );
        assert_eq!(Paging::new(Some(3), Some(10)).unwrap().offset(), 20);
        for (page, per_page) in [
            (0, 10),
            (-1, 10),
            (1, 0),
            (1, MAX_PER_PAGE + 1),
            (i64::MAX, 100),
        ] {
            assert!(
                Paging::new(Some(page), Some(per_page)).is_err(),
                "{page} {per_page}"
            );
        }
        let p = Paging::new(Some(1), Some(10)).unwrap();
        assert_eq!((p.pages(0), p.pages(10), p.pages(11)), (1, 1, 2));
    }

    #[test]
    fn session_kinds_have_one_name_each() {
        for k in [
            SessionKind::Session,
            SessionKind::RefreshToken,
            SessionKind::ImportedSession,
        ] {
            assert_eq!(SessionKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(SessionKind::parse("cookie"), None);
    }
}
