-- The indexes that only the PostgreSQL schema had before migrations were
-- written once; databases made since have them from 0001 already.
CREATE INDEX IF NOT EXISTS memberships_user ON memberships (user_id);
CREATE INDEX IF NOT EXISTS refresh_tokens_user ON refresh_tokens (user_id);
CREATE INDEX IF NOT EXISTS otp_codes_created ON otp_codes (created_at);
CREATE INDEX IF NOT EXISTS login_failures_at ON login_failures (at);
