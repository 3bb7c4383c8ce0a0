// Package redirect decides whether a return URL ("rd") is safe to send a
// browser to after login. Open redirects are the most common gateway flaw
// (oauth2-proxy CVE-2020-5233, CVE-2020-11053, CVE-2021-21291), so the rule
// is an allowlist: a relative path on the current host, or an absolute
// http(s) URL whose origin (scheme, host and port) is the current one or a
// configured one. A port is part of the origin: another port of the same
// host may be another program (RFC 6454), so it is refused unless
// configured.
package redirect

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// MaxLen bounds a return URL; longer values are refused.
const MaxLen = 4096

// Checker validates return URLs.
type Checker struct {
	exact    map[hostPort]bool
	suffixes []hostPort // ".example.com": the domain's subdomains
	http     bool       // plain http allowed for other hosts (dev only)
}

// hostPort is a configured host and its port; port 0 is an entry without
// a port (see New).
type hostPort struct {
	host string
	port int
}

// New builds a Checker. Each host is "app.example.com" (that host),
// "*.example.com" (any subdomain) or ".example.com" (the domain and any
// subdomain, as a cookie domain covers), optionally followed by ":<port>".
// An entry with a port admits exactly that port; one without admits the
// default port of the scheme (443 for https, 80 for http) and the port of
// the current request when the scheme is the request's too (a portal and
// its apps served on one listener). allowHTTP permits http:// targets
// (plain-http development); otherwise only https, or the scheme of the
// current request for the current host.
func New(hosts []string, allowHTTP bool) (*Checker, error) {
	c := &Checker{exact: map[hostPort]bool{}, http: allowHTTP}
	for _, raw := range hosts {
		h := strings.ToLower(strings.TrimSpace(raw))
		port := 0
		if i := strings.LastIndexByte(h, ':'); i >= 0 {
			p, ok := parsePort(h[i+1:])
			if !ok {
				return nil, fmt.Errorf("invalid redirect host %q: the port must be a number from 1 to 65535", h)
			}
			h, port = h[:i], p
		}
		switch {
		case h == "" || strings.ContainsAny(h, "/\\@:?#[]") || h == "*" || h == "." || h == "*.":
			return nil, fmt.Errorf("invalid redirect host %q", raw)
		case strings.HasPrefix(h, "*."):
			c.suffixes = append(c.suffixes, hostPort{h[1:], port})
		case strings.HasPrefix(h, "."):
			c.exact[hostPort{h[1:], port}] = true
			c.suffixes = append(c.suffixes, hostPort{h, port})
		default:
			if strings.Contains(h, "*") {
				return nil, fmt.Errorf("invalid redirect host %q: only a leading *. wildcard is allowed", raw)
			}
			c.exact[hostPort{h, port}] = true
		}
	}
	return c, nil
}

// parsePort reads a decimal port from 1 to 65535 (leading zeros allowed,
// as browsers allow them); no sign, no other character.
func parsePort(p string) (int, bool) {
	if p == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(p); i++ {
		b := p[i]
		if b < '0' || b > '9' {
			return 0, false
		}
		n = n*10 + int(b-'0')
		if n > 65535 {
			return 0, false
		}
	}
	return n, n > 0
}

// defaultPort is the port a URL of scheme means when it names none.
func defaultPort(scheme string) int {
	if scheme == "http" {
		return 80
	}
	return 443
}

// Check returns rd if it is safe for a request to reqHost (the Host header,
// possibly with a port) made over reqScheme ("http" or "https"), and false
// otherwise.
func (c *Checker) Check(rd, reqHost, reqScheme string) (string, bool) {
	if rd == "" || len(rd) > MaxLen {
		return "", false
	}
	for i := 0; i < len(rd); i++ {
		// Control characters and spaces are stripped or reinterpreted by
		// browsers ("%09//evil"); a backslash is a slash to them ("/\evil").
		if b := rd[i]; b <= 0x20 || b == 0x7f || b == '\\' {
			return "", false
		}
	}
	if rd[0] == '/' {
		if len(rd) > 1 && rd[1] == '/' {
			return "", false // scheme-relative: "//evil"
		}
		u, err := url.Parse(rd)
		if err != nil || u.Host != "" || u.Scheme != "" {
			return "", false
		}
		return rd, true
	}
	u, err := url.Parse(rd)
	if err != nil || u.Opaque != "" || u.User != nil || u.Host == "" {
		return "", false // "https:evil", "https://good@evil", "javascript:..."
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && scheme != "http" {
		return "", false
	}
	host := strings.ToLower(u.Hostname())
	if host == "" || strings.HasSuffix(host, ".") {
		return "", false
	}
	port := defaultPort(scheme)
	if p := u.Port(); p != "" {
		var ok bool
		if port, ok = parsePort(p); !ok {
			return "", false
		}
	}
	reqName, reqPort := splitHost(reqHost, reqScheme)
	same := host == reqName
	// The current host and configured hosts without a port: the default
	// port of the scheme, or the current request's own scheme and port.
	ok := (same || c.allowed(host, 0)) &&
		(port == defaultPort(scheme) || scheme == reqScheme && port == reqPort)
	if !ok && !c.allowed(host, port) {
		return "", false
	}
	if scheme == "http" && !c.http && !(same && reqScheme == "http") {
		return "", false
	}
	return u.String(), true
}

// allowed reports whether a configured entry with this port (0: an entry
// without a port) covers host.
func (c *Checker) allowed(host string, port int) bool {
	if c.exact[hostPort{host, port}] {
		return true
	}
	for _, s := range c.suffixes {
		if s.port == port && strings.HasSuffix(host, s.host) && len(host) > len(s.host) {
			return true
		}
	}
	return false
}

// splitHost returns the host name of the request's Host header and its
// port (the scheme's default when it names none); "" and 0 when the port
// is not a valid one, so it matches nothing.
func splitHost(hostport, scheme string) (string, int) {
	port := defaultPort(scheme)
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		hostport = h
		if p != "" {
			var ok bool
			if port, ok = parsePort(p); !ok {
				return "", 0
			}
		}
	}
	return strings.ToLower(strings.Trim(hostport, "[]")), port
}
