-- What `accountd import supabase` brings along besides users (INTERFACE.md,
-- "Import"; issue 9). Django's tokens need nothing new: they go into
-- refresh_tokens and blacklisted_tokens as accountd's own do.

-- One row per live GoTrue session: its access tokens name it in their
-- `session_id` claim. Its refresh token turns into an accountd delivery
-- session on first use (`session_id`, `converted_at`); a logout with its
-- access token, or a revocation of the user's tokens, ends it (`ended_at`).
-- `aud` and `role` are what GoTrue put in this user's access tokens.
CREATE TABLE imported_sessions (
    id           TEXT PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    aud          TEXT NOT NULL,
    role         TEXT NOT NULL,
    expires_at   BIGINT NOT NULL,
    ended_at     BIGINT,
    session_id   TEXT,
    converted_at BIGINT
);
CREATE INDEX imported_sessions_user ON imported_sessions (user_id);
CREATE INDEX imported_sessions_expiry ON imported_sessions (expires_at);

-- The live refresh tokens of those sessions, kept only as the hex SHA-256
-- of the token string: nothing in the database can be presented as a token.
CREATE TABLE imported_refresh_tokens (
    token_sha256     TEXT PRIMARY KEY,
    imported_session TEXT NOT NULL REFERENCES imported_sessions(id) ON DELETE CASCADE
);
CREATE INDEX imported_refresh_tokens_session ON imported_refresh_tokens (imported_session);
