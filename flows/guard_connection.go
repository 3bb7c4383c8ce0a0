package flows

import (
	"net/http"
	"strings"
)

// scrubConnection removes from the request's Connection header every token
// that names one of this guard's identity headers, in any case and with
// '_' for '-'. A proxy deletes the headers that Connection names before it
// forwards the request (RFC 9110 7.6.1; Caddy's reverse_proxy does), so a
// client sending `Connection: Remote-User, Remote-Groups` would otherwise
// choose which of the injected headers reach the app: an app that falls
// back when Remote-User is absent, or restricts by group, is fooled. Other
// tokens (keep-alive, Upgrade, the app's own) stay.
//
// It runs on every request of the site (public paths, paths outside a
// matcher) and allocates only when a line names an identity header.
// HTTP/2 and HTTP/3 requests cannot carry Connection at all: Go's and
// quic-go's servers refuse them before any handler runs.
func (g *Guard) scrubConnection(h http.Header) {
	lines := h["Connection"]
	for i, l := range lines {
		if !g.namesIdentityHeader(l) {
			continue
		}
		// Copy on the first change: the slice may be shared with the
		// caller (a test or an earlier handler kept the client's lines).
		out := make([]string, 0, len(lines))
		out = append(out, lines[:i]...)
		for _, l := range lines[i:] {
			if l = g.withoutIdentityTokens(l); l != "" {
				out = append(out, l)
			}
		}
		if len(out) == 0 {
			delete(h, "Connection")
		} else {
			h["Connection"] = out
		}
		return
	}
}

// namesIdentityHeader reports whether the Connection line l has a token
// that names an identity header, without allocating.
func (g *Guard) namesIdentityHeader(l string) bool {
	for l != "" {
		var tok string
		tok, l, _ = strings.Cut(l, ",")
		if g.isIdentityHeader(trimOWS(tok)) {
			return true
		}
	}
	return false
}

// withoutIdentityTokens is the Connection line l without its tokens that
// name identity headers (and without empty elements).
func (g *Guard) withoutIdentityTokens(l string) string {
	var b strings.Builder
	for l != "" {
		var tok string
		tok, l, _ = strings.Cut(l, ",")
		if tok = trimOWS(tok); tok == "" || g.isIdentityHeader(tok) {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(tok)
	}
	return b.String()
}

// isIdentityHeader reports whether name is one of this guard's identity
// header names in any case or '_'/'-' spelling.
func (g *Guard) isIdentityHeader(name string) bool {
	for _, s := range g.strip {
		if sameHeader(name, s) {
			return true
		}
	}
	return false
}

// trimOWS trims what textproto.TrimString trims (the proxy splits and
// trims Connection the same way): ASCII space, tab, CR and LF.
func trimOWS(s string) string {
	for len(s) > 0 && isOWS(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isOWS(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func isOWS(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
