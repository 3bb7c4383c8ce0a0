-- 0003: the durable message outbox (email and SMS waiting for a worker).
-- payload is the AES-GCM sealed template data, base64: codes and links are
-- never stored in clear. A row is claimed by setting lease_owner and
-- lease_until; an expired lease makes it claimable again (at-least-once).

CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    channel         TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    user_id         TEXT NULL REFERENCES users (id) ON DELETE CASCADE, -- deleting a user drops their queued mail
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL,            -- pending, sent, dead
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_owner     TEXT NOT NULL DEFAULT '',
    lease_until     BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
-- Serves the claim query (due pending rows, oldest first) and the depth.
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
-- Serves the purge of old sent and dead rows.
CREATE INDEX outbox_updated ON outbox (status, updated_at);
-- Serves the cascade from users.
CREATE INDEX outbox_user_id ON outbox (user_id);
