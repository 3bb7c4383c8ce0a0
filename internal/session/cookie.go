package session

import (
	"net/http"
	"strings"
)

// CookieValues appends to dst the values of every cookie called name in the
// request's Cookie headers, in order, without building the full cookie list
// that r.Cookie does (this runs on every protected request). Several values
// happen when a sibling subdomain sets a cookie of the same name for the
// parent domain ("cookie tossing"); callers try each.
func CookieValues(h http.Header, name string, dst []string) []string {
	for _, line := range h["Cookie"] {
		for len(line) > 0 {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimLeft(part, " \t")
			if len(part) <= len(name) || part[len(name)] != '=' || part[:len(name)] != name {
				continue
			}
			v := strings.TrimRight(part[len(name)+1:], " \t")
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			if v != "" {
				dst = append(dst, v)
			}
		}
	}
	return dst
}
