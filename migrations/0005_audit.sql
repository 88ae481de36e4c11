-- The audit trail (INTERFACE.md, "Observability"): one row per auth event.
-- Never a secret: `detail` is a JSON object of facts such as a limit's name.
CREATE TABLE audit_events (
    id         BIGSERIAL PRIMARY KEY,
    at         BIGINT NOT NULL,
    event      TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    user_id    BIGINT,
    contract   TEXT NOT NULL,
    client     TEXT NOT NULL,
    request_id TEXT,
    detail     TEXT
);
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_user ON audit_events (user_id, id);
CREATE INDEX audit_events_event ON audit_events (event, id);
