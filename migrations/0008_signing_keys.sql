-- Signing keys (INTERFACE.md, "Signing keys"; issue 12; src/domain/keys/).
-- state: current (signs; at most one) | verifying (verifies until
-- retire_after) | retired (verifies nothing; its material erased).
-- private_key: HS256, the secret whose bytes are the HMAC key; EdDSA and
-- RS256, the private key as PKCS#8 PEM. public_jwk: EdDSA and RS256, the
-- public key's JWK members (kty and its parameters) as JSON text.
--
-- The secret earlier versions generated (settings.jwt_secret) is taken into
-- this table unchanged by the first start of this version
-- (`Store::adopt_jwt_secret`): it needs the time of that start, which no
-- expression gives alike on both databases. The settings row stays, so a
-- rollback to the earlier version still signs with the same secret.
CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY,
    algorithm    TEXT NOT NULL,
    state        TEXT NOT NULL,
    private_key  TEXT,
    public_jwk   TEXT,
    created_at   BIGINT NOT NULL,
    retire_after BIGINT,
    retired_at   BIGINT
);
-- At most one current key: of instances making or rotating one at once,
-- exactly one wins.
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (state) WHERE state = 'current';
