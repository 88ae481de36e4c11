//! The shared backend: one PostgreSQL database behind any number of accountd
//! instances, so revocation, rotation and every limit hold across all of them.
//!
//! PostgreSQL runs writers concurrently (READ COMMITTED), so the SQLite
//! reasoning "one statement reads and writes together" is not enough by
//! itself. Each method says why it holds here:
//! - a conditional `UPDATE … WHERE <state>` is safe: a second writer waits for
//!   the first and re-checks its WHERE on the newest row version, so exactly
//!   one of many racing requests matches (rotation, logout, consuming a code,
//!   counting an attempt);
//! - `INSERT … ON CONFLICT` is safe on a unique key (blacklist, settings);
//! - a limit that counts rows which do not exist yet (OTP resend wait and
//!   hourly cap) cannot lock them, so it takes a transaction-scoped advisory
//!   lock on the phone first: one reservation per phone at a time, everywhere.

use super::map_err;
use super::rows::{FlaggedUserRow, OrgRow, SessionRow, UserRow, USER_COLUMNS};
use crate::domain::clock::UnixTime;
use crate::domain::error::{Error, Result};
use crate::domain::org::{NewOrg, Org, OrgId};
use crate::domain::phone::Phone;
use crate::domain::ports::{LoginAttempt, OtpCandidate, OtpReservation, Reserved, Store};
use crate::domain::sessions::{Session, SessionTokens};
use crate::domain::user::{NewUser, User, UserId, UserPatch};
use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};
use std::str::FromStr;
use std::time::Duration;

/// Connections per instance: N instances need N × this within the server's
/// `max_connections` (100 by default).
const MAX_CONNECTIONS: u32 = 10;
/// How long a request waits for a connection (or for the server to answer a
/// new one) before it fails with an error; never a silent "not found".
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connect and apply pending migrations. sqlx takes an advisory lock
    /// while migrating, so instances starting together are safe.
    pub async fn open(url: &str) -> Result<Self> {
        // The URL may carry a password: name neither in errors.
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| Error::Invalid(format!("bad database URL: {e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|e| Error::Internal(format!("cannot connect to PostgreSQL: {e}")))?;
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .map_err(|e| Error::Internal(format!("migration failed: {e}")))?;
        Ok(Self { pool })
    }

    async fn user_where(&self, clause: &str, value: &str) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE {clause}");
        sqlx::query_as::<_, UserRow>(&sql)
            .bind(value)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
            .map(User::try_from)
            .transpose()
    }

    /// Begin a transaction holding the advisory lock of `phone`'s codes until
    /// it ends. Every statement after this one sees what earlier holders
    /// committed (READ COMMITTED takes a snapshot per statement).
    async fn lock_phone(&self, phone: &str) -> Result<Transaction<'static, Postgres>> {
        self.lock("otp", phone).await
    }

    /// A transaction holding the advisory lock of `scope:key` until it ends.
    async fn lock(&self, scope: &str, key: &str) -> Result<Transaction<'static, Postgres>> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1 || ':' || $2, 0))")
            .bind(scope)
            .bind(key)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        Ok(tx)
    }
}

fn profile_text(p: &serde_json::Map<String, serde_json::Value>) -> String {
    serde_json::Value::Object(p.clone()).to_string()
}

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn secret_or_insert(&self, name: &str, fresh: &str) -> Result<String> {
        // A racing insert waits for the first to commit, then takes the
        // conflict branch and returns the value the first stored.
        sqlx::query_scalar(
            "INSERT INTO settings (name, value) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET value = settings.value RETURNING value",
        )
        .bind(name)
        .bind(fresh)
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)
    }

    async fn create_user(&self, u: &NewUser) -> Result<User> {
        let sql = format!(
            "INSERT INTO users (username, email, phone, first_name, last_name, role, is_active,
                 otp_enabled, date_joined, profile, password_hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING {USER_COLUMNS}"
        );
        sqlx::query_as::<_, UserRow>(&sql)
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
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?
            .try_into()
    }

    async fn update_user(&self, id: UserId, p: &UserPatch) -> Result<User> {
        // COALESCE keeps a column when the patch leaves it out; one statement.
        let sql = format!(
            "UPDATE users SET
                username = COALESCE($1, username), email = COALESCE($2, email),
                phone = COALESCE($3, phone), first_name = COALESCE($4, first_name),
                last_name = COALESCE($5, last_name), role = COALESCE($6, role),
                is_active = COALESCE($7, is_active), otp_enabled = COALESCE($8, otp_enabled),
                profile = COALESCE($9, profile), password_hash = COALESCE($10, password_hash)
             WHERE id = $11 RETURNING {USER_COLUMNS}"
        );
        sqlx::query_as::<_, UserRow>(&sql)
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
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
            .ok_or(Error::NotFound("user"))?
            .try_into()
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        sqlx::query_as::<_, UserRow>(&sql)
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
            .map(User::try_from)
            .transpose()
    }

    async fn user_by_username(&self, username: &str) -> Result<Option<User>> {
        self.user_where("username = $1", username).await
    }

    async fn user_by_phone(&self, phone: &Phone) -> Result<Option<User>> {
        self.user_where("phone = $1", phone.as_str()).await
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY id");
        sqlx::query_as::<_, UserRow>(&sql)
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?
            .into_iter()
            .map(User::try_from)
            .collect()
    }

    async fn set_last_login(&self, id: UserId, at: UnixTime) -> Result<()> {
        sqlx::query("UPDATE users SET last_login = $1 WHERE id = $2")
            .bind(at)
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn set_password_hash(&self, id: UserId, hash: &str, replacing: &str) -> Result<bool> {
        let done =
            sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = $3")
                .bind(hash)
                .bind(id.0)
                .bind(replacing)
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn create_org(&self, o: &NewOrg) -> Result<Org> {
        sqlx::query_as::<_, OrgRow>(
            "INSERT INTO organizations (name, kind, is_verified) VALUES ($1, $2, $3)
             RETURNING id, name, kind, is_verified",
        )
        .bind(&o.name)
        .bind(&o.kind)
        .bind(o.is_verified)
        .fetch_one(&self.pool)
        .await
        .map(Org::from)
        .map_err(map_err)
    }

    async fn org_by_id(&self, id: OrgId) -> Result<Option<Org>> {
        sqlx::query_as::<_, OrgRow>(
            "SELECT id, name, kind, is_verified FROM organizations WHERE id = $1",
        )
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map(|r| r.map(Org::from))
        .map_err(map_err)
    }

    async fn add_member(&self, org: OrgId, user: UserId) -> Result<()> {
        // A missing org or user is a foreign-key violation: NotFound.
        sqlx::query(
            "INSERT INTO memberships (org_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(org.0)
        .bind(user.0)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn org_of_member(&self, org: OrgId, user: UserId) -> Result<Option<Org>> {
        sqlx::query_as::<_, OrgRow>(
            "SELECT o.id, o.name, o.kind, o.is_verified FROM organizations o
             JOIN memberships m ON m.org_id = o.id WHERE o.id = $1 AND m.user_id = $2",
        )
        .bind(org.0)
        .bind(user.0)
        .fetch_optional(&self.pool)
        .await
        .map(|r| r.map(Org::from))
        .map_err(map_err)
    }

    async fn record_refresh_token(
        &self,
        jti: &str,
        user: UserId,
        issued_at: UnixTime,
        expires_at: UnixTime,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO refresh_tokens (jti, user_id, issued_at, expires_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(jti)
        .bind(user.0)
        .bind(issued_at)
        .bind(expires_at)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn blacklist(
        &self,
        jti: &str,
        user: UserId,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> Result<bool> {
        // Two instances blacklisting the same jti: the second waits on the
        // key, then does nothing; exactly one reports true.
        let done = sqlx::query(
            "INSERT INTO blacklisted_tokens (jti, user_id, expires_at, blacklisted_at)
             VALUES ($1, $2, $3, $4) ON CONFLICT (jti) DO NOTHING",
        )
        .bind(jti)
        .bind(user.0)
        .bind(expires_at)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn is_blacklisted(&self, jti: &str) -> Result<bool> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM blacklisted_tokens WHERE jti = $1)")
            .bind(jti)
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)
    }

    async fn user_and_revocation(&self, id: UserId, jti: &str) -> Result<(Option<User>, bool)> {
        let sql = format!(
            "SELECT {USER_COLUMNS}, EXISTS (SELECT 1 FROM blacklisted_tokens WHERE jti = $1) AS flag
             FROM users WHERE id = $2"
        );
        let row = sqlx::query_as::<_, FlaggedUserRow>(&sql)
            .bind(jti)
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        match row {
            Some(r) => Ok((Some(r.user.try_into()?), r.flag)),
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
        let sql = format!(
            "SELECT {USER_COLUMNS}, EXISTS (SELECT 1 FROM sessions s WHERE s.id = $1 AND s.user_id = users.id
                 AND s.ended_at IS NULL AND s.refresh_exp > $2) AS flag
             FROM users WHERE id = $3"
        );
        let row = sqlx::query_as::<_, FlaggedUserRow>(&sql)
            .bind(sid)
            .bind(now)
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        match row {
            Some(r) => Ok((Some(r.user.try_into()?), r.flag)),
            None => Ok((None, false)),
        }
    }

    async fn reserve_otp(&self, r: &OtpReservation<'_>) -> Result<Reserved> {
        // The wait and the cap count rows another instance may be inserting
        // right now; nothing exists to lock yet, so lock the phone instead.
        // Under the lock the check and the insert are one statement, and the
        // refusal is read in the same transaction.
        let mut tx = self.lock_phone(r.phone.as_str()).await?;
        let granted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO otp_codes (phone, purpose, code_hash, created_at, expires_at, attempts, state)
             SELECT $1, $2, $3, $4, $5, 0, 'pending'
             WHERE NOT EXISTS (SELECT 1 FROM otp_codes WHERE phone = $1 AND created_at > $6)
               AND (SELECT COUNT(*) FROM otp_codes WHERE phone = $1 AND created_at > $7) < $8
             RETURNING id",
        )
        .bind(r.phone.as_str())
        .bind(r.purpose)
        .bind(r.code_hash)
        .bind(r.now)
        .bind(r.expires_at)
        .bind(r.resend_after)
        .bind(r.window_start)
        .bind(r.max_in_window)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?;
        if let Some(id) = granted {
            tx.commit().await.map_err(map_err)?;
            return Ok(Reserved::Granted(id));
        }
        // Refused: say why, in one read.
        let (last, oldest): (Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT MAX(CASE WHEN created_at > $2 THEN created_at END), MIN(created_at)
             FROM otp_codes WHERE phone = $1 AND created_at > $3",
        )
        .bind(r.phone.as_str())
        .bind(r.resend_after)
        .bind(r.window_start)
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(match (last, oldest) {
            (Some(last_sent), _) => Reserved::TooSoon { last_sent },
            (None, Some(oldest_sent)) => Reserved::CapReached { oldest_sent },
            // Under the lock the two reads agree; kept for parity with SQLite.
            (None, None) => Reserved::TooSoon {
                last_sent: r.resend_after + 1,
            },
        })
    }

    async fn activate_otp(&self, id: i64) -> Result<()> {
        // Two activations for one phone at once (possible with no resend
        // wait) could each miss the other's new live code; under the phone's
        // lock they take turns, so only the newest stays live.
        let phone: Option<String> = sqlx::query_scalar("SELECT phone FROM otp_codes WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        let Some(phone) = phone else {
            // Pruned meanwhile: there is nothing left to make live.
            return Ok(());
        };
        let mut tx = self.lock_phone(&phone).await?;
        sqlx::query(
            "UPDATE otp_codes SET state = CASE WHEN id = $1 THEN 'live' ELSE 'replaced' END
             WHERE id = $1 OR (state = 'live'
                AND phone = (SELECT phone FROM otp_codes WHERE id = $1)
                AND purpose = (SELECT purpose FROM otp_codes WHERE id = $1))",
        )
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(())
    }

    async fn discard_otp(&self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM otp_codes WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
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
        let row: Option<(i64, String)> = sqlx::query_as(
            "UPDATE otp_codes SET attempts = attempts + 1
             WHERE id = (SELECT id FROM otp_codes WHERE phone = $1 AND purpose = $2 AND state = 'live'
                         ORDER BY id DESC LIMIT 1)
               AND state = 'live' AND expires_at > $3 AND attempts < $4
             RETURNING id, code_hash",
        )
        .bind(phone.as_str())
        .bind(purpose)
        .bind(now)
        .bind(max_attempts)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(row.map(|(id, code_hash)| OtpCandidate { id, code_hash }))
    }

    async fn consume_otp(&self, id: i64) -> Result<bool> {
        // The second of two racing consumers re-checks `state = 'live'` on
        // the row the first updated, and matches nothing.
        let done =
            sqlx::query("UPDATE otp_codes SET state = 'used' WHERE id = $1 AND state = 'live'")
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn login_failures(&self, key: &str, since: UnixTime) -> Result<(i64, Option<UnixTime>)> {
        sqlx::query_as("SELECT COUNT(*), MIN(at) FROM login_failures WHERE key = $1 AND at > $2")
            .bind(key)
            .bind(since)
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)
    }

    async fn reserve_login_attempt(
        &self,
        key: &str,
        now: UnixTime,
        since: UnixTime,
        max: i64,
    ) -> Result<LoginAttempt> {
        // Under READ COMMITTED two instances could both count nine and both
        // insert; the key's advisory lock makes them take turns.
        let mut tx = self.lock("login", key).await?;
        let counted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO login_failures (key, at)
             SELECT $1, $2 WHERE (SELECT COUNT(*) FROM login_failures WHERE key = $1 AND at > $3) < $4
             RETURNING id",
        )
        .bind(key)
        .bind(now)
        .bind(since)
        .bind(max)
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?;
        let attempt = match counted {
            Some(_) => LoginAttempt::Counted,
            None => {
                let oldest: Option<i64> = sqlx::query_scalar(
                    "SELECT MIN(at) FROM login_failures WHERE key = $1 AND at > $2",
                )
                .bind(key)
                .bind(since)
                .fetch_one(&mut *tx)
                .await
                .map_err(map_err)?;
                LoginAttempt::Throttled {
                    oldest: oldest.unwrap_or(now),
                }
            }
        };
        tx.commit().await.map_err(map_err)?;
        Ok(attempt)
    }

    async fn clear_login_failures(&self, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM login_failures WHERE key = $1")
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn prune(&self, now: UnixTime) -> Result<u64> {
        let mut removed = 0;
        for (sql, before) in PRUNE {
            removed += sqlx::query(sql)
                .bind(now - before)
                .execute(&self.pool)
                .await
                .map_err(map_err)?
                .rows_affected();
        }
        Ok(removed)
    }

    async fn create_session(
        &self,
        id: &str,
        user: UserId,
        t: &SessionTokens,
        now: UnixTime,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (id, user_id, created_at, refresh_jti, access_jti, issued_at,
                 refresh_exp, access_exp) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id)
        .bind(user.0)
        .bind(now)
        .bind(&t.refresh_jti)
        .bind(&t.access_jti)
        .bind(t.issued_at)
        .bind(t.refresh_exp)
        .bind(t.access_exp)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn session(&self, id: &str) -> Result<Option<Session>> {
        sqlx::query_as::<_, SessionRow>(
            "SELECT id, user_id, created_at, refresh_jti, access_jti, issued_at, refresh_exp,
                 access_exp, previous_jti, rotated_at, ended_at FROM sessions WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map(|r| r.map(Session::from))
        .map_err(map_err)
    }

    async fn rotate_session(
        &self,
        id: &str,
        presented_jti: &str,
        next: &SessionTokens,
        now: UnixTime,
    ) -> Result<bool> {
        // Compare-and-swap in one statement: racing rotations queue on the
        // session row and re-check `refresh_jti = $8` on the version the
        // winner wrote, which no longer matches; exactly one rotates.
        let done = sqlx::query(
            "UPDATE sessions SET previous_jti = refresh_jti, rotated_at = $1,
                 refresh_jti = $2, access_jti = $3, issued_at = $4, refresh_exp = $5, access_exp = $6
             WHERE id = $7 AND refresh_jti = $8 AND ended_at IS NULL",
        )
        .bind(now)
        .bind(&next.refresh_jti)
        .bind(&next.access_jti)
        .bind(next.issued_at)
        .bind(next.refresh_exp)
        .bind(next.access_exp)
        .bind(id)
        .bind(presented_jti)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn end_session(&self, id: &str, now: UnixTime, reason: &str) -> Result<bool> {
        // `ended_at IS NULL` is re-checked after a racing writer: one ends it.
        let done = sqlx::query(
            "UPDATE sessions SET ended_at = $1, end_reason = $2 WHERE id = $3 AND ended_at IS NULL",
        )
        .bind(now)
        .bind(reason)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }
}

/// What `prune` deletes, and how many seconds before now it must be older than.
/// Codes and failures are kept a day: longer than any window that counts them.
const PRUNE: [(&str, i64); 5] = [
    ("DELETE FROM refresh_tokens WHERE expires_at < $1", 0),
    // A session whose live refresh token expired can do nothing any more;
    // a missing session refuses its tokens as an ended one does.
    ("DELETE FROM sessions WHERE refresh_exp < $1", 0),
    ("DELETE FROM blacklisted_tokens WHERE expires_at < $1", 0),
    ("DELETE FROM otp_codes WHERE created_at < $1", 86_400),
    ("DELETE FROM login_failures WHERE at < $1", 86_400),
];
