//! Server-side sessions (INTERFACE.md, "delivery sessions"): a sign-in starts
//! a session; its tokens carry the session id in `sid`. Refresh rotates the
//! pair; the token just retired still answers the same successor inside the
//! reuse window, so at most one live successor ever exists; a retired token
//! presented after that revokes the session; logout ends it.
//!
//! No token string is stored: a session keeps the claims of its live pair
//! (jtis and instants) and signs them again when the successor is asked for
//! twice. HS256 is deterministic, so the same claims give the same token.
//! Every state change is one conditional statement in the store, so any
//! number of requests and instances on one database agree.

use super::accounts::{Accounts, TokenPair};
use super::audit::EventKind;
use super::clock::UnixTime;
use super::error::{Error, Result, TokenProblem};
use super::origin::Origin;
use super::otp::OtpSpec;
use super::phone::Phone;
use super::secret::Secret;
use super::supabase::may_be_imported;
use super::tokens::{new_jti, Claims, Lifetimes, TokenKind};
use super::user::{NewUser, User, UserId};

/// What a session keeps of its live token pair: enough to sign it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionTokens {
    pub refresh_jti: String,
    pub access_jti: String,
    pub issued_at: UnixTime,
    pub refresh_exp: UnixTime,
    pub access_exp: UnixTime,
}

impl SessionTokens {
    /// A new pair issued at `now`.
    pub fn fresh(now: UnixTime, lifetimes: Lifetimes) -> Self {
        Self {
            refresh_jti: new_jti(),
            access_jti: new_jti(),
            issued_at: now,
            refresh_exp: now + lifetimes.refresh,
            access_exp: now + lifetimes.access,
        }
    }
}

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    pub user: UserId,
    pub created_at: UnixTime,
    /// The live pair.
    pub current: SessionTokens,
    /// The refresh token retired by the last rotation, and when.
    pub previous_jti: Option<String>,
    pub rotated_at: Option<UnixTime>,
    /// Set by logout or by reuse detection; an ended session never revives.
    pub ended_at: Option<UnixTime>,
}

impl Session {
    /// Not ended, and its live refresh token has not expired.
    pub fn is_alive(&self, now: UnixTime) -> bool {
        self.ended_at.is_none() && self.current.refresh_exp > now
    }

    /// `jti` is the refresh token the last rotation retired, and the reuse
    /// window (`reuse_seconds` after that rotation) is still open.
    fn just_retired(&self, jti: &str, now: UnixTime, reuse_seconds: i64) -> bool {
        self.previous_jti.as_deref() == Some(jti)
            && self.rotated_at.is_some_and(|at| now < at + reuse_seconds)
    }
}

/// The session an access token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionOf {
    /// One of ours: its claims name the session (`sid`).
    Own(Claims),
    /// A session imported from Supabase, by GoTrue's id.
    Imported(String),
}

/// Why a session ended, kept for operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    Logout,
    /// A retired refresh token came back after the reuse window.
    Reuse,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Logout => "logout",
            EndReason::Reuse => "reuse",
        }
    }
}

const REVOKED: Error = Error::TokenInvalid(TokenProblem::Revoked);

impl Accounts {
    /// Sign the pair a session keeps.
    pub(super) fn sign_session(
        &self,
        sid: &str,
        user: UserId,
        t: &SessionTokens,
    ) -> Result<TokenPair> {
        let signer = self.signer();
        Ok(TokenPair {
            access: signer.sign_parts(
                TokenKind::Access,
                user,
                &t.access_jti,
                t.issued_at,
                t.access_exp,
                sid,
            )?,
            refresh: signer.sign_parts(
                TokenKind::Refresh,
                user,
                &t.refresh_jti,
                t.issued_at,
                t.refresh_exp,
                sid,
            )?,
        })
    }

    /// Start a session for `user` and stamp `last_login`.
    pub async fn start_session(&self, user: &User, lifetimes: Lifetimes) -> Result<TokenPair> {
        let now = self.now();
        let sid = new_jti();
        let tokens = SessionTokens::fresh(now, lifetimes);
        self.store()
            .create_session(&sid, user.id, &tokens, now)
            .await?;
        self.store().set_last_login(user.id, now).await?;
        self.sign_session(&sid, user.id, &tokens)
    }

    /// Sign in by phone and code, creating the user with `role_for_new` on the
    /// first successful check for an unknown phone (sending a code creates
    /// nothing), and start a session. The user is returned as it was before
    /// this sign-in (a new user's `last_login` is still empty).
    pub async fn sign_in_with_code(
        &self,
        phone: &Phone,
        spec: OtpSpec,
        code: &Secret,
        role_for_new: &str,
        lifetimes: Lifetimes,
        origin: &Origin,
    ) -> Result<(TokenPair, User)> {
        let existing = self.store().user_by_phone(phone).await?;
        if let Some(u) = existing.as_ref().filter(|u| u.otp_enabled) {
            // INTERFACE.md, "Abuse limits": an account that signs in with
            // password and code is refused a code alone, as an invalid code.
            return Err(self.refuse_code(u.id, origin).await);
        }
        let known = existing.as_ref().map(|u| u.id);
        self.check_code(phone, spec, code, known, origin).await?;
        let user = match existing {
            Some(u) => u,
            None => self.create_phone_user(phone, role_for_new).await?,
        };
        if !user.is_active {
            return Err(Error::Inactive);
        }
        let pair = self.start_session(&user, lifetimes).await?;
        Ok((pair, user))
    }

    async fn create_phone_user(&self, phone: &Phone, role: &str) -> Result<User> {
        let new = NewUser {
            phone: Some(phone.clone()),
            role: Some(role.to_owned()),
            is_active: true,
            date_joined: self.now(),
            ..NewUser::default()
        };
        match self.store().create_user(&new).await {
            Ok(u) => Ok(u),
            // Created meanwhile by another request or an operator: use that one.
            Err(Error::Conflict(field)) if field == "phone" => self
                .store()
                .user_by_phone(phone)
                .await?
                .ok_or(Error::Conflict(field)),
            Err(e) => Err(e),
        }
    }

    /// Rotate a session's pair. The live refresh token is swapped for a new
    /// one in one compare-and-swap; the token just retired answers the same
    /// successor inside the reuse window; any other retired token of the
    /// session revokes it.
    pub async fn refresh_session(
        &self,
        token: &str,
        lifetimes: Lifetimes,
        origin: &Origin,
    ) -> Result<TokenPair> {
        let claims = match self.verify(token, TokenKind::Refresh).await {
            Ok(c) => c,
            // Not one of ours: perhaps the refresh token of a session
            // imported from Supabase (`supabase.rs`).
            Err(_) if may_be_imported(token) => {
                return self.refresh_imported(token, lifetimes, origin).await
            }
            Err(p) => {
                let refused = Err(Error::TokenInvalid(p));
                self.emit_result(EventKind::Refresh, None, origin, &refused);
                return refused;
            }
        };
        let done = self.rotate(&claims, lifetimes, origin).await;
        self.emit_result(EventKind::Refresh, Some(claims.user()), origin, &done);
        done
    }

    async fn rotate(
        &self,
        claims: &Claims,
        lifetimes: Lifetimes,
        origin: &Origin,
    ) -> Result<TokenPair> {
        let now = self.now();
        let sid = claims
            .sid
            .as_deref()
            .ok_or(Error::TokenInvalid(TokenProblem::InvalidOrExpired))?;
        match self.store().user_by_id(claims.user()).await? {
            Some(u) if u.token_revoked(claims.iat) => return Err(REVOKED),
            Some(u) if u.is_active => {}
            Some(_) => return Err(Error::Inactive),
            None => return Err(Error::NotFound("user")),
        }
        let next = SessionTokens::fresh(now, lifetimes);
        if self
            .store()
            .rotate_session(sid, &claims.jti, &next, now)
            .await?
        {
            return self.sign_session(sid, claims.user(), &next);
        }
        // Not the live token (or the session ended): read what happened.
        let session = self.store().session(sid).await?.ok_or(REVOKED)?;
        if !session.is_alive(now) || session.user != claims.user() {
            return Err(REVOKED);
        }
        if session.just_retired(&claims.jti, now, self.policies().refresh_reuse_seconds) {
            return self.sign_session(sid, session.user, &session.current);
        }
        self.store()
            .end_session(sid, now, EndReason::Reuse.as_str())
            .await?;
        tracing::warn!(
            user = session.user.0,
            "retired refresh token presented again; session revoked"
        );
        self.emit(self.event(
            EventKind::RefreshReuse,
            "session_revoked",
            Some(session.user),
            origin,
        ));
        Err(REVOKED)
    }

    /// End the session of an access token; its tokens stop working at once.
    pub async fn end_session(&self, access: &str, origin: &Origin) -> Result<()> {
        let done = self.end_session_of(access).await;
        let user = done.as_ref().ok().copied();
        self.emit_result(EventKind::Logout, user, origin, &done);
        done.map(drop)
    }

    /// End the session of an access token; whose it was.
    async fn end_session_of(&self, access: &str) -> Result<UserId> {
        let (user, of) = self.session_user(access).await?;
        let ended = match of {
            SessionOf::Own(claims) => {
                let sid = claims.sid.as_deref().ok_or(REVOKED)?;
                self.store()
                    .end_session(sid, self.now(), EndReason::Logout.as_str())
                    .await?
            }
            SessionOf::Imported(id) => self.store().end_imported_session(&id, self.now()).await?,
        };
        if !ended {
            return Err(REVOKED);
        }
        Ok(user.id)
    }

    /// The user behind an access token of a live session: one of ours, or,
    /// with the Supabase secret configured, a Supabase access token of a
    /// session brought along by an import.
    pub async fn session_user(&self, access: &str) -> Result<(User, SessionOf)> {
        match self.user_from_access(access).await {
            // A token from a contract without sessions is no session's token.
            Ok((_, claims)) if claims.sid.is_none() => {
                Err(Error::TokenInvalid(TokenProblem::InvalidOrExpired))
            }
            Ok((user, claims)) => Ok((user, SessionOf::Own(claims))),
            Err(Error::TokenInvalid(TokenProblem::InvalidOrExpired))
                if self.supabase().is_some() =>
            {
                let (user, id) = self.imported_access(access).await?;
                Ok((user, SessionOf::Imported(id)))
            }
            Err(e) => Err(e),
        }
    }

    /// A session's refresh token presented at another contract's refresh:
    /// always refused; a retired one (other than the one just retired,
    /// inside the reuse window) ends its session as at delivery's refresh.
    pub(crate) async fn session_token_elsewhere(&self, claims: &Claims, origin: &Origin) -> Error {
        let Some(sid) = claims.sid.as_deref() else {
            return REVOKED;
        };
        let now = self.now();
        let session = match self.store().session(sid).await {
            Ok(Some(s)) => s,
            Ok(None) => return REVOKED,
            Err(e) => return e,
        };
        let retired = session.is_alive(now)
            && session.user == claims.user()
            && session.current.refresh_jti != claims.jti
            && !session.just_retired(&claims.jti, now, self.policies().refresh_reuse_seconds);
        if retired {
            if let Err(e) = self
                .store()
                .end_session(sid, now, EndReason::Reuse.as_str())
                .await
            {
                return e;
            }
            tracing::warn!(
                user = session.user.0,
                "retired refresh token presented again; session revoked"
            );
            self.emit(
                self.event(
                    EventKind::RefreshReuse,
                    "session_revoked",
                    Some(session.user),
                    origin,
                )
                .with("presented_at", origin.contract),
            );
        }
        REVOKED
    }

    /// For a refresh token that names a session (presented at a contract
    /// without sessions): the session must be alive and its user's, and the
    /// token its live one. Tokens without `sid` belong to no session and pass.
    /// (Access tokens are checked in one read with their user:
    /// `Accounts::user_from_access`.)
    pub(crate) async fn check_session(&self, claims: &Claims) -> Result<()> {
        let Some(sid) = claims.sid.as_deref() else {
            return Ok(());
        };
        let session = self.store().session(sid).await?.ok_or(REVOKED)?;
        let live = session.is_alive(self.now())
            && session.user == claims.user()
            && session.current.refresh_jti == claims.jti;
        if live {
            Ok(())
        } else {
            Err(REVOKED)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(previous: Option<&str>, rotated_at: Option<i64>) -> Session {
        Session {
            id: "s".into(),
            user: UserId(1),
            created_at: 0,
            current: SessionTokens::fresh(
                100,
                Lifetimes {
                    access: 10,
                    refresh: 50,
                },
            ),
            previous_jti: previous.map(str::to_owned),
            rotated_at,
            ended_at: None,
        }
    }

    #[test]
    fn the_reuse_window_is_open_for_reuse_seconds_after_the_rotation() {
        let s = session(Some("old"), Some(100));
        assert!(s.just_retired("old", 100, 10));
        assert!(s.just_retired("old", 109, 10));
        assert!(!s.just_retired("old", 110, 10));
        assert!(!s.just_retired("older", 101, 10));
        assert!(!s.just_retired("old", 100, 0));
        assert!(!session(None, None).just_retired("old", 100, 10));
    }

    #[test]
    fn a_session_lives_until_it_ends_or_its_refresh_token_expires() {
        let mut s = session(None, None);
        assert!(s.is_alive(149));
        assert!(!s.is_alive(150));
        s.ended_at = Some(120);
        assert!(!s.is_alive(121));
    }
}
