-- 0005: links between users and accounts at external identity providers
-- (OAuth/OIDC). Keyed by the provider's subject, never by email.

CREATE TABLE identities (
    provider      TEXT NOT NULL,
    subject       TEXT NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email         TEXT NOT NULL DEFAULT '',
    created_at    BIGINT NOT NULL,
    last_login_at BIGINT NOT NULL,
    PRIMARY KEY (provider, subject)
);
-- One identity per provider per user; also serves the per-user listing and
-- the cascade from users.
CREATE UNIQUE INDEX identities_user_provider ON identities (user_id, provider);
