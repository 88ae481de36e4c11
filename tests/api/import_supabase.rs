//! `accountd import supabase` (issue 9, INTERFACE.md "Import"): GoTrue's
//! schema built in a throwaway PostgreSQL database with our own DDL for the
//! tables and columns its migrations create (github.com/supabase/auth,
//! `migrations/`), users and sessions inserted as GoTrue writes them, then
//! imported into accountd on SQLite and on PostgreSQL. Shown over HTTP: the
//! password signs in, the old refresh token becomes a delivery session that
//! rotates, a Supabase-signed access token works at `me` and `logout`.
//!
//! GoTrue's database is PostgreSQL, so these run in the PostgreSQL pass of
//! the suite, each into both of accountd's backends.

use crate::harness::{backend, run_cli, Backend, Run, TestApp, TestDb};
use accountd::domain::directory::UserInput;
use accountd::domain::secret::Secret;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Connection;

/// GoTrue's JWT secret in these tests.
const SECRET: &str = "super-secret-jwt-token-with-at-least-32-characters-long";

const PAM: &str = "0b9f3c52-6a4e-4d3e-9a51-2d0f6c1e0001";
const ELLIE: &str = "0b9f3c52-6a4e-4d3e-9a51-2d0f6c1e0002";
const BANNED: &str = "0b9f3c52-6a4e-4d3e-9a51-2d0f6c1e0003";
const DELETED: &str = "0b9f3c52-6a4e-4d3e-9a51-2d0f6c1e0004";
const FIREBASE: &str = "0b9f3c52-6a4e-4d3e-9a51-2d0f6c1e0005";
const KNOWN: &str = "0b9f3c52-6a4e-4d3e-9a51-2d0f6c1e0006";

const PAM_SESSION: &str = "5e55a7e0-1111-4c0d-8e6a-00000000a001";
const ELLIE_SESSION: &str = "5e55a7e0-1111-4c0d-8e6a-00000000a002";

const PAM_PASSWORD: &str = "pam's old supabase password";
const ELLIE_PASSWORD: &str = "ellie's old supabase password";

/// GoTrue's refresh tokens: 12 letters and digits.
const PAM_TOKEN: &str = "pQ7xK2mN9vB4";
const PAM_ROTATED_AWAY: &str = "aZ3cV8bN1mQ5";
const ELLIE_TOKEN: &str = "eL5rT8yU2iO6";
const BANNED_TOKEN: &str = "bN4mV7cX1zA9";
const KNOWN_TOKEN: &str = "kW2sD5fG8hJ1";
const FIREBASE_TOKEN: &str = "fB6gH9jK3lZ7";

/// The tables and columns GoTrue's migrations create that an import reads,
/// with their types, written for these tests (a fact read there).
const GOTRUE_SCHEMA: &str = r#"
CREATE SCHEMA auth;
CREATE TYPE auth.aal_level AS ENUM ('aal1', 'aal2', 'aal3');
CREATE TABLE auth.users (
    instance_id uuid NULL,
    id uuid NOT NULL PRIMARY KEY,
    aud varchar(255) NULL,
    role varchar(255) NULL,
    email varchar(255) NULL,
    encrypted_password varchar(255) NULL,
    email_confirmed_at timestamptz NULL,
    invited_at timestamptz NULL,
    confirmation_token varchar(255) NULL,
    confirmation_sent_at timestamptz NULL,
    recovery_token varchar(255) NULL,
    recovery_sent_at timestamptz NULL,
    email_change varchar(255) NULL,
    email_change_sent_at timestamptz NULL,
    last_sign_in_at timestamptz NULL,
    raw_app_meta_data jsonb NULL,
    raw_user_meta_data jsonb NULL,
    is_super_admin bool NULL,
    created_at timestamptz NULL,
    updated_at timestamptz NULL,
    phone text NULL UNIQUE DEFAULT NULL,
    phone_confirmed_at timestamptz NULL,
    phone_change text NULL DEFAULT '',
    phone_change_token varchar(255) NULL DEFAULT '',
    phone_change_sent_at timestamptz NULL,
    confirmed_at timestamptz GENERATED ALWAYS AS (LEAST(email_confirmed_at, phone_confirmed_at)) STORED,
    banned_until timestamptz NULL,
    deleted_at timestamptz NULL,
    is_sso_user boolean NOT NULL DEFAULT false,
    is_anonymous boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX users_email_partial_key ON auth.users (email) WHERE (is_sso_user = false);
CREATE TABLE auth.sessions (
    id uuid NOT NULL PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES auth.users(id) ON DELETE CASCADE,
    created_at timestamptz NULL,
    updated_at timestamptz NULL,
    factor_id uuid NULL,
    aal auth.aal_level NULL,
    not_after timestamptz NULL,
    refreshed_at timestamp without time zone NULL,
    user_agent text NULL,
    ip inet NULL,
    tag text NULL,
    refresh_token_hmac_key text NULL,
    refresh_token_counter bigint NULL
);
CREATE TABLE auth.refresh_tokens (
    instance_id uuid NULL,
    id bigserial NOT NULL PRIMARY KEY,
    token varchar(255) NULL UNIQUE,
    user_id varchar(255) NULL,
    revoked bool NULL,
    created_at timestamptz NULL,
    updated_at timestamptz NULL,
    parent varchar(255) NULL,
    session_id uuid NULL REFERENCES auth.sessions(id) ON DELETE CASCADE
);
"#;

/// GoTrue's database: its schema, and users and sessions as GoTrue writes
/// them (phone without `+`, `$2a$10$` bcrypt, '' for no password, NULL
/// email for phone users, soft-deleted users' email and phone replaced by
/// hashes).
struct GoTrue {
    db: TestDb,
}

/// A row of `auth.users`; `rest` is SQL for last_sign_in_at, banned_until
/// and deleted_at.
struct GoTrueUser<'a> {
    id: &'a str,
    email: Option<&'a str>,
    phone: Option<&'a str>,
    password: Option<&'a str>,
    meta: &'a str,
    created_at: &'a str,
    rest: &'a str,
}

fn bcrypt(password: &str) -> String {
    // GoTrue (Go's bcrypt) writes `$2a$` at cost 10.
    bcrypt::hash_with_result(password, 10)
        .unwrap()
        .format_for_version(bcrypt::Version::TwoA)
}

impl GoTrue {
    async fn new() -> Self {
        let db = TestDb::create_on(Backend::Postgres);
        let this = GoTrue { db };
        this.run(GOTRUE_SCHEMA).await;
        this
    }

    async fn run(&self, sql: &str) {
        let mut conn = sqlx::PgConnection::connect(&self.db.url).await.unwrap();
        sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
        conn.close().await.unwrap();
    }

    async fn user(&self, u: GoTrueUser<'_>) {
        let GoTrueUser {
            id,
            email,
            phone,
            password,
            meta,
            created_at,
            rest,
        } = u;
        let mut conn = sqlx::PgConnection::connect(&self.db.url).await.unwrap();
        sqlx::query(&format!(
            "INSERT INTO auth.users (instance_id, id, aud, role, email, encrypted_password,
                 raw_app_meta_data, raw_user_meta_data, created_at, updated_at, phone,
                 phone_confirmed_at, email_confirmed_at, last_sign_in_at, banned_until, deleted_at)
             VALUES ('00000000-0000-0000-0000-000000000000', $1::uuid, 'authenticated',
                 'authenticated', $2, $3, '{{\"provider\": \"phone\", \"providers\": [\"phone\"]}}',
                 $4::jsonb, $5::timestamptz, $5::timestamptz, $6, $5::timestamptz, NULL, {rest})"
        ))
        .bind(id)
        .bind(email)
        .bind(password)
        .bind(meta)
        .bind(created_at)
        .bind(phone)
        .execute(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
    }

    /// A session of `user` with these refresh tokens (token, revoked).
    async fn session(&self, id: &str, user: &str, not_after: &str, tokens: &[(&str, bool)]) {
        let mut conn = sqlx::PgConnection::connect(&self.db.url).await.unwrap();
        sqlx::query(&format!(
            "INSERT INTO auth.sessions (id, user_id, created_at, updated_at, aal, not_after)
             VALUES ($1::uuid, $2::uuid, now(), now(), 'aal1', {not_after})"
        ))
        .bind(id)
        .bind(user)
        .execute(&mut conn)
        .await
        .unwrap();
        let mut parent: Option<&str> = None;
        for (token, revoked) in tokens {
            sqlx::query(
                "INSERT INTO auth.refresh_tokens (instance_id, token, user_id, revoked,
                     created_at, updated_at, parent, session_id)
                 VALUES ('00000000-0000-0000-0000-000000000000', $1, $2, $3, now(), now(), $4, $5::uuid)",
            )
            .bind(token)
            .bind(user)
            .bind(revoked)
            .bind(parent)
            .bind(id)
            .execute(&mut conn)
            .await
            .unwrap();
            parent = Some(token);
        }
        conn.close().await.unwrap();
    }

    /// The users and sessions every test here starts from.
    async fn with_users() -> Self {
        let g = GoTrue::new().await;
        g.user(GoTrueUser {
            id: PAM,
            email: None,
            phone: Some("255712345678"),
            password: Some(&bcrypt(PAM_PASSWORD)),
            meta: r#"{"shop_name": "Mama Pima"}"#,
            created_at: "2024-01-02 03:04:05+00",
            rest: "'2024-06-01 10:00:00+00', NULL, NULL",
        })
        .await;
        g.user(GoTrueUser {
            id: ELLIE,
            email: Some("ellie@example.com"),
            phone: None,
            password: Some(&bcrypt(ELLIE_PASSWORD)),
            meta: "{}",
            created_at: "2024-01-03 00:00:00+00",
            rest: "'2024-06-02 00:00:00+00', NULL, NULL",
        })
        .await;
        g.user(GoTrueUser {
            id: BANNED,
            email: None,
            phone: Some("255712345679"),
            password: Some(""),
            meta: "{}",
            created_at: "2024-01-04 00:00:00+00",
            rest: "NULL, now() + interval '1 day', NULL",
        })
        .await;
        g.user(GoTrueUser {
            id: DELETED,
            email: Some("JkX0cWq2bqfT6Yb5oVx0a8sPpQ3n1cFz0w9l7k5j3hE"),
            phone: Some("Rk2f7aB3cD4eF5g"),
            password: None,
            meta: "{}",
            created_at: "2024-01-05 00:00:00+00",
            rest: "NULL, NULL, now()",
        })
        .await;
        g.user(GoTrueUser {
            id: FIREBASE,
            email: Some("fb@example.com"),
            phone: None,
            password: Some("$fbscrypt$v=1,n=14,r=8,p=1,ss=Bw==,sk=ou9tdYTGyYm8kuR6Dt0Bp0kDuAYoXrK16mbZO4yGwAn3oLspjnN0/c41v8xZnO1n14J3MjKj1b2g1AvyWpQg==$C5RwK1zBXoxdMA5vF8DFLw==$hash"),
            meta: "{}",
            created_at: "2024-01-06 00:00:00+00",
            rest: "NULL, NULL, NULL",
        })
        .await;
        g.user(GoTrueUser {
            id: KNOWN,
            email: None,
            phone: Some("255712345670"),
            password: Some(""),
            meta: r#"{"name": "Known"}"#,
            created_at: "2024-01-07 00:00:00+00",
            rest: "NULL, NULL, NULL",
        })
        .await;
        g.session(
            PAM_SESSION,
            PAM,
            "NULL",
            &[(PAM_ROTATED_AWAY, true), (PAM_TOKEN, false)],
        )
        .await;
        g.session(ELLIE_SESSION, ELLIE, "NULL", &[(ELLIE_TOKEN, false)])
            .await;
        g.session(
            "5e55a7e0-1111-4c0d-8e6a-00000000a005",
            FIREBASE,
            "now() + interval '1 day'",
            &[(FIREBASE_TOKEN, false)],
        )
        .await;
        g.session(
            "5e55a7e0-1111-4c0d-8e6a-00000000a003",
            BANNED,
            "NULL",
            &[(BANNED_TOKEN, false)],
        )
        .await;
        // Time-boxed, and the box has passed.
        g.session(
            "5e55a7e0-1111-4c0d-8e6a-00000000a006",
            KNOWN,
            "now() - interval '1 hour'",
            &[(KNOWN_TOKEN, false)],
        )
        .await;
        g
    }
}

fn import(app: &TestApp, from: &str, more: &[&str]) -> Run {
    let mut args = vec!["import", "supabase", "--from", from];
    args.extend_from_slice(more);
    run_cli(&app.db_url, &args, None)
}

fn summary() -> Value {
    json!({
        "users": 6,
        "sessions": 3,
        "without_password": 4,
        "unknown_hash_formats": [{"id": FIREBASE, "format": "fbscrypt"}]
    })
}

async fn counts(app: &TestApp) -> [i64; 3] {
    [
        app.count("SELECT COUNT(*) FROM users").await,
        app.count("SELECT COUNT(*) FROM imported_sessions").await,
        app.count("SELECT COUNT(*) FROM imported_refresh_tokens")
            .await,
    ]
}

/// A GoTrue access token of `session` for `sub`, as GoTrue signs it
/// (HS256 with a `kid`, `aud` a string), with `change` applied to its claims.
fn access_token(
    app: &TestApp,
    sub: &str,
    session: &str,
    change: impl FnOnce(&mut Value),
) -> String {
    let now = app.now();
    let mut claims = json!({
        "iss": "https://project.supabase.co/auth/v1",
        "sub": sub,
        "aud": "authenticated",
        "exp": now + 3600,
        "iat": now,
        "email": "ellie@example.com",
        "phone": "",
        "app_metadata": {"provider": "email", "providers": ["email"]},
        "user_metadata": {},
        "role": "authenticated",
        "aal": "aal1",
        "amr": [{"method": "password", "timestamp": now}],
        "session_id": session,
        "is_anonymous": false
    });
    change(&mut claims);
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some("gotrue-legacy".into());
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

fn delivery_pair(app: &TestApp) -> Value {
    json!({
        "access_token": "<jwt>",
        "refresh_token": "<jwt>",
        "expires_in": 3600,
        "expires_at": app.now() + 3600,
        "token_type": "bearer"
    })
}

fn refused_refresh() -> (StatusCode, Value) {
    (
        StatusCode::UNAUTHORIZED,
        json!({"error": "Failed to refresh session: Invalid refresh token"}),
    )
}

fn refused_token() -> (StatusCode, Value) {
    (
        StatusCode::UNAUTHORIZED,
        json!({"error": "Invalid or expired token"}),
    )
}

const REFRESH: &str = "/api/accounts/auth/refresh/";
const ME: &str = "/api/accounts/auth/me/";
const LOGOUT: &str = "/api/accounts/auth/logout/";

async fn gotrue_users_and_sessions_come_over_into(target: Backend) {
    let gotrue = GoTrue::with_users().await;
    let from = gotrue.db.url.clone();
    let app = TestApp::spawn_on(target, |c| {
        c.supabase_jwt_secret = Some(Secret::from(SECRET))
    })
    .await;
    // A rider who signed in to accountd by phone already: matched, not doubled.
    let known = app
        .user(UserInput {
            phone: Some("+255712345670".into()),
            role: Some("RIDER".into()),
            ..UserInput::default()
        })
        .await;

    let dry = import(&app, &from, &["--dry-run"]);
    assert_eq!((dry.code, dry.json()), (0, summary()), "{dry:?}");
    assert_eq!(counts(&app).await, [1, 0, 0]);

    let run = import(&app, &from, &[]);
    assert_eq!((run.code, run.json()), (0, summary()), "{run:?}");
    assert_eq!(counts(&app).await, [6, 3, 3]);
    let users = run_cli(&app.db_url, &["user", "list"], None).json();
    let user = |id: i64,
                phone: Value,
                email: Value,
                role: Value,
                active: bool,
                joined: &str,
                login: Value,
                profile: Value| {
        json!({"id": id, "username": null, "email": email, "phone": phone, "first_name": "",
               "last_name": "", "role": role, "is_active": active, "is_staff": false, "otp_enabled": false,
               "date_joined": joined, "last_login": login, "profile": profile})
    };
    assert_eq!(
        users,
        json!([
            user(
                known.id.0,
                json!("+255712345670"),
                Value::Null,
                json!("RIDER"),
                true,
                "2024-01-07T00:00:00Z",
                Value::Null,
                json!({"name": "Known", "supabase_id": KNOWN})
            ),
            user(
                2,
                json!("+255712345678"),
                Value::Null,
                Value::Null,
                true,
                "2024-01-02T03:04:05Z",
                json!("2024-06-01T10:00:00Z"),
                json!({"shop_name": "Mama Pima", "supabase_id": PAM})
            ),
            user(
                3,
                Value::Null,
                json!("ellie@example.com"),
                Value::Null,
                true,
                "2024-01-03T00:00:00Z",
                json!("2024-06-02T00:00:00Z"),
                json!({"supabase_id": ELLIE})
            ),
            user(
                4,
                json!("+255712345679"),
                Value::Null,
                Value::Null,
                false,
                "2024-01-04T00:00:00Z",
                Value::Null,
                json!({"supabase_id": BANNED})
            ),
            user(
                5,
                Value::Null,
                Value::Null,
                Value::Null,
                false,
                "2024-01-05T00:00:00Z",
                Value::Null,
                json!({"supabase_id": DELETED})
            ),
            user(
                6,
                Value::Null,
                json!("fb@example.com"),
                Value::Null,
                true,
                "2024-01-06T00:00:00Z",
                Value::Null,
                json!({"supabase_id": FIREBASE})
            ),
        ])
    );
    // The refresh tokens are kept as hashes only.
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM imported_refresh_tokens WHERE token_sha256 IN ('{}', '{}')",
            PAM_TOKEN, ELLIE_TOKEN
        ))
        .await,
        0
    );

    // Again over the same data: the same summary, nothing changes.
    let again = import(&app, &from, &[]);
    assert_eq!((again.code, again.json()), (0, summary()), "{again:?}");
    assert_eq!(run_cli(&app.db_url, &["user", "list"], None).json(), users);
    assert_eq!(counts(&app).await, [6, 3, 3]);

    // Pam's old refresh token becomes a delivery session; told twice at
    // once (a lost answer), it answers the same pair.
    let first = app.post(REFRESH, json!({"refresh_token": PAM_TOKEN})).await;
    assert_eq!(
        (first.status, first.redacted()),
        (StatusCode::OK, delivery_pair(&app))
    );
    let twice = app.post(REFRESH, json!({"refresh_token": PAM_TOKEN})).await;
    assert_eq!((twice.status, &twice.text), (StatusCode::OK, &first.text));
    let r = app.get(ME, first.body["access_token"].as_str()).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::OK,
            json!({"id": 2, "phone_number": "+255712345678", "email": null, "full_name": "",
                   "role": "SHOPKEEPER", "is_active": true, "date_joined": "2024-01-02T03:04:05Z",
                   "last_login": "2024-06-01T10:00:00Z"})
        )
    );
    // From then on it rotates as any delivery session.
    let next = app
        .post(
            REFRESH,
            json!({"refresh_token": first.body["refresh_token"]}),
        )
        .await;
    assert_eq!(
        (next.status, next.redacted()),
        (StatusCode::OK, delivery_pair(&app))
    );
    assert_ne!(next.body["refresh_token"], first.body["refresh_token"]);
    // The token GoTrue had already rotated away never worked, nor a guess.
    for token in [PAM_ROTATED_AWAY, "nOtAtOkEn123"] {
        let r = app.post(REFRESH, json!({"refresh_token": token})).await;
        assert_eq!((r.status, r.body), refused_refresh(), "{token}");
    }
    // The old token is used up: after the reuse window it is a retired
    // token presented again, and ends the session it became.
    app.clock.advance(11);
    let r = app.post(REFRESH, json!({"refresh_token": PAM_TOKEN})).await;
    assert_eq!((r.status, r.body), refused_refresh());
    let r = app.get(ME, next.body["access_token"].as_str()).await;
    assert_eq!((r.status, r.body), refused_token());

    // Ellie's Supabase access token works at me, as GoTrue signed it.
    let ellie = access_token(&app, ELLIE, ELLIE_SESSION, |_| {});
    let ellie_json = json!({"id": 3, "phone_number": null, "email": "ellie@example.com",
        "full_name": "", "role": "SHOPKEEPER", "is_active": true,
        "date_joined": "2024-01-03T00:00:00Z", "last_login": "2024-06-02T00:00:00Z"});
    let r = app.get(ME, Some(&ellie)).await;
    assert_eq!((r.status, r.body), (StatusCode::OK, ellie_json));
    // Not without the secret configured.
    let unconfigured = app
        .another_instance_with(|c| c.supabase_jwt_secret = None)
        .await;
    let r = unconfigured.get(ME, Some(&ellie)).await;
    assert_eq!((r.status, r.body), refused_token());
    // Nor with claims GoTrue would not have given her.
    type Change = Box<dyn FnOnce(&mut Value)>;
    let forged: [Change; 6] = [
        Box::new(|c| c["aud"] = json!("anon")),
        Box::new(|c| c["role"] = json!("service_role")),
        Box::new(|c| c["sub"] = json!(PAM)),
        Box::new(|c| c["session_id"] = json!(PAM_SESSION)),
        Box::new(|c| c["exp"] = json!(c["iat"].as_i64().unwrap() - 1)),
        Box::new(|c| {
            c.as_object_mut().unwrap().remove("session_id");
        }),
    ];
    for change in forged {
        let token = access_token(&app, ELLIE, ELLIE_SESSION, change);
        let r = app.get(ME, Some(&token)).await;
        assert_eq!((r.status, r.body), refused_token());
    }
    // Logout with it ends her imported session: the access token stops
    // working, and her old refresh token no longer converts.
    let r = app.post_auth(LOGOUT, &ellie, json!({})).await;
    assert_eq!(
        (r.status, r.body),
        (
            StatusCode::OK,
            json!({"success": true, "message": "Logged out successfully"})
        )
    );
    let r = app.get(ME, Some(&ellie)).await;
    assert_eq!((r.status, r.body), refused_token());
    let r = app.post_auth(LOGOUT, &ellie, json!({})).await;
    assert_eq!((r.status, r.body), refused_token());
    let r = app
        .post(REFRESH, json!({"refresh_token": ELLIE_TOKEN}))
        .await;
    assert_eq!((r.status, r.body), refused_refresh());

    // Banned users' and time-boxed-out sessions did not come along.
    for token in [BANNED_TOKEN, KNOWN_TOKEN] {
        let r = app.post(REFRESH, json!({"refresh_token": token})).await;
        assert_eq!((r.status, r.body), refused_refresh(), "{token}");
    }

    // `accountd user logout` ends imported sessions too.
    let out = run_cli(&app.db_url, &["user", "logout", "6"], None);
    assert_eq!(out.code, 0, "{out:?}");
    let r = app
        .post(REFRESH, json!({"refresh_token": FIREBASE_TOKEN}))
        .await;
    assert_eq!((r.status, r.body), refused_refresh());

    // Pam's bcrypt password signs in at simple by phone, and becomes argon2id.
    let r = app
        .post(
            "/api/login/",
            json!({"username": "+255712345678", "password": PAM_PASSWORD}),
        )
        .await;
    assert_eq!(
        (r.status, r.redacted()),
        (
            StatusCode::OK,
            json!({"refresh": "<jwt>", "access": "<jwt>"})
        )
    );
    let store = app.state.accounts.store();
    let start = std::time::Instant::now();
    loop {
        let pam = store
            .user_by_id(accountd::domain::user::UserId(2))
            .await
            .unwrap()
            .unwrap();
        let hash = pam.password_hash.unwrap();
        if hash.starts_with("$argon2id$") {
            break;
        }
        assert!(start.elapsed().as_secs() < 20, "not upgraded: {hash}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    // A run after all that changes nothing: ended stays ended.
    let third = import(&app, &from, &[]);
    assert_eq!((third.code, third.json()), (0, summary()), "{third:?}");
    assert_eq!(counts(&app).await, [6, 3, 3]);
    let r = app
        .post(REFRESH, json!({"refresh_token": ELLIE_TOKEN}))
        .await;
    assert_eq!((r.status, r.body), refused_refresh());

    // A user made afterwards gets the next id.
    let made = run_cli(
        &app.db_url,
        &["user", "create", "--username", "after"],
        None,
    );
    assert_eq!((made.code, &made.json()["id"]), (0, &json!(7)), "{made:?}");
}

#[tokio::test]
async fn gotrue_users_and_sessions_come_over_into_sqlite() {
    // GoTrue's database is PostgreSQL: runs in the PostgreSQL pass.
    if backend() != Backend::Postgres {
        return;
    }
    gotrue_users_and_sessions_come_over_into(Backend::Sqlite).await;
}

#[tokio::test]
async fn gotrue_users_and_sessions_come_over_into_postgresql() {
    if backend() != Backend::Postgres {
        return;
    }
    gotrue_users_and_sessions_come_over_into(Backend::Postgres).await;
}

#[tokio::test]
async fn a_gotrue_user_whose_phone_and_email_are_two_accountd_users_fails_by_name_and_nothing_is_written(
) {
    if backend() != Backend::Postgres {
        return;
    }
    let gotrue = GoTrue::with_users().await;
    let app = TestApp::spawn().await;
    for input in [
        UserInput {
            phone: Some("+255712345678".into()),
            ..UserInput::default()
        },
        UserInput {
            email: Some("ellie@example.com".into()),
            ..UserInput::default()
        },
    ] {
        app.user(input).await;
    }
    gotrue
        .run(&format!(
            "UPDATE auth.users SET email = 'ellie-too@example.com' WHERE id = '{ELLIE}';
             UPDATE auth.users SET email = 'ellie@example.com' WHERE id = '{PAM}';"
        ))
        .await;
    let run = import(&app, &gotrue.db.url, &[]);
    assert_eq!((run.code, run.stdout.as_str()), (1, ""), "{run:?}");
    assert_eq!(
        run.stderr.lines().collect::<Vec<_>>(),
        [
            format!("accountd: import: user {PAM}: its phone is user 1 (\"+255712345678\") and its email is user 2 (\"ellie@example.com\") in accountd"),
            "accountd: import failed: 1 row cannot be imported; nothing was written".to_owned(),
        ]
    );
    assert_eq!(counts(&app).await, [2, 0, 0]);
}

#[tokio::test]
async fn an_unreachable_or_wrong_supabase_source_fails_clearly_and_writes_nothing() {
    let app = TestApp::spawn().await;
    for (from, says) in [
        (
            "postgres://supabase_admin:secret@127.0.0.1:1/postgres",
            "accountd: import: cannot read the source database postgres://supabase_admin:***@127.0.0.1:1/postgres: ",
        ),
        (
            "sqlite:///tmp/gotrue.db",
            "accountd: import: --from: Supabase's database is PostgreSQL: give postgres://…",
        ),
    ] {
        let run = import(&app, from, &[]);
        assert_eq!((run.code, run.stdout.as_str()), (1, ""), "{run:?}");
        let lines: Vec<&str> = run.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{run:?}");
        assert!(lines[0].starts_with(says), "{run:?}");
        assert!(lines[0].ends_with("; nothing was written"), "{run:?}");
        assert!(!run.stderr.contains("secret"), "{run:?}");
    }
    if backend() == Backend::Postgres {
        // A PostgreSQL database without GoTrue's tables.
        let empty = TestDb::create_on(Backend::Postgres);
        let run = import(&app, &empty.url, &[]);
        assert_eq!(
            (run.code, run.stderr.lines().collect::<Vec<_>>()),
            (1, vec!["accountd: import: the database has no table auth.users: is it Supabase's, and is its auth schema \"auth\"? (--schema); nothing was written"])
        );
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 0);
}
