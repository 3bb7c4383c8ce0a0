package ratelimit

import "net/netip"

// AddressKey is the key of a client address in the per-address buckets
// and the lockout (issue 9 #15): an IPv4 address (an IPv4-mapped IPv6
// one, ::ffff:a.b.c.d, is the same host) as itself, an IPv6 address as
// its /64, the smallest block a host is commonly given (RFC 6177), so one
// host cannot rotate through its prefix for fresh budgets. Anything that
// is not an address (a Unix socket peer) is its own key.
func AddressKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	if a.Is4In6() || a.Is4() {
		a = a.Unmap()
		if a.String() == ip {
			return ip
		}
		return a.String()
	}
	return netip.PrefixFrom(a.WithZone(""), 64).Masked().String()
}
