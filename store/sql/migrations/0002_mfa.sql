-- 0002: session stages and the factors that opened them; MFA data.

ALTER TABLE sessions ADD COLUMN auth_method TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN mfa_method TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN pending TEXT NOT NULL DEFAULT '';
