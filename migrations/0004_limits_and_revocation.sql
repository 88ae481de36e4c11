-- Abuse limits and revocation (INTERFACE.md, "Abuse limits", "Administration").

-- Every token issued before this instant (its `iat`) is refused: set by a
-- reactivation, a password change and `user logout`; read with the user row.
ALTER TABLE users ADD COLUMN tokens_valid_after BIGINT;

-- Which client address asked for each code: codes per address and in all
-- are bounded per hour.
ALTER TABLE otp_codes ADD COLUMN client TEXT NOT NULL DEFAULT '';
CREATE INDEX otp_codes_client ON otp_codes (client, created_at);

-- Attempts that a limit counts: password logins (scope 'login', name = a
-- keyed hash of the name as typed, so nothing typed is kept) and code
-- checks (scope 'code', per client address). An attempt is 'pending' while
-- it is being checked, so simultaneous guesses cannot overshoot a limit, and
-- 'failed' once refused; a success deletes it.
CREATE TABLE attempts (
    id     BIGSERIAL PRIMARY KEY,
    scope  TEXT NOT NULL,
    name   TEXT NOT NULL,
    client TEXT NOT NULL,
    at     BIGINT NOT NULL,
    state  TEXT NOT NULL
);
CREATE INDEX attempts_name ON attempts (scope, name, at);
CREATE INDEX attempts_client ON attempts (scope, client, at);

-- Failed logins were counted per account, under keys that told known and
-- unknown names apart; they are a few minutes' worth of data.
DROP TABLE login_failures;
