//! The use cases every contract is built from: password logins with their
//! throttle and optional second factor, one-time codes, token pairs, refresh,
//! logout and the user behind an access token.

use super::clock::{Clock, UnixTime};
use super::error::{Error, Result, TokenProblem};
use super::org::{Org, OrgId};
use super::otp::{self, OtpKey, OtpPolicy, OtpSpec};
use super::password::{PasswordHasher, Verdict};
use super::phone::Phone;
use super::ports::{LoginAttempt, OtpReservation, Reserved, SmsSender, Store};
use super::secret::Secret;
use super::sessions::EndReason;
use super::throttle::LoginThrottle;
use super::tokens::{Claims, Lifetimes, Signed, TokenKind, TokenSigner};
use super::user::{LoginName, User, UserId};
use std::sync::Arc;

/// Policies from configuration that the use cases apply.
#[derive(Debug, Clone, Copy)]
pub struct Policies {
    pub otp: OtpPolicy,
    pub login: LoginThrottle,
    /// How long a just-retired session refresh token still answers its successor.
    pub refresh_reuse_seconds: i64,
}

/// An access and a refresh token issued together.
#[derive(Debug, Clone)]
pub struct TokenPair {
    pub access: Signed,
    pub refresh: Signed,
}

/// How a password login went, when it did not fail.
// Made once per login and matched at once; boxing the user would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum LoginOutcome {
    /// Signed in.
    Tokens(TokenPair, User),
    /// The account wants a second factor; a code was sent to its phone.
    OtpSent,
}

/// A password login as a contract hands it over.
#[derive(Debug, Clone)]
pub struct PasswordLogin<'a> {
    pub name: LoginName,
    pub password: &'a Secret,
    /// The code, when the client sends one with the password.
    pub otp: Option<&'a Secret>,
    /// Whether this contract offers the SMS second factor, and its code shape.
    pub second_factor: Option<OtpSpec>,
    pub lifetimes: Lifetimes,
}

pub struct Accounts {
    store: Arc<dyn Store>,
    sms: Arc<dyn SmsSender>,
    clock: Arc<dyn Clock>,
    hasher: PasswordHasher,
    signer: TokenSigner,
    otp_key: OtpKey,
    policies: Policies,
}

impl Accounts {
    pub fn new(
        store: Arc<dyn Store>,
        sms: Arc<dyn SmsSender>,
        clock: Arc<dyn Clock>,
        hasher: PasswordHasher,
        signer: TokenSigner,
        otp_key: OtpKey,
        policies: Policies,
    ) -> Self {
        Self {
            store,
            sms,
            clock,
            hasher,
            signer,
            otp_key,
            policies,
        }
    }

    pub fn now(&self) -> UnixTime {
        self.clock.now()
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn signer(&self) -> &TokenSigner {
        &self.signer
    }

    pub fn policies(&self) -> &Policies {
        &self.policies
    }

    async fn find_user(&self, name: &LoginName) -> Result<Option<User>> {
        match name {
            LoginName::Username(u) => self.store.user_by_username(u).await,
            LoginName::Phone(p) => self.store.user_by_phone(p).await,
            LoginName::UsernameOrPhone(s) => match self.store.user_by_username(s).await? {
                Some(u) => Ok(Some(u)),
                None => match Phone::parse(s) {
                    Ok(p) => self.store.user_by_phone(&p).await,
                    Err(_) => Ok(None),
                },
            },
        }
    }

    /// Check a password under the failed-login throttle. Costs exactly one
    /// hash whether or not the user exists; `Inactive` is told only to a
    /// caller who knew the password.
    pub async fn check_password(&self, name: &LoginName, password: &Secret) -> Result<User> {
        let user = self.password_holder(name, password).await?;
        if !user.is_active {
            return Err(Error::Inactive);
        }
        Ok(user)
    }

    /// A password sign-in, with no code step, for accounts of one role only:
    /// any other account is refused as invalid credentials, `Inactive` is told
    /// only to a caller who knew the password of an account of that role, and
    /// an account that requires an SMS code is refused (`SecondFactorRequired`).
    pub async fn check_password_as(
        &self,
        name: &LoginName,
        password: &Secret,
        role: &str,
    ) -> Result<User> {
        let user = self.password_holder(name, password).await?;
        if !user.has_role(role) {
            return Err(Error::InvalidCredentials);
        }
        if !user.is_active {
            return Err(Error::Inactive);
        }
        if user.otp_enabled {
            tracing::info!(
                user = user.id.0,
                "password login refused: second factor required"
            );
            return Err(Error::SecondFactorRequired);
        }
        Ok(user)
    }

    /// The account whose password this is, active or not.
    async fn password_holder(&self, name: &LoginName, password: &Secret) -> Result<User> {
        let user = self.find_user(name).await?;
        let key = match &user {
            Some(u) => format!("user:{}", u.id.0),
            None => name.throttle_key(),
        };
        let now = self.now();
        let throttle = self.policies.login;
        // The attempt is counted before the hash is checked (as a code's is),
        // so any number of simultaneous guesses get at most the limit.
        let attempt = self
            .store
            .reserve_login_attempt(
                &key,
                now,
                now - throttle.window_seconds,
                throttle.max_failures,
            )
            .await?;
        if let LoginAttempt::Throttled { oldest } = attempt {
            let wait = throttle.wait_after(oldest, now);
            tracing::warn!(account = %key, wait, "password login throttled");
            return Err(Error::Throttled { wait });
        }
        let hash = user.as_ref().and_then(|u| u.password_hash.as_deref());
        let verdict = self.hasher.verify(password, hash).await?;
        if !verdict.is_right() {
            // Inside the request span, so the line carries the client address.
            tracing::info!(account = %key, "failed password login");
            return Err(Error::InvalidCredentials);
        }
        let user = user.ok_or(Error::InvalidCredentials)?;
        // Right password: forget the failures, the one just counted included.
        self.store.clear_login_failures(&key).await?;
        if verdict == Verdict::RightButStale {
            if let Some(old) = &user.password_hash {
                self.rehash(user.id, password, old);
            }
        }
        Ok(user)
    }

    /// Replace an old-format (or weaker argon2) hash by today's argon2id, now
    /// that the password is known (issue 9). It runs after the answer is
    /// decided, in its own task, so the login does not wait for a second hash;
    /// a full hash queue or a failed write only leaves the old hash for the
    /// next login to replace. The store replaces it only if it is still
    /// `old`, so a password changed meanwhile is never overwritten.
    fn rehash(&self, id: UserId, password: &Secret, old: &str) {
        let (hasher, store) = (self.hasher.clone(), self.store.clone());
        let (password, old) = (password.clone(), old.to_owned());
        tokio::spawn(async move {
            let result = match hasher.hash(&password).await {
                Ok(fresh) => store.set_password_hash(id, &fresh, &old).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(true) => tracing::info!(user = id.0, "password hash upgraded to argon2id"),
                Ok(false) => {
                    tracing::info!(user = id.0, "password changed meanwhile; not upgraded")
                }
                Err(e) => tracing::warn!(user = id.0, error = %e, "password hash upgrade failed"),
            }
        });
    }

    /// Password first, always; then, for an account with `otp_enabled`, the
    /// SMS code (000-pixel-genius.md, Login API). Such an account cannot sign
    /// in where the contract offers no code step.
    pub async fn login_with_password(&self, login: PasswordLogin<'_>) -> Result<LoginOutcome> {
        let user = self.check_password(&login.name, login.password).await?;
        if user.otp_enabled && login.second_factor.is_none() {
            tracing::info!(
                user = user.id.0,
                "password login refused: second factor required"
            );
            return Err(Error::SecondFactorRequired);
        }
        if let Some(spec) = login.second_factor.filter(|_| user.otp_enabled) {
            let phone = user.phone.clone().ok_or(Error::SmsFailed)?;
            // An empty code is no code, as `if otp:` in the original view.
            match login.otp.filter(|c| !c.expose().is_empty()) {
                None => {
                    self.send_code(&phone, spec).await?;
                    return Ok(LoginOutcome::OtpSent);
                }
                Some(code) => self.check_code(&phone, spec, code).await?,
            }
        }
        let pair = self.issue_pair(&user, login.lifetimes, None).await?;
        Ok(LoginOutcome::Tokens(pair, user))
    }

    /// Issue an access and a refresh token for `user`, remember the refresh
    /// token as outstanding, and stamp `last_login`.
    pub async fn issue_pair(
        &self,
        user: &User,
        lifetimes: Lifetimes,
        sid: Option<&str>,
    ) -> Result<TokenPair> {
        let now = self.now();
        let access = self
            .signer
            .issue(TokenKind::Access, user.id, now, lifetimes.access, sid)?;
        let refresh =
            self.signer
                .issue(TokenKind::Refresh, user.id, now, lifetimes.refresh, sid)?;
        self.store
            .record_refresh_token(&refresh.claims.jti, user.id, now, refresh.claims.exp)
            .await?;
        self.store.set_last_login(user.id, now).await?;
        Ok(TokenPair { access, refresh })
    }

    /// simplejwt's refresh: a new access token for a live refresh token whose
    /// user still exists and is active (`Inactive` otherwise, as simplejwt 5.4's
    /// "no_active_account"). One store round trip.
    pub async fn refresh_access(&self, refresh: &str, lifetimes: Lifetimes) -> Result<Signed> {
        let claims = self
            .signer
            .verify(refresh, TokenKind::Refresh, self.now())
            .map_err(Error::TokenInvalid)?;
        // simplejwt checks the blacklist before the user.
        match self
            .store
            .user_and_revocation(claims.user(), &claims.jti)
            .await?
        {
            (_, true) => Err(Error::TokenInvalid(TokenProblem::Revoked)),
            (Some(u), false) if u.is_active => {
                // A session's refresh token only while it is the live one
                // (no extra read for tokens without a session).
                self.check_session(&claims).await?;
                self.signer.issue(
                    TokenKind::Access,
                    u.id,
                    self.now(),
                    lifetimes.access,
                    claims.sid.as_deref(),
                )
            }
            _ => Err(Error::Inactive),
        }
    }

    /// Blacklist a refresh token; one that is already blacklisted is refused
    /// as simplejwt does ("Token is blacklisted"). One store round trip for
    /// tokens without a session; a session's live refresh token ends its session.
    pub async fn logout(&self, refresh: &str) -> Result<()> {
        let claims = self
            .signer
            .verify(refresh, TokenKind::Refresh, self.now())
            .map_err(Error::TokenInvalid)?;
        self.blacklist(&claims).await
    }

    /// A logout by an authenticated user: as `logout`, but a refresh token
    /// that belongs to someone else is refused as invalid and left alone.
    pub async fn logout_as(&self, user: UserId, refresh: &str) -> Result<()> {
        let claims = self
            .signer
            .verify(refresh, TokenKind::Refresh, self.now())
            .map_err(Error::TokenInvalid)?;
        if claims.user() != user {
            return Err(Error::TokenInvalid(TokenProblem::InvalidOrExpired));
        }
        self.blacklist(&claims).await
    }

    /// Blacklist in one round trip: the insert's conflict says it already was.
    /// A session's refresh token must be its live one, and ends the session.
    async fn blacklist(&self, claims: &Claims) -> Result<()> {
        self.check_session(claims).await?;
        if !self
            .store
            .blacklist(&claims.jti, claims.user(), claims.exp, self.now())
            .await?
        {
            return Err(Error::TokenInvalid(TokenProblem::Revoked));
        }
        if let Some(sid) = claims.sid.as_deref() {
            self.store
                .end_session(sid, self.now(), EndReason::Logout.as_str())
                .await?;
        }
        Ok(())
    }

    /// The user behind an access token: `NotFound` when gone, `Inactive` when deactivated.
    pub async fn user_from_access(&self, token: &str) -> Result<(User, Claims)> {
        let claims = self
            .signer
            .verify(token, TokenKind::Access, self.now())
            .map_err(Error::TokenInvalid)?;
        // A session's token also needs its session alive: read both at once.
        let (user, session_alive) = match claims.sid.as_deref() {
            Some(sid) => {
                self.store
                    .user_and_session(claims.user(), sid, self.now())
                    .await?
            }
            None => (self.store.user_by_id(claims.user()).await?, true),
        };
        let user = user.ok_or(Error::NotFound("user"))?;
        if !user.is_active {
            return Err(Error::Inactive);
        }
        if !session_alive {
            return Err(Error::TokenInvalid(TokenProblem::Revoked));
        }
        Ok((user, claims))
    }

    pub async fn user(&self, id: UserId) -> Result<Option<User>> {
        self.store.user_by_id(id).await
    }

    /// Send a fresh code to `phone`, inside the resend wait and hourly cap.
    /// The slot is reserved before the SMS goes out and released if it fails,
    /// so a failed send leaves neither a code nor a wait behind.
    pub async fn send_code(&self, phone: &Phone, spec: OtpSpec) -> Result<()> {
        let policy = self.policies.otp;
        let now = self.now();
        let code = otp::generate(spec.digits);
        let code_hash = self.otp_key.hash(spec.purpose, phone.as_str(), &code);
        let reservation = OtpReservation {
            phone,
            purpose: spec.purpose,
            code_hash: &code_hash,
            now,
            expires_at: now + policy.ttl_seconds,
            resend_after: now - policy.resend_seconds,
            window_start: now - 3600,
            max_in_window: policy.max_sends_per_hour,
        };
        let id = match self.store.reserve_otp(&reservation).await? {
            Reserved::Granted(id) => id,
            Reserved::TooSoon { last_sent } => {
                return Err(Error::OtpTooSoon {
                    wait: (last_sent + policy.resend_seconds - now).max(1),
                })
            }
            Reserved::CapReached { oldest_sent } => {
                return Err(Error::OtpTooSoon {
                    wait: (oldest_sent + 3600 - now).max(1),
                })
            }
        };
        let message = format!("Your verification code is {}", code.expose());
        match self.sms.send(phone, &message).await {
            Ok(()) => self.store.activate_otp(id).await,
            Err(e) => {
                tracing::warn!(error = %e, "sms send failed; code discarded");
                self.store.discard_otp(id).await?;
                Err(Error::SmsFailed)
            }
        }
    }

    /// Check a code: the attempt is counted before the comparison, a code is
    /// used at most once, and `max_attempts` wrong guesses burn it.
    pub async fn check_code(&self, phone: &Phone, spec: OtpSpec, code: &Secret) -> Result<()> {
        let candidate = self
            .store
            .attempt_otp(
                phone,
                spec.purpose,
                self.now(),
                self.policies.otp.max_attempts,
            )
            .await?
            .ok_or(Error::OtpInvalid)?;
        if !self
            .otp_key
            .matches(spec.purpose, phone.as_str(), code, &candidate.code_hash)
        {
            return Err(Error::OtpInvalid);
        }
        if !self.store.consume_otp(candidate.id).await? {
            return Err(Error::OtpInvalid);
        }
        Ok(())
    }

    /// Send a code to the phone of an existing, active account only: an
    /// unknown phone is `NotFound("user")` and is sent nothing.
    pub async fn send_code_to_user(&self, phone: &Phone, spec: OtpSpec) -> Result<()> {
        let user = self
            .store
            .user_by_phone(phone)
            .await?
            .ok_or(Error::NotFound("user"))?;
        if !user.is_active {
            return Err(Error::Inactive);
        }
        self.send_code(phone, spec).await
    }

    /// Sign an existing account in by phone and code, optionally acting for
    /// one of its organizations: the code is checked first, then `org` must be
    /// one the user belongs to (`NotFound("organization")` otherwise).
    pub async fn sign_in_user_with_code(
        &self,
        phone: &Phone,
        spec: OtpSpec,
        code: &Secret,
        org: Option<OrgId>,
        lifetimes: Lifetimes,
    ) -> Result<(TokenPair, User, Option<Org>)> {
        let user = self
            .store
            .user_by_phone(phone)
            .await?
            .ok_or(Error::NotFound("user"))?;
        self.check_code(phone, spec, code).await?;
        if !user.is_active {
            return Err(Error::Inactive);
        }
        let org = match org {
            Some(id) => Some(
                self.store
                    .org_of_member(id, user.id)
                    .await?
                    .ok_or(Error::NotFound("organization"))?,
            ),
            None => None,
        };
        let pair = self.issue_pair(&user, lifetimes, None).await?;
        Ok((pair, user, org))
    }
}
