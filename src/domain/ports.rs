//! What the domain needs from the outside world. One Store implementation per
//! database; one SmsSender per gateway.

use super::admin::LiveSession;
use super::audit::{AuditEvent, AuditFilter, AuditRecord};
use super::clock::UnixTime;
use super::console::ConsoleSession;
use super::error::Result;
use super::import::{ImportWrite, ImportedSessionState};
use super::keys::StoredKey;
use super::org::{NewOrg, Org, OrgId};
use super::phone::Phone;
use super::sessions::{Session, SessionTokens};
use super::user::{NewUser, User, UserId, UserPatch};
use async_trait::async_trait;

/// A request to hold an OTP slot for a phone, granted only inside every
/// limit: the phone's resend wait and hourly cap, the client address's and
/// the fleet's hourly budgets (INTERFACE.md, "Abuse limits").
#[derive(Debug, Clone)]
pub struct OtpReservation<'a> {
    pub phone: &'a Phone,
    pub purpose: &'a str,
    pub code_hash: &'a str,
    /// The address asking for the code.
    pub client: &'a str,
    pub now: UnixTime,
    pub expires_at: UnixTime,
    /// No code may have been sent to this phone after this instant.
    pub resend_after: UnixTime,
    /// Codes sent after this instant count towards the hourly budgets.
    pub window_start: UnixTime,
    pub max_per_phone: i64,
    pub max_per_client: i64,
    pub max_global: i64,
}

/// How many counted events a budget holds, and the oldest of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Count {
    pub n: i64,
    pub oldest: Option<UnixTime>,
}

/// Why a reservation was refused: the counts it was refused on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OtpCounts {
    /// The last code sent to the phone inside the resend wait, if any.
    pub last_sent: Option<UnixTime>,
    pub phone: Count,
    pub client: Count,
    pub global: Count,
}

/// How a reservation went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reserved {
    /// The slot is held as a pending code with this id.
    Granted(i64),
    Refused(OtpCounts),
}

/// What an attempt is counted under: `scope` (`login`, `code`), a name
/// (already keyed: nothing typed is stored) and the client address.
#[derive(Debug, Clone, Copy)]
pub struct AttemptKey<'a> {
    pub scope: &'a str,
    pub name: &'a str,
    pub client: &'a str,
}

/// Hold a place for one attempt if, counting failed attempts and those
/// still being checked (pending since `pending_since`), fewer than
/// `per_client.1` were made by this name from this client since
/// `per_client.0`, and fewer than `per_name.1` by this name from anywhere
/// since `per_name.0`.
#[derive(Debug, Clone, Copy)]
pub struct AttemptReservation<'a> {
    pub key: AttemptKey<'a>,
    pub now: UnixTime,
    pub per_client: (UnixTime, i64),
    pub per_name: (UnixTime, i64),
    pub pending_since: UnixTime,
}

/// How an attempt reservation went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Counted as pending under this id; settle it once checked.
    Reserved(i64),
    /// No place: the failed attempts of each budget (pending ones aside).
    Refused { per_client: Count, per_name: Count },
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

    /// Hold a pending code if every limit of `r` allows it, atomically with
    /// respect to every other instance on the same database.
    async fn reserve_otp(&self, r: &OtpReservation<'_>) -> Result<Reserved>;
    /// The SMS went out: the pending code becomes the phone's live code and
    /// every older code for the same purpose stops working.
    async fn activate_otp(&self, id: i64, phone: &Phone) -> Result<()>;
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

    /// Reserve a place for one attempt, atomically across instances.
    async fn reserve_attempt(&self, r: &AttemptReservation<'_>) -> Result<Attempt>;
    /// The attempt failed (it now counts), or succeeded (it and the failed
    /// attempts of its key are forgotten).
    async fn settle_attempt(&self, id: i64, key: &AttemptKey<'_>, failed: bool) -> Result<()>;
    /// Forget every attempt of `scope` under these names (an operator's
    /// unlock); how many went.
    async fn clear_attempts(&self, scope: &str, names: &[String]) -> Result<u64>;

    /// End everything issued to `user` until `now`: its refresh tokens are
    /// blacklisted, its sessions end, and any token whose `iat` is before
    /// `now` is refused from now on (`User::tokens_valid_after`).
    async fn revoke_tokens(&self, user: UserId, now: UnixTime) -> Result<()>;

    /// Keep audit events (one statement for the whole batch).
    async fn record_audit(&self, events: &[AuditEvent]) -> Result<()>;
    /// Audit records, newest first.
    async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>>;
    /// Delete audit records older than `before`; how many went.
    async fn prune_audit(&self, before: UnixTime) -> Result<u64>;
    /// How many statements were sent to the database so far (on
    /// PostgreSQL, round trips): for metrics, and for tests that count them.
    fn statements(&self) -> u64;

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

    /// The id the next user created will get: above every id given so far,
    /// including those of deleted users (an import numbers its new users
    /// from here, so no id is ever given twice).
    async fn next_user_id(&self) -> Result<i64>;
    /// Write an import in one transaction, all of it or nothing: users under
    /// their ids (inserted, or replacing the row of that id), then refresh
    /// tokens, blacklist entries and imported sessions, each kept as it is
    /// when already there. Users created afterwards get ids above these.
    async fn import(&self, write: &ImportWrite) -> Result<()>;
    /// The imported session whose refresh token has this hex SHA-256.
    async fn imported_session_by_token(
        &self,
        token_sha256: &str,
    ) -> Result<Option<ImportedSessionState>>;
    /// The imported session with this (GoTrue) id.
    async fn imported_session(&self, id: &str) -> Result<Option<ImportedSessionState>>;
    /// In one transaction: if the imported session `id` has not ended and
    /// was not converted yet, record that it became session `sid` and start
    /// that session for `user` with `tokens`. True if this call converted it.
    async fn convert_imported_session(
        &self,
        id: &str,
        sid: &str,
        user: UserId,
        tokens: &SessionTokens,
        now: UnixTime,
    ) -> Result<bool>;
    /// End an imported session and the session it became, if any; true if
    /// this call ended it.
    async fn end_imported_session(&self, id: &str, now: UnixTime) -> Result<bool>;

    /// Users whose username, phone or email contains `text` (any case;
    /// every user when None), by id: `limit` of them after `offset`, and
    /// how many match in all.
    async fn find_users(
        &self,
        text: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<User>, i64)>;
    /// Delete a user and everything of theirs (tokens, sessions,
    /// memberships, console sessions) in one transaction; false if there
    /// was no such user. Audit records stay.
    async fn delete_user(&self, id: UserId) -> Result<bool>;
    /// What still works at `now`, newest first: live sessions, outstanding
    /// refresh tokens neither expired nor blacklisted, imported sessions not
    /// ended, expired or converted; of one user, or the one with this id.
    async fn live_sessions(
        &self,
        user: Option<UserId>,
        id: Option<&str>,
        now: UnixTime,
    ) -> Result<Vec<LiveSession>>;

    /// Keep a new console sign-in.
    async fn create_console_session(&self, session: &ConsoleSession) -> Result<()>;
    /// The console sign-in stored under this id, with its user, live or not.
    async fn console_session(&self, id_sha256: &str) -> Result<Option<(ConsoleSession, User)>>;
    /// The sign-in was used at `now`.
    async fn touch_console_session(&self, id_sha256: &str, now: UnixTime) -> Result<()>;
    /// Forget a console sign-in; true if there was one.
    async fn end_console_session(&self, id_sha256: &str) -> Result<bool>;

    /// Signing keys, newest first (of keys made in the same second, the
    /// current one first); `live_only` leaves out those recorded as
    /// retired (one cheap query: instances run it every few seconds).
    async fn signing_keys(&self, live_only: bool) -> Result<Vec<StoredKey>>;
    /// If no signing key was ever kept, take the HS256 secret an earlier
    /// version generated (`settings.jwt_secret`), unchanged, as the current
    /// key `kid`. True if it was taken.
    async fn adopt_jwt_secret(&self, kid: &str, now: UnixTime) -> Result<bool>;
    /// Keep `key` as the current key unless there is one already (another
    /// instance made it first); true if it was kept.
    async fn insert_current_key(&self, key: &StoredKey) -> Result<bool>;
    /// In one transaction: the current key `previous` becomes verifying until
    /// `retire_after`, and `next` becomes current. `Conflict` if another
    /// rotation made a current key first.
    async fn rotate_signing_key(
        &self,
        previous: &str,
        retire_after: UnixTime,
        next: &StoredKey,
    ) -> Result<()>;
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SmsError(pub String);

#[async_trait]
pub trait SmsSender: Send + Sync {
    /// Deliver `message` to `to`; an error means it was not accepted.
    async fn send(&self, to: &Phone, message: &str) -> Result<(), SmsError>;
}
