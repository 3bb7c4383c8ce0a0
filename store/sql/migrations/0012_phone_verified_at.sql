-- 0012: when the user's phone number was proven to reach them (the CLI's
-- `user add --phone-verified`; later an SMS code confirmed). 0: not
-- verified. Only a verified phone signs in or receives SMS codes.

ALTER TABLE users ADD COLUMN phone_verified_at BIGINT NOT NULL DEFAULT 0;
