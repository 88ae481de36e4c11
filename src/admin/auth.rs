//! Who is calling the admin surface: the bearer of `ACCOUNTD_ADMIN_TOKEN`,
//! or a staff user signed in to the console (its cookie), and where from.

use crate::domain::admin::Actor;
use crate::domain::console::{self, ConsoleSession};
use crate::domain::error::Result;
use crate::domain::origin::Origin;
use crate::domain::secret::Secret;
use crate::domain::user::User;
use crate::http::request_log::RequestId;
use crate::http::AppState;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The console's cookie. Its path is `/admin`, so the main listener's
/// contracts never see it even on one host name.
pub const COOKIE: &str = "accountd_admin";

/// The cookie that carries the sign-in form's CSRF token before there is a
/// session (double submit: the form's field must equal it).
pub const SIGN_IN_COOKIE: &str = "accountd_admin_signin";

/// The header a cookie-authenticated API change carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The origin of an admin request: contract `admin`, the client address
/// (the trusted proxy's last hop when configured), the request id the edge
/// settled on.
pub fn origin(parts: &Parts, state: &AppState) -> Origin {
    let client = crate::http::client_addr(
        &parts.headers,
        &parts.extensions,
        state.config.trusted_proxy_header.as_deref(),
    );
    Origin::new("admin", client).with_request_id(
        parts
            .extensions
            .get::<RequestId>()
            .map(|id| id.as_str().to_owned()),
    )
}

/// The value of cookie `name`, if the request carries it.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// A `Set-Cookie` for the admin surface: HttpOnly, SameSite=Strict, path
/// `/admin`, `Secure` behind TLS (`ACCOUNTD_ADMIN_HTTPS`); `max_age` 0
/// deletes it.
pub fn set_cookie(state: &AppState, name: &str, value: &str, max_age: i64) -> HeaderValue {
    let secure = if state.config.admin_https {
        "; Secure"
    } else {
        ""
    };
    let text = format!(
        "{name}={value}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    );
    // Names are ours and values hex: always a valid header value.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Whether `presented` is the configured admin token, in constant time
/// (digests first, so not even its length shows); never with no token set.
pub fn token_matches(configured: Option<&Secret>, presented: &str) -> bool {
    match configured {
        None => false,
        Some(token) => {
            let (a, b) = (
                Sha256::digest(token.expose().as_bytes()),
                Sha256::digest(presented.as_bytes()),
            );
            bool::from(a.ct_eq(&b))
        }
    }
}

/// The `Authorization` header's bearer token: Some(None) for a header that
/// is not a bearer token at all.
pub fn bearer(headers: &HeaderMap) -> Option<Option<&str>> {
    let value = headers.get(header::AUTHORIZATION)?;
    let text = value.to_str().ok()?;
    Some(match text.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            Some(token.trim()).filter(|t| !t.is_empty())
        }
        _ => None,
    })
}

/// A staff member (or someone who was one) signed in to the console.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub session: ConsoleSession,
    pub user: User,
}

impl SignedIn {
    pub fn actor(&self, origin: Origin) -> Actor {
        Actor {
            origin,
            staff: Some(self.user.id),
        }
    }
}

/// The live console sign-in the request's cookie names, if any.
pub async fn signed_in(headers: &HeaderMap, state: &AppState) -> Result<Option<SignedIn>> {
    let Some(value) = cookie(headers, COOKIE) else {
        return Ok(None);
    };
    let accounts = &state.accounts;
    Ok(
        console::session(accounts.store().as_ref(), value, accounts.now())
            .await?
            .map(|(session, user)| SignedIn { session, user }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn cookies_are_found_by_exact_name_among_many() {
        let h = headers(&[
            ("cookie", "a=1; accountd_admin_signin=x"),
            ("cookie", "accountd_admin=abc"),
        ]);
        assert_eq!(cookie(&h, COOKIE), Some("abc"));
        assert_eq!(cookie(&h, SIGN_IN_COOKIE), Some("x"));
        assert_eq!(cookie(&h, "b"), None);
        assert_eq!(
            cookie(&headers(&[("cookie", "accountd_admin=")]), COOKIE),
            None
        );
    }

    #[test]
    fn only_the_configured_token_matches_and_none_without_one() {
        let t = Secret::from("0123456789abcdef0123456789abcdef");
        assert!(token_matches(Some(&t), "0123456789abcdef0123456789abcdef"));
        assert!(!token_matches(Some(&t), "0123456789abcdef0123456789abcde"));
        assert!(!token_matches(Some(&t), ""));
        assert!(!token_matches(None, ""));
    }

    #[test]
    fn bearer_tokens_are_read_from_the_authorization_header() {
        assert_eq!(bearer(&headers(&[])), None);
        assert_eq!(
            bearer(&headers(&[("authorization", "Bearer abc")])),
            Some(Some("abc"))
        );
        assert_eq!(
            bearer(&headers(&[("authorization", "bearer abc")])),
            Some(Some("abc"))
        );
        assert_eq!(
            bearer(&headers(&[("authorization", "Basic abc")])),
            Some(None)
        );
        assert_eq!(
            bearer(&headers(&[("authorization", "Bearer ")])),
            Some(None)
        );
    }
}
