-- Server-side sessions (INTERFACE.md, "delivery sessions"): one row per sign-in.
-- No token is stored, only the claims of the live pair (jtis, instants), so the
-- pair can be signed again when the refresh token just retired is presented
-- inside the reuse window. previous_jti / rotated_at: the last rotation.
CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    refresh_jti  TEXT NOT NULL,
    access_jti   TEXT NOT NULL,
    issued_at    BIGINT NOT NULL,
    refresh_exp  BIGINT NOT NULL,
    access_exp   BIGINT NOT NULL,
    previous_jti TEXT,
    rotated_at   BIGINT,
    ended_at     BIGINT,
    end_reason   TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (refresh_exp);
