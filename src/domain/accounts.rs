//! The use cases every contract is built from: password logins with their
//! throttle and optional second factor, one-time codes, token pairs, refresh,
//! logout and the user behind an access token.

use super::audit::{outcome_of, AuditEvent, Discard, EventKind, EventSink};
use super::clock::{Clock, UnixTime};
use super::error::{Error, Result, TokenProblem};
use super::keys;
use super::limits::{Budget, Limits, HOUR, PENDING_SECONDS};
use super::org::{Org, OrgId};
use super::origin::Origin;
use super::otp::{self, OtpKey, OtpPolicy, OtpSpec};
use super::password::{PasswordHasher, Verdict};
use super::phone::Phone;
use super::places::{self, Place};
use super::ports::{
    AttemptKey, AttemptReservation, OtpCounts, OtpReservation, Reserved, SmsSender, Store,
};
use super::secret::Secret;
use super::sessions::EndReason;
use super::supabase::SupabaseVerifier;
use super::tokens::{Claims, Lifetimes, Refusal, Signed, TokenKind, TokenSigner};
use super::user::{LoginName, User, UserId};
use std::sync::Arc;
use std::time::Duration;

/// How long an attempt waits for places held by attempts still being
/// checked (a right password must not be refused because others are in
/// flight) before the server calls itself too busy.
const PLACE_WAIT: Duration = Duration::from_secs(10);
/// How often a waiting attempt looks again: first after this, then twice
/// as long each time up to `PLACE_POLL_MAX` (a hash takes tens of
/// milliseconds; many waiters must not hammer the database).
const PLACE_POLL: Duration = Duration::from_millis(10);
const PLACE_POLL_MAX: Duration = Duration::from_millis(160);

/// The scopes attempts are counted under.
const LOGIN: &str = "login";
const CODE: &str = "code";

/// Policies from configuration that the use cases apply.
#[derive(Debug, Clone)]
pub struct Policies {
    pub otp: OtpPolicy,
    pub limits: Limits,
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
    pub origin: &'a Origin,
}

pub struct Accounts {
    store: Arc<dyn Store>,
    sms: Arc<dyn SmsSender>,
    clock: Arc<dyn Clock>,
    hasher: PasswordHasher,
    signer: TokenSigner,
    otp_key: OtpKey,
    policies: Policies,
    events: Arc<dyn EventSink>,
    /// Checks access tokens of sessions imported from Supabase, when its
    /// secret is configured (`ACCOUNTD_SUPABASE_JWT_SECRET`).
    supabase: Option<SupabaseVerifier>,
    /// Attempts on one key wait in arrival order (`hold_place`).
    gates: Arc<super::gates::Gates>,
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
            events: Arc::new(Discard),
            supabase: None,
            gates: Arc::default(),
        }
    }

    /// Take Supabase access tokens of imported sessions too.
    pub fn with_supabase(mut self, verifier: SupabaseVerifier) -> Self {
        self.supabase = Some(verifier);
        self
    }

    pub(crate) fn supabase(&self) -> Option<&SupabaseVerifier> {
        self.supabase.as_ref()
    }

    /// Send auth events to `events` (the audit trail, metrics).
    pub fn with_events(mut self, events: Arc<dyn EventSink>) -> Self {
        self.events = events;
        self
    }

    /// Password checks waiting for a hash worker (a metrics gauge).
    pub fn hash_waiting(&self) -> usize {
        self.hasher.waiting()
    }

    pub fn events(&self) -> &Arc<dyn EventSink> {
        &self.events
    }

    /// Record one auth event.
    pub(crate) fn emit(&self, event: AuditEvent) {
        self.events.emit(event);
    }

    /// Record how an operation on a token went: success, or the failure's
    /// word; for the token's user once its signature held.
    pub(crate) fn emit_result<T>(
        &self,
        kind: EventKind,
        user: Option<UserId>,
        origin: &Origin,
        result: &Result<T>,
    ) {
        let outcome = result.as_ref().map_or_else(outcome_of, |_| "success");
        self.emit(self.event(kind, outcome, user, origin));
    }

    /// An event of `kind` now, from `origin`.
    pub(crate) fn event(
        &self,
        kind: EventKind,
        outcome: &'static str,
        user: Option<UserId>,
        origin: &Origin,
    ) -> AuditEvent {
        AuditEvent::new(self.now(), kind, outcome, user, origin)
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

    /// Check a token's signature, expiry and type. A token signed by a key
    /// this instance does not hold yet (made by another instance since the
    /// last reload) makes it read the keys again, at most once a second,
    /// and is looked at once more (`domain/keys/`).
    pub(crate) async fn verify(
        &self,
        token: &str,
        kind: TokenKind,
    ) -> std::result::Result<Claims, TokenProblem> {
        let now = self.now();
        match self.signer.check(token, kind, now) {
            Err(Refusal::UnknownKey)
                if self
                    .signer
                    .keys()
                    .reload_soon(self.store.as_ref(), now)
                    .await =>
            {
                self.signer
                    .check(token, kind, now)
                    .map_err(Refusal::problem)
            }
            done => done.map_err(Refusal::problem),
        }
    }

    /// Read the signing keys again (every few seconds, and after a rotation
    /// made here).
    pub async fn reload_keys(&self) -> Result<()> {
        self.signer
            .keys()
            .reload(self.store.as_ref(), self.now())
            .await
    }

    /// Make a new signing key current (`accountd keys rotate`, here so that
    /// this instance signs with it at once).
    pub async fn rotate_keys(&self) -> Result<keys::Rotation> {
        let policy = self.signer.keys().policy().clone();
        let done = keys::rotate(self.store.as_ref(), &policy, self.now()).await?;
        self.reload_keys().await?;
        Ok(done)
    }

    pub fn policies(&self) -> &Policies {
        &self.policies
    }

    /// The server's key for codes and counters (an operator's unlock names
    /// the counters by it).
    pub fn otp_key(&self) -> &OtpKey {
        &self.otp_key
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

    /// Check a password under the failed-login limits. Costs exactly one
    /// hash whether or not the user exists; `Inactive` is told only to a
    /// caller who knew the password.
    pub async fn check_password(
        &self,
        name: &LoginName,
        password: &Secret,
        origin: &Origin,
    ) -> Result<User> {
        let user = self.password_holder(name, password, origin).await?;
        if !user.is_active {
            self.emit(self.event(EventKind::PasswordLogin, "inactive", Some(user.id), origin));
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
        origin: &Origin,
    ) -> Result<User> {
        let user = self.password_holder(name, password, origin).await?;
        let refused = if !user.has_role(role) {
            Some(("wrong_role", Error::InvalidCredentials))
        } else if !user.is_active {
            Some(("inactive", Error::Inactive))
        } else if user.otp_enabled {
            tracing::info!(
                user = user.id.0,
                "password login refused: second factor required"
            );
            Some(("second_factor_required", Error::SecondFactorRequired))
        } else {
            None
        };
        let outcome = refused.as_ref().map_or("success", |(o, _)| o);
        self.emit(self.event(EventKind::PasswordLogin, outcome, Some(user.id), origin));
        match refused {
            Some((_, e)) => Err(e),
            None => Ok(user),
        }
    }

    /// The key failed logins of a name are counted under: a keyed tag of the
    /// name as typed, known or not (INTERFACE.md, "Abuse limits": known and
    /// unknown names are throttled alike).
    pub fn login_key(&self, name: &str) -> String {
        super::directory::login_key(&self.otp_key, name)
    }

    /// Hold a place for one attempt under `key`, inside `per_client` and
    /// `per_name`. Places held by attempts still being checked are waited
    /// for, not refused: a right password is never refused because other
    /// attempts are in flight, and simultaneous guesses still cannot
    /// overshoot a limit. Failed attempts that fill a budget throttle.
    /// `limits` names the two budgets in the audit trail; `user`, when known,
    /// is whose attempt it is.
    async fn hold_place(
        &self,
        key: AttemptKey<'_>,
        (per_client, per_name): (Budget, Budget),
        limits: (&'static str, &'static str),
        user: Option<UserId>,
        origin: &Origin,
    ) -> Result<Place> {
        let deadline = tokio::time::Instant::now() + PLACE_WAIT;
        // In line behind this process's earlier attempts on the key, for as
        // many places as the address may use; the database still counts.
        let places = usize::try_from(per_client.max).unwrap_or(1).clamp(1, 1000);
        let line = format!("{}\u{0}{}\u{0}{}", key.scope, key.name, key.client);
        let Ok(pass) = tokio::time::timeout_at(deadline, self.gates.enter(line, places)).await
        else {
            return Err(Error::Unavailable(
                "attempts in flight did not finish in time".into(),
            ));
        };
        let mut poll = PLACE_POLL;
        loop {
            let now = self.now();
            let reservation = places::reserve(
                &self.store,
                &AttemptReservation {
                    key,
                    now,
                    per_client: (per_client.since(now), per_client.max),
                    per_name: (per_name.since(now), per_name.max),
                    pending_since: now - PENDING_SECONDS,
                },
            )
            .await?;
            let (client_failed, name_failed) = match reservation {
                Ok(held) => return Ok(Place::new(pass, held)),
                Err(counts) => counts,
            };
            let over = if per_client.reached(client_failed.n) {
                Some((limits.0, per_client.wait(client_failed.oldest, now)))
            } else if per_name.reached(name_failed.n) {
                Some((limits.1, per_name.wait(name_failed.oldest, now)))
            } else {
                None
            };
            if let Some((limit, wait)) = over {
                self.emit(
                    self.event(EventKind::Throttled, "refused", user, origin)
                        .with("limit", limit)
                        .with("wait", wait),
                );
                return Err(Error::Throttled { wait });
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Unavailable(
                    "attempts in flight did not finish in time".into(),
                ));
            }
            // Jittered, so waiters released together do not come back together.
            let jitter =
                Duration::from_millis(rand::random::<u64>() % (poll.as_millis() as u64 / 2 + 1));
            tokio::time::sleep(poll + jitter).await;
            poll = (poll * 2).min(PLACE_POLL_MAX);
        }
    }

    /// The account whose password this is, active or not.
    async fn password_holder(
        &self,
        name: &LoginName,
        password: &Secret,
        origin: &Origin,
    ) -> Result<User> {
        let user = self.find_user(name).await?;
        let tag = self.login_key(name.as_typed());
        let key = AttemptKey {
            scope: LOGIN,
            name: &tag,
            client: &origin.client,
        };
        let limits = &self.policies.limits;
        // Nothing a client typed reaches the log: a known account by id, an
        // unknown name not at all.
        let who = user.as_ref().map(|u| u.id.0);
        let place = match self
            .hold_place(
                key,
                (limits.login_per_client, limits.login_per_name),
                ("login_per_address", "login_per_name"),
                user.as_ref().map(|u| u.id),
                origin,
            )
            .await
        {
            Ok(id) => id,
            Err(e) => {
                if let Error::Throttled { wait } = e {
                    tracing::warn!(user = who, wait, "password login throttled");
                }
                return Err(e);
            }
        };
        let hash = user.as_ref().and_then(|u| u.password_hash.as_deref());
        let verdict = match self.hasher.verify(password, hash).await {
            Ok(verdict) => verdict,
            Err(e) => {
                // Not checked (the hash queue is full): the place is freed,
                // not counted as a failure.
                place.settle(false).await?;
                return Err(e);
            }
        };
        let user = match user {
            Some(u) if verdict.is_right() => u,
            _ => {
                // Inside the request span, so the line carries the client address.
                tracing::info!(user = who, "failed password login");
                self.emit(self.event(
                    EventKind::PasswordLogin,
                    "invalid_password",
                    who.map(UserId),
                    origin,
                ));
                place.settle(true).await?;
                return Err(Error::InvalidCredentials);
            }
        };
        // Right password: forget this address's failures, the attempt included.
        place.settle(false).await?;
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
        let user = self
            .check_password(&login.name, login.password, login.origin)
            .await?;
        let origin = login.origin;
        if user.otp_enabled && login.second_factor.is_none() {
            tracing::info!(
                user = user.id.0,
                "password login refused: second factor required"
            );
            self.emit(self.event(
                EventKind::PasswordLogin,
                "second_factor_required",
                Some(user.id),
                origin,
            ));
            return Err(Error::SecondFactorRequired);
        }
        self.emit(self.event(EventKind::PasswordLogin, "success", Some(user.id), origin));
        if let Some(spec) = login.second_factor.filter(|_| user.otp_enabled) {
            let phone = user.phone.clone().ok_or(Error::SmsFailed)?;
            // An empty code is no code, as `if otp:` in the original view.
            match login.otp.filter(|c| !c.expose().is_empty()) {
                None => {
                    self.send_code(&phone, spec, Some(user.id), origin).await?;
                    return Ok(LoginOutcome::OtpSent);
                }
                Some(code) => {
                    self.check_code(&phone, spec, code, Some(user.id), origin)
                        .await?
                }
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
    pub async fn refresh_access(
        &self,
        refresh: &str,
        lifetimes: Lifetimes,
        origin: &Origin,
    ) -> Result<Signed> {
        let claims = match self.verify(refresh, TokenKind::Refresh).await {
            Ok(c) => c,
            Err(p) => {
                let refused = Err(Error::TokenInvalid(p));
                self.emit_result(EventKind::Refresh, None, origin, &refused);
                return refused;
            }
        };
        let done = self.refresh_claims(&claims, lifetimes, origin).await;
        self.emit_result(EventKind::Refresh, Some(claims.user()), origin, &done);
        done
    }

    async fn refresh_claims(
        &self,
        claims: &Claims,
        lifetimes: Lifetimes,
        origin: &Origin,
    ) -> Result<Signed> {
        if claims.sid.is_some() {
            // A delivery session's refresh token rotates at delivery only:
            // refused here, and a retired one ends its session exactly as at
            // delivery's refresh (INTERFACE.md, "Connections, queues,
            // responses"), so no other door mints tokens or probes retired ones.
            return Err(self.session_token_elsewhere(claims, origin).await);
        }
        // simplejwt checks the blacklist before the user.
        match self
            .store
            .user_and_revocation(claims.user(), &claims.jti)
            .await?
        {
            (_, true) => Err(Error::TokenInvalid(TokenProblem::Revoked)),
            (Some(u), false) if u.token_revoked(claims.iat) => {
                Err(Error::TokenInvalid(TokenProblem::Revoked))
            }
            (Some(u), false) if u.is_active => {
                self.signer
                    .issue(TokenKind::Access, u.id, self.now(), lifetimes.access, None)
            }
            _ => Err(Error::Inactive),
        }
    }

    /// Blacklist a refresh token; one that is already blacklisted is refused
    /// as simplejwt does ("Token is blacklisted"). One store round trip for
    /// tokens without a session; a session's live refresh token ends its session.
    pub async fn logout(&self, refresh: &str, origin: &Origin) -> Result<()> {
        let done = match self.verify(refresh, TokenKind::Refresh).await {
            Ok(claims) => (Some(claims.user()), self.blacklist(&claims).await),
            Err(p) => (None, Err(Error::TokenInvalid(p))),
        };
        self.emit_result(EventKind::Logout, done.0, origin, &done.1);
        done.1
    }

    /// A logout by an authenticated user: as `logout`, but a refresh token
    /// that belongs to someone else is refused as invalid and left alone.
    pub async fn logout_as(&self, user: UserId, refresh: &str, origin: &Origin) -> Result<()> {
        let done = match self.verify(refresh, TokenKind::Refresh).await {
            Ok(claims) if claims.user() == user => self.blacklist(&claims).await,
            Ok(_) => Err(Error::TokenInvalid(TokenProblem::InvalidOrExpired)),
            Err(p) => Err(Error::TokenInvalid(p)),
        };
        self.emit_result(EventKind::Logout, Some(user), origin, &done);
        done
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
            .verify(token, TokenKind::Access)
            .await
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
        if user.token_revoked(claims.iat) {
            // Issued before a reactivation, a password change or a logout
            // of every session: as an expired token.
            return Err(Error::TokenInvalid(TokenProblem::InvalidOrExpired));
        }
        Ok((user, claims))
    }

    pub async fn user(&self, id: UserId) -> Result<Option<User>> {
        self.store.user_by_id(id).await
    }

    /// Whether codes may be sent to `phone` at all: its country is allowed
    /// (`ACCOUNTD_SMS_ALLOWED_COUNTRIES`).
    pub fn may_text(&self, phone: &Phone) -> bool {
        let allowed = &self.policies.limits.sms_countries;
        allowed.is_empty() || phone.calling_code().is_some_and(|c| allowed.contains(&c))
    }

    /// Send a fresh code to `phone`, inside the resend wait, the phone's
    /// hourly cap, the client address's and the fleet's hourly budgets. The
    /// slot is reserved before the SMS goes out and released if it fails, so
    /// a failed send leaves neither a code nor a wait behind.
    /// `user`, when known, is whose phone it is (for the audit trail).
    pub async fn send_code(
        &self,
        phone: &Phone,
        spec: OtpSpec,
        user: Option<UserId>,
        origin: &Origin,
    ) -> Result<()> {
        if !self.may_text(phone) {
            self.emit(self.event(EventKind::CodeSent, "not_allowed", user, origin));
            return Err(Error::PhoneNotAllowed);
        }
        let policy = self.policies.otp;
        let limits = &self.policies.limits;
        let now = self.now();
        let code = otp::generate(spec.digits);
        let code_hash = self.otp_key.hash(spec.purpose, phone.as_str(), &code);
        let reservation = OtpReservation {
            phone,
            purpose: spec.purpose,
            code_hash: &code_hash,
            client: &origin.client,
            now,
            expires_at: now + policy.ttl_seconds,
            resend_after: now - policy.resend_seconds,
            window_start: now - HOUR,
            max_per_phone: policy.max_sends_per_hour,
            max_per_client: limits.sms_per_client.max,
            max_global: limits.sms_global.max,
        };
        let id = match self.store.reserve_otp(&reservation).await? {
            Reserved::Granted(id) => id,
            Reserved::Refused(counts) => {
                let (limit, wait) = self.send_wait(&counts, now);
                tracing::warn!(wait, limit, "code not sent: a sending limit is reached");
                self.emit(
                    self.event(EventKind::Throttled, "refused", user, origin)
                        .with("limit", limit)
                        .with("wait", wait),
                );
                return Err(Error::OtpTooSoon { wait });
            }
        };
        let message = format!("Your verification code is {}", code.expose());
        match self.sms.send(phone, &message).await {
            Ok(()) => {
                self.store.activate_otp(id, phone).await?;
                self.emit(self.event(EventKind::CodeSent, "success", user, origin));
                Ok(())
            }
            Err(e) => {
                tracing::warn!(error = %e, "sms send failed; code discarded");
                self.emit(self.event(EventKind::CodeSent, "sms_failed", user, origin));
                self.store.discard_otp(id).await?;
                Err(Error::SmsFailed)
            }
        }
    }

    /// How long until a refused send could go out: the first limit that
    /// refused it, in the order the client can act on (the phone's wait and
    /// cap, then the address's budget, then the fleet's).
    fn send_wait(&self, c: &OtpCounts, now: UnixTime) -> (&'static str, i64) {
        let policy = self.policies.otp;
        let limits = &self.policies.limits;
        let per_phone = Budget {
            max: policy.max_sends_per_hour,
            window: HOUR,
        };
        if let Some(last) = c.last_sent {
            ("resend_wait", (last + policy.resend_seconds - now).max(1))
        } else if per_phone.reached(c.phone.n) {
            ("sms_per_phone", per_phone.wait(c.phone.oldest, now))
        } else if limits.sms_per_client.reached(c.client.n) {
            (
                "sms_per_address",
                limits.sms_per_client.wait(c.client.oldest, now),
            )
        } else if limits.sms_global.reached(c.global.n) {
            ("sms_global", limits.sms_global.wait(c.global.oldest, now))
        } else {
            // The rows changed between the two reads (pruned, discarded):
            // one second, then the client may simply try again.
            ("resend_wait", 1)
        }
    }

    /// Check a code: the attempt is counted before the comparison, a code is
    /// used at most once, and `max_attempts` wrong guesses burn it. Wrong
    /// codes also count per client address: past the budget, that address's
    /// checks are throttled whatever phone they name.
    /// `user`, when known, is whose phone it is (for the audit trail).
    pub async fn check_code(
        &self,
        phone: &Phone,
        spec: OtpSpec,
        code: &Secret,
        user: Option<UserId>,
        origin: &Origin,
    ) -> Result<()> {
        let key = AttemptKey {
            scope: CODE,
            name: "",
            client: &origin.client,
        };
        let place = self.hold_guess(key, user, origin).await?;
        let checked = self.compare_code(phone, spec, code).await;
        let failed = matches!(checked, Err(Error::OtpInvalid));
        place.settle(failed).await?;
        self.emit_result(EventKind::CodeVerified, user, origin, &checked);
        checked
    }

    /// A place for one code check from this address.
    async fn hold_guess(
        &self,
        key: AttemptKey<'_>,
        user: Option<UserId>,
        origin: &Origin,
    ) -> Result<Place> {
        let budgets = (self.policies.limits.guesses_per_client, Budget::UNLIMITED);
        let names = ("code_guesses_per_address", "none");
        self.hold_place(key, budgets, names, user, origin).await
    }

    async fn compare_code(&self, phone: &Phone, spec: OtpSpec, code: &Secret) -> Result<()> {
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

    /// Refuse a code check before any code is compared (the account takes
    /// no code alone), counted as the wrong guess it is so that it is
    /// throttled like one: `OtpInvalid`, or the throttle.
    pub(crate) async fn refuse_code(&self, user: UserId, origin: &Origin) -> Error {
        let key = AttemptKey {
            scope: CODE,
            name: "",
            client: &origin.client,
        };
        let place = match self.hold_guess(key, Some(user), origin).await {
            Ok(place) => place,
            Err(e) => return e,
        };
        self.emit(
            self.event(EventKind::CodeVerified, "invalid_code", Some(user), origin)
                .with("reason", "second_factor_required"),
        );
        match place.settle(true).await {
            Ok(()) => Error::OtpInvalid,
            Err(e) => e,
        }
    }

    /// Send a code to any phone (sign-in creates the account later), except
    /// to an account that signs in with password and code: it is answered
    /// as sent and sent nothing, so the answer tells nothing either
    /// (INTERFACE.md, "Abuse limits").
    pub async fn send_code_to_phone(
        &self,
        phone: &Phone,
        spec: OtpSpec,
        origin: &Origin,
    ) -> Result<()> {
        let user = self.store.user_by_phone(phone).await?;
        if let Some(user) = user.as_ref().filter(|u| u.otp_enabled) {
            tracing::info!(
                user = user.id.0,
                "no code sent: the account signs in with password and code"
            );
            self.emit(self.event(EventKind::CodeSent, "suppressed", Some(user.id), origin));
            return Ok(());
        }
        self.send_code(phone, spec, user.map(|u| u.id), origin)
            .await
    }

    /// Send a code to the phone of an existing, active account only: an
    /// unknown phone is `NotFound("user")` and is sent nothing.
    pub async fn send_code_to_user(
        &self,
        phone: &Phone,
        spec: OtpSpec,
        origin: &Origin,
    ) -> Result<()> {
        let user = self
            .store
            .user_by_phone(phone)
            .await?
            .ok_or(Error::NotFound("user"))?;
        if !user.is_active {
            return Err(Error::Inactive);
        }
        if user.otp_enabled {
            // A code alone does not sign this account in (INTERFACE.md,
            // "Abuse limits"): answer as sent, send nothing.
            tracing::info!(
                user = user.id.0,
                "no code sent: the account signs in with password and code"
            );
            self.emit(self.event(EventKind::CodeSent, "suppressed", Some(user.id), origin));
            return Ok(());
        }
        self.send_code(phone, spec, Some(user.id), origin).await
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
        origin: &Origin,
    ) -> Result<(TokenPair, User, Option<Org>)> {
        let user = self
            .store
            .user_by_phone(phone)
            .await?
            .ok_or(Error::NotFound("user"))?;
        if user.otp_enabled {
            return Err(self.refuse_code(user.id, origin).await);
        }
        self.check_code(phone, spec, code, Some(user.id), origin)
            .await?;
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
