-- 0013: API keys (store.APIKeyStore). The key is <prefix>_<id>_<secret>;
-- only the hex SHA-256 of the secret is kept. expires_at 0: no expiry;
-- last_used_at is written at most once an hour per key, never per request.

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    hash         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL DEFAULT 0,
    last_used_at BIGINT NOT NULL DEFAULT 0
);
-- Serves the per-user listing and the cascade from users.
CREATE INDEX api_keys_user ON api_keys (user_id, created_at);
