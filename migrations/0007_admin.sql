-- Administration (INTERFACE.md, "Administration"; issue 11).

-- Staff may sign in to the admin console (`accountd user create/update --staff`).
ALTER TABLE users ADD COLUMN is_staff BOOLEAN NOT NULL DEFAULT FALSE;

-- The console's sign-ins, kept in the database so that every instance on it
-- knows them. The cookie's value is never stored, only its hex SHA-256: what
-- the table holds cannot be presented as a cookie. `csrf_token` is the
-- session's token that every form (and every change through the admin API
-- by cookie) must carry. A session is dead at `expires_at`, or once unused
-- for the idle limit (`last_seen`), or when its user's tokens were revoked
-- after it was made (`users.tokens_valid_after`).
CREATE TABLE console_sessions (
    id_sha256  TEXT PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL
);
CREATE INDEX console_sessions_user ON console_sessions (user_id);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
