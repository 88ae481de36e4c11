//! The embedded backend: one SQLite file in WAL mode, created on first run.
//!
//! SQLite serialises writers, so each limit below is one statement that reads
//! and writes together: no two requests can both pass a check and both act.

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
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::str::FromStr;
use std::time::Duration;

/// How long a statement waits for another connection's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    pub async fn open(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| Error::Invalid(format!("bad database URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        create_private(options.get_filename())?;
        // Two processes creating one new file at once: switching it to WAL
        // can answer "database is locked" without waiting on the busy
        // handler. It clears as soon as the other process is through.
        let mut attempt = 0;
        let pool = loop {
            let opened = SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(options.clone())
                .await;
            match opened {
                Ok(pool) => break pool,
                Err(sqlx::Error::Database(e))
                    if e.code().as_deref() == Some("5") && attempt < 20 =>
                {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(25 * attempt)).await;
                }
                Err(e) => return Err(Error::Internal(format!("cannot open {url}: {e}"))),
            }
        };
        migrate(&pool)
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
}

/// Create the database file readable by its owner only, before SQLite opens
/// it: it holds the signing secret and the code key, and SQLite gives the
/// `-wal` and `-shm` files the mode of the database file.
fn create_private(path: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if path.as_os_str().is_empty() || path.to_str() == Some(":memory:") {
        return Ok(());
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::Internal(format!(
            "cannot create {}: {e}",
            path.display()
        ))),
    }
}

/// Apply pending migrations under one exclusive lock held across all of them.
///
/// sqlx's migrator takes no lock on SQLite: two processes starting on one new
/// file could both read "nothing applied" and the second fail on "already
/// exists". Here the whole check-and-apply is one `BEGIN EXCLUSIVE`
/// transaction (SQLite DDL is transactional), so a second process waits on the
/// busy handler, then finds everything applied. The bookkeeping is sqlx's own
/// `_sqlx_migrations` table, so databases migrated before keep working.
async fn migrate(pool: &SqlitePool) -> std::result::Result<(), sqlx::Error> {
    let migrator = sqlx::migrate!("./migrations/sqlite");
    let conn = pool.acquire().await?;
    // A connection left inside a failed transaction must not go back to the pool.
    let mut conn = conn.detach();
    sqlx::query("BEGIN EXCLUSIVE").execute(&mut conn).await?;
    let applied = apply(&mut conn, &migrator).await;
    let end = if applied.is_ok() {
        "COMMIT"
    } else {
        "ROLLBACK"
    };
    let ended = sqlx::query(end).execute(&mut conn).await;
    let _ = sqlx::Connection::close(conn).await;
    applied?;
    ended.map(|_| ())
}

async fn apply(
    conn: &mut sqlx::SqliteConnection,
    migrator: &sqlx::migrate::Migrator,
) -> std::result::Result<(), sqlx::Error> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS _sqlx_migrations (
            version BIGINT PRIMARY KEY,
            description TEXT NOT NULL,
            installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
            success BOOLEAN NOT NULL,
            checksum BLOB NOT NULL,
            execution_time BIGINT NOT NULL
        )",
    )
    .execute(&mut *conn)
    .await?;
    let done: Vec<(i64, Vec<u8>, bool)> =
        sqlx::query_as("SELECT version, checksum, success FROM _sqlx_migrations")
            .fetch_all(&mut *conn)
            .await?;
    for m in migrator.iter() {
        match done.iter().find(|(v, _, _)| *v == m.version) {
            Some((_, _, false)) => return Err(sqlx::migrate::MigrateError::Dirty(m.version).into()),
            Some((_, sum, true)) if sum.as_slice() != &*m.checksum => {
                return Err(sqlx::migrate::MigrateError::VersionMismatch(m.version).into())
            }
            Some(_) => continue,
            None => {}
        }
        let started = std::time::Instant::now();
        sqlx::raw_sql(&m.sql).execute(&mut *conn).await?;
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
             VALUES (?, ?, TRUE, ?, ?)",
        )
        .bind(m.version)
        .bind(&*m.description)
        .bind(&*m.checksum)
        .bind(started.elapsed().as_nanos() as i64)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

fn profile_text(p: &serde_json::Map<String, serde_json::Value>) -> String {
    serde_json::Value::Object(p.clone()).to_string()
}

#[async_trait]
impl Store for SqliteStore {
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
        sqlx::query_scalar(
            "INSERT INTO settings (name, value) VALUES (?1, ?2)
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
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {USER_COLUMNS}"
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
                username = COALESCE(?, username), email = COALESCE(?, email),
                phone = COALESCE(?, phone), first_name = COALESCE(?, first_name),
                last_name = COALESCE(?, last_name), role = COALESCE(?, role),
                is_active = COALESCE(?, is_active), otp_enabled = COALESCE(?, otp_enabled),
                profile = COALESCE(?, profile), password_hash = COALESCE(?, password_hash)
             WHERE id = ? RETURNING {USER_COLUMNS}"
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
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?");
        sqlx::query_as::<_, UserRow>(&sql)
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?
            .map(User::try_from)
            .transpose()
    }

    async fn user_by_username(&self, username: &str) -> Result<Option<User>> {
        self.user_where("username = ?", username).await
    }

    async fn user_by_phone(&self, phone: &Phone) -> Result<Option<User>> {
        self.user_where("phone = ?", phone.as_str()).await
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
        sqlx::query("UPDATE users SET last_login = ? WHERE id = ?")
            .bind(at)
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn set_password_hash(&self, id: UserId, hash: &str, replacing: &str) -> Result<bool> {
        let done =
            sqlx::query("UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?")
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
            "INSERT INTO organizations (name, kind, is_verified) VALUES (?, ?, ?)
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
            "SELECT id, name, kind, is_verified FROM organizations WHERE id = ?",
        )
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map(|r| r.map(Org::from))
        .map_err(map_err)
    }

    async fn add_member(&self, org: OrgId, user: UserId) -> Result<()> {
        sqlx::query(
            "INSERT INTO memberships (org_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
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
             JOIN memberships m ON m.org_id = o.id WHERE o.id = ? AND m.user_id = ?",
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
            "INSERT INTO refresh_tokens (jti, user_id, issued_at, expires_at) VALUES (?, ?, ?, ?)",
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
        let done = sqlx::query(
            "INSERT INTO blacklisted_tokens (jti, user_id, expires_at, blacklisted_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (jti) DO NOTHING",
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
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM blacklisted_tokens WHERE jti = ?")
            .bind(jti)
            .fetch_one(&self.pool)
            .await
            .map(|n| n > 0)
            .map_err(map_err)
    }

    async fn user_and_revocation(&self, id: UserId, jti: &str) -> Result<(Option<User>, bool)> {
        let sql = format!(
            "SELECT {USER_COLUMNS}, EXISTS (SELECT 1 FROM blacklisted_tokens WHERE jti = ?) AS flag
             FROM users WHERE id = ?"
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
            "SELECT {USER_COLUMNS}, EXISTS (SELECT 1 FROM sessions s WHERE s.id = ? AND s.user_id = users.id
                 AND s.ended_at IS NULL AND s.refresh_exp > ?) AS flag
             FROM users WHERE id = ?"
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
        let granted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO otp_codes (phone, purpose, code_hash, created_at, expires_at, attempts, state)
             SELECT ?1, ?2, ?3, ?4, ?5, 0, 'pending'
             WHERE NOT EXISTS (SELECT 1 FROM otp_codes WHERE phone = ?1 AND created_at > ?6)
               AND (SELECT COUNT(*) FROM otp_codes WHERE phone = ?1 AND created_at > ?7) < ?8
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
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        if let Some(id) = granted {
            return Ok(Reserved::Granted(id));
        }
        // Refused: say why, in one read.
        let (last, oldest): (Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT MAX(CASE WHEN created_at > ?2 THEN created_at END), MIN(created_at)
             FROM otp_codes WHERE phone = ?1 AND created_at > ?3",
        )
        .bind(r.phone.as_str())
        .bind(r.resend_after)
        .bind(r.window_start)
        .fetch_one(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(match (last, oldest) {
            (Some(last_sent), _) => Reserved::TooSoon { last_sent },
            (None, Some(oldest_sent)) => Reserved::CapReached { oldest_sent },
            // Rows vanished between the two reads (pruned or discarded): the
            // caller may simply try again; say "too soon" for one second.
            (None, None) => Reserved::TooSoon {
                last_sent: r.resend_after + 1,
            },
        })
    }

    async fn activate_otp(&self, id: i64) -> Result<()> {
        sqlx::query(
            "UPDATE otp_codes SET state = CASE WHEN id = ?1 THEN 'live' ELSE 'replaced' END
             WHERE id = ?1 OR (state = 'live'
                AND phone = (SELECT phone FROM otp_codes WHERE id = ?1)
                AND purpose = (SELECT purpose FROM otp_codes WHERE id = ?1))",
        )
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn discard_otp(&self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM otp_codes WHERE id = ?")
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
        let row: Option<(i64, String)> = sqlx::query_as(
            "UPDATE otp_codes SET attempts = attempts + 1
             WHERE id = (SELECT id FROM otp_codes WHERE phone = ?1 AND purpose = ?2 AND state = 'live'
                         ORDER BY id DESC LIMIT 1)
               AND expires_at > ?3 AND attempts < ?4
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
        let done =
            sqlx::query("UPDATE otp_codes SET state = 'used' WHERE id = ? AND state = 'live'")
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn login_failures(&self, key: &str, since: UnixTime) -> Result<(i64, Option<UnixTime>)> {
        sqlx::query_as("SELECT COUNT(*), MIN(at) FROM login_failures WHERE key = ? AND at > ?")
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
        // One statement: SQLite's single writer makes the count and the insert atomic.
        let counted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO login_failures (key, at)
             SELECT ?1, ?2 WHERE (SELECT COUNT(*) FROM login_failures WHERE key = ?1 AND at > ?3) < ?4
             RETURNING id",
        )
        .bind(key)
        .bind(now)
        .bind(since)
        .bind(max)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_err)?;
        if counted.is_some() {
            return Ok(LoginAttempt::Counted);
        }
        let oldest: Option<i64> =
            sqlx::query_scalar("SELECT MIN(at) FROM login_failures WHERE key = ? AND at > ?")
                .bind(key)
                .bind(since)
                .fetch_one(&self.pool)
                .await
                .map_err(map_err)?;
        Ok(LoginAttempt::Throttled {
            oldest: oldest.unwrap_or(now),
        })
    }

    async fn clear_login_failures(&self, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM login_failures WHERE key = ?")
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
                 refresh_exp, access_exp) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
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
                 access_exp, previous_jti, rotated_at, ended_at FROM sessions WHERE id = ?",
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
        // One statement: of any number of requests presenting the same live
        // token, exactly one matches `refresh_jti = ?` and rotates.
        let done = sqlx::query(
            "UPDATE sessions SET previous_jti = refresh_jti, rotated_at = ?1,
                 refresh_jti = ?2, access_jti = ?3, issued_at = ?4, refresh_exp = ?5, access_exp = ?6
             WHERE id = ?7 AND refresh_jti = ?8 AND ended_at IS NULL",
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
        let done = sqlx::query(
            "UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL",
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
    ("DELETE FROM refresh_tokens WHERE expires_at < ?", 0),
    // A session whose live refresh token expired can do nothing any more;
    // a missing session refuses its tokens as an ended one does.
    ("DELETE FROM sessions WHERE refresh_exp < ?", 0),
    ("DELETE FROM blacklisted_tokens WHERE expires_at < ?", 0),
    ("DELETE FROM otp_codes WHERE created_at < ?", 86_400),
    ("DELETE FROM login_failures WHERE at < ?", 86_400),
];
