// Package redirect decides whether a return URL ("rd") is safe to send a
// browser to after login. Open redirects are the most common gateway flaw
// (oauth2-proxy CVE-2020-5233, CVE-2020-11053, CVE-2021-21291), so the rule
// is an allowlist: a relative path on the current host, or an absolute
// http(s) URL whose host is the current host or a configured one.
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
	exact    map[string]bool
	suffixes []string // ".example.com": the domain's subdomains
	http     bool     // plain http allowed for other hosts (dev only)
}

// New builds a Checker. Each host is "app.example.com" (that host),
// "*.example.com" (any subdomain) or ".example.com" (the domain and any
// subdomain, as a cookie domain covers). allowHTTP permits http:// targets
// (plain-http development); otherwise only https, or the scheme of the
// current request for the current host.
func New(hosts []string, allowHTTP bool) (*Checker, error) {
	c := &Checker{exact: map[string]bool{}, http: allowHTTP}
	for _, h := range hosts {
		h = strings.ToLower(strings.TrimSpace(h))
		switch {
		case h == "" || strings.ContainsAny(h, "/\\@:?#") || h == "*" || h == ".":
			return nil, fmt.Errorf("invalid redirect host %q", h)
		case strings.HasPrefix(h, "*."):
			c.suffixes = append(c.suffixes, h[1:])
		case strings.HasPrefix(h, "."):
			c.exact[h[1:]] = true
			c.suffixes = append(c.suffixes, h)
		default:
			if strings.Contains(h, "*") {
				return nil, fmt.Errorf("invalid redirect host %q: only a leading *. wildcard is allowed", h)
			}
			c.exact[h] = true
		}
	}
	return c, nil
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
	same := host == hostOnly(reqHost)
	if !same && !c.allowed(host) {
		return "", false
	}
	if scheme == "http" && !c.http && !(same && reqScheme == "http") {
		return "", false
	}
	return u.String(), true
}

func (c *Checker) allowed(host string) bool {
	if c.exact[host] {
		return true
	}
	for _, s := range c.suffixes {
		if strings.HasSuffix(host, s) && len(host) > len(s) {
			return true
		}
	}
	return false
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		hostport = h
	}
	return strings.ToLower(strings.Trim(hostport, "[]"))
}
