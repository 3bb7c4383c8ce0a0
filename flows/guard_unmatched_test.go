package flows

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestUnmatchedDropsCredentials (issue 9, item 1): a request outside a
// guard's matcher loses the gateway's credentials (session cookie,
// trusted-device cookie, the trust header in both spellings) and the
// client's identity headers, keeps the app's cookies, and keeps the
// identity headers an earlier guard set; Connection cannot name them.
func TestUnmatchedDropsCredentials(t *testing.T) {
	e := newEnv(t, Config{}, GuardConfig{})
	c := e.login(alicePW)
	trustCookie, trustHeader := e.svc.cfg.MFA.TrustCookie, e.svc.cfg.MFA.TrustHeader
	for _, tc := range []struct {
		name        string
		cookies     []string
		wantCookie  []string
		wantRemoved bool
		prior       bool
	}{
		{"session and trust cookies among the app's", []string{"theme=dark; " + c.Name + "=" + c.Value + "; " + trustCookie + "=t0ken; lang=en"}, []string{"theme=dark; lang=en"}, true, false},
		{"several Cookie lines", []string{c.Name + "=" + c.Value, "a=1", trustCookie + "=t0ken"}, []string{"a=1"}, true, false},
		{"only gateway cookies", []string{c.Name + "=" + c.Value + "; " + trustCookie + "=t0ken"}, nil, true, false},
		{"only the app's cookies", []string{"theme=dark"}, []string{"theme=dark"}, false, false},
		{"no cookie", nil, nil, false, false},
		{"after an earlier guard admitted alice", []string{"theme=dark"}, []string{"theme=dark"}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.cookies != nil {
				h["Cookie"] = tc.cookies
			}
			h.Set(trustHeader, "t0ken") // Nest_auth_device_trust, as the server canonicalises it
			h.Set("Nest-Auth-Device-Trust", "t0ken")
			h["Remote_User"] = []string{"spoofed"}
			h.Set("Remote-Groups", "admins")
			h.Set("Connection", "keep-alive, Remote-User, remote_groups")
			var removed bool
			if tc.prior {
				r := withCookie(httptest.NewRequest("GET", "/app", nil), c)
				prior, out := e.guard.Check(httptest.NewRecorder(), r)
				if out != Authenticated {
					t.Fatal(out)
				}
				removed = e.guard.Unmatched(h, prior, e.guard)
				if h.Get("Remote-User") != e.alice.ID || h.Get("Remote-Groups") != "finance,staff" {
					t.Errorf("earlier guard's headers not kept: %v", h)
				}
			} else {
				removed = e.guard.Unmatched(h, nil, nil)
				for _, k := range []string{"Remote-User", "Remote-Groups"} {
					if _, ok := h[k]; ok {
						t.Errorf("client's %s reached the next handler: %q", k, h[k])
					}
				}
			}
			if removed != tc.wantRemoved {
				t.Errorf("cookieRemoved = %v, want %v", removed, tc.wantRemoved)
			}
			if got := h["Cookie"]; len(got) != len(tc.wantCookie) || len(got) == 1 && got[0] != tc.wantCookie[0] {
				t.Errorf("Cookie = %q, want %q", got, tc.wantCookie)
			}
			for k, v := range h {
				if sameHeader(k, normHeader(trustHeader)) || k == "Remote_User" || len(v) == 1 && (v[0] == "t0ken" || v[0] == "spoofed") {
					t.Errorf("%s: %q reached the next handler", k, v)
				}
			}
			if got := h["Connection"]; len(got) != 1 || got[0] != "keep-alive" {
				t.Errorf("Connection = %q, want [keep-alive]", got)
			}
		})
	}
}
