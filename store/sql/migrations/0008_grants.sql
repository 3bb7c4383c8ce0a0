-- 0007: grants (store.GrantStore): a one-time token may carry the keyed
-- hash of a short code sent with it, the count of wrong codes tried, and
-- what it grants besides the user. One live grant per user and purpose.

ALTER TABLE one_time_tokens ADD COLUMN code_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE one_time_tokens ADD COLUMN tries INTEGER NOT NULL DEFAULT 0;
ALTER TABLE one_time_tokens ADD COLUMN data TEXT NOT NULL DEFAULT '';
-- Serves TryCode and IssueToken (find the user's grant of a purpose).
CREATE INDEX one_time_tokens_user_purpose ON one_time_tokens (user_id, purpose);
