package flows

import (
	"net/netip"
	"strings"
	"testing"
)

// FuzzCanonicalIP: never panics; an address comes out in one spelling
// (a mapped IPv4 as IPv4), anything else unchanged; idempotent.
func FuzzCanonicalIP(f *testing.F) {
	for _, s := range []string{"10.1.1.1", "::ffff:10.1.1.1", "::FFFF:a01:101", "2001:DB8::1", "fe80::1%eth0", "x", "", "::ffff:1.2.3.4%z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := CanonicalIP(s)
		if CanonicalIP(c) != c {
			t.Fatalf("CanonicalIP(%q) = %q is not stable", s, c)
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			if c != s {
				t.Fatalf("not an address %q changed to %q", s, c)
			}
			return
		}
		if a.Unmap().Is4() && (strings.Contains(c, ":") || c != a.Unmap().String()) {
			t.Fatalf("%q: %q, want %s", s, c, a.Unmap())
		}
	})
}
