package ratelimit

import (
	"net/netip"
	"strings"
	"testing"
)

func TestAddressKey(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"10.1.1.1", "10.1.1.1"},
		{"::ffff:10.1.1.1", "10.1.1.1"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:DB8:1:2::", "2001:db8:1:2::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"::1", "::/64"},
		{"unix-socket", "unix-socket"},
		{"", ""},
	} {
		if got := AddressKey(tc.in); got != tc.want {
			t.Errorf("AddressKey(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzAddressKey: never panics; mapped and plain IPv4 spellings share a
// key; every address of one /64 shares one; the key of a key is itself.
func FuzzAddressKey(f *testing.F) {
	for _, s := range []string{"10.1.1.1", "::ffff:10.1.1.1", "2001:db8::1", "fe80::1%eth0", "1.2.3.4:80", "[::1]", "", "::ffff:0:0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k := AddressKey(s)
		a, err := netip.ParseAddr(s)
		if err != nil {
			if k != s {
				t.Fatalf("not an address %q: key %q, want it unchanged", s, k)
			}
			return
		}
		if a.Is4In6() && AddressKey(a.Unmap().String()) != k {
			t.Fatalf("%q and its IPv4 form have different keys", s)
		}
		if a.Unmap().Is4() {
			if strings.Contains(k, "/") {
				t.Fatalf("IPv4 %q keyed as a prefix %q", s, k)
			}
			return
		}
		p, err := netip.ParsePrefix(k)
		if err != nil || p.Bits() != 64 || !p.Contains(a.WithZone("")) {
			t.Fatalf("IPv6 %q: key %q is not its /64", s, k)
		}
		if AddressKey(k) != k {
			t.Fatalf("key %q of %q is not stable", k, s)
		}
	})
}
