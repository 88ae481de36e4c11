//! Every statement of the store, written once for SQLite and PostgreSQL.
//!
//! Each method is one statement unless it says why not. Concurrency: every
//! state change is a conditional statement (`UPDATE … WHERE <state>`,
//! `INSERT … ON CONFLICT`), which both databases make atomic; the limits that
//! count rows not yet inserted go through `Db::locked`, the one place the
//! backends differ.

use super::db::{query, Db};
use super::db::{FromRow, Row};
use super::rows::{user_columns, FlaggedUser, USER_WIDTH};
use crate::domain::admin::{LiveSession, SessionKind};
use crate::domain::audit::{AuditEvent, AuditFilter, AuditRecord};
use crate::domain::clock::UnixTime;
use crate::domain::console::ConsoleSession;
use crate::domain::error::{Error, Result};
use crate::domain::import::{ImportWrite, ImportedSessionState};
use crate::domain::keys::{Algorithm, KeyState, PublicKey, StoredKey};
use crate::domain::org::{NewOrg, Org, OrgId};
use crate::domain::phone::Phone;
use crate::domain::ports::{
    Attempt, AttemptKey, AttemptReservation, Count, OtpCandidate, OtpCounts, OtpReservation,
    Reserved, Store,
};
use crate::domain::secret::Secret;
use crate::domain::sessions::{Session, SessionTokens};
use crate::domain::user::{NewUser, User, UserId, UserPatch};
use async_trait::async_trait;

/// The store over either database.
#[derive(Clone)]
pub struct SqlStore {
    db: Db,
}

impl SqlStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }
}

/// The counts a refused attempt reservation read: per client, per name.
struct AttemptCounts(Count, Count);

impl FromRow for AttemptCounts {
    fn from_row(r: &dyn Row) -> Result<Self> {
        Ok(AttemptCounts(
            Count {
                n: r.int(0)?,
                oldest: r.opt_int(1)?,
            },
            Count {
                n: r.int(2)?,
                oldest: r.opt_int(3)?,
            },
        ))
    }
}

impl FromRow for OtpCounts {
    fn from_row(r: &dyn Row) -> Result<Self> {
        let count = |i| -> Result<Count> {
            Ok(Count {
                n: r.int(i)?,
                oldest: r.opt_int(i + 1)?,
            })
        };
        Ok(OtpCounts {
            last_sent: r.opt_int(0)?,
            phone: count(1)?,
            client: count(3)?,
            global: count(5)?,
        })
    }
}

fn profile_text(p: &serde_json::Map<String, serde_json::Value>) -> String {
    serde_json::Value::Object(p.clone()).to_string()
}

/// What `prune` deletes, and how many seconds before now it must be older than.
/// Codes and failures are kept a day: longer than any window that counts them.
const PRUNE: [(&str, i64); 7] = [
    ("DELETE FROM refresh_tokens WHERE expires_at < $1", 0),
    // A session whose live refresh token expired can do nothing any more;
    // a missing session refuses its tokens as an ended one does.
    ("DELETE FROM sessions WHERE refresh_exp < $1", 0),
    ("DELETE FROM blacklisted_tokens WHERE expires_at < $1", 0),
    ("DELETE FROM otp_codes WHERE created_at < $1", 86_400),
    ("DELETE FROM attempts WHERE at < $1", 86_400),
    // Their refresh tokens go with them (ON DELETE CASCADE).
    ("DELETE FROM imported_sessions WHERE expires_at < $1", 0),
    ("DELETE FROM console_sessions WHERE expires_at < $1", 0),
];

/// `text` as a LIKE pattern that finds it anywhere: its own `%`, `_` and
/// `\` escaped (the statements say `ESCAPE '\'`), so they match themselves.
fn contains_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// The search both statements of `find_users` share: any case, on both
/// databases (SQLite's LOWER folds ASCII only, PostgreSQL's the locale's).
macro_rules! user_search {
    () => {
        " FROM users WHERE $1 IS NULL
            OR LOWER(username) LIKE LOWER($1) ESCAPE '\\'
            OR LOWER(phone) LIKE LOWER($1) ESCAPE '\\'
            OR LOWER(email) LIKE LOWER($1) ESCAPE '\\'"
    };
}

impl FromRow for LiveSession {
    fn from_row(r: &dyn Row) -> Result<Self> {
        let kind = r.text(0)?;
        Ok(LiveSession {
            kind: SessionKind::parse(&kind)
                .ok_or_else(|| Error::Internal(format!("unknown session kind {kind:?}")))?,
            id: r.text(1)?,
            user: UserId(r.int(2)?),
            created_at: r.opt_int(3)?,
            expires_at: r.int(4)?,
            last_used: r.opt_int(5)?,
        })
    }
}

/// A console sign-in and its user: `user_columns!()`, then the session's.
struct ConsoleRow(ConsoleSession, User);

impl FromRow for ConsoleRow {
    fn from_row(r: &dyn Row) -> Result<Self> {
        let user = User::from_row(r)?;
        let w = USER_WIDTH;
        Ok(ConsoleRow(
            ConsoleSession {
                id_sha256: r.text(w)?,
                user: user.id,
                csrf_token: r.text(w + 1)?,
                created_at: r.int(w + 2)?,
                expires_at: r.int(w + 3)?,
                last_seen: r.int(w + 4)?,
            },
            user,
        ))
    }
}

/// The columns `ImportedSessionState::from_row` reads, in its order.
macro_rules! imported_session_columns {
    () => {
        "imported_sessions.id, imported_sessions.user_id, imported_sessions.aud, \
         imported_sessions.role, imported_sessions.expires_at, imported_sessions.ended_at, \
         imported_sessions.session_id, imported_sessions.converted_at"
    };
}

impl FromRow for ImportedSessionState {
    fn from_row(r: &dyn Row) -> Result<Self> {
        Ok(ImportedSessionState {
            id: r.text(0)?,
            user: UserId(r.int(1)?),
            aud: r.text(2)?,
            role: r.text(3)?,
            expires_at: r.int(4)?,
            ended_at: r.opt_int(5)?,
            session_id: r.opt_text(6)?,
            converted_at: r.opt_int(7)?,
        })
    }
}

/// The columns `StoredKey::from_row` reads, in its order.
macro_rules! signing_key_columns {
    () => {
        "kid, algorithm, state, private_key, public_jwk, created_at, retire_after, retired_at"
    };
}

impl FromRow for StoredKey {
    fn from_row(r: &dyn Row) -> Result<Self> {
        let kid = r.text(0)?;
        let bad = |what: &str| Error::Internal(format!("signing key {kid}: unreadable {what}"));
        let algorithm = Algorithm::parse(&r.text(1)?).ok_or_else(|| bad("algorithm"))?;
        let state = KeyState::parse(&r.text(2)?).ok_or_else(|| bad("state"))?;
        let public = match r.opt_text(4)? {
            None => None,
            Some(text) => Some(PublicKey::from_jwk_text(&text).ok_or_else(|| bad("public key"))?),
        };
        Ok(StoredKey {
            algorithm,
            state,
            private: r.opt_text(3)?.map(Secret::new),
            public,
            created_at: r.int(5)?,
            retire_after: r.opt_int(6)?,
            retired_at: r.opt_int(7)?,
            kid,
        })
    }
}

impl FromRow for AuditRecord {
    fn from_row(r: &dyn Row) -> Result<Self> {
        let detail = match r.opt_text(8)? {
            None => None,
            Some(text) => match serde_json::from_str(&text) {
                Ok(serde_json::Value::Object(m)) => Some(m),
                _ => None,
            },
        };
        Ok(AuditRecord {
            id: r.int(0)?,
            time: r.int(1)?,
            event: r.text(2)?,
            outcome: r.text(3)?,
            user: r.opt_int(4)?.map(UserId),
            contract: r.text(5)?,
            client: r.text(6)?,
            request_id: r.opt_text(7)?,
            detail,
        })
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn record_audit(&self, events: &[AuditEvent]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let inserts = events
            .iter()
            .map(|e| {
                query(
                    "INSERT INTO audit_events (at, event, outcome, user_id, contract, client,
                         request_id, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(e.time)
                .bind(e.event.as_str())
                .bind(e.outcome)
                .bind(e.user.map(|u| u.0))
                .bind(e.contract)
                .bind(&e.client)
                .bind(&e.request_id)
                .bind(
                    e.detail
                        .as_ref()
                        .map(|d| serde_json::Value::Object(d.clone()).to_string()),
                )
            })
            .collect();
        self.db.batch(inserts).await.map(drop)
    }

    async fn audit(&self, f: &AuditFilter) -> Result<Vec<AuditRecord>> {
        self.db
            .all(
                query(
                    "SELECT id, at, event, outcome, user_id, contract, client, request_id, detail
                     FROM audit_events
                     WHERE ($1 IS NULL OR user_id = $1) AND ($2 IS NULL OR event = $2)
                       AND ($3 IS NULL OR at >= $3) AND ($4 IS NULL OR id < $4)
                     ORDER BY id DESC LIMIT $5",
                )
                .bind(f.user.map(|u| u.0))
                .bind(f.event.map(|e| e.as_str()))
                .bind(f.since)
                .bind(f.before_id)
                .bind(f.limit),
            )
            .await
    }

    async fn prune_audit(&self, before: UnixTime) -> Result<u64> {
        self.db
            .run(query("DELETE FROM audit_events WHERE at < $1").bind(before))
            .await
    }

    fn statements(&self) -> u64 {
        self.db.statements()
    }

    async fn ping(&self) -> Result<()> {
        self.db.ping().await
    }

    async fn close(&self) {
        self.db.close().await
    }

    async fn secret_or_insert(&self, name: &str, fresh: &str) -> Result<String> {
        // Racing first starts: the second insert takes the conflict branch
        // and returns the value the first stored.
        self.db
            .one(
                query(
                    "INSERT INTO settings (name, value) VALUES ($1, $2)
                     ON CONFLICT (name) DO UPDATE SET value = settings.value RETURNING value",
                )
                .bind(name)
                .bind(fresh),
            )
            .await
    }

    async fn create_user(&self, u: &NewUser) -> Result<User> {
        self.db
            .one(
                query(concat!(
                    "INSERT INTO users (username, email, phone, first_name, last_name, role,
                         is_active, otp_enabled, date_joined, profile, password_hash, is_staff)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING ",
                    user_columns!()
                ))
                .bind(&u.username)
                .bind(&u.email)
                .bind(u.phone.as_ref().map(Phone::as_str))
                .bind(&u.first_name)
                .bind(&u.last_name)
                .bind(&u.role)
                .bind(u.is_active)
                .bind(u.otp_enabled)
                .bind(u.date_joined)
                .bind(profile_text(&u.profile))
                .bind(&u.password_hash)
                .bind(u.is_staff),
            )
            .await
    }

    async fn update_user(&self, id: UserId, p: &UserPatch) -> Result<User> {
        // COALESCE keeps a column when the patch leaves it out; one statement.
        self.db
            .opt(
                query(concat!(
                    "UPDATE users SET
                        username = COALESCE($1, username), email = COALESCE($2, email),
                        phone = COALESCE($3, phone), first_name = COALESCE($4, first_name),
                        last_name = COALESCE($5, last_name), role = COALESCE($6, role),
                        is_active = COALESCE($7, is_active), otp_enabled = COALESCE($8, otp_enabled),
                        profile = COALESCE($9, profile), password_hash = COALESCE($10, password_hash),
                        is_staff = COALESCE($11, is_staff)
                     WHERE id = $12 RETURNING ",
                    user_columns!()
                ))
                .bind(&p.username)
                .bind(&p.email)
                .bind(p.phone.as_ref().map(Phone::as_str))
                .bind(&p.first_name)
                .bind(&p.last_name)
                .bind(&p.role)
                .bind(p.is_active)
                .bind(p.otp_enabled)
                .bind(p.profile.as_ref().map(profile_text))
                .bind(&p.password_hash)
                .bind(p.is_staff)
                .bind(id.0),
            )
            .await?
            .ok_or(Error::NotFound("user"))
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>> {
        self.db
            .opt(
                query(concat!(
                    "SELECT ",
                    user_columns!(),
                    " FROM users WHERE id = $1"
                ))
                .bind(id.0),
            )
            .await
    }

    async fn user_by_username(&self, username: &str) -> Result<Option<User>> {
        self.db
            .opt(
                query(concat!(
                    "SELECT ",
                    user_columns!(),
                    " FROM users WHERE username = $1"
                ))
                .bind(username),
            )
            .await
    }

    async fn user_by_phone(&self, phone: &Phone) -> Result<Option<User>> {
        self.db
            .opt(
                query(concat!(
                    "SELECT ",
                    user_columns!(),
                    " FROM users WHERE phone = $1"
                ))
                .bind(phone.as_str()),
            )
            .await
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        self.db
            .all(query(concat!(
                "SELECT ",
                user_columns!(),
                " FROM users ORDER BY id"
            )))
            .await
    }

    async fn set_last_login(&self, id: UserId, at: UnixTime) -> Result<()> {
        self.db
            .run(
                query("UPDATE users SET last_login = $1 WHERE id = $2")
                    .bind(at)
                    .bind(id.0),
            )
            .await
            .map(drop)
    }

    async fn set_password_hash(&self, id: UserId, hash: &str, replacing: &str) -> Result<bool> {
        // Only over the hash the login checked: a password an operator set
        // meanwhile is never overwritten by the upgrade of the old one.
        let done = self
            .db
            .run(
                query("UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = $3")
                    .bind(hash)
                    .bind(id.0)
                    .bind(replacing),
            )
            .await?;
        Ok(done == 1)
    }

    async fn create_org(&self, o: &NewOrg) -> Result<Org> {
        self.db
            .one(
                query(
                    "INSERT INTO organizations (name, kind, is_verified) VALUES ($1, $2, $3)
                     RETURNING id, name, kind, is_verified",
                )
                .bind(&o.name)
                .bind(&o.kind)
                .bind(o.is_verified),
            )
            .await
    }

    async fn org_by_id(&self, id: OrgId) -> Result<Option<Org>> {
        self.db
            .opt(
                query("SELECT id, name, kind, is_verified FROM organizations WHERE id = $1")
                    .bind(id.0),
            )
            .await
    }

    async fn add_member(&self, org: OrgId, user: UserId) -> Result<()> {
        // A missing org or user is a foreign-key violation: NotFound.
        self.db
            .run(
                query(
                    "INSERT INTO memberships (org_id, user_id) VALUES ($1, $2)
                     ON CONFLICT DO NOTHING",
                )
                .bind(org.0)
                .bind(user.0),
            )
            .await
            .map(drop)
    }

    async fn org_of_member(&self, org: OrgId, user: UserId) -> Result<Option<Org>> {
        self.db
            .opt(
                query(
                    "SELECT o.id, o.name, o.kind, o.is_verified FROM organizations o
                     JOIN memberships m ON m.org_id = o.id WHERE o.id = $1 AND m.user_id = $2",
                )
                .bind(org.0)
                .bind(user.0),
            )
            .await
    }

    async fn record_refresh_token(
        &self,
        jti: &str,
        user: UserId,
        issued_at: UnixTime,
        expires_at: UnixTime,
    ) -> Result<()> {
        self.db
            .run(
                query(
                    "INSERT INTO refresh_tokens (jti, user_id, issued_at, expires_at)
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(jti)
                .bind(user.0)
                .bind(issued_at)
                .bind(expires_at),
            )
            .await
            .map(drop)
    }

    async fn blacklist(
        &self,
        jti: &str,
        user: UserId,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> Result<bool> {
        // Two requests blacklisting one jti: the second waits on the key,
        // then does nothing; exactly one reports true.
        let done = self
            .db
            .run(
                query(
                    "INSERT INTO blacklisted_tokens (jti, user_id, expires_at, blacklisted_at)
                     VALUES ($1, $2, $3, $4) ON CONFLICT (jti) DO NOTHING",
                )
                .bind(jti)
                .bind(user.0)
                .bind(expires_at)
                .bind(now),
            )
            .await?;
        Ok(done == 1)
    }

    async fn is_blacklisted(&self, jti: &str) -> Result<bool> {
        self.db
            .one(query("SELECT EXISTS (SELECT 1 FROM blacklisted_tokens WHERE jti = $1)").bind(jti))
            .await
    }

    async fn user_and_revocation(&self, id: UserId, jti: &str) -> Result<(Option<User>, bool)> {
        let row: Option<FlaggedUser> = self
            .db
            .opt(
                query(concat!(
                    "SELECT ",
                    user_columns!(),
                    ", EXISTS (SELECT 1 FROM blacklisted_tokens WHERE jti = $1)
                     FROM users WHERE id = $2"
                ))
                .bind(jti)
                .bind(id.0),
            )
            .await?;
        match row {
            Some(FlaggedUser(user, revoked)) => Ok((Some(user), revoked)),
            // No such user: the rare path may take a second read.
            None => Ok((None, self.is_blacklisted(jti).await?)),
        }
    }

    async fn user_and_session(
        &self,
        id: UserId,
        sid: &str,
        now: UnixTime,
    ) -> Result<(Option<User>, bool)> {
        let row: Option<FlaggedUser> = self
            .db
            .opt(
                query(concat!(
                    "SELECT ",
                    user_columns!(),
                    ", EXISTS (SELECT 1 FROM sessions s WHERE s.id = $1 AND s.user_id = users.id
                         AND s.ended_at IS NULL AND s.refresh_exp > $2)
                     FROM users WHERE id = $3"
                ))
                .bind(sid)
                .bind(now)
                .bind(id.0),
            )
            .await?;
        Ok(match row {
            Some(FlaggedUser(user, alive)) => (Some(user), alive),
            None => (None, false),
        })
    }

    async fn reserve_otp(&self, r: &OtpReservation<'_>) -> Result<Reserved> {
        // Every budget counts rows other requests may be inserting right now;
        // the fleet-wide budget makes the lock one for all phones (a short
        // statement; codes are sent a few times a second at most).
        let granted: Option<i64> = self
            .db
            .locked(
                "otp",
                query(
                    "INSERT INTO otp_codes (phone, purpose, code_hash, client, created_at,
                         expires_at, attempts, state)
                     SELECT $1, $2, $3, $4, $5, $6, 0, 'pending'
                     WHERE NOT EXISTS (SELECT 1 FROM otp_codes WHERE phone = $1 AND created_at > $7)
                       AND (SELECT COUNT(*) FROM otp_codes WHERE phone = $1 AND created_at > $8) < $9
                       AND (SELECT COUNT(*) FROM otp_codes WHERE client = $4 AND created_at > $8) < $10
                       AND (SELECT COUNT(*) FROM otp_codes WHERE created_at > $8) < $11
                     RETURNING id",
                )
                .bind(r.phone.as_str())
                .bind(r.purpose)
                .bind(r.code_hash)
                .bind(r.client)
                .bind(r.now)
                .bind(r.expires_at)
                .bind(r.resend_after)
                .bind(r.window_start)
                .bind(r.max_per_phone)
                .bind(r.max_per_client)
                .bind(r.max_global),
            )
            .await?
            .into_iter()
            .next();
        if let Some(id) = granted {
            return Ok(Reserved::Granted(id));
        }
        // Refused: read the counts it was refused on, in one statement.
        let counts: OtpCounts = self
            .db
            .one(
                query(
                    "SELECT MAX(CASE WHEN phone = $1 AND created_at > $3 THEN created_at END),
                         COUNT(CASE WHEN phone = $1 THEN 1 END),
                         MIN(CASE WHEN phone = $1 THEN created_at END),
                         COUNT(CASE WHEN client = $2 THEN 1 END),
                         MIN(CASE WHEN client = $2 THEN created_at END),
                         COUNT(*), MIN(created_at)
                     FROM otp_codes WHERE created_at > $4",
                )
                .bind(r.phone.as_str())
                .bind(r.client)
                .bind(r.resend_after)
                .bind(r.window_start),
            )
            .await?;
        Ok(Reserved::Refused(counts))
    }

    async fn activate_otp(&self, id: i64, phone: &Phone) -> Result<()> {
        // Two activations for one phone at once (possible with no resend
        // wait) could each miss the other's new live code: under the phone's
        // lock they take turns, so only the newest stays live.
        self.db
            .locked::<i64>(
                &format!("otp:{}", phone.as_str()),
                query(
                    "UPDATE otp_codes SET state = CASE WHEN id = $1 THEN 'live' ELSE 'replaced' END
                     WHERE id = $1 OR (state = 'live' AND phone = $2
                        AND purpose = (SELECT purpose FROM otp_codes WHERE id = $1))
                     RETURNING id",
                )
                .bind(id)
                .bind(phone.as_str()),
            )
            .await
            .map(drop)
    }

    async fn discard_otp(&self, id: i64) -> Result<()> {
        self.db
            .run(query("DELETE FROM otp_codes WHERE id = $1").bind(id))
            .await
            .map(drop)
    }

    async fn attempt_otp(
        &self,
        phone: &Phone,
        purpose: &str,
        now: UnixTime,
        max_attempts: i64,
    ) -> Result<Option<OtpCandidate>> {
        // Racing attempts on one code queue on its row; each re-checks
        // `attempts < max` and `state = 'live'` on the newest version, so no
        // more than max_attempts are ever counted, and a code used or
        // replaced meanwhile is not handed out.
        let row: Option<(i64, String)> = self
            .db
            .opt(
                query(
                    "UPDATE otp_codes SET attempts = attempts + 1
                     WHERE id = (SELECT id FROM otp_codes WHERE phone = $1 AND purpose = $2
                                 AND state = 'live' ORDER BY id DESC LIMIT 1)
                       AND state = 'live' AND expires_at > $3 AND attempts < $4
                     RETURNING id, code_hash",
                )
                .bind(phone.as_str())
                .bind(purpose)
                .bind(now)
                .bind(max_attempts),
            )
            .await?;
        Ok(row.map(|(id, code_hash)| OtpCandidate { id, code_hash }))
    }

    async fn consume_otp(&self, id: i64) -> Result<bool> {
        // The second of two racing consumers re-checks `state = 'live'` on
        // the row the first updated, and matches nothing.
        let done = self
            .db
            .run(
                query("UPDATE otp_codes SET state = 'used' WHERE id = $1 AND state = 'live'")
                    .bind(id),
            )
            .await?;
        Ok(done == 1)
    }

    async fn reserve_attempt(&self, r: &AttemptReservation<'_>) -> Result<Attempt> {
        let k = r.key;
        let reserved: Option<i64> = self
            .db
            .locked(
                &format!("attempt:{}:{}", k.scope, k.name),
                query(
                    "INSERT INTO attempts (scope, name, client, at, state)
                     SELECT $1, $2, $3, $4, 'pending'
                     WHERE (SELECT COUNT(*) FROM attempts WHERE scope = $1 AND name = $2
                            AND client = $3 AND at > $5 AND (state = 'failed' OR at > $9)) < $6
                       AND (SELECT COUNT(*) FROM attempts WHERE scope = $1 AND name = $2
                            AND at > $7 AND (state = 'failed' OR at > $9)) < $8
                     RETURNING id",
                )
                .bind(k.scope)
                .bind(k.name)
                .bind(k.client)
                .bind(r.now)
                .bind(r.per_client.0)
                .bind(r.per_client.1)
                .bind(r.per_name.0)
                .bind(r.per_name.1)
                .bind(r.pending_since),
            )
            .await?
            .into_iter()
            .next();
        if let Some(id) = reserved {
            return Ok(Attempt::Reserved(id));
        }
        let counts: AttemptCounts = self
            .db
            .one(
                query(
                    "SELECT COUNT(CASE WHEN client = $3 AND at > $4 THEN 1 END),
                         MIN(CASE WHEN client = $3 AND at > $4 THEN at END),
                         COUNT(CASE WHEN at > $5 THEN 1 END),
                         MIN(CASE WHEN at > $5 THEN at END)
                     FROM attempts WHERE scope = $1 AND name = $2 AND state = 'failed'",
                )
                .bind(k.scope)
                .bind(k.name)
                .bind(k.client)
                .bind(r.per_client.0)
                .bind(r.per_name.0),
            )
            .await?;
        Ok(Attempt::Refused {
            per_client: counts.0,
            per_name: counts.1,
        })
    }

    async fn settle_attempt(&self, id: i64, k: &AttemptKey<'_>, failed: bool) -> Result<()> {
        let q = if failed {
            query("UPDATE attempts SET state = 'failed' WHERE id = $1").bind(id)
        } else {
            // A success forgets the failures of its name from its address;
            // those from other addresses keep counting towards the name's
            // ceiling, so a guesser cannot reset it by waiting for the owner.
            query(
                "DELETE FROM attempts WHERE id = $1
                    OR (scope = $2 AND name = $3 AND client = $4 AND state = 'failed')",
            )
            .bind(id)
            .bind(k.scope)
            .bind(k.name)
            .bind(k.client)
        };
        self.db.run(q).await.map(drop)
    }

    async fn clear_attempts(&self, scope: &str, names: &[String]) -> Result<u64> {
        let mut removed = 0;
        for name in names {
            removed += self
                .db
                .run(
                    query("DELETE FROM attempts WHERE scope = $1 AND name = $2")
                        .bind(scope)
                        .bind(name),
                )
                .await?;
        }
        Ok(removed)
    }

    async fn revoke_tokens(&self, user: UserId, now: UnixTime) -> Result<()> {
        self.db
            .batch(vec![
                query("UPDATE users SET tokens_valid_after = $2 WHERE id = $1")
                    .bind(user.0)
                    .bind(now),
                query(
                    "INSERT INTO blacklisted_tokens (jti, user_id, expires_at, blacklisted_at)
                     SELECT jti, user_id, expires_at, $2 FROM refresh_tokens
                     WHERE user_id = $1 AND expires_at > $2
                     ON CONFLICT (jti) DO NOTHING",
                )
                .bind(user.0)
                .bind(now),
                query(
                    "UPDATE sessions SET ended_at = $2, end_reason = 'revoked'
                     WHERE user_id = $1 AND ended_at IS NULL",
                )
                .bind(user.0)
                .bind(now),
                query(
                    "UPDATE imported_sessions SET ended_at = $2
                     WHERE user_id = $1 AND ended_at IS NULL",
                )
                .bind(user.0)
                .bind(now),
            ])
            .await
            .map(drop)
    }

    async fn prune(&self, now: UnixTime) -> Result<u64> {
        let mut removed = 0;
        for (sql, before) in PRUNE {
            removed += self.db.run(query(sql).bind(now - before)).await?;
        }
        // Readers already treat these keys as retired (domain/keys/);
        // record it, and erase material that can no longer be of use.
        self.db
            .run(
                query(
                    "UPDATE signing_keys SET state = 'retired', retired_at = retire_after,
                         private_key = NULL
                     WHERE state = 'verifying' AND retire_after <= $1",
                )
                .bind(now),
            )
            .await?;
        Ok(removed)
    }

    async fn create_session(
        &self,
        id: &str,
        user: UserId,
        t: &SessionTokens,
        now: UnixTime,
    ) -> Result<()> {
        self.db
            .run(
                query(
                    "INSERT INTO sessions (id, user_id, created_at, refresh_jti, access_jti,
                         issued_at, refresh_exp, access_exp) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(id)
                .bind(user.0)
                .bind(now)
                .bind(&t.refresh_jti)
                .bind(&t.access_jti)
                .bind(t.issued_at)
                .bind(t.refresh_exp)
                .bind(t.access_exp),
            )
            .await
            .map(drop)
    }

    async fn session(&self, id: &str) -> Result<Option<Session>> {
        self.db
            .opt(
                query(
                    "SELECT id, user_id, created_at, refresh_jti, access_jti, issued_at,
                         refresh_exp, access_exp, previous_jti, rotated_at, ended_at
                     FROM sessions WHERE id = $1",
                )
                .bind(id),
            )
            .await
    }

    async fn rotate_session(
        &self,
        id: &str,
        presented_jti: &str,
        next: &SessionTokens,
        now: UnixTime,
    ) -> Result<bool> {
        // Compare-and-swap in one statement: of any number of requests
        // presenting the same live token, exactly one matches
        // `refresh_jti = $8` (PostgreSQL re-checks it on the row the winner
        // wrote) and rotates.
        let done = self
            .db
            .run(
                query(
                    "UPDATE sessions SET previous_jti = refresh_jti, rotated_at = $1,
                         refresh_jti = $2, access_jti = $3, issued_at = $4, refresh_exp = $5,
                         access_exp = $6
                     WHERE id = $7 AND refresh_jti = $8 AND ended_at IS NULL",
                )
                .bind(now)
                .bind(&next.refresh_jti)
                .bind(&next.access_jti)
                .bind(next.issued_at)
                .bind(next.refresh_exp)
                .bind(next.access_exp)
                .bind(id)
                .bind(presented_jti),
            )
            .await?;
        Ok(done == 1)
    }

    async fn end_session(&self, id: &str, now: UnixTime, reason: &str) -> Result<bool> {
        let done = self
            .db
            .run(
                query(
                    "UPDATE sessions SET ended_at = $1, end_reason = $2
                     WHERE id = $3 AND ended_at IS NULL",
                )
                .bind(now)
                .bind(reason)
                .bind(id),
            )
            .await?;
        Ok(done == 1)
    }

    async fn next_user_id(&self) -> Result<i64> {
        self.db.next_user_id().await
    }

    async fn import(&self, w: &ImportWrite) -> Result<()> {
        let mut qs = Vec::new();
        for u in &w.users {
            // The whole row under its id; `tokens_valid_after` is accountd's own.
            qs.push(
                query(
                    "INSERT INTO users (id, username, email, phone, first_name, last_name, role,
                         is_active, otp_enabled, date_joined, last_login, profile, password_hash)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                     ON CONFLICT (id) DO UPDATE SET username = excluded.username,
                         email = excluded.email, phone = excluded.phone,
                         first_name = excluded.first_name, last_name = excluded.last_name,
                         role = excluded.role, is_active = excluded.is_active,
                         otp_enabled = excluded.otp_enabled, date_joined = excluded.date_joined,
                         last_login = excluded.last_login, profile = excluded.profile,
                         password_hash = excluded.password_hash",
                )
                .bind(u.id.0)
                .bind(&u.username)
                .bind(&u.email)
                .bind(u.phone.as_ref().map(Phone::as_str))
                .bind(&u.first_name)
                .bind(&u.last_name)
                .bind(&u.role)
                .bind(u.is_active)
                .bind(u.otp_enabled)
                .bind(u.date_joined)
                .bind(u.last_login)
                .bind(profile_text(&u.profile))
                .bind(&u.password_hash),
            );
        }
        for t in &w.refresh_tokens {
            qs.push(
                query(
                    "INSERT INTO refresh_tokens (jti, user_id, issued_at, expires_at)
                     VALUES ($1, $2, $3, $4) ON CONFLICT (jti) DO NOTHING",
                )
                .bind(&t.jti)
                .bind(t.user.0)
                .bind(t.issued_at)
                .bind(t.expires_at),
            );
        }
        for b in &w.blacklisted {
            qs.push(
                query(
                    "INSERT INTO blacklisted_tokens (jti, user_id, expires_at, blacklisted_at)
                     VALUES ($1, $2, $3, $4) ON CONFLICT (jti) DO NOTHING",
                )
                .bind(&b.jti)
                .bind(b.user.0)
                .bind(b.expires_at)
                .bind(b.blacklisted_at),
            );
        }
        for s in &w.sessions {
            // Kept as it stands when imported before: converted, ended or not.
            qs.push(
                query(
                    "INSERT INTO imported_sessions (id, user_id, aud, role, expires_at)
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
                )
                .bind(&s.id)
                .bind(s.user.0)
                .bind(&s.aud)
                .bind(&s.role)
                .bind(s.expires_at),
            );
            for hash in &s.token_sha256 {
                qs.push(
                    query(
                        "INSERT INTO imported_refresh_tokens (token_sha256, imported_session)
                         VALUES ($1, $2) ON CONFLICT (token_sha256) DO NOTHING",
                    )
                    .bind(hash)
                    .bind(&s.id),
                );
            }
        }
        self.db
            .import_batch(qs, !w.users.is_empty())
            .await
            .map(drop)
    }

    async fn imported_session_by_token(
        &self,
        token_sha256: &str,
    ) -> Result<Option<ImportedSessionState>> {
        self.db
            .opt(
                query(concat!(
                    "SELECT ",
                    imported_session_columns!(),
                    " FROM imported_refresh_tokens t
                     JOIN imported_sessions ON imported_sessions.id = t.imported_session
                     WHERE t.token_sha256 = $1"
                ))
                .bind(token_sha256),
            )
            .await
    }

    async fn imported_session(&self, id: &str) -> Result<Option<ImportedSessionState>> {
        self.db
            .opt(
                query(concat!(
                    "SELECT ",
                    imported_session_columns!(),
                    " FROM imported_sessions WHERE id = $1"
                ))
                .bind(id),
            )
            .await
    }

    async fn convert_imported_session(
        &self,
        id: &str,
        sid: &str,
        user: UserId,
        t: &SessionTokens,
        now: UnixTime,
    ) -> Result<bool> {
        // The claim is a compare-and-swap: of racing conversions exactly one
        // matches `session_id IS NULL` (PostgreSQL re-checks it on the row
        // the winner wrote), and the session is started only by the one whose
        // claim holds, in the same transaction.
        let done = self
            .db
            .batch(vec![
                query(
                    "UPDATE imported_sessions SET session_id = $2, converted_at = $3
                     WHERE id = $1 AND session_id IS NULL AND ended_at IS NULL",
                )
                .bind(id)
                .bind(sid)
                .bind(now),
                query(
                    "INSERT INTO sessions (id, user_id, created_at, refresh_jti, access_jti,
                         issued_at, refresh_exp, access_exp)
                     SELECT $1, $2, $3, $4, $5, $6, $7, $8
                     WHERE EXISTS (SELECT 1 FROM imported_sessions WHERE id = $9 AND session_id = $1)",
                )
                .bind(sid)
                .bind(user.0)
                .bind(now)
                .bind(&t.refresh_jti)
                .bind(&t.access_jti)
                .bind(t.issued_at)
                .bind(t.refresh_exp)
                .bind(t.access_exp)
                .bind(id),
            ])
            .await?;
        Ok(done.first() == Some(&1))
    }

    async fn end_imported_session(&self, id: &str, now: UnixTime) -> Result<bool> {
        // The session it became first, while the imported one still reads
        // as live; then the imported one, which says whether this call ended it.
        let done = self
            .db
            .batch(vec![
                query(
                    "UPDATE sessions SET ended_at = $2, end_reason = 'logout'
                     WHERE ended_at IS NULL AND id = (SELECT session_id FROM imported_sessions
                         WHERE id = $1 AND ended_at IS NULL)",
                )
                .bind(id)
                .bind(now),
                query(
                    "UPDATE imported_sessions SET ended_at = $2
                     WHERE id = $1 AND ended_at IS NULL",
                )
                .bind(id)
                .bind(now),
            ])
            .await?;
        Ok(done.get(1) == Some(&1))
    }

    async fn find_users(
        &self,
        text: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<User>, i64)> {
        // Two statements: the page and the count (a page past the end still
        // says how many there are).
        let pattern = text.map(contains_pattern);
        let users = self
            .db
            .all(
                query(concat!(
                    "SELECT ",
                    user_columns!(),
                    user_search!(),
                    " ORDER BY id LIMIT $2 OFFSET $3"
                ))
                .bind(pattern.clone())
                .bind(limit)
                .bind(offset),
            )
            .await?;
        let total = self
            .db
            .one(query(concat!("SELECT COUNT(*)", user_search!())).bind(pattern))
            .await?;
        Ok((users, total))
    }

    async fn delete_user(&self, id: UserId) -> Result<bool> {
        // Blacklist entries name their user without a foreign key (a token
        // may be blacklisted for a user an import has not brought yet); the
        // rest goes with the user row (ON DELETE CASCADE).
        let done = self
            .db
            .batch(vec![
                query("DELETE FROM blacklisted_tokens WHERE user_id = $1").bind(id.0),
                query("DELETE FROM users WHERE id = $1").bind(id.0),
            ])
            .await?;
        Ok(done.get(1) == Some(&1))
    }

    async fn live_sessions(
        &self,
        user: Option<UserId>,
        id: Option<&str>,
        now: UnixTime,
    ) -> Result<Vec<LiveSession>> {
        // What `revoke_tokens` ends, as it stands now. Refresh tokens of
        // delivery sessions are not in refresh_tokens: the session is the
        // one entry. An imported session that became a session is shown as
        // that session.
        self.db
            .all(
                query(
                    "SELECT 'session', id, user_id, created_at, refresh_exp, rotated_at
                     FROM sessions
                     WHERE ($1 IS NULL OR user_id = $1) AND ($2 IS NULL OR id = $2)
                       AND ended_at IS NULL AND refresh_exp > $3
                     UNION ALL
                     SELECT 'refresh_token', r.jti, r.user_id, r.issued_at, r.expires_at,
                         CAST(NULL AS BIGINT)
                     FROM refresh_tokens r
                     WHERE ($1 IS NULL OR r.user_id = $1) AND ($2 IS NULL OR r.jti = $2)
                       AND r.expires_at > $3
                       AND NOT EXISTS (SELECT 1 FROM blacklisted_tokens b WHERE b.jti = r.jti)
                     UNION ALL
                     SELECT 'imported_session', id, user_id, CAST(NULL AS BIGINT), expires_at,
                         CAST(NULL AS BIGINT)
                     FROM imported_sessions
                     WHERE ($1 IS NULL OR user_id = $1) AND ($2 IS NULL OR id = $2)
                       AND ended_at IS NULL AND session_id IS NULL AND expires_at > $3
                     ORDER BY 4 DESC NULLS LAST, 2",
                )
                .bind(user.map(|u| u.0))
                .bind(id)
                .bind(now),
            )
            .await
    }

    async fn create_console_session(&self, c: &ConsoleSession) -> Result<()> {
        self.db
            .run(
                query(
                    "INSERT INTO console_sessions (id_sha256, user_id, csrf_token, created_at,
                         expires_at, last_seen) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&c.id_sha256)
                .bind(c.user.0)
                .bind(&c.csrf_token)
                .bind(c.created_at)
                .bind(c.expires_at)
                .bind(c.last_seen),
            )
            .await
            .map(drop)
    }

    async fn console_session(&self, id_sha256: &str) -> Result<Option<(ConsoleSession, User)>> {
        let row: Option<ConsoleRow> = self
            .db
            .opt(
                query(concat!(
                    "SELECT ",
                    user_columns!(),
                    ", c.id_sha256, c.csrf_token, c.created_at, c.expires_at, c.last_seen
                     FROM console_sessions c JOIN users ON users.id = c.user_id
                     WHERE c.id_sha256 = $1"
                ))
                .bind(id_sha256),
            )
            .await?;
        Ok(row.map(|ConsoleRow(session, user)| (session, user)))
    }

    async fn touch_console_session(&self, id_sha256: &str, now: UnixTime) -> Result<()> {
        self.db
            .run(
                query("UPDATE console_sessions SET last_seen = $2 WHERE id_sha256 = $1")
                    .bind(id_sha256)
                    .bind(now),
            )
            .await
            .map(drop)
    }

    async fn end_console_session(&self, id_sha256: &str) -> Result<bool> {
        let done = self
            .db
            .run(query("DELETE FROM console_sessions WHERE id_sha256 = $1").bind(id_sha256))
            .await?;
        Ok(done == 1)
    }

    async fn signing_keys(&self, live_only: bool) -> Result<Vec<StoredKey>> {
        self.db
            .all(
                query(concat!(
                    "SELECT ",
                    signing_key_columns!(),
                    " FROM signing_keys WHERE state <> 'retired' OR NOT $1
                     ORDER BY created_at DESC,
                         CASE state WHEN 'current' THEN 0 WHEN 'verifying' THEN 1 ELSE 2 END, kid"
                ))
                .bind(live_only),
            )
            .await
    }

    async fn adopt_jwt_secret(&self, kid: &str, now: UnixTime) -> Result<bool> {
        // `WHERE` also keeps SQLite from reading ON CONFLICT as a join clause.
        let n = self
            .db
            .run(
                query(
                    "INSERT INTO signing_keys (kid, algorithm, state, private_key, created_at)
                     SELECT $1, 'HS256', 'current', value, $2 FROM settings
                     WHERE name = 'jwt_secret' AND NOT EXISTS (SELECT 1 FROM signing_keys)
                     ON CONFLICT DO NOTHING",
                )
                .bind(kid)
                .bind(now),
            )
            .await?;
        Ok(n == 1)
    }

    async fn insert_current_key(&self, key: &StoredKey) -> Result<bool> {
        // The unique index on the current state turns a second current key
        // into a conflict, which does nothing.
        let n = self
            .db
            .run(
                query(
                    "INSERT INTO signing_keys (kid, algorithm, state, private_key, public_jwk,
                         created_at) VALUES ($1, $2, 'current', $3, $4, $5)
                     ON CONFLICT DO NOTHING",
                )
                .bind(&key.kid)
                .bind(key.algorithm.as_str())
                .bind(key.private.as_ref().map(|s| s.expose()))
                .bind(key.public.as_ref().map(PublicKey::to_jwk_text))
                .bind(key.created_at),
            )
            .await?;
        Ok(n == 1)
    }

    async fn rotate_signing_key(
        &self,
        previous: &str,
        retire_after: UnixTime,
        next: &StoredKey,
    ) -> Result<()> {
        // If another rotation came first, `previous` is no longer current and
        // the insert meets that rotation's current key in the unique index:
        // a conflict, and nothing of this one is kept.
        self.db
            .batch(vec![
                query(
                    "UPDATE signing_keys SET state = 'verifying', retire_after = $2
                     WHERE kid = $1 AND state = 'current'",
                )
                .bind(previous)
                .bind(retire_after),
                query(
                    "INSERT INTO signing_keys (kid, algorithm, state, private_key, public_jwk,
                         created_at) VALUES ($1, $2, 'current', $3, $4, $5)",
                )
                .bind(&next.kid)
                .bind(next.algorithm.as_str())
                .bind(next.private.as_ref().map(|s| s.expose()))
                .bind(next.public.as_ref().map(PublicKey::to_jwk_text))
                .bind(next.created_at),
            ])
            .await?;
        Ok(())
    }
}
