package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/notify"
	"github.com/caddyauth/gateway/test/harness"
)

// TestPhoneVerifyEndToEnd (issue 12 items 3 and 8) through the binary and
// the signed SMS webhook: a user added without a phone cannot sign in by
// one; they add it (the code goes by SMS to the new number), it signs in
// only after the code comes back, and then reset by SMS reaches it.
func TestPhoneVerifyEndToEnd(t *testing.T) {
	t.Parallel()
	secret := "sms-" + harness.RandomSecret()[:24]
	harness.Sensitive(secret)
	got := make(chan struct{ To, Text string }, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !notify.VerifySignature([]byte(secret), r.Header.Get(notify.HeaderTimestamp), r.Header.Get(notify.HeaderSignature), body, time.Now(), 5*time.Minute) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var m struct{ To, Text string }
		_ = json.Unmarshal(body, &m)
		got <- m
	}))
	t.Cleanup(hook.Close)
	g := newGateway(t, func(c *harness.GatewayConfig) {
		c.AppOptions = append(c.AppOptions, "sms webhook "+hook.URL+" {\n\t\t\tsecret "+secret+"\n\t\t}")
	})
	pw := newPassword()
	g.addUser("pat@example.test", "Pat", pw)
	g.start()
	sms := func() (to, code string) {
		t.Helper()
		select {
		case m := <-got:
			code = regexp.MustCompile(`\b\d{6}\b`).FindString(m.Text)
			harness.SensitiveCode(code)
			return m.To, code
		case <-time.After(15 * time.Second):
			t.Fatal("no SMS reached the webhook")
		}
		return "", ""
	}
	const phone = "+15551230077"
	byPhone := map[string]string{"phone": phone, "password": pw}
	expectError(t, g.client().PostJSON("/auth/login", byPhone), http.StatusUnauthorized, "INVALID_CREDENTIALS")

	c := g.client()
	c.Login("pat@example.test", pw)
	expectStatus(t, c.PostJSON("/auth/phone", map[string]string{"phone": "+1 555 123 0077"}), http.StatusAccepted)
	to, code := sms()
	if to != phone || code == "" {
		t.Fatalf("verification SMS to %q with code %q", to, code)
	}
	expectError(t, g.client().PostJSON("/auth/login", byPhone), http.StatusUnauthorized, "INVALID_CREDENTIALS")
	r := c.PostJSON("/auth/verify-phone", map[string]string{"code": code})
	expectStatus(t, r, http.StatusOK)
	if r.JSON()["phone"] != phone {
		t.Fatalf("verify-phone: %s", r)
	}
	expectStatus(t, g.client().PostJSON("/auth/login", byPhone), http.StatusOK)
	expectError(t, c.PostJSON("/auth/verify-phone", map[string]string{"code": code}), http.StatusBadRequest, "VERIFICATION_INVALID")
	// The verified phone now gets reset codes.
	expectStatus(t, g.client().PostJSON("/auth/forgot-password", map[string]string{"phone": phone}), http.StatusAccepted)
	if to, code := sms(); to != phone || code == "" {
		t.Fatalf("reset SMS to %q", to)
	}
	harness.AssertNoLeaks(t, "gateway log", g.caddy.Logs())
}
