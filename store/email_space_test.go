package store_test

import (
	"testing"

	"github.com/caddyauth/gateway/store"
)

// Only ASCII white space is trimmed from an email. strings.TrimSpace also
// trims Unicode spaces (U+00A0, U+0085, U+2003, U+3000, ...), so a
// provider's "kate@example.com\u00A0" became kate@example.com, passed the
// ASCII check made after it and linked kate's account: one more fold
// beyond ASCII (issue 9, item 12; found in review).
func TestNormalizeEmailTrimsASCIISpaceOnly(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{" \tKate@Example.com\r\n", "kate@example.com"},
		{"kate@example.com\u00A0", "kate@example.com\u00A0"},
		{"\u00A0kate@example.com", "\u00A0kate@example.com"},
		{"kate@example.com\u0085", "kate@example.com\u0085"},
		{"KATE@EXAMPLE.COM\u2003", "kate@example.com\u2003"},
		{"\u3000kate@example.com", "\u3000kate@example.com"},
		{"\ufeffkate@example.com", "\ufeffkate@example.com"},
		{"kate@example.com\v\f", "kate@example.com"},
	} {
		if got := store.NormalizeEmail(tc.in); got != tc.want {
			t.Errorf("NormalizeEmail(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"kate@example.com", " KATE@example.com\t", true},
		{"kate@example.com", "kate@example.com\u00A0", false},
		{"\u2003kate@example.com", "kate@example.com", false},
		{"kate@example.com\u0085", "kate@example.com", false},
	} {
		if got := store.EqualEmail(tc.a, tc.b); got != tc.want {
			t.Errorf("EqualEmail(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
