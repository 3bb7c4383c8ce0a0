-- 0001: accounts, browser sessions and one-time tokens.
-- Portable SQL (SQLite and PostgreSQL): TEXT ids, BIGINT Unix milliseconds.
-- Applied once, in a transaction, by store/sql; never edit a released
-- migration: add the next number instead.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL,            -- lower case
    phone         TEXT NULL,                -- E.164; NULL, never '', so many users may have none
    name          TEXT NOT NULL DEFAULT '',
    groups_json   TEXT NOT NULL DEFAULT '[]',
    status        TEXT NOT NULL,
    password_hash TEXT NOT NULL DEFAULT '',
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_email ON users (email);
CREATE UNIQUE INDEX users_phone ON users (phone);

CREATE TABLE sessions (
    id              TEXT PRIMARY KEY,       -- hex SHA-256 of the cookie token
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at      BIGINT NOT NULL,
    last_seen_at    BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    idle_expires_at BIGINT NOT NULL,
    ip              TEXT NOT NULL DEFAULT '',
    user_agent      TEXT NOT NULL DEFAULT ''
);
-- Serves the per-user listing (oldest first) and the cascade from users.
CREATE INDEX sessions_user_id ON sessions (user_id, created_at);

CREATE TABLE one_time_tokens (
    hash       TEXT PRIMARY KEY,
    purpose    TEXT NOT NULL,
    user_id    TEXT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL
);
CREATE INDEX one_time_tokens_user_id ON one_time_tokens (user_id);
CREATE INDEX one_time_tokens_expires_at ON one_time_tokens (expires_at);
