-- 0011: when the user's email address was proven to reach them (an
-- invitation redeemed; later the verification link). 0: not verified.

ALTER TABLE users ADD COLUMN email_verified_at BIGINT NOT NULL DEFAULT 0;
