-- 0008: when the password last changed in a way that ends sessions (reset,
-- `user passwd`, change-password). The session check refuses sessions that
-- started before it. 0: never (an account from before this migration).

ALTER TABLE users ADD COLUMN password_changed_at BIGINT NOT NULL DEFAULT 0;
