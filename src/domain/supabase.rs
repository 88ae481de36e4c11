//! Sessions brought along from Supabase (GoTrue) by `accountd import
//! supabase` (INTERFACE.md, "Import"; issue 9), so that delivery clients
//! signed in there stay signed in:
//!
//! - the old refresh token (kept only as its SHA-256) turns into an accountd
//!   delivery session the first time it is presented at delivery's refresh,
//!   which answers that session's pair; from then on the client rotates as
//!   any delivery client. The old token is then used up: inside the reuse
//!   window after the conversion (and while the new session has not rotated
//!   yet) it answers the same pair again, as delivery's just-retired token
//!   does, so a lost answer or a doubled request logs nobody out; after
//!   that it is a retired token presented again, and ends the session it
//!   became, as reuse does at delivery;
//! - with `ACCOUNTD_SUPABASE_JWT_SECRET` (GoTrue's HS256 secret), its
//!   access tokens (`sub` the user's UUID, `aud` and `role` as GoTrue gave
//!   them, `session_id` the session, `exp`) are taken at delivery's `me` and
//!   `logout` until they expire; logout ends the imported session, and the
//!   session its refresh token became, if it did.

use super::accounts::{Accounts, TokenPair};
use super::audit::EventKind;
use super::clock::UnixTime;
use super::error::{Error, Result, TokenProblem};
use super::import::{ImportedSessionState, SUPABASE_ID};
use super::origin::Origin;
use super::sessions::{EndReason, SessionTokens};
use super::tokens::{new_jti, Lifetimes};
use super::user::User;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use sha2::{Digest, Sha256};

const REVOKED: Error = Error::TokenInvalid(TokenProblem::Revoked);
const INVALID: Error = Error::TokenInvalid(TokenProblem::InvalidOrExpired);

/// The claims of a GoTrue access token that matter here; others (email,
/// phone, metadata, aal, amr, …) are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SupabaseClaims {
    /// The user's UUID.
    pub sub: String,
    #[serde(default)]
    pub aud: Option<Audience>,
    #[serde(default)]
    pub role: Option<String>,
    pub exp: i64,
    #[serde(default)]
    pub iat: Option<i64>,
    #[serde(default)]
    pub nbf: Option<i64>,
    #[serde(default)]
    pub session_id: Option<String>,
}

/// `aud`: GoTrue writes one string; a list is what JWT also allows.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, aud: &str) -> bool {
        match self {
            Audience::One(a) => a == aud,
            Audience::Many(all) => all.iter().any(|a| a == aud),
        }
    }
}

/// Checks GoTrue's HS256 access tokens.
#[derive(Clone)]
pub struct SupabaseVerifier {
    decoding: DecodingKey,
    validation: Validation,
}

impl SupabaseVerifier {
    /// `secret`: GoTrue's JWT secret, as the bytes of the string.
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // Times are checked against the domain's clock below; the audience
        // against the imported session's.
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        Self {
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// Signature (HS256 only), expiry and not-before; a header with `crit`
    /// names extensions this checker does not know, and is refused (RFC 7515).
    pub fn verify(&self, token: &str, now: UnixTime) -> Result<SupabaseClaims, TokenProblem> {
        let header = token.split('.').next().unwrap_or_default();
        let critical = URL_SAFE_NO_PAD
            .decode(header)
            .ok()
            .and_then(|h| serde_json::from_slice::<serde_json::Value>(&h).ok())
            .is_none_or(|h| h.get("crit").is_some());
        if critical {
            return Err(TokenProblem::InvalidOrExpired);
        }
        let claims =
            jsonwebtoken::decode::<SupabaseClaims>(token, &self.decoding, &self.validation)
                .map_err(|_| TokenProblem::InvalidOrExpired)?
                .claims;
        if claims.exp <= now || claims.nbf.is_some_and(|nbf| nbf > now) {
            return Err(TokenProblem::InvalidOrExpired);
        }
        Ok(claims)
    }
}

/// Whether a refresh token could be one GoTrue issued: not a JWT (GoTrue's
/// are 12 letters and digits; newer ones base64url), of a sane length. Only
/// such strings cost a database read at delivery's refresh.
pub fn may_be_imported(token: &str) -> bool {
    (8..=256).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// How an imported refresh token is kept: hex SHA-256 of the string.
pub fn token_sha256(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Accounts {
    /// Delivery's refresh with a refresh token GoTrue issued: the first use
    /// turns its session into an accountd session and answers its pair.
    pub(crate) async fn refresh_imported(
        &self,
        token: &str,
        lifetimes: Lifetimes,
        origin: &Origin,
    ) -> Result<TokenPair> {
        let found = self
            .store()
            .imported_session_by_token(&token_sha256(token))
            .await;
        let imported = match found.and_then(|s| s.ok_or(INVALID)) {
            Ok(s) => s,
            Err(e) => {
                let refused = Err(e);
                self.emit_result(EventKind::Refresh, None, origin, &refused);
                return refused;
            }
        };
        let done = self.convert(&imported, lifetimes, origin).await;
        let outcome = done
            .as_ref()
            .map_or_else(super::audit::outcome_of, |_| "success");
        self.emit(
            self.event(EventKind::Refresh, outcome, Some(imported.user), origin)
                .with("imported", "supabase"),
        );
        done
    }

    async fn convert(
        &self,
        imported: &ImportedSessionState,
        lifetimes: Lifetimes,
        origin: &Origin,
    ) -> Result<TokenPair> {
        let now = self.now();
        if imported.ended_at.is_some() || imported.expires_at <= now {
            return Err(REVOKED);
        }
        match self.store().user_by_id(imported.user).await? {
            Some(u) if u.is_active => {}
            Some(_) => return Err(Error::Inactive),
            None => return Err(Error::NotFound("user")),
        }
        if imported.session_id.is_none() {
            let sid = new_jti();
            let tokens = SessionTokens::fresh(now, lifetimes);
            if self
                .store()
                .convert_imported_session(&imported.id, &sid, imported.user, &tokens, now)
                .await?
            {
                tracing::info!(
                    user = imported.user.0,
                    "imported Supabase session converted"
                );
                return self.sign_session(&sid, imported.user, &tokens);
            }
        }
        // Converted before: by an earlier use of this token, or by a
        // request racing this one (or ended meanwhile).
        let state = self
            .store()
            .imported_session(&imported.id)
            .await?
            .ok_or(REVOKED)?;
        let (Some(sid), Some(at), None) = (state.session_id, state.converted_at, state.ended_at)
        else {
            return Err(REVOKED);
        };
        let session = self.store().session(&sid).await?.ok_or(REVOKED)?;
        if !session.is_alive(now) || session.user != imported.user {
            return Err(REVOKED);
        }
        let reuse = self.policies().refresh_reuse_seconds;
        if now < at + reuse && session.previous_jti.is_none() {
            return self.sign_session(&sid, session.user, &session.current);
        }
        self.store()
            .end_session(&sid, now, EndReason::Reuse.as_str())
            .await?;
        tracing::warn!(
            user = session.user.0,
            "used-up Supabase refresh token presented again; session revoked"
        );
        self.emit(
            self.event(
                EventKind::RefreshReuse,
                "session_revoked",
                Some(session.user),
                origin,
            )
            .with("imported", "supabase"),
        );
        Err(REVOKED)
    }

    /// The user behind a Supabase access token of an imported session, and
    /// that session's id. `InvalidOrExpired` for anything that is not one.
    pub(crate) async fn imported_access(&self, token: &str) -> Result<(User, String)> {
        let verifier = self.supabase().ok_or(INVALID)?;
        let now = self.now();
        let claims = verifier.verify(token, now).map_err(Error::TokenInvalid)?;
        let id = claims.session_id.as_deref().ok_or(INVALID)?;
        let imported = self.store().imported_session(id).await?.ok_or(INVALID)?;
        let as_issued = claims
            .aud
            .as_ref()
            .is_some_and(|a| a.contains(&imported.aud))
            && claims.role.as_deref() == Some(imported.role.as_str());
        if !as_issued {
            return Err(INVALID);
        }
        let user = self
            .store()
            .user_by_id(imported.user)
            .await?
            .ok_or(Error::NotFound("user"))?;
        if user.attr(SUPABASE_ID).and_then(|v| v.as_str()) != Some(claims.sub.as_str()) {
            return Err(INVALID);
        }
        if !user.is_active {
            return Err(Error::Inactive);
        }
        if imported.ended_at.is_some() || imported.expires_at <= now {
            return Err(REVOKED);
        }
        if let Some(sid) = &imported.session_id {
            // Converted: the session it became must still be alive (a logout
            // or reuse there ends this token too).
            let alive = self
                .store()
                .session(sid)
                .await?
                .is_some_and(|s| s.is_alive(now));
            if !alive {
                return Err(REVOKED);
            }
        }
        if claims.iat.is_some_and(|iat| user.token_revoked(iat)) {
            return Err(INVALID);
        }
        Ok((user, imported.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};

    fn sign(claims: serde_json::Value, header: Header) -> String {
        jsonwebtoken::encode(
            &header,
            &claims,
            &EncodingKey::from_secret(b"gotrue-secret"),
        )
        .unwrap()
    }

    fn gotrue(exp: i64) -> serde_json::Value {
        serde_json::json!({
            "iss": "https://abc.supabase.co/auth/v1", "sub": "7d3c0d0e-0000-4000-8000-000000000001",
            "aud": "authenticated", "exp": exp, "iat": exp - 3600, "email": "", "phone": "255712345678",
            "app_metadata": {"provider": "phone", "providers": ["phone"]}, "user_metadata": {},
            "role": "authenticated", "aal": "aal1", "amr": [{"method": "otp", "timestamp": exp - 3600}],
            "session_id": "5b0e8c1a-0000-4000-8000-000000000002", "is_anonymous": false
        })
    }

    #[test]
    fn gotrue_access_tokens_verify_with_its_secret_until_they_expire() {
        let v = SupabaseVerifier::new(b"gotrue-secret");
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("abc".into());
        let token = sign(gotrue(2000), header);
        let c = v.verify(&token, 1999).unwrap();
        assert_eq!(c.sub, "7d3c0d0e-0000-4000-8000-000000000001");
        assert_eq!(c.aud, Some(Audience::One("authenticated".into())));
        assert_eq!(c.role.as_deref(), Some("authenticated"));
        assert_eq!(
            c.session_id.as_deref(),
            Some("5b0e8c1a-0000-4000-8000-000000000002")
        );
        assert_eq!(v.verify(&token, 2000), Err(TokenProblem::InvalidOrExpired));
        assert_eq!(
            SupabaseVerifier::new(b"other").verify(&token, 1000),
            Err(TokenProblem::InvalidOrExpired)
        );
    }

    #[test]
    fn other_algorithms_crit_headers_and_future_nbf_are_refused() {
        let v = SupabaseVerifier::new(b"gotrue-secret");
        let hs512 = sign(gotrue(2000), Header::new(Algorithm::HS512));
        assert_eq!(v.verify(&hs512, 1000), Err(TokenProblem::InvalidOrExpired));
        let mut claims = gotrue(2000);
        claims["nbf"] = 1500.into();
        let later = sign(claims, Header::new(Algorithm::HS256));
        assert_eq!(v.verify(&later, 1000), Err(TokenProblem::InvalidOrExpired));
        assert!(v.verify(&later, 1500).is_ok());
        // A crit header, signed with the right key.
        let head = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT","crit":["x"],"x":1}"#);
        let body = URL_SAFE_NO_PAD.encode(gotrue(2000).to_string());
        let input = format!("{head}.{body}");
        let sig = jsonwebtoken::crypto::sign(
            input.as_bytes(),
            &EncodingKey::from_secret(b"gotrue-secret"),
            Algorithm::HS256,
        )
        .unwrap();
        assert_eq!(
            v.verify(&format!("{input}.{sig}"), 1000),
            Err(TokenProblem::InvalidOrExpired)
        );
    }

    #[test]
    fn only_strings_shaped_like_gotrue_refresh_tokens_are_looked_up() {
        assert!(may_be_imported("h3Kq9ZpL2mXa"));
        assert!(may_be_imported(
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
        ));
        for not in [
            "",
            "short",
            "a.b.c",
            "eyJhbGciOi.eyJzdWIi.sig",
            "has space here",
            &"x".repeat(300),
        ] {
            assert!(!may_be_imported(not), "{not:?}");
        }
    }
}
