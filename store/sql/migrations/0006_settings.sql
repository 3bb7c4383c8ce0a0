-- 0006: operator settings shared by every instance (the auth-method
-- switch), and the login lockout per (identifier, client IP) pair, kept here
-- so that a lock holds on every instance and an operator can lift it.

CREATE TABLE settings (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE lockouts (
    identifier   TEXT NOT NULL,            -- normalised email
    ip           TEXT NOT NULL,
    failures     INTEGER NOT NULL,         -- within the window that began at window_start
    window_start BIGINT NOT NULL,
    locked_until BIGINT NOT NULL,          -- 0: not locked
    expires_at   BIGINT NOT NULL,          -- nothing left to remember after this
    PRIMARY KEY (identifier, ip)
);
CREATE INDEX lockouts_expires_at ON lockouts (expires_at);
