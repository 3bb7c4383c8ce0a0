package flows

import (
	"context"
	"fmt"
	"strings"
)

// MaxNameLen is the longest display name, in bytes.
const MaxNameLen = 200

// NewAccount is what a caller knows of an account to create.
type NewAccount struct {
	Email    string
	Name     string
	Phone    string
	Groups   []string
	Password string
	// NoPassword: the account signs in elsewhere (an identity provider);
	// otherwise Password must pass the policy, even when empty.
	NoPassword bool
}

// ValidName is the rule for display names wherever they are set: no
// control character (they would forge lines in logs and headers) and at
// most MaxNameLen bytes.
func ValidName(n string) bool {
	return len(n) <= MaxNameLen && strings.IndexFunc(n, func(r rune) bool { return r < 0x20 || r == 0x7f }) < 0
}

// CheckProfile normalises in's email and phone and judges every field but
// the password.
func CheckProfile(in *NewAccount) error {
	in.Email, in.Phone = NormalizeEmail(in.Email), NormalizePhone(in.Phone)
	switch {
	case in.Phone != "" && !ValidPhone(in.Phone):
		return ErrInvalidPhone
	case !ValidEmail(in.Email):
		return ErrInvalidEmail
	case !ValidName(in.Name):
		return ErrInvalidName
	}
	for _, g := range in.Groups {
		if !ValidGroup(g) {
			return &GroupError{Group: g}
		}
	}
	return nil
}

// CheckPassword judges a new password: the policy with the account's email
// and name and the configured context words, then (when configured) the
// breached-password check. It is the one judge of every password a person
// chooses. The error is a policy reason, password.ErrBreached, or one
// wrapping password.ErrBreachUnavailable (the check failed and on_error
// is refuse).
func (a *Accounts) CheckPassword(ctx context.Context, pw, email, name string) error {
	if err := a.CheckPasswordPolicy(pw, email, name); err != nil {
		return err
	}
	return a.Breach.check(ctx, pw)
}

// CheckPasswordPolicy is CheckPassword without the breach check: the local
// rules only, no network. For an early look before the caller is known
// (a reset by code judges again with CheckPassword once the code is right).
func (a *Accounts) CheckPasswordPolicy(pw, email, name string) error {
	return CheckNewPassword(pw, append([]string{email, name}, a.ContextWords...)...)
}

// Check normalises in and judges every field, the password included
// (with the account's email and name as context, CheckPassword).
func (a *Accounts) Check(ctx context.Context, in *NewAccount) error {
	if err := CheckProfile(in); err != nil {
		return err
	}
	if in.NoPassword {
		return nil
	}
	return a.CheckPassword(ctx, in.Password, in.Email, in.Name)
}

// GroupError names the group CheckProfile refused; it is ErrInvalidGroup.
type GroupError struct{ Group string }

func (e *GroupError) Error() string        { return fmt.Sprintf("accounts: invalid group name %q", e.Group) }
func (e *GroupError) Is(target error) bool { return target == ErrInvalidGroup }
