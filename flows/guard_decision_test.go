package flows

import (
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/caddyauth/gateway/internal/policy"
	"github.com/caddyauth/gateway/internal/session"
	"github.com/caddyauth/gateway/store"
)

// TestGuardDecide judges targets apart from any answer: the verdict, the
// identity with the credential it came from, the error body and where a
// browser would be sent. A verify endpoint answers these same decisions.
func TestGuardDecide(t *testing.T) {
	ctx := context.Background()
	mgr := func(e *env) *session.Manager { return e.svc.deps.Sessions }
	stage := func(pending string) func(e *env) string {
		return func(e *env) string {
			id, err := mgr(e).CreateWith(ctx, e.alice, session.Options{AuthMethod: "password", Pending: pending})
			if err != nil {
				t.Fatal(err)
			}
			return id.Token
		}
	}
	full := func(mfa string) func(e *env) string {
		return func(e *env) string {
			id, err := mgr(e).CreateWith(ctx, e.alice, session.Options{AuthMethod: "password", MFAMethod: mfa})
			if err != nil {
				t.Fatal(err)
			}
			return id.Token
		}
	}
	dead := func(*env) string { return "no-such-session-token" }
	admins := policy.Policy{Allow: []policy.Rule{{Kind: policy.KindGroup, Values: []string{"admins"}}}}

	for _, tc := range []struct {
		name     string
		gcfg     GuardConfig
		target   string
		token    func(*env) string
		down     bool
		verdict  Verdict
		source   CredentialSource
		code     string
		redirect string
	}{
		{"portal path", GuardConfig{}, "/auth/login", nil, false, VerdictPortal, SourceNone, "", ""},
		{"public path, anonymous", GuardConfig{Public: []string{"/pub/*"}}, "/pub/a", nil, false, VerdictPublic, SourceNone, "", ""},
		{"public path, signed in", GuardConfig{Public: []string{"/pub/*"}}, "/pub/a", full(""), false, VerdictPublic, SourceCookie, "", ""},
		{"signed in", GuardConfig{}, "/app?x=1", full(""), false, VerdictAllow, SourceCookie, "", ""},
		{"no credential", GuardConfig{}, "/app?x=1", nil, false, VerdictAnonymous, SourceNone, CodeUnauthenticated, "/auth/login?rd=%2Fapp%3Fx%3D1"},
		{"dead credential", GuardConfig{}, "/app", dead, false, VerdictAnonymous, SourceNone, CodeSessionExpired, "/auth/login?rd=%2Fapp"},
		{"external portal", GuardConfig{PortalURL: "https://login.example.test/auth"}, "/app", nil, false, VerdictAnonymous, SourceNone, CodeUnauthenticated, "https://login.example.test/auth/login?rd=https%3A%2F%2Fapp.example.test%2Fapp"},
		{"challenge stage", GuardConfig{}, "/app", stage(store.PendingMFA), false, VerdictStage, SourceNone, CodeMFARequired, "/auth/mfa/challenge?rd=%2Fapp"},
		{"enrolment stage", GuardConfig{}, "/app", stage(store.PendingEnrol), false, VerdictStage, SourceNone, CodeMFARequired, "/auth/mfa/setup?rd=%2Fapp"},
		{"stage, external portal", GuardConfig{PortalURL: "https://login.example.test/auth"}, "/app", stage(store.PendingMFA), false, VerdictAnonymous, SourceNone, CodeSessionExpired, "https://login.example.test/auth/login?rd=https%3A%2F%2Fapp.example.test%2Fapp"},
		{"policy refuses", GuardConfig{Policy: admins}, "/app", full(""), false, VerdictForbidden, SourceCookie, CodeForbidden, ""},
		{"step up", GuardConfig{RequireMFA: true}, "/app", full(""), false, VerdictStepUp, SourceCookie, CodeMFARequired, "/auth/mfa/challenge?rd=%2Fapp"},
		{"mfa passed", GuardConfig{RequireMFA: true}, "/app", full("totp"), false, VerdictAllow, SourceCookie, "", ""},
		{"store down", GuardConfig{}, "/app", full(""), true, VerdictUnavailable, SourceNone, CodeStoreUnavailable, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Config{}, tc.gcfg)
			h := http.Header{"Accept": {"text/html"}}
			if tc.token != nil {
				h["Cookie"] = []string{"theme=dark; " + e.svc.CookieName() + "=" + tc.token(e)}
			}
			before := maps.Clone(h)
			u, _ := url.ParseRequestURI(tc.target)
			e.ss.down = tc.down
			d := e.guard.Decide(ctx, Target{Method: "GET", Scheme: "https", Host: "app.example.test", URL: u, Header: h}, nil)
			if d.Verdict != tc.verdict || d.Source != tc.source {
				t.Fatalf("verdict %v source %v, want %v %v", d.Verdict, d.Source, tc.verdict, tc.source)
			}
			if (d.Identity != nil) != (tc.source != SourceNone) {
				t.Errorf("identity %v with source %v", d.Identity, d.Source)
			}
			if d.Identity != nil && d.Identity.User.ID != e.alice.ID {
				t.Errorf("identity of %s", d.Identity.User.ID)
			}
			code := ""
			if d.Err != nil {
				code = d.Err.Code
			}
			if code != tc.code {
				t.Errorf("error code %q, want %q", code, tc.code)
			}
			if got := d.Redirect(); got != tc.redirect {
				t.Errorf("redirect %q, want %q", got, tc.redirect)
			}
			if tc.down && d.Cause == nil {
				t.Error("an unavailable decision carries no cause")
			}
			if !maps.EqualFunc(h, before, func(a, b []string) bool { return len(a) == len(b) && (len(a) == 0 || a[0] == b[0]) }) {
				t.Errorf("Decide changed the target's headers: %v", h)
			}
		})
	}
}

// TestGuardDecidePrior: an identity an earlier guard admitted is judged by
// this guard's rules without a credential lookup (the cookie is gone).
func TestGuardDecidePrior(t *testing.T) {
	e := newEnv(t, Config{}, GuardConfig{RequireMFA: true})
	prior := &session.Identity{User: *e.alice}
	u, _ := url.ParseRequestURI("/admin")
	d := e.guard.Decide(context.Background(), Target{Method: "GET", URL: u, Header: http.Header{}}, prior)
	if d.Verdict != VerdictStepUp || d.Identity != prior || !d.SawCredential {
		t.Fatalf("decision %+v", d)
	}
}

// TestGuardDecideNoAllocCached keeps the decision off the allocator on
// the hot path: a signed-in request served from the session cache.
func TestGuardDecideNoAllocCached(t *testing.T) {
	gb := newGuardBench(t, 0)
	r := httptest.NewRequest("GET", "http://app.example.test/api/items?page=2", nil)
	r.Header["Cookie"] = gb.cookieLine()
	tgt := TargetOf(r)
	ctx := r.Context()
	if d := gb.guard.Decide(ctx, tgt, nil); d.Verdict != VerdictAllow {
		t.Fatalf("verdict %v", d.Verdict)
	}
	if n := testing.AllocsPerRun(100, func() { _ = gb.guard.Decide(ctx, tgt, nil) }); n != 0 {
		t.Fatalf("Decide allocates %.0f times per cached request", n)
	}
}
