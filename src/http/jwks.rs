//! `GET /.well-known/jwks.json` on the main listener (INTERFACE.md, "Signing
//! keys"): the public keys of every signing key that may still verify a
//! token, for services that check accountd's tokens themselves (simplejwt's
//! `JWK_URL`, PyJWKClient). `{"keys": []}` while only HS256 secrets sign:
//! those are never published.

use super::AppState;
use crate::domain::keys::{PublicKey, Published};
use axum::extract::State;
use axum::http::header::CACHE_CONTROL;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

/// Short: a new key signs as soon as it is made, so a cache in front must
/// not keep the set without it for long. Verifiers also fetch the set again
/// when a token names a `kid` they do not know (PyJWKClient does).
const CACHE: &str = "public, max-age=10";

pub fn router() -> Router<AppState> {
    Router::new().route("/.well-known/jwks.json", get(jwks))
}

async fn jwks(State(app): State<AppState>) -> Response {
    let accounts = &app.accounts;
    let keys = accounts.signer().keys();
    let now = accounts.now();
    // A rotation made on another instance is published here at once (at
    // most one read a second); without the database, the keys last read.
    keys.reload_soon(accounts.store().as_ref(), now).await;
    let set: Vec<Value> = keys.published(now).iter().map(jwk).collect();
    ([(CACHE_CONTROL, CACHE)], Json(json!({"keys": set}))).into_response()
}

/// A public key as RFC 7517 writes it (RFC 8037 for Ed25519).
fn jwk(k: &Published) -> Value {
    let alg = k.algorithm.as_str();
    match &k.public {
        PublicKey::Ed25519 { x } => {
            json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": k.kid, "use": "sig", "alg": alg})
        }
        PublicKey::Rsa { n, e } => {
            json!({"kty": "RSA", "n": n, "e": e, "kid": k.kid, "use": "sig", "alg": alg})
        }
    }
}
