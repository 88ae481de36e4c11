-- Migrations are written once for both databases (src/store/migrate.rs):
-- PostgreSQL syntax that SQLite also takes, and `BIGSERIAL PRIMARY KEY`,
-- which SQLite is given as `INTEGER PRIMARY KEY AUTOINCREMENT`.
-- Instants are Unix seconds (BIGINT) everywhere.
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Unique constraints keep PostgreSQL's default names (users_username_key, …):
-- the store reads the field taken from them.
CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    username      TEXT UNIQUE,
    email         TEXT UNIQUE,
    phone         TEXT UNIQUE,
    first_name    TEXT NOT NULL DEFAULT '',
    last_name     TEXT NOT NULL DEFAULT '',
    role          TEXT,
    is_active     BOOLEAN NOT NULL DEFAULT TRUE,
    otp_enabled   BOOLEAN NOT NULL DEFAULT FALSE,
    date_joined   BIGINT NOT NULL,
    last_login    BIGINT,
    -- A JSON object kept as text, as in SQLite.
    profile       TEXT NOT NULL DEFAULT '{}',
    password_hash TEXT
);

CREATE TABLE organizations (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL,
    kind        TEXT,
    is_verified BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE memberships (
    org_id  BIGINT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

-- simplejwt's OutstandingToken and BlacklistedToken, keyed by jti.
CREATE TABLE refresh_tokens (
    jti        TEXT PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    issued_at  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE blacklisted_tokens (
    jti            TEXT PRIMARY KEY,
    user_id        BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    blacklisted_at BIGINT NOT NULL
);
CREATE INDEX blacklisted_tokens_expiry ON blacklisted_tokens (expires_at);

-- One row per code sent (or being sent). state: pending | live | used | replaced.
CREATE TABLE otp_codes (
    id         BIGSERIAL PRIMARY KEY,
    phone      TEXT NOT NULL,
    purpose    TEXT NOT NULL,
    code_hash  TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    attempts   BIGINT NOT NULL DEFAULT 0,
    state      TEXT NOT NULL
);
CREATE INDEX otp_codes_phone ON otp_codes (phone, created_at);
CREATE INDEX otp_codes_created ON otp_codes (created_at);

CREATE TABLE login_failures (
    id  BIGSERIAL PRIMARY KEY,
    key TEXT NOT NULL,
    at  BIGINT NOT NULL
);
CREATE INDEX login_failures_key ON login_failures (key, at);
CREATE INDEX login_failures_at ON login_failures (at);
