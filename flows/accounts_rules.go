package flows

import (
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

// CheckPassword applies the new-password policy with the account's email
// and name and the configured context words.
func (a *Accounts) CheckPassword(pw, email, name string) error {
	return CheckNewPassword(pw, append([]string{email, name}, a.ContextWords...)...)
}

// Check normalises in and judges every field, the password included
// (with the account's email and name as context).
func (a *Accounts) Check(in *NewAccount) error {
	if err := CheckProfile(in); err != nil {
		return err
	}
	if in.NoPassword {
		return nil
	}
	return a.CheckPassword(in.Password, in.Email, in.Name)
}

// GroupError names the group CheckProfile refused; it is ErrInvalidGroup.
type GroupError struct{ Group string }

func (e *GroupError) Error() string        { return fmt.Sprintf("accounts: invalid group name %q", e.Group) }
func (e *GroupError) Is(target error) bool { return target == ErrInvalidGroup }
