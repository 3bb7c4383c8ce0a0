package flows

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/totp"
)

func TestMFATrustedDevice(t *testing.T) {
	m := newMFAEnv(t, MFAConfig{}, GuardConfig{})
	secret, _, _ := m.enrol(m.login(alicePW))
	stage, _ := m.passwordStage()
	m.clk.Advance(totp.Period * time.Second)
	code, _ := totp.Code(secret, m.clk.Now())
	res := m.challenge(stage, `{"method":"totp","code":"`+code+`","trust_device":true}`)
	if res.StatusCode != 200 {
		t.Fatalf("challenge: %d", res.StatusCode)
	}
	var trust *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == m.svc.cfg.MFA.TrustCookie {
			trust = c
		}
	}
	if trust == nil || !trust.HttpOnly || !trust.Secure || trust.MaxAge != 14*24*3600 {
		t.Fatalf("trust cookie = %+v", trust)
	}
	tok := body(t, res)["device_token"].(string)
	if tok != trust.Value {
		t.Error("device_token differs from the cookie")
	}
	// Cookie: the next password login skips the challenge.
	_, ans := m.passwordStage(func(r *http.Request) { r.AddCookie(trust) })
	if ans["authenticated"] != true {
		t.Fatalf("login with a trusted device cookie: %v", ans)
	}
	// The trust cookie is a credential of the gateway: never forwarded.
	full0 := m.loginTrusted(trust)
	r0 := withCookie(withCookie(jsonReq("GET", "/app", ""), full0), trust)
	r0.AddCookie(&http.Cookie{Name: "app_pref", Value: "dark"})
	if b, _ := io.ReadAll(m.do(r0).Body); strings.Contains(string(b), tok) || !strings.Contains(string(b), "app_pref=dark") {
		t.Errorf("upstream cookies after the guard: %s (trust token must go, app cookie must stay)", b)
	}
	// Header, for non-browser clients, in either spelling (Caddy drops
	// underscore names unless allowed); never forwarded upstream.
	for _, name := range []string{"nest_auth_device_trust", "Nest-Auth-Device-Trust"} {
		_, ans = m.passwordStage(func(r *http.Request) { r.Header.Set(name, tok) })
		if ans["authenticated"] != true {
			t.Fatalf("login with the trust header %s: %v", name, ans)
		}
		full := m.loginTrusted(trust)
		r := withCookie(jsonReq("GET", "/app", ""), full)
		r.Header.Set(name, tok)
		if b, _ := io.ReadAll(m.do(r).Body); strings.Contains(string(b), tok) {
			t.Errorf("trust header %s forwarded upstream", name)
		}
	}
	// A forged token does nothing.
	_, ans = m.passwordStage(func(r *http.Request) { r.Header.Set("nest_auth_device_trust", strings.Repeat("A", 43)) })
	if ans["mfa_required"] != true {
		t.Fatalf("forged trust token skipped MFA: %v", ans)
	}
	// A session opened by the trusted device alone cannot change factors:
	// a password plus a stolen trust cookie must not take over MFA.
	full := m.loginTrusted(trust)
	for _, req := range []*http.Request{jsonReq("POST", "/auth/mfa/recovery-codes", `{}`), jsonReq("POST", "/auth/mfa/totp/setup", `{}`)} {
		if e := decodeErr(t, m.do(withCookie(req, full))); e.Code != CodeMFARequired {
			t.Errorf("%s from a trusted-device session: %v, want MFA_REQUIRED", req.URL.Path, e)
		}
	}
	// Listed and revocable by the user; revoked devices no longer skip.
	res = m.do(withCookie(jsonReq("GET", "/auth/mfa/trusted-devices", ""), full))
	var l struct {
		Devices []trustedView `json:"trusted_devices"`
	}
	_ = json.NewDecoder(res.Body).Decode(&l)
	if len(l.Devices) != 1 {
		t.Fatalf("trusted devices = %+v", l)
	}
	res = m.do(withCookie(jsonReq("DELETE", "/auth/mfa/trusted-devices/"+l.Devices[0].ID, ""), full))
	if res.StatusCode != 200 {
		t.Fatalf("revoke: %d", res.StatusCode)
	}
	_, ans = m.passwordStage(func(r *http.Request) { r.AddCookie(trust) })
	if ans["mfa_required"] != true {
		t.Fatalf("revoked trusted device still skips MFA: %v", ans)
	}
	if !m.aud.has(audit.TrustedDeviceAdded) || !m.aud.has(audit.TrustedDeviceGone) {
		t.Error("trusted device audit events missing")
	}
}

func (m *mfaEnv) loginTrusted(trust *http.Cookie) *http.Cookie {
	c, ans := m.passwordStage(func(r *http.Request) { r.AddCookie(trust) })
	if ans["authenticated"] != true {
		m.t.Fatalf("trusted login: %v", ans)
	}
	return c
}
