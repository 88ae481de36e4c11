-- Instants are Unix seconds (INTEGER) on every backend.
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT UNIQUE,
    email         TEXT UNIQUE,
    phone         TEXT UNIQUE,
    first_name    TEXT NOT NULL DEFAULT '',
    last_name     TEXT NOT NULL DEFAULT '',
    role          TEXT,
    is_active     BOOLEAN NOT NULL DEFAULT 1,
    otp_enabled   BOOLEAN NOT NULL DEFAULT 0,
    date_joined   INTEGER NOT NULL,
    last_login    INTEGER,
    profile       TEXT NOT NULL DEFAULT '{}',
    password_hash TEXT
);

CREATE TABLE organizations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL,
    kind        TEXT,
    is_verified BOOLEAN NOT NULL DEFAULT 0
);

CREATE TABLE memberships (
    org_id  INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (org_id, user_id)
);

-- simplejwt's OutstandingToken and BlacklistedToken, keyed by jti.
CREATE TABLE refresh_tokens (
    jti        TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);

CREATE TABLE blacklisted_tokens (
    jti            TEXT PRIMARY KEY,
    user_id        INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    blacklisted_at INTEGER NOT NULL
);
CREATE INDEX blacklisted_tokens_expiry ON blacklisted_tokens (expires_at);

-- One row per code sent (or being sent). state: pending | live | used | replaced.
CREATE TABLE otp_codes (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    phone      TEXT NOT NULL,
    purpose    TEXT NOT NULL,
    code_hash  TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    state      TEXT NOT NULL
);
CREATE INDEX otp_codes_phone ON otp_codes (phone, created_at);

CREATE TABLE login_failures (
    id  INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    at  INTEGER NOT NULL
);
CREATE INDEX login_failures_key ON login_failures (key, at);
