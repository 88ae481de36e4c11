//! JSON Web Tokens in the simplejwt dialect (INTERFACE.md, "The simplejwt
//! dialect"): HS256 by default (or EdDSA / RS256 with a `kid`: `domain/keys/`),
//! claims `token_type`, `exp`, `iat`, `jti` (32 lowercase hex), `user_id`
//! (integer), in that order, as simplejwt 5.4 issues them.
//! With an audience configured (simplejwt's AUDIENCE), tokens carry `aud` and
//! must carry it to be accepted; without one, an `aud` claim is ignored.

use super::clock::UnixTime;
use super::error::{Error, Result, TokenProblem};
use super::keys::{Keys, Lookup};
use super::secret::Secret;
use super::user::UserId;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::Validation;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

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

/// Why a token was refused, as the signer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    Problem(TokenProblem),
    /// Signed by a key this instance does not hold: perhaps one another
    /// instance made since the last reload (`domain/keys/`).
    UnknownKey,
}

impl Refusal {
    pub(crate) fn problem(self) -> TokenProblem {
        match self {
            Refusal::Problem(p) => p,
            Refusal::UnknownKey => TokenProblem::InvalidOrExpired,
        }
    }
}

const INVALID: Refusal = Refusal::Problem(TokenProblem::InvalidOrExpired);

/// Signs with the current key and verifies with every key that may still
/// verify (`domain/keys/`), in the simplejwt dialect.
#[derive(Clone)]
pub struct TokenSigner {
    keys: Arc<Keys>,
    /// One per algorithm taken, alike but for the algorithm.
    validations: Vec<(jsonwebtoken::Algorithm, Validation)>,
    audience: Option<String>,
}

impl TokenSigner {
    /// A signer over one HS256 `secret` (at least [`MIN_SECRET_BYTES`]); with
    /// an `audience`, issued tokens carry it and accepted tokens must.
    pub fn new(secret: &[u8], audience: Option<&str>) -> Result<Self, String> {
        check_secret(secret)?;
        let secret = std::str::from_utf8(secret).map_err(|_| "must be UTF-8 text".to_owned())?;
        let secret = Secret::new(secret);
        Ok(Self::with_keys(
            Arc::new(Keys::from_secret(&secret, Vec::new())),
            audience,
        ))
    }

    /// A signer over `keys`, which may change under it (reloads).
    pub fn with_keys(keys: Arc<Keys>, audience: Option<&str>) -> Self {
        let validations = [
            jsonwebtoken::Algorithm::HS256,
            jsonwebtoken::Algorithm::EdDSA,
            jsonwebtoken::Algorithm::RS256,
        ]
        .into_iter()
        .map(|alg| (alg, validation(alg, audience)))
        .collect();
        Self {
            keys,
            validations,
            audience: audience.map(str::to_owned),
        }
    }

    pub fn keys(&self) -> &Arc<Keys> {
        &self.keys
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
    /// Ed25519 and RSA PKCS#1 v1.5 signatures are deterministic too, so this
    /// holds under every algorithm, as long as the same key signs.
    pub fn sign(&self, mut claims: Claims) -> Result<Signed> {
        claims.aud = self.audience.clone();
        let ring = self.keys.ring();
        let (header, key) = ring.signing();
        let token = jsonwebtoken::encode(&header, &claims, key).map_err(Error::internal)?;
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
        self.check(token, kind, now).map_err(Refusal::problem)
    }

    /// `verify`, telling a key this instance does not hold apart: the
    /// caller may reload the keys and look again.
    pub(crate) fn check(
        &self,
        token: &str,
        kind: TokenKind,
        now: UnixTime,
    ) -> Result<Claims, Refusal> {
        if has_crit_header(token) {
            return Err(INVALID);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| INVALID)?;
        let validation = self
            .validations
            .iter()
            .find(|(alg, _)| *alg == header.alg)
            .map(|(_, v)| v)
            .ok_or(INVALID)?;
        let ring = self.keys.ring();
        let (candidates, unknown_if_none) =
            match ring.lookup(header.alg, header.kid.as_deref(), now) {
                Lookup::Try {
                    keys,
                    unknown_if_none,
                } => (keys, unknown_if_none),
                Lookup::Unknown => return Err(Refusal::UnknownKey),
                Lookup::Refused => return Err(INVALID),
            };
        let mut decoded = None;
        for key in candidates {
            match jsonwebtoken::decode::<Claims>(token, key, validation) {
                Ok(data) => {
                    decoded = Some(data.claims);
                    break;
                }
                // Another key may have signed it.
                Err(e) if matches!(e.kind(), ErrorKind::InvalidSignature) => {}
                // Signed by this key, but not a token of ours.
                Err(_) => return Err(INVALID),
            }
        }
        let claims = match decoded {
            Some(c) => c,
            None if unknown_if_none => return Err(Refusal::UnknownKey),
            None => return Err(INVALID),
        };
        if claims.exp <= now || claims.nbf.is_some_and(|nbf| nbf > now) {
            return Err(INVALID);
        }
        if claims.token_type != kind.as_str() {
            return Err(Refusal::Problem(TokenProblem::WrongType));
        }
        Ok(claims)
    }
}

/// How tokens signed with `alg` are checked: expiry and nbf against the
/// domain Clock (in `check`), not the wall clock, so tests can move time; no
/// claim is required by the library itself unless an audience is configured.
fn validation(alg: jsonwebtoken::Algorithm, audience: Option<&str>) -> Validation {
    let mut validation = Validation::new(alg);
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
    validation
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
    use jsonwebtoken::{Algorithm, EncodingKey, Header};

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
