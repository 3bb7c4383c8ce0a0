package caddyauth

import (
	"errors"
	"strings"
	"testing"

	"github.com/caddyauth/gateway/internal/password"
)

// TestReadPasswordPolicy: the CLI's `user add` and `user passwd` read the
// password through readPassword, which applies the new-password policy with
// the account's email and name, and drops only one trailing newline.
func TestReadPasswordPolicy(t *testing.T) {
	ctx := []string{"alice.liddell@example.test", "Alice Liddell"}
	for _, tc := range []struct {
		name, in string
		want     error
	}{
		{"common, doubled", "passwordpassword\n", password.ErrCommon},
		{"common with digits", "password1234567\r\n", password.ErrCommon},
		{"short", "short-pw-12345\n", password.ErrTooShort},
		{"email local part", "aliceliddell2024!\n", password.ErrContext},
		{"repeated", "abcabcabcabcabc\n", password.ErrRepetitive},
		{"the newline is not counted", "fourteen chars\n", password.ErrTooShort},
		{"passphrase", "correct horse battery staple\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pw, err := readPassword(strings.NewReader(tc.in), ctx...)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if err == nil && pw != strings.TrimSuffix(tc.in, "\n") {
				t.Errorf("password %q", pw)
			}
		})
	}
}
