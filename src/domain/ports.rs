//! What the domain needs from the outside world. One Store implementation per
//! database; one SmsSender per gateway.

use super::clock::UnixTime;
use super::error::Result;
use super::org::{NewOrg, Org, OrgId};
use super::phone::Phone;
use super::sessions::{Session, SessionTokens};
use super::user::{NewUser, User, UserId, UserPatch};
use async_trait::async_trait;

/// A request to hold an OTP slot for a phone, granted only inside the limits.
#[derive(Debug, Clone)]
pub struct OtpReservation<'a> {
    pub phone: &'a Phone,
    pub purpose: &'a str,
    pub code_hash: &'a str,
    pub now: UnixTime,
    pub expires_at: UnixTime,
    /// No code may have been sent to this phone after this instant.
    pub resend_after: UnixTime,
    /// Codes sent after this instant count towards the hourly cap.
    pub window_start: UnixTime,
    pub max_in_window: i64,
}

/// How a reservation went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reserved {
    /// The slot is held as a pending code with this id.
    Granted(i64),
    /// The phone was sent a code at `last_sent`.
    TooSoon { last_sent: UnixTime },
    /// The phone reached the hourly cap; the oldest code in the window was sent at `oldest_sent`.
    CapReached { oldest_sent: UnixTime },
}

/// How a login attempt reservation went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginAttempt {
    /// Counted; the password may be checked.
    Counted,
    /// The limit is reached; the oldest failure in the window was at `oldest`.
    Throttled { oldest: UnixTime },
}

/// A code that took one more attempt and may now be compared.
#[derive(Debug, Clone)]
pub struct OtpCandidate {
    pub id: i64,
    pub code_hash: String,
}

#[async_trait]
pub trait Store: Send + Sync {
    /// One trivial query: is the database answering? (`/readyz`)
    async fn ping(&self) -> Result<()>;
    /// Close every connection; on SQLite the last close checkpoints the WAL
    /// into the database file, so a plain copy of the file is complete.
    async fn close(&self);

    /// The value stored under `name`, storing `fresh` first if there is none.
    /// Many instances racing here all end up with the same value.
    async fn secret_or_insert(&self, name: &str, fresh: &str) -> Result<String>;

    async fn create_user(&self, user: &NewUser) -> Result<User>;
    async fn update_user(&self, id: UserId, patch: &UserPatch) -> Result<User>;
    async fn user_by_id(&self, id: UserId) -> Result<Option<User>>;
    async fn user_by_username(&self, username: &str) -> Result<Option<User>>;
    async fn user_by_phone(&self, phone: &Phone) -> Result<Option<User>>;
    async fn list_users(&self) -> Result<Vec<User>>;
    async fn set_last_login(&self, id: UserId, at: UnixTime) -> Result<()>;
    /// Replace the password hash of user `id` by `hash` if it is still
    /// `replacing`: after a login with an old format, the fresh argon2id
    /// takes its place, but never over a password changed in the meantime.
    /// True if it was replaced.
    async fn set_password_hash(&self, id: UserId, hash: &str, replacing: &str) -> Result<bool>;

    async fn create_org(&self, org: &NewOrg) -> Result<Org>;
    async fn org_by_id(&self, id: OrgId) -> Result<Option<Org>>;
    async fn add_member(&self, org: OrgId, user: UserId) -> Result<()>;
    /// The organization, if `user` is one of its members.
    async fn org_of_member(&self, org: OrgId, user: UserId) -> Result<Option<Org>>;

    /// Remember an issued refresh token (simplejwt's OutstandingToken).
    async fn record_refresh_token(
        &self,
        jti: &str,
        user: UserId,
        issued_at: UnixTime,
        expires_at: UnixTime,
    ) -> Result<()>;
    /// Blacklist a refresh token; true if it was not blacklisted before.
    async fn blacklist(
        &self,
        jti: &str,
        user: UserId,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> Result<bool>;
    async fn is_blacklisted(&self, jti: &str) -> Result<bool>;
    /// The user `id`, if it exists, and whether refresh token `jti` is
    /// blacklisted: what a refresh needs, in one round trip when the user exists.
    async fn user_and_revocation(&self, id: UserId, jti: &str) -> Result<(Option<User>, bool)>;
    /// The user `id`, if it exists, and whether session `sid` is its and
    /// alive at `now` (not ended, refresh not expired): what an access token
    /// of a session needs, in one round trip.
    async fn user_and_session(
        &self,
        id: UserId,
        sid: &str,
        now: UnixTime,
    ) -> Result<(Option<User>, bool)>;

    /// Hold a pending code if the phone is inside its resend wait and hourly cap,
    /// atomically with respect to every other instance on the same database.
    async fn reserve_otp(&self, r: &OtpReservation<'_>) -> Result<Reserved>;
    /// The SMS went out: the pending code becomes the phone's live code and
    /// every older code for the same purpose stops working.
    async fn activate_otp(&self, id: i64) -> Result<()>;
    /// The SMS failed: forget the pending code, so no code and no wait remain.
    async fn discard_otp(&self, id: i64) -> Result<()>;
    /// Count one attempt against the live, unexpired code for (phone, purpose),
    /// if it has attempts left, and return it for comparison.
    async fn attempt_otp(
        &self,
        phone: &Phone,
        purpose: &str,
        now: UnixTime,
        max_attempts: i64,
    ) -> Result<Option<OtpCandidate>>;
    /// Mark the code used; false if another request used it first.
    async fn consume_otp(&self, id: i64) -> Result<bool>;

    /// Failed logins under `key` since `since`: how many, and the oldest instant.
    async fn login_failures(&self, key: &str, since: UnixTime) -> Result<(i64, Option<UnixTime>)>;
    /// Count one password attempt under `key` as a failure before the hash
    /// is checked, if fewer than `max` failures were counted since `since`;
    /// atomically across instances, so simultaneous guesses cannot overshoot
    /// the limit. A right password then clears the failures.
    async fn reserve_login_attempt(
        &self,
        key: &str,
        now: UnixTime,
        since: UnixTime,
        max: i64,
    ) -> Result<LoginAttempt>;
    async fn clear_login_failures(&self, key: &str) -> Result<()>;

    /// Delete rows no rule can need any more (expired tokens, day-old codes
    /// and failures); returns how many went.
    async fn prune(&self, now: UnixTime) -> Result<u64>;

    /// Start a session whose live pair is `tokens`.
    async fn create_session(
        &self,
        id: &str,
        user: UserId,
        tokens: &SessionTokens,
        now: UnixTime,
    ) -> Result<()>;
    async fn session(&self, id: &str) -> Result<Option<Session>>;
    /// Compare-and-swap, in one statement: if the session has not ended and
    /// `presented_jti` is its live refresh token, retire that token (it
    /// becomes `previous_jti`, `rotated_at` = now) and make `next` the live
    /// pair. True if this call rotated; false if the token was not the live
    /// one (another request rotated first, or it is an older token) or the
    /// session has ended.
    async fn rotate_session(
        &self,
        id: &str,
        presented_jti: &str,
        next: &SessionTokens,
        now: UnixTime,
    ) -> Result<bool>;
    /// End a session; true if this call ended it, false if it had ended already.
    async fn end_session(&self, id: &str, now: UnixTime, reason: &str) -> Result<bool>;
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SmsError(pub String);

#[async_trait]
pub trait SmsSender: Send + Sync {
    /// Deliver `message` to `to`; an error means it was not accepted.
    async fn send(&self, to: &Phone, message: &str) -> Result<(), SmsError>;
}
