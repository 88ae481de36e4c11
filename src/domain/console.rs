//! Signing in to the admin console (INTERFACE.md, "Administration"): a
//! staff user's username and password go through the same password check
//! and login throttle as every contract's; an account that asks for an SMS
//! code after its password gets one here too (no second factor is bypassed
//! through the console). A sign-in is a row in the database, so every
//! instance knows it; the cookie's value is kept only as its SHA-256.

use super::accounts::Accounts;
use super::audit::EventKind;
use super::clock::UnixTime;
use super::error::{Error, Result};
use super::origin::Origin;
use super::otp::OtpSpec;
use super::ports::Store;
use super::secret::Secret;
use super::user::{LoginName, User, UserId};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The console's sign-in code: six digits, a purpose of its own.
pub const SIGN_IN_CODE: OtpSpec = OtpSpec {
    purpose: "console",
    digits: 6,
};

/// A sign-in unused for this long is over.
pub const IDLE_SECONDS: i64 = 30 * 60;

/// `last_seen` is written at most this often (not on every page).
const TOUCH_EVERY: i64 = 60;

/// A console sign-in as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    /// Hex SHA-256 of the cookie's value.
    pub id_sha256: String,
    pub user: UserId,
    /// Every change must carry it (forms, and the admin API by cookie).
    pub csrf_token: String,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
    pub last_seen: UnixTime,
}

impl ConsoleSession {
    /// Whether `presented` is this session's CSRF token, compared in
    /// constant time.
    pub fn csrf_matches(&self, presented: &str) -> bool {
        // Digests first: equal lengths, so the comparison's time says
        // nothing about the token's length either.
        let (a, b) = (
            Sha256::digest(self.csrf_token.as_bytes()),
            Sha256::digest(presented.as_bytes()),
        );
        bool::from(a.ct_eq(&b))
    }
}

/// A fresh sign-in: the cookie's value (give it to the browser, never
/// store it) and the session.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub cookie: Secret,
    pub session: ConsoleSession,
    pub user: User,
}

/// How a sign-in went, when the password was right.
#[derive(Debug, Clone)]
pub enum SignIn {
    Done(Box<SignedIn>),
    /// The account asks for an SMS code after its password; one was sent.
    CodeSent,
    /// The password is right but the account is not staff.
    NotStaff,
}

/// The hex SHA-256 a cookie value is stored under.
pub fn cookie_id(cookie: &str) -> String {
    hex::encode(Sha256::digest(cookie.as_bytes()))
}

fn random_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// Sign a staff user in by username and password (and code, when the
/// account asks for one), for `lifetime` seconds at most.
pub async fn sign_in(
    accounts: &Accounts,
    username: &str,
    password: &Secret,
    code: Option<&Secret>,
    lifetime: i64,
    origin: &Origin,
) -> Result<SignIn> {
    let name = LoginName::Username(username.trim().to_owned());
    // The throttle, one hash for known and unknown names alike, and
    // `Inactive` only for who knew the password.
    let user = accounts.check_password(&name, password, origin).await?;
    if !user.is_staff {
        accounts.emit(accounts.event(EventKind::PasswordLogin, "not_staff", Some(user.id), origin));
        return Ok(SignIn::NotStaff);
    }
    if user.otp_enabled {
        let phone = user.phone.clone().ok_or(Error::SmsFailed)?;
        match code.filter(|c| !c.expose().is_empty()) {
            None => {
                accounts
                    .send_code(&phone, SIGN_IN_CODE, Some(user.id), origin)
                    .await?;
                return Ok(SignIn::CodeSent);
            }
            Some(code) => {
                accounts
                    .check_code(&phone, SIGN_IN_CODE, code, Some(user.id), origin)
                    .await?
            }
        }
    }
    let now = accounts.now();
    let cookie = random_token();
    let session = ConsoleSession {
        id_sha256: cookie_id(&cookie),
        user: user.id,
        csrf_token: random_token(),
        created_at: now,
        expires_at: now + lifetime,
        last_seen: now,
    };
    let store = accounts.store();
    store.create_console_session(&session).await?;
    store.set_last_login(user.id, now).await?;
    accounts.emit(accounts.event(EventKind::PasswordLogin, "success", Some(user.id), origin));
    Ok(SignIn::Done(Box::new(SignedIn {
        cookie: Secret::new(cookie),
        session,
        user,
    })))
}

/// The live sign-in a cookie names, with its user as it is now; None when
/// there is none, it expired, it was idle too long, its user is inactive or
/// gone, or the user's tokens were revoked after it began (`user logout`,
/// a new password, a reactivation). Whether the user is still staff is the
/// caller's to check (a 403, not a sign-in page).
pub async fn session(
    store: &dyn Store,
    cookie: &str,
    now: UnixTime,
) -> Result<Option<(ConsoleSession, User)>> {
    let id = cookie_id(cookie);
    let Some((session, user)) = store.console_session(&id).await? else {
        return Ok(None);
    };
    let live = now < session.expires_at
        && now < session.last_seen + IDLE_SECONDS
        && user.is_active
        && !user.token_revoked(session.created_at);
    if !live {
        return Ok(None);
    }
    if now - session.last_seen >= TOUCH_EVERY {
        store.touch_console_session(&id, now).await?;
    }
    Ok(Some((session, user)))
}

/// Sign out: the sign-in the cookie names is gone (if there was one).
pub async fn sign_out(
    accounts: &Accounts,
    cookie: &str,
    user: Option<UserId>,
    origin: &Origin,
) -> Result<()> {
    let ended = accounts
        .store()
        .end_console_session(&cookie_id(cookie))
        .await?;
    if ended {
        accounts.emit(accounts.event(EventKind::Logout, "success", user, origin));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_match_only_exactly() {
        let s = ConsoleSession {
            id_sha256: String::new(),
            user: UserId(1),
            csrf_token: "abc123".into(),
            created_at: 0,
            expires_at: 10,
            last_seen: 0,
        };
        assert!(s.csrf_matches("abc123"));
        for wrong in ["", "abc12", "abc1234", "ABC123"] {
            assert!(!s.csrf_matches(wrong), "{wrong}");
        }
    }

    #[test]
    fn cookies_are_kept_as_their_sha256() {
        assert_eq!(
            cookie_id("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(random_token().len(), 64);
        assert_ne!(random_token(), random_token());
    }
}
