-- 0009: an operator may require a user to change the password at the next
-- sign-in (`user add|passwd --must-change-password`, the admin API). 1:
-- every protect sends the user to change-password; a change clears it.

ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;
