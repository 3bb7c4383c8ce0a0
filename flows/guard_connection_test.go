package flows

import (
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"testing"
)

// hopByHop applies RFC 9110 7.6.1 the way Caddy's reverse_proxy does
// (removeConnectionHeaders in modules/caddyhttp/reverseproxy): every header
// a Connection line names is deleted, then Connection itself.
func hopByHop(h http.Header) {
	for _, line := range h["Connection"] {
		for _, tok := range strings.Split(line, ",") {
			if tok = textproto.TrimString(tok); tok != "" {
				h.Del(tok)
			}
		}
	}
	delete(h, "Connection")
}

// TestConnectionCannotDropIdentityHeaders (issue 9, item 2): a client's
// `Connection: Remote-User, Remote-Groups` made the proxy drop the headers
// the guard injected, so the app saw a signed-in request without a user or
// without groups. The guard removes such tokens from Connection, in every
// spelling and on every Connection line, and keeps the others (keep-alive,
// Upgrade, the app's own hop-by-hop headers).
func TestConnectionCannotDropIdentityHeaders(t *testing.T) {
	e := newEnv(t, Config{}, GuardConfig{Public: []string{"/pub/*"}, Headers: []HeaderTemplate{
		{Name: "X-Auth-Who", Template: "{http.auth.user.email}"},
		{Name: "Remote-Name"}, // dropped default: still the gateway's name
	}})
	c := e.login(alicePW)
	injected := map[string]string{"Remote-User": e.alice.ID, "Remote-Email": "alice@example.test", "Remote-Groups": "finance,staff", "X-Auth-Who": "alice@example.test"}
	for _, tc := range []struct {
		name       string
		connection []string
		keep       []string // tokens that must survive
	}{
		{"the issue's request", []string{"Remote-User, Remote-Groups"}, nil},
		{"lower case", []string{"remote-user,remote-email,remote-groups"}, nil},
		{"upper case with underscores", []string{"REMOTE_USER, Remote_Groups"}, nil},
		{"spaces and tabs", []string{" \tRemote-User\t ,  Remote-Email "}, nil},
		{"empty list elements", []string{",,Remote-User,,"}, nil},
		{"custom header, _ spelling", []string{"x_auth_who"}, nil},
		{"dropped default", []string{"Remote-Name"}, nil},
		{"several lines", []string{"keep-alive", "Remote-User", "Upgrade, REMOTE-GROUPS, X-App-Hop"}, []string{"keep-alive", "Upgrade", "X-App-Hop"}},
		{"only harmless tokens", []string{"keep-alive, Upgrade"}, []string{"keep-alive", "Upgrade"}},
		{"the gateway's other names", []string{"nest_auth_device_trust, " + e.svc.CookieName() + ", Cookie, Remote-User"}, []string{"nest_auth_device_trust", e.svc.CookieName(), "Cookie"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, p := range []string{"/app", "/pub/x"} {
				r := withCookie(httptest.NewRequest("GET", p, nil), c)
				r.Header["Connection"] = append([]string(nil), tc.connection...)
				rec := httptest.NewRecorder()
				_, out := e.guard.Check(rec, r)
				if out == Handled {
					t.Fatalf("%s: handled: %d %s", p, rec.Code, rec.Body)
				}
				var toks []string
				for _, l := range r.Header["Connection"] {
					for _, tok := range strings.Split(l, ",") {
						if tok = textproto.TrimString(tok); tok != "" {
							toks = append(toks, tok)
						}
					}
				}
				if strings.Join(toks, ",") != strings.Join(tc.keep, ",") {
					t.Errorf("%s: Connection tokens after the guard %q, want %q", p, toks, tc.keep)
				}
				if out != Authenticated {
					continue
				}
				hopByHop(r.Header)
				for k, v := range injected {
					if got := r.Header[k]; len(got) != 1 || got[0] != v {
						t.Errorf("%s: upstream %s = %q, want %q", p, k, got, v)
					}
				}
			}
		})
	}
}

// TestConnectionScrubKeepsUntouchedLines: a request that names no identity
// header keeps its Connection lines as sent (the same slice: nothing is
// rebuilt on the hot path).
func TestConnectionScrubKeepsUntouchedLines(t *testing.T) {
	e := newEnv(t, Config{}, GuardConfig{})
	c := e.login(alicePW)
	r := withCookie(httptest.NewRequest("GET", "/app", nil), c)
	lines := []string{"keep-alive, Remote-Userx, XRemote-User, Remote-User-Agent"}
	r.Header["Connection"] = lines
	if _, out := e.guard.Check(httptest.NewRecorder(), r); out != Authenticated {
		t.Fatal(out)
	}
	if got := r.Header["Connection"]; len(got) != 1 || &got[0] != &lines[0] || got[0] != lines[0] {
		t.Errorf("Connection = %q, want the client's line untouched", got)
	}
}
