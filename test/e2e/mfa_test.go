package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/notify"
	"github.com/caddyauth/gateway/test/harness"
)

// oathtool computes a TOTP code with Debian's oathtool (an independent
// RFC 6238 implementation) for the time at.
func oathtool(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	out, err := exec.Command("oathtool", "--totp", "-b", "-N", "@"+strconv.FormatInt(at.Unix(), 10), secret).Output()
	if err != nil {
		t.Fatalf("oathtool (apt-get install oathtool; scripts/test.sh installs it): %v", err)
	}
	code := strings.TrimSpace(string(out))
	harness.SensitiveCode(code)
	return code
}

func stringsOf(v any) []string {
	var out []string
	if l, ok := v.([]any); ok {
		for _, x := range l {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// TestMFA walks the second factor through the built binary: enrol an
// authenticator, log in again and get a challenge stage that reaches
// nothing, pass it with a code computed by oathtool, see the same code
// refused, use a recovery code once, trust the device and skip the
// challenge, and see a `require mfa` path refuse a password-only session.
func TestMFA(t *testing.T) {
	t.Parallel()
	g := newGateway(t, func(c *harness.GatewayConfig) {
		c.SiteExtra = []string{"protect /strict* {\n\t\trequire mfa\n\t}"}
		// Caddy drops header names with underscores unless allowed.
		c.ServerOptions = []string{"expected_underscore_headers nest_auth_device_trust"}
		// Caddy's access log redacts Cookie but not this header: the
		// documented filter keeps the token out of the log.
		c.LogFields = []string{"request>headers>Nest_auth_device_trust delete"}
	})
	pw, bobPW := newPassword(), newPassword()
	g.addUser("alice@example.test", "Alice", pw)
	g.addUser("bob@example.test", "Bob", bobPW)
	g.start()

	c := g.client()
	r := c.Login("alice@example.test", pw)
	if r.JSON()["authenticated"] != true {
		t.Fatalf("first login without MFA: %s", r)
	}
	// A password-only session cannot enter the require-mfa path.
	expectError(t, c.Get("/strict/x", api...), http.StatusForbidden, "MFA_REQUIRED")
	r = c.Get("/strict/x", browser...)
	if loc := r.Header.Get("Location"); r.StatusCode != http.StatusFound || !strings.HasPrefix(loc, "/auth/mfa/challenge?rd=") {
		t.Fatalf("browser step-up: %s", r)
	}

	// Enrol.
	r = c.PostJSON("/auth/mfa/totp/setup", map[string]string{"name": "phone"})
	expectStatus(t, r, http.StatusOK)
	setup := r.JSON()
	secret, _ := setup["secret"].(string)
	harness.Sensitive(secret)
	if len(secret) < 32 || !strings.HasPrefix(setup["otpauth_url"].(string), "otpauth://totp/") || len(setup["qr_png"].(string)) < 200 {
		t.Fatalf("setup answer: %v", setup)
	}
	enrolAt := time.Now()
	r = c.PostJSON("/auth/mfa/totp/verify", map[string]string{"code": oathtool(t, secret, enrolAt)})
	expectStatus(t, r, http.StatusOK)
	codes := stringsOf(r.JSON()["recovery_codes"])
	if len(codes) != 10 {
		t.Fatalf("recovery codes: %s", r)
	}
	harness.Sensitive(codes...)
	// The verified code upgraded this session: the strict path opens.
	expectStatus(t, c.Get("/strict/x", api...), http.StatusOK)

	login := func(c *harness.Client) map[string]any {
		t.Helper()
		c.ClearCookiesExcept(trustCookie)
		return c.Login("alice@example.test", pw).JSON()
	}

	// Log out; the password now yields only a challenge stage.
	c2 := g.client()
	ans := login(c2)
	if ans["mfa_required"] != true || !contains(stringsOf(ans["methods"]), "totp") || !contains(stringsOf(ans["methods"]), "recovery") {
		t.Fatalf("login with MFA enrolled: %v", ans)
	}
	for _, p := range []string{"/app", "/strict/x"} {
		expectError(t, c2.Get(p, api...), http.StatusUnauthorized, "MFA_REQUIRED")
	}
	expectError(t, c2.Get("/auth/session", api...), http.StatusUnauthorized, "MFA_REQUIRED")
	if r := c2.Get("/app", browser...); r.StatusCode != http.StatusFound || !strings.HasPrefix(r.Header.Get("Location"), "/auth/mfa/challenge?rd=") {
		t.Fatalf("browser with a challenge stage: %s", r)
	}
	expectError(t, c2.PostJSON("/auth/mfa/totp/setup", map[string]string{}), http.StatusForbidden, "MFA_REQUIRED")

	// A code from oathtool for the next step (within the allowed drift,
	// after the enrolment's) passes; the session rotates.
	stageTok := c2.Cookie(cookieName)
	code := oathtool(t, secret, enrolAt.Add(30*time.Second))
	r = c2.PostJSON("/auth/mfa/challenge", map[string]any{"method": "totp", "code": code})
	expectStatus(t, r, http.StatusOK)
	if c2.Cookie(cookieName) == stageTok || r.JSON()["mfa"] != "totp" {
		t.Fatalf("challenge did not rotate into an MFA session: %s", r)
	}
	if e := c2.Get("/strict/x", api...).Echo(); e == nil {
		t.Fatal("MFA session refused on the strict path")
	}

	// The same code again is refused.
	c3 := g.client()
	login(c3)
	expectError(t, c3.PostJSON("/auth/mfa/challenge", map[string]any{"method": "totp", "code": code}), http.StatusUnauthorized, "MFA_CODE_INVALID")

	// A recovery code works once (and here also trusts the device).
	r = c3.PostJSON("/auth/mfa/challenge", map[string]any{"method": "recovery", "code": codes[0], "trust_device": true})
	expectStatus(t, r, http.StatusOK)
	devTok, _ := r.JSON()["device_token"].(string)
	harness.Sensitive(devTok)
	if devTok == "" || c3.Cookie(trustCookie) != devTok {
		t.Fatalf("trusted device: token given %v, cookie matches %v", devTok != "", c3.Cookie(trustCookie) == devTok)
	}
	c4 := g.client()
	login(c4)
	expectError(t, c4.PostJSON("/auth/mfa/challenge", map[string]any{"method": "recovery", "code": codes[0]}), http.StatusUnauthorized, "MFA_CODE_INVALID")

	// The trusted browser skips the challenge at its next login...
	if ans := login(c3); ans["authenticated"] != true {
		t.Fatalf("login from the trusted device: %v", ans)
	}
	expectStatus(t, c3.Get("/strict/x", api...), http.StatusOK)
	// ...and so does a non-browser client sending the header.
	c5 := g.client()
	r = c5.PostJSON("/auth/login", map[string]string{"email": "alice@example.test", "password": pw}, "nest_auth_device_trust", devTok)
	if r.JSON()["authenticated"] != true {
		t.Fatalf("login with the trust header: %s", r)
	}

	// Bob, without MFA, keeps password-only access outside the strict path.
	b := g.client()
	b.Login("bob@example.test", bobPW)
	expectStatus(t, b.Get("/app", api...), http.StatusOK)
	expectError(t, b.Get("/strict/x", api...), http.StatusForbidden, "MFA_REQUIRED")

	// reset-mfa from the CLI ends alice's sessions and factors.
	out, errOut, code2 := g.cli("", "auth", "user", "reset-mfa", "alice@example.test", "--config", g.cfgPath)
	if code2 != 0 || !strings.Contains(out, "MFA reset") {
		t.Fatalf("reset-mfa: %d %s %s", code2, out, errOut)
	}
	expectError(t, c3.Get("/app", api...), http.StatusUnauthorized, "SESSION_EXPIRED")
	if ans := login(c3); ans["authenticated"] != true {
		t.Fatalf("after reset the trusted device must not matter and no MFA is asked: %v", ans)
	}
}

const trustCookie = "__Host-caddyauth_trust"

// TestMFAEmailCode: a second-factor code goes through the outbox to a real
// SMTP server (mailpit), is read back and used once; when the SMTP server is
// down at first, the worker retries and the code still arrives.
func TestMFAEmailCode(t *testing.T) {
	t.Parallel()
	mp := harness.StartMailpit(t)
	g := newGateway(t, func(c *harness.GatewayConfig) {
		c.AppOptions = append(c.AppOptions, mp.EmailOption())
	})
	pw := newPassword()
	g.addUser("carol@example.test", "Carol", pw)
	g.start()

	c := g.client()
	c.Login("carol@example.test", pw)
	r := c.PostJSON("/auth/mfa/totp/setup", map[string]string{"name": "phone"})
	expectStatus(t, r, http.StatusOK)
	secret := r.JSON()["secret"].(string)
	harness.Sensitive(secret)
	r = c.PostJSON("/auth/mfa/totp/verify", map[string]string{"code": oathtool(t, secret, time.Now())})
	expectStatus(t, r, http.StatusOK)
	harness.Sensitive(stringsOf(r.JSON()["recovery_codes"])...)

	stage := g.client()
	ans := stage.Login("carol@example.test", pw).JSON()
	if !contains(stringsOf(ans["methods"]), "email") || contains(stringsOf(ans["methods"]), "sms") {
		t.Fatalf("methods with an email sender and no SMS sender: %v", ans["methods"])
	}
	r = stage.PostJSON("/auth/mfa/send", map[string]string{"method": "email"})
	expectStatus(t, r, http.StatusOK)
	if r.JSON()["to"] != "c***@example.test" {
		t.Errorf("masked destination = %v", r.JSON()["to"])
	}
	mail := mp.WaitFor("carol@example.test", 15*time.Second)
	code := mail.Code()
	harness.SensitiveCode(code)
	if len(code) != 6 || !strings.Contains(mail.Subject, "verification code") {
		t.Fatalf("mail: subject %q, code length %d", mail.Subject, len(code))
	}
	expectError(t, stage.PostJSON("/auth/mfa/challenge", map[string]any{"method": "email", "code": "000000"}), http.StatusUnauthorized, "MFA_CODE_INVALID")
	r = stage.PostJSON("/auth/mfa/challenge", map[string]any{"method": "email", "code": code})
	expectStatus(t, r, http.StatusOK)
	if r.JSON()["mfa"] != "email" {
		t.Fatalf("challenge answer: %s", r)
	}
	expectStatus(t, stage.Get("/app", api...), http.StatusOK)

	// Single use: the same code does not open a second stage.
	again := g.client()
	again.Login("carol@example.test", pw)
	expectError(t, again.PostJSON("/auth/mfa/challenge", map[string]any{"method": "email", "code": code}), http.StatusUnauthorized, "MFA_CODE_INVALID")

	// SMTP down when the code is queued: the request does not wait, the
	// worker retries, and the mail arrives once the server is back.
	if err := mp.DeleteAll(); err != nil {
		t.Fatal(err)
	}
	mp.Stop()
	start := time.Now()
	r = again.PostJSON("/auth/mfa/send", map[string]string{"method": "email"})
	expectStatus(t, r, http.StatusOK)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("send waited %s for a dead SMTP server", took)
	}
	time.Sleep(time.Second)
	mp.Restart()
	mail = mp.WaitFor("carol@example.test", 40*time.Second)
	code = mail.Code()
	harness.SensitiveCode(code)
	expectStatus(t, again.PostJSON("/auth/mfa/challenge", map[string]any{"method": "email", "code": code}), http.StatusOK)
}

// TestMFASMSCode: a user with a phone gets a code by SMS through the signed
// webhook sender; the receiving gateway checks the signature as the docs
// say, reads the code and the user passes the challenge with it.
func TestMFASMSCode(t *testing.T) {
	t.Parallel()
	secret := "sms-" + harness.RandomSecret()[:24]
	harness.Sensitive(secret)
	type sms struct{ to, text string }
	got := make(chan sms, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !notify.VerifySignature([]byte(secret), r.Header.Get(notify.HeaderTimestamp), r.Header.Get(notify.HeaderSignature), body, time.Now(), 5*time.Minute) {
			t.Errorf("SMS webhook: bad signature")
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var m struct {
			Channel, To, Text string
		}
		if err := json.Unmarshal(body, &m); err != nil || m.Channel != "sms" {
			t.Errorf("SMS webhook body: %v channel %q", err, m.Channel)
		}
		got <- sms{m.To, m.Text}
	}))
	t.Cleanup(hook.Close)
	g := newGateway(t, func(c *harness.GatewayConfig) {
		c.AppOptions = append(c.AppOptions, "sms webhook "+hook.URL+" {\n\t\t\tsecret "+secret+"\n\t\t}")
		c.ProtectOptions = append(c.ProtectOptions, "require mfa")
	})
	pw := newPassword()
	out, errOut, code := g.cli(pw, "auth", "user", "add", "--config", g.cfgPath, "--email", "erin@example.test", "--phone", "+15551234567", "--phone-verified", "--password-stdin")
	if code != 0 {
		t.Fatalf("user add --phone: %s %s", out, errOut)
	}
	g.start()

	c := g.client()
	c.Login("erin@example.test", pw)
	r := c.PostJSON("/auth/mfa/totp/setup", map[string]string{"name": "phone"})
	expectStatus(t, r, http.StatusOK)
	totpSecret := r.JSON()["secret"].(string)
	harness.Sensitive(totpSecret)
	r = c.PostJSON("/auth/mfa/totp/verify", map[string]string{"code": oathtool(t, totpSecret, time.Now())})
	expectStatus(t, r, http.StatusOK)
	harness.Sensitive(stringsOf(r.JSON()["recovery_codes"])...)

	s := g.client()
	ans := s.Login("erin@example.test", pw).JSON()
	if !contains(stringsOf(ans["methods"]), "sms") || contains(stringsOf(ans["methods"]), "email") {
		t.Fatalf("methods with an SMS sender only: %v", ans["methods"])
	}
	r = s.PostJSON("/auth/mfa/send", map[string]string{"method": "sms"})
	expectStatus(t, r, http.StatusOK)
	if r.JSON()["to"] != "***67" {
		t.Errorf("masked number = %v", r.JSON()["to"])
	}
	var msg sms
	select {
	case msg = <-got:
	case <-time.After(15 * time.Second):
		t.Fatal("no SMS reached the webhook")
	}
	smsCode := regexp.MustCompile(`\b\d{6}\b`).FindString(msg.text)
	harness.SensitiveCode(smsCode)
	if msg.to != "+15551234567" || smsCode == "" {
		t.Fatalf("SMS to %q, code found %v", msg.to, smsCode != "")
	}
	r = s.PostJSON("/auth/mfa/challenge", map[string]any{"method": "sms", "code": smsCode})
	expectStatus(t, r, http.StatusOK)
	expectStatus(t, s.Get("/app", api...), http.StatusOK) // a require-mfa site: the SMS code counts
}
