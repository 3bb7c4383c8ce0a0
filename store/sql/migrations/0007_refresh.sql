-- 0007: bearer mode. The session's refresh-token generation: only the
-- current one refreshes, an older one is a reuse and ends the session.

ALTER TABLE sessions ADD COLUMN refresh_gen BIGINT NOT NULL DEFAULT 0;
