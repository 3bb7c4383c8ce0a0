-- 0004: the tamper-evident audit chain (internal/audit).
-- One row per event; seq is the chain position (1, 2, 3... without gaps),
-- prev_mac/mac are hex HMAC-SHA256 values linking each row to the one
-- before. Rows are only ever inserted: no foreign key to users, so
-- deleting an account keeps its history.

CREATE TABLE audit_log (
    seq        BIGINT PRIMARY KEY,
    at         BIGINT NOT NULL,             -- Unix ms
    type       TEXT NOT NULL,
    user_id    TEXT NOT NULL DEFAULT '',
    email      TEXT NOT NULL DEFAULT '',
    actor      TEXT NOT NULL DEFAULT '',
    ip         TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT '',
    reason     TEXT NOT NULL DEFAULT '',
    detail     TEXT NOT NULL DEFAULT '{}',  -- JSON object, sorted keys
    prev_mac   TEXT NOT NULL DEFAULT '',
    mac        TEXT NOT NULL
);
-- `caddy auth audit tail --user` and the admin views.
CREATE INDEX audit_log_user_id ON audit_log (user_id, seq);
CREATE INDEX audit_log_email ON audit_log (email, seq);
CREATE INDEX audit_log_at ON audit_log (at);
