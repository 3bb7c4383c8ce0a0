package flows

import (
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// CanonicalOrigin returns the one spelling of a configured origin that both
// the CORS preflight and the CSRF trust list compare against: the
// serialisation browsers send in Origin (RFC 6454 section 6.1): scheme
// and host lower case, the scheme's default port dropped. Incoming Origin
// headers are compared with it byte for byte, so a preflight passes
// exactly when the request after it does (issue 9: a configured origin
// with capitals passed the preflight and got 403 on the POST).
//
// Anything a browser cannot send is refused rather than guessed at:
// paths, queries, fragments, user info, percent-escapes, non-ASCII hosts
// (write the xn-- form), empty or out-of-range ports.
func CanonicalOrigin(o string) (string, error) {
	scheme, rest, ok := strings.Cut(o, "://")
	scheme = strings.ToLower(scheme)
	if !ok || (scheme != "https" && scheme != "http") {
		return "", errors.New("want scheme://host[:port] with scheme http or https")
	}
	if rest == "" || strings.ContainsAny(rest, "/?#@%\\") {
		return "", errors.New("want scheme://host[:port], no path, query, fragment or user")
	}
	host, port := rest, ""
	if h, p, err := net.SplitHostPort(rest); err == nil {
		host, port = h, p
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
			return "", errors.New("the port must be a number from 1 to 65535")
		}
	} else if strings.HasSuffix(rest, ":") || strings.Count(rest, ":") > 0 && !strings.HasPrefix(rest, "[") {
		return "", errors.New("the port must be a number from 1 to 65535")
	}
	host = strings.ToLower(host)
	if strings.HasPrefix(rest, "[") {
		// An IPv6 literal: SplitHostPort removed the brackets when a port
		// was given; without one they are still there.
		// Written the way browsers serialise it (compressed, lower case);
		// IPv4-mapped forms and zones, which they write otherwise or not
		// at all, are refused.
		ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
		if err != nil || !ip.Is6() || ip.Is4In6() || ip.Zone() != "" {
			return "", errors.New("not an IPv6 address in brackets")
		}
		host = "[" + ip.String() + "]"
	} else if host == "" || strings.IndexFunc(host, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.')
	}) >= 0 {
		return "", errors.New("the host must be ASCII letters, digits, dots and hyphens (write an international name in its xn-- form)")
	}
	if port == "443" && scheme == "https" || port == "80" && scheme == "http" {
		port = ""
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, nil
}
