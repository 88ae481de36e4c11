//! JSON Web Tokens in the simplejwt dialect (INTERFACE.md, "The simplejwt
//! dialect"): HS256, claims `token_type`, `exp`, `iat`, `jti` (32 lowercase
//! hex), `user_id` (integer), in that order, as simplejwt 5.4 issues them.

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

#[derive(Clone)]
pub struct TokenSigner {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl TokenSigner {
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked against the domain Clock below, not the wall clock,
        // so tests can move time; no claim is required by the library itself.
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
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
        })
    }

    /// Sign exactly these claims. HS256 over the same claims gives the same
    /// token, so a token whose claims were kept can be handed out again.
    pub fn sign(&self, claims: Claims) -> Result<Signed> {
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
        })
    }

    /// Check signature, expiry and type, in simplejwt's order: a token that is
    /// both expired and of the wrong type is reported as invalid or expired.
    pub fn verify(
        &self,
        token: &str,
        kind: TokenKind,
        now: UnixTime,
    ) -> Result<Claims, TokenProblem> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| TokenProblem::InvalidOrExpired)?;
        let claims = data.claims;
        if claims.exp <= now {
            return Err(TokenProblem::InvalidOrExpired);
        }
        if claims.token_type != kind.as_str() {
            return Err(TokenProblem::WrongType);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_made_elsewhere_with_the_secret_verify_as_simplejwt_would_take_them() {
        let s = TokenSigner::new(b"django-signing-key");
        let key = EncodingKey::from_secret(b"django-signing-key");
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
        let s = TokenSigner::new(b"k");
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
            TokenSigner::new(b"other").verify(&t.token, TokenKind::Refresh, 1001),
            Err(TokenProblem::InvalidOrExpired)
        );
    }

    #[test]
    fn signing_the_same_claims_again_gives_the_same_token() {
        let s = TokenSigner::new(b"k");
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
