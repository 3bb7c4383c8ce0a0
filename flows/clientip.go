package flows

import (
	"net/http"
	"net/netip"
)

// CanonicalIP is the one spelling of a client address that the flows key,
// log and record: an IPv4-mapped IPv6 address (::ffff:10.1.1.1, which a
// dual-stack listener or a proxy's X-Forwarded-For may give) becomes the
// IPv4 address it is, and IPv6 is written in its canonical lower-case
// form, so one host has one budget (issue 9 #15). Anything that is not an
// address is returned unchanged.
func CanonicalIP(s string) string {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return s
	}
	if a.Is4() {
		return s // ParseAddr accepts only the canonical dotted form
	}
	return a.Unmap().String()
}

// canonicalClientIP wraps a ClientIP function (Caddy's trusted-proxy aware
// one in production) with CanonicalIP.
func canonicalClientIP(f func(*http.Request) string) func(*http.Request) string {
	return func(r *http.Request) string { return CanonicalIP(f(r)) }
}
