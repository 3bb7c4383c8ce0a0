package store_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/caddyauth/gateway/store"
)

func TestNormalizeEmail(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"kate@example.com", "kate@example.com"},
		{" Kate@Example.COM\t", "kate@example.com"},
		{"\u212Aate@example.com", "\u212Aate@example.com"}, // Kelvin sign stays: not k
		{"\u017Fam@example.com", "\u017Fam@example.com"},   // long s stays: not s
		{"Zo\u00C9@example.com", "zo\u00C9@example.com"},   // only A-Z are lowered
		{"KAT\u0130@EXAMPLE.COM", "kat\u0130@example.com"},
		{"", ""},
	} {
		if got := store.NormalizeEmail(tc.in); got != tc.want {
			t.Errorf("NormalizeEmail(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestEqualEmail(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"kate@example.com", "KATE@Example.Com", true},
		{"kate@example.com", " kate@example.com ", true},
		{"\u212Aate@example.com", "kate@example.com", false},
		{"x@\u212Aorp.example", "x@korp.example", false},
		{"\u017Fam@example.com", "sam@example.com", false},
		{"kate@example.com", "kate@example.co", false},
		{"", "", true},
	} {
		if got := store.EqualEmail(tc.a, tc.b); got != tc.want {
			t.Errorf("EqualEmail(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = store.EqualEmail("Kate@Example.com", "kate@example.com") }); n != 0 {
		t.Errorf("EqualEmail allocates %v times (it runs on the protected-request path)", n)
	}
}

func TestASCIIEmail(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"kate@example.com", true},
		{"a+b.c_d-e!#$%&'*/=?^`{|}~@x.example", true},
		{"\u212Aate@example.com", false},
		{"kate@exampl\u00E9.com", false},
		{"k\u00A0ate@example.com", false},
		{"kate@example.com\x00", false},
		{"kate @example.com", false},
		{"kate@example.com\x7f", false},
	} {
		if got := store.ASCIIEmail(tc.in); got != tc.want {
			t.Errorf("ASCIIEmail(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// FuzzNormalizeEmail: only ASCII letters change (apart from the ASCII trim), the
// result is stable, and EqualEmail agrees with comparing normal forms.
func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"Kate@Example.com", "\u212Aate@example.com", " x@y ", "\u017F", "\xff\xfeA", "ǅ@x", "kate@example.com\u00a0", "\u3000x@y"} {
		f.Add(s, "kate@example.com")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		n := store.NormalizeEmail(a)
		if store.NormalizeEmail(n) != n {
			t.Fatalf("not stable: %q -> %q -> %q", a, n, store.NormalizeEmail(n))
		}
		trimmed := strings.Trim(a, " \t\n\v\f\r") // ASCII white space only
		if len(n) != len(trimmed) {
			t.Fatalf("%q: length changed to %q", a, n)
		}
		for i := 0; i < len(n); i++ {
			if c := trimmed[i]; n[i] != c && !('A' <= c && c <= 'Z' && n[i] == c+32) {
				t.Fatalf("%q: byte %d changed from %q to %q", a, i, c, n[i])
			}
		}
		if utf8.ValidString(a) && !utf8.ValidString(n) {
			t.Fatalf("%q: valid UTF-8 became invalid %q", a, n)
		}
		if got, want := store.EqualEmail(a, b), n == store.NormalizeEmail(b); got != want {
			t.Fatalf("EqualEmail(%q, %q) = %v, normal forms equal = %v", a, b, got, want)
		}
		if store.ASCIIEmail(a) && strings.ToLower(trimmed) != n {
			t.Fatalf("%q: on ASCII it must agree with strings.ToLower: %q", a, n)
		}
	})
}
