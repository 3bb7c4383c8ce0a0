package flows

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// The headers a proxy describes the original request with. nginx's
// auth_request has no standard set: the recipe sends X-Original-URL (and
// X-Original-Method); Caddy's forward_auth, Traefik's ForwardAuth and most
// others send the X-Forwarded-* four.
const (
	hdrOriginalURL    = "X-Original-Url"
	hdrOriginalMethod = "X-Original-Method"
	hdrFwdMethod      = "X-Forwarded-Method"
	hdrFwdProto       = "X-Forwarded-Proto"
	hdrFwdHost        = "X-Forwarded-Host"
	hdrFwdURI         = "X-Forwarded-Uri"
)

// maxForwardedLen bounds each forwarded header: the original URL is at most
// what a browser sends in a request line, and a longer one is not ours.
const maxForwardedLen = 8192

// errForwarded is a forwarded header that does not describe a request: a
// bad or ambiguous value is refused, never guessed at.
var errForwarded = errors.New("malformed forwarded request header")

// dialect is how a proxy wants a browser sent to the sign-in page.
type dialect uint8

const (
	// dialectRedirect: answer 302 (Caddy forward_auth, Traefik, a direct
	// call).
	dialectRedirect dialect = iota
	// dialectNginx: nginx's auth_request turns any answer other than 2xx,
	// 401 and 403 into a 500, so the sign-in URL rides in a 401's
	// X-Auth-Redirect header for the recipe's error_page.
	dialectNginx
)

// forwardedTarget reads the original request a proxy describes in h. ok is
// false when h describes none (no X-Original-URL, no X-Forwarded-Host or
// -Uri); err is set when it tries and the description is malformed,
// repeated or ambiguous. It only parses: whether h may be believed (it
// came from a trusted proxy) is the caller's question.
func forwardedTarget(h http.Header) (t Target, d dialect, ok bool, err error) {
	if _, has := h[hdrOriginalURL]; has {
		raw, err := single(h, hdrOriginalURL)
		if err != nil {
			return t, 0, true, err
		}
		method, err := forwardedMethod(h, hdrOriginalMethod)
		if err != nil {
			return t, 0, true, err
		}
		u, err := url.Parse(raw)
		if err != nil || u.Opaque != "" || u.User != nil || u.Fragment != "" {
			return t, 0, true, errForwarded
		}
		scheme := strings.ToLower(u.Scheme)
		if scheme != "http" && scheme != "https" || !validHost(u.Host) {
			return t, 0, true, errForwarded
		}
		if u.Path == "" {
			u.Path = "/"
		} else if u.Path[0] != '/' {
			return t, 0, true, errForwarded
		}
		path := &url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}
		return Target{Method: method, Scheme: scheme, Host: strings.ToLower(u.Host), URL: path, Header: h}, dialectNginx, true, nil
	}
	_, hasHost := h[hdrFwdHost]
	_, hasURI := h[hdrFwdURI]
	if !hasHost && !hasURI {
		return t, 0, false, nil
	}
	host, err := single(h, hdrFwdHost)
	if err != nil || !validHost(host) {
		return t, 0, true, errForwarded
	}
	uri, err := single(h, hdrFwdURI)
	// No fragment: a browser never sends one, so one here is not a
	// request line.
	if err != nil || uri == "" || uri[0] != '/' || strings.HasPrefix(uri, "//") || strings.ContainsRune(uri, '#') {
		return t, 0, true, errForwarded
	}
	u, err := url.ParseRequestURI(uri)
	if err != nil || u.Host != "" || u.Fragment != "" {
		return t, 0, true, errForwarded
	}
	scheme := "https"
	if _, has := h[hdrFwdProto]; has {
		p, err := single(h, hdrFwdProto)
		if err != nil {
			return t, 0, true, err
		}
		scheme = strings.ToLower(p)
		if scheme != "http" && scheme != "https" {
			return t, 0, true, errForwarded
		}
	}
	method, err := forwardedMethod(h, hdrFwdMethod)
	if err != nil {
		return t, 0, true, err
	}
	return Target{Method: method, Scheme: scheme, Host: strings.ToLower(host), URL: u, Header: h}, dialectRedirect, true, nil
}

// single is the one value of a forwarded header: a repeated header or a
// comma list (a proxy chain appending its own) is ambiguous, since which
// hop's value is the client's is not ours to guess.
func single(h http.Header, key string) (string, error) {
	vs := h[key]
	if len(vs) != 1 || len(vs[0]) > maxForwardedLen {
		return "", errForwarded
	}
	v := strings.TrimSpace(vs[0])
	if v == "" || strings.ContainsRune(v, ',') && key != hdrOriginalURL && key != hdrFwdURI {
		return "", errForwarded
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x21 || v[i] == 0x7f {
			return "", errForwarded
		}
	}
	return v, nil
}

// forwardedMethod is the original method (GET when the proxy does not
// say): an HTTP token in upper case.
func forwardedMethod(h http.Header, key string) (string, error) {
	if _, has := h[key]; !has {
		return http.MethodGet, nil
	}
	m, err := single(h, key)
	if err != nil || len(m) > 32 {
		return "", errForwarded
	}
	for i := 0; i < len(m); i++ {
		if c := m[i] | 0x20; c < 'a' || c > 'z' {
			return "", errForwarded
		}
	}
	return strings.ToUpper(m), nil
}

// validHost: a host name or IP literal with an optional port, nothing a
// URL would read as something else.
func validHost(h string) bool {
	if h == "" || len(h) > 255+6 || strings.ContainsAny(h, "/\\@?#%, ") {
		return false
	}
	name, port := h, ""
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return false
		}
		if ip := net.ParseIP(h[1:end]); ip == nil || ip.To4() != nil {
			return false
		}
		name, port = "", h[end+1:]
		if port != "" {
			if port[0] != ':' {
				return false
			}
			port = port[1:]
			if port == "" {
				return false
			}
		}
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 {
		name, port = h[:i], h[i+1:]
		if port == "" {
			return false
		}
	}
	if port != "" {
		if len(port) > 5 {
			return false
		}
		n := 0
		for i := 0; i < len(port); i++ {
			if port[i] < '0' || port[i] > '9' {
				return false
			}
			n = n*10 + int(port[i]-'0')
		}
		if n < 1 || n > 65535 {
			return false
		}
	}
	if name == "" {
		return strings.HasPrefix(h, "[")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return name[0] != '.' && name[0] != '-'
}
