//! JSON Web Tokens in the simplejwt dialect (INTERFACE.md, "The simplejwt
//! dialect"): HS256, claims `token_type`, `exp`, `iat`, `jti` (32 lowercase
//! hex), `user_id` (integer), in that order, as simplejwt 5.4 issues them.
//! With an audience configured (simplejwt's AUDIENCE), tokens carry `aud` and
//! must carry it to be accepted; without one, an `aud` claim is ignored.

use super::clock::UnixTime;
use super::error::{Error, Result, TokenProblem};
use super::user::UserId;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Access,
    Refresh,
}

impl TokenKind {
    fn as_str(self) -> &'static str {
        match self {
            TokenKind::Access => "access",
            TokenKind::Refresh => "refresh",
        }
    }
}

/// How long a contract's tokens live, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    pub access: i64,
    pub refresh: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub token_type: String,
    pub exp: i64,
    /// simplejwt does not require `iat` of tokens it is given; nor do we.
    #[serde(default)]
    pub iat: i64,
    pub jti: String,
    /// An integer as issued; a string of digits is taken too, as Django's
    /// lookup by `user_id` would (tokens from a Django backend sharing the secret).
    #[serde(deserialize_with = "integer_or_digits")]
    pub user_id: i64,
    /// The session a token belongs to, for contracts with server-side sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Not before: a token from elsewhere may carry one; PyJWT refuses a
    /// token whose `nbf` is still ahead. Never set on tokens issued here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// The configured audience, written by the signer when one is set
    /// (simplejwt adds `aud` last, on encoding). Never read from a token:
    /// jsonwebtoken checks it against the configured audience, or it is ignored.
    #[serde(default, skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

fn integer_or_digits<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Integer(i64),
        Text(String),
    }
    match Id::deserialize(d)? {
        Id::Integer(n) => Ok(n),
        Id::Text(t) => t
            .parse()
            .map_err(|_| serde::de::Error::custom("user_id is not an integer")),
    }
}

impl Claims {
    pub fn user(&self) -> UserId {
        UserId(self.user_id)
    }
}

/// A freshly signed token and what it says.
#[derive(Debug, Clone)]
pub struct Signed {
    pub token: String,
    pub claims: Claims,
}

/// 32 lowercase hex characters from the OS CSPRNG, like `uuid4().hex`.
pub fn new_jti() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// The shortest HS256 secret accepted (INTERFACE.md, "Connections, queues,
/// responses"): RFC 7518 §3.2 asks for a key at least as long as the hash.
pub const MIN_SECRET_BYTES: usize = 32;

/// Refuse a signing secret too short to resist guessing.
pub fn check_secret(secret: &[u8]) -> Result<(), String> {
    if secret.len() < MIN_SECRET_BYTES {
        return Err(format!(
            "must be at least {MIN_SECRET_BYTES} bytes long (got {})",
            secret.len()
        ));
    }
    Ok(())
}

#[derive(Clone)]
pub struct TokenSigner {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    audience: Option<String>,
}

impl TokenSigner {
    /// A signer over `secret` (at least [`MIN_SECRET_BYTES`]); with an
    /// `audience`, issued tokens carry it and accepted tokens must.
    pub fn new(secret: &[u8], audience: Option<&str>) -> Result<Self, String> {
        check_secret(secret)?;
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry and nbf are checked against the domain Clock below, not the
        // wall clock, so tests can move time; no claim is required by the
        // library itself unless an audience is configured.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.required_spec_claims.clear();
        match audience {
            Some(aud) => {
                validation.set_audience(&[aud]);
                validation.set_required_spec_claims(&["aud"]);
            }
            // jsonwebtoken refuses any `aud` when none is expected; PyJWT
            // with no audience given (simplejwt's default) ignores it.
            None => validation.validate_aud = false,
        }
        Ok(Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            audience: audience.map(str::to_owned),
        })
    }

    pub fn issue(
        &self,
        kind: TokenKind,
        user: UserId,
        now: UnixTime,
        ttl: i64,
        sid: Option<&str>,
    ) -> Result<Signed> {
        self.sign(Claims {
            token_type: kind.as_str().to_owned(),
            exp: now + ttl,
            iat: now,
            jti: new_jti(),
            user_id: user.0,
            sid: sid.map(str::to_owned),
            nbf: None,
            aud: None,
        })
    }

    /// Sign exactly these claims. HS256 over the same claims gives the same
    /// token, so a token whose claims were kept can be handed out again.
    pub fn sign(&self, mut claims: Claims) -> Result<Signed> {
        claims.aud = self.audience.clone();
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(Error::internal)?;
        Ok(Signed { token, claims })
    }

    /// A token of `kind` with the given identity and times, in the session's name.
    pub fn sign_parts(
        &self,
        kind: TokenKind,
        user: UserId,
        jti: &str,
        iat: UnixTime,
        exp: UnixTime,
        sid: &str,
    ) -> Result<Signed> {
        self.sign(Claims {
            token_type: kind.as_str().to_owned(),
            exp,
            iat,
            jti: jti.to_owned(),
            user_id: user.0,
            sid: Some(sid.to_owned()),
            nbf: None,
            aud: None,
        })
    }

    /// Check signature, expiry and type, in simplejwt's order: a token that is
    /// both expired and of the wrong type is reported as invalid or expired.
    /// PyJWT's other refusals are "invalid or expired" too: a `crit` header
    /// (RFC 7515 §4.1.11: extensions we do not understand), an `nbf` still
    /// ahead, a missing or foreign `aud` when an audience is configured.
    pub fn verify(
        &self,
        token: &str,
        kind: TokenKind,
        now: UnixTime,
    ) -> Result<Claims, TokenProblem> {
        if has_crit_header(token) {
            return Err(TokenProblem::InvalidOrExpired);
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| TokenProblem::InvalidOrExpired)?;
        let claims = data.claims;
        if claims.exp <= now || claims.nbf.is_some_and(|nbf| nbf > now) {
            return Err(TokenProblem::InvalidOrExpired);
        }
        if claims.token_type != kind.as_str() {
            return Err(TokenProblem::WrongType);
        }
        Ok(claims)
    }
}

/// Whether the token's header names a `crit` parameter; jsonwebtoken's
/// `Header` has no such field and would let it pass silently. An unreadable
/// header is left for `decode` to refuse.
fn has_crit_header(token: &str) -> bool {
    use base64::Engine;
    let Some(segment) = token.split('.').next() else {
        return false;
    };
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(segment) else {
        return false;
    };
    serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&bytes)
        .is_ok_and(|header| header.contains_key("crit"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"a-test-signing-secret-of-32-bytes";

    fn signer() -> TokenSigner {
        TokenSigner::new(SECRET, None).unwrap()
    }

    fn foreign(header: Header, claims: serde_json::Value) -> String {
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(SECRET)).unwrap()
    }

    #[test]
    fn a_secret_shorter_than_32_bytes_is_refused() {
        assert_eq!(
            TokenSigner::new(b"0123456789abcdef0123456789abcde", None).err(),
            Some("must be at least 32 bytes long (got 31)".to_owned())
        );
        assert!(TokenSigner::new(b"0123456789abcdef0123456789abcdef", None).is_ok());
    }

    #[test]
    fn an_aud_claim_is_ignored_when_no_audience_is_configured() {
        let t = foreign(
            Header::new(Algorithm::HS256),
            serde_json::json!({"token_type": "access", "exp": 2000, "jti": "a", "user_id": 1, "aud": "elsewhere"}),
        );
        assert_eq!(
            signer()
                .verify(&t, TokenKind::Access, 1000)
                .map(|c| c.user_id),
            Ok(1)
        );
        let list = foreign(
            Header::new(Algorithm::HS256),
            serde_json::json!({"token_type": "access", "exp": 2000, "jti": "a", "user_id": 1, "aud": ["x", "y"]}),
        );
        assert!(signer().verify(&list, TokenKind::Access, 1000).is_ok());
    }

    #[test]
    fn with_an_audience_tokens_carry_it_and_must_match_it() {
        let s = TokenSigner::new(SECRET, Some("accounts")).unwrap();
        let issued = s
            .issue(TokenKind::Access, UserId(3), 1000, 60, None)
            .unwrap();
        let payload = serde_json::to_value(&issued.claims).unwrap();
        assert_eq!(payload["aud"], "accounts");
        assert_eq!(
            s.verify(&issued.token, TokenKind::Access, 1001)
                .map(|c| c.user_id),
            Ok(3)
        );
        let claims = |aud: Option<&str>| {
            let mut c =
                serde_json::json!({"token_type": "access", "exp": 2000, "jti": "a", "user_id": 1});
            if let Some(a) = aud {
                c["aud"] = a.into();
            }
            foreign(Header::new(Algorithm::HS256), c)
        };
        assert!(s
            .verify(&claims(Some("accounts")), TokenKind::Access, 1000)
            .is_ok());
        for t in [claims(Some("elsewhere")), claims(None)] {
            assert_eq!(
                s.verify(&t, TokenKind::Access, 1000),
                Err(TokenProblem::InvalidOrExpired)
            );
        }
        // A token issued without an audience is refused once one is required.
        let plain = signer()
            .issue(TokenKind::Access, UserId(3), 1000, 60, None)
            .unwrap();
        assert_eq!(
            s.verify(&plain.token, TokenKind::Access, 1001),
            Err(TokenProblem::InvalidOrExpired)
        );
    }

    #[test]
    fn a_future_nbf_is_refused_by_the_domain_clock() {
        let t = foreign(
            Header::new(Algorithm::HS256),
            serde_json::json!({"token_type": "access", "exp": 5000, "jti": "a", "user_id": 1, "nbf": 1500}),
        );
        assert_eq!(
            signer().verify(&t, TokenKind::Access, 1000),
            Err(TokenProblem::InvalidOrExpired)
        );
        assert_eq!(
            signer()
                .verify(&t, TokenKind::Access, 1500)
                .map(|c| c.user_id),
            Ok(1)
        );
    }

    #[test]
    fn a_crit_header_is_refused() {
        let claims =
            serde_json::json!({"token_type": "access", "exp": 2000, "jti": "a", "user_id": 1});
        // jsonwebtoken cannot write `crit`; build the header by hand.
        use base64::Engine;
        let b64 = |v: &serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let header = serde_json::json!({"alg": "HS256", "typ": "JWT", "crit": ["exp"]});
        let input = format!("{}.{}", b64(&header), b64(&claims));
        let sig = jsonwebtoken::crypto::sign(
            input.as_bytes(),
            &EncodingKey::from_secret(SECRET),
            Algorithm::HS256,
        )
        .unwrap();
        let t = format!("{input}.{sig}");
        assert_eq!(
            signer().verify(&t, TokenKind::Access, 1000),
            Err(TokenProblem::InvalidOrExpired)
        );
        // The same header without `crit` verifies: only `crit` is refused.
        let header = serde_json::json!({"alg": "HS256", "typ": "JWT"});
        let input = format!("{}.{}", b64(&header), b64(&claims));
        let sig = jsonwebtoken::crypto::sign(
            input.as_bytes(),
            &EncodingKey::from_secret(SECRET),
            Algorithm::HS256,
        )
        .unwrap();
        assert!(signer()
            .verify(&format!("{input}.{sig}"), TokenKind::Access, 1000)
            .is_ok());
    }

    #[test]
    fn tokens_made_elsewhere_with_the_secret_verify_as_simplejwt_would_take_them() {
        let s = TokenSigner::new(b"django-signing-key-of-32-bytes-or-more", None).unwrap();
        let key = EncodingKey::from_secret(b"django-signing-key-of-32-bytes-or-more");
        let make = |claims: serde_json::Value| {
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).unwrap()
        };
        // No iat, and a string user id.
        let t = make(
            serde_json::json!({"token_type": "access", "exp": 2000, "jti": "a", "user_id": "42"}),
        );
        assert_eq!(
            s.verify(&t, TokenKind::Access, 1000)
                .map(|c| (c.user_id, c.iat)),
            Ok((42, 0))
        );
        // simplejwt refuses a token without a type or an id; so do we.
        for claims in [
            serde_json::json!({"exp": 2000, "jti": "a", "user_id": 1}),
            serde_json::json!({"token_type": "access", "exp": 2000, "user_id": 1}),
            serde_json::json!({"token_type": "access", "exp": 2000, "jti": "a", "user_id": "x"}),
        ] {
            assert_eq!(
                s.verify(&make(claims), TokenKind::Access, 1000),
                Err(TokenProblem::InvalidOrExpired)
            );
        }
    }

    #[test]
    fn issued_tokens_verify_and_carry_the_simplejwt_claims() {
        let s = signer();
        let t = s
            .issue(TokenKind::Refresh, UserId(7), 1000, 60, None)
            .unwrap();
        let c = s.verify(&t.token, TokenKind::Refresh, 1059).unwrap();
        assert_eq!(
            (c.token_type.as_str(), c.exp, c.iat, c.user_id),
            ("refresh", 1060, 1000, 7)
        );
        assert_eq!(c.jti.len(), 32);
        assert!(c
            .jti
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(
            s.verify(&t.token, TokenKind::Refresh, 1060),
            Err(TokenProblem::InvalidOrExpired)
        );
        assert_eq!(
            s.verify(&t.token, TokenKind::Access, 1001),
            Err(TokenProblem::WrongType)
        );
        assert_eq!(
            TokenSigner::new(b"another-signing-secret-of-32-bytes", None)
                .unwrap()
                .verify(&t.token, TokenKind::Refresh, 1001),
            Err(TokenProblem::InvalidOrExpired)
        );
    }

    #[test]
    fn signing_the_same_claims_again_gives_the_same_token() {
        let s = signer();
        let t = s
            .issue(TokenKind::Refresh, UserId(7), 1000, 60, Some("abc"))
            .unwrap();
        let again = s.sign(t.claims.clone()).unwrap();
        assert_eq!(again.token, t.token);
        let parts = s
            .sign_parts(
                TokenKind::Refresh,
                UserId(7),
                &t.claims.jti,
                1000,
                1060,
                "abc",
            )
            .unwrap();
        assert_eq!(parts.token, t.token);
    }
}
