-- 0002: session stages and the factors that opened them; MFA data.

ALTER TABLE sessions ADD COLUMN auth_method TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN mfa_method TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN pending TEXT NOT NULL DEFAULT '';

CREATE TABLE totp_devices (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    secret       TEXT NOT NULL,              -- base64 of the AES-GCM sealed secret
    last_step    BIGINT NOT NULL DEFAULT 0,  -- replay guard
    created_at   BIGINT NOT NULL,
    confirmed_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX totp_devices_user_id ON totp_devices (user_id, created_at);

CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash    TEXT NOT NULL,                   -- keyed hash of the code
    PRIMARY KEY (user_id, hash)
);

CREATE TABLE trusted_devices (
    id         TEXT PRIMARY KEY,             -- hash of the client's token
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_agent TEXT NOT NULL DEFAULT '',
    ip         TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX trusted_devices_user_id ON trusted_devices (user_id);
