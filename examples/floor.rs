//! The floor: the least each benchmarked call inherently costs, as a bare axum
//! server with no database (docs/benchmarks.md). It answers the same paths with
//! the same bodies as accountd, so one load script drives both, and accountd's
//! rate for a call is read as a fraction of this one's.
//!
//! - `POST /api/login/`: one argon2id verify (m=19456, t=2, p=1) of a fixed
//!   hash, unbounded on `spawn_blocking` (it is the floor, not a server), then
//!   two HS256 tokens signed.
//! - `POST /api/token/refresh/`: verify one refresh token, sign one access token.
//! - `GET /api/auth/profile/`, `GET /api/accounts/auth/me/`: verify one access
//!   token, answer a small JSON user.
//! - `POST /api/accounts/auth/refresh/`: verify one refresh token, sign a new
//!   pair with the same `sid` (no retirement: that is the server's work).
//! - anything else: axum's own 404.
//!
//! Tokens are accountd's (INTERFACE.md, "The simplejwt dialect"): claims
//! `token_type`, `exp`, `iat`, `jti`, `user_id`, and `sid` for delivery,
//! signed with `ACCOUNTD_JWT_SECRET`, so tokens from one verify at the other.
//!
//! Environment: `ACCOUNTD_JWT_SECRET` (required), `ACCOUNTD_LISTEN` (default
//! `127.0.0.1:0`), `FLOOR_PASSWORD` (the password of the fixed hash; default
//! `a long bench password`). Prints `listening on http://ADDR` like accountd.
//!
//! `floor --time-hash [N]` instead hashes N times (default 20) with accountd's
//! parameters and prints the mean time of one hash in milliseconds.
//!
//! Build: `cargo build --release --example floor`.

use anyhow::{bail, Context};
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm as Argon2Algorithm, Argon2, Params, Version};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// accountd's parameters (src/domain/password.rs): OWASP's argon2id minimum.
const M_COST_KIB: u32 = 19_456;
const T_COST: u32 = 2;
const P_COST: u32 = 1;

/// accountd's default lifetimes (INTERFACE.md, Configuration).
const SIMPLE_ACCESS: i64 = 300;
const SIMPLE_REFRESH: i64 = 86_400;
const DELIVERY_ACCESS: i64 = 3600;
const DELIVERY_REFRESH: i64 = 30 * 86_400;

#[derive(Serialize, Deserialize)]
struct Claims {
    token_type: String,
    exp: i64,
    iat: i64,
    jti: String,
    user_id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
}

struct Floor {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// PHC string of FLOOR_PASSWORD, verified once per login.
    hash: String,
}

type Shared = Arc<Floor>;

fn argon2() -> anyhow::Result<Argon2<'static>> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None)
        .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
    Ok(Argon2::new(
        Argon2Algorithm::Argon2id,
        Version::V0x13,
        params,
    ))
}

fn hash(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon2()?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn jti() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// The floor's only error: a 401 with a short body. accountd's error bodies
/// differ per contract, but the benchmark never sends a request that fails.
fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"detail": "Token is invalid or expired"})),
    )
        .into_response()
}

impl Floor {
    fn sign(&self, kind: &str, user_id: i64, ttl: i64, sid: Option<&str>) -> Option<String> {
        let iat = now();
        let claims = Claims {
            token_type: kind.to_owned(),
            exp: iat + ttl,
            iat,
            jti: jti(),
            user_id,
            sid: sid.map(str::to_owned),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).ok()
    }

    fn verify(&self, token: &str, kind: &str) -> Option<Claims> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()?
            .claims;
        (claims.exp > now() && claims.token_type == kind).then_some(claims)
    }

    fn bearer(&self, headers: &HeaderMap) -> Option<Claims> {
        let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        self.verify(value.strip_prefix("Bearer ")?, "access")
    }
}

#[derive(Deserialize)]
struct Login {
    #[allow(dead_code)]
    username: String,
    password: String,
}

async fn login(State(floor): State<Shared>, Json(body): Json<Login>) -> Response {
    let f = floor.clone();
    let ok = tokio::task::spawn_blocking(move || {
        PasswordHash::new(&f.hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(body.password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false);
    if !ok {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "Invalid username or password"})),
        )
            .into_response();
    }
    match (
        floor.sign("refresh", 1, SIMPLE_REFRESH, None),
        floor.sign("access", 1, SIMPLE_ACCESS, None),
    ) {
        (Some(refresh), Some(access)) => {
            Json(json!({"refresh": refresh, "access": access})).into_response()
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

#[derive(Deserialize)]
struct SimpleRefresh {
    refresh: String,
}

async fn simple_refresh(State(floor): State<Shared>, Json(body): Json<SimpleRefresh>) -> Response {
    let Some(claims) = floor.verify(&body.refresh, "refresh") else {
        return unauthorized();
    };
    match floor.sign("access", claims.user_id, SIMPLE_ACCESS, None) {
        Some(access) => Json(json!({"access": access})).into_response(),
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

#[derive(Deserialize)]
struct DeliveryRefresh {
    refresh_token: String,
}

async fn delivery_refresh(
    State(floor): State<Shared>,
    Json(body): Json<DeliveryRefresh>,
) -> Response {
    let Some(claims) = floor.verify(&body.refresh_token, "refresh") else {
        return unauthorized();
    };
    let sid = claims.sid.as_deref();
    match (
        floor.sign("access", claims.user_id, DELIVERY_ACCESS, sid),
        floor.sign("refresh", claims.user_id, DELIVERY_REFRESH, sid),
    ) {
        (Some(access), Some(refresh)) => Json(json!({
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": DELIVERY_ACCESS,
            "expires_at": now() + DELIVERY_ACCESS,
            "token_type": "bearer",
        }))
        .into_response(),
        _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The user object accountd answers at university's profile for the
/// benchmark's student (bench/run), with the same fields and values.
async fn profile(State(floor): State<Shared>, headers: HeaderMap) -> Response {
    let Some(claims) = floor.bearer(&headers) else {
        return unauthorized();
    };
    Json(json!({
        "success": true,
        "user": {
            "id": claims.user_id,
            "username": "bench_student",
            "email": "bench.student@university.edu",
            "first_name": "Bench",
            "last_name": "Student",
            "university_id": "STU2024001",
            "user_type": "student",
            "phone_number": "+12025550101",
            "date_of_birth": "2000-01-15",
            "major": "Computer Science",
            "academic_level": "undergraduate",
            "enrollment_year": 2024,
            "department": null,
            "position": null,
            "is_student": true,
            "is_staff_member": false,
            "student_profile": {
                "student_id": "CS2024001",
                "gpa": "3.75",
                "credits_completed": 45,
                "graduation_date": "2028-05-15",
            },
            "staff_profile": null,
        },
    }))
    .into_response()
}

/// A user object as delivery's `me` answers it.
async fn me(State(floor): State<Shared>, headers: HeaderMap) -> Response {
    let Some(claims) = floor.bearer(&headers) else {
        return unauthorized();
    };
    Json(json!({
        "id": claims.user_id,
        "phone_number": "+12025550101",
        "email": null,
        "full_name": "",
        "role": "SHOPKEEPER",
        "is_active": true,
        "date_joined": "2025-10-27T10:30:00Z",
        "last_login": "2025-10-27T11:00:00Z",
    }))
    .into_response()
}

/// `--time-hash [N]`: the mean time of one argon2id hash, in milliseconds.
fn time_hash(n: u32) -> anyhow::Result<()> {
    // One first hash outside the timing: page faults of the first 19 MiB.
    hash("warm-up password")?;
    let start = Instant::now();
    for _ in 0..n {
        hash("a long bench password")?;
    }
    let ms = start.elapsed().as_secs_f64() * 1000.0 / f64::from(n.max(1));
    println!("{ms:.1}");
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--time-hash") => {
            let n = match args.get(1) {
                Some(n) => n.parse().context("--time-hash N: N must be a count")?,
                None => 20,
            };
            return tokio::task::spawn_blocking(move || time_hash(n)).await?;
        }
        Some(other) => bail!("unknown argument {other:?} (only --time-hash [N])"),
        None => {}
    }

    let secret = std::env::var("ACCOUNTD_JWT_SECRET").context("ACCOUNTD_JWT_SECRET is required")?;
    let listen = std::env::var("ACCOUNTD_LISTEN").unwrap_or_else(|_| "127.0.0.1:0".into());
    let password =
        std::env::var("FLOOR_PASSWORD").unwrap_or_else(|_| "a long bench password".into());

    let mut validation = Validation::new(Algorithm::HS256);
    // Expiry and type are checked by hand, as accountd does.
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let floor = Arc::new(Floor {
        encoding: EncodingKey::from_secret(secret.as_bytes()),
        decoding: DecodingKey::from_secret(secret.as_bytes()),
        validation,
        hash: tokio::task::spawn_blocking(move || hash(&password)).await??,
    });

    let app = Router::new()
        .route("/api/login/", post(login))
        .route("/api/token/refresh/", post(simple_refresh))
        .route("/api/auth/profile/", get(profile))
        .route("/api/accounts/auth/me/", get(me))
        .route("/api/accounts/auth/refresh/", post(delivery_refresh))
        .with_state(floor);

    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
