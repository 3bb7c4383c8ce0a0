package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/notify"
	"github.com/caddyauth/gateway/test/harness"
)

// TestPasswordResetBySMS (issue 11 item 1) through the binary and the
// signed SMS webhook: a reset asked by phone sends the code only (no
// link), signed; the phone and the code set the password; passwordless
// by phone signs in with the texted code.
func TestPasswordResetBySMS(t *testing.T) {
	t.Parallel()
	secret := "sms-" + harness.RandomSecret()[:24]
	harness.Sensitive(secret)
	got := make(chan string, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !notify.VerifySignature([]byte(secret), r.Header.Get(notify.HeaderTimestamp), r.Header.Get(notify.HeaderSignature), body, time.Now(), 5*time.Minute) {
			t.Errorf("SMS webhook: bad signature")
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var m struct{ Channel, To, Text string }
		if err := json.Unmarshal(body, &m); err != nil || m.Channel != "sms" || m.To != "+15551230001" {
			t.Errorf("SMS webhook body: %v %+v", err, m)
		}
		got <- m.Text
	}))
	t.Cleanup(hook.Close)
	g := newGateway(t, func(c *harness.GatewayConfig) {
		c.AppOptions = append(c.AppOptions, "sms webhook "+hook.URL+" {\n\t\t\tsecret "+secret+"\n\t\t}", "passwordless sms")
	})
	pw, newPW := newPassword(), newPassword()
	out, errOut, code := g.cli(pw, "auth", "user", "add", "--config", g.cfgPath, "--email", "sam@example.test", "--phone", "+15551230001", "--phone-verified", "--password-stdin")
	if code != 0 {
		t.Fatalf("user add: %s %s", out, errOut)
	}
	g.start()
	text := func() string {
		t.Helper()
		select {
		case s := <-got:
			return s
		case <-time.After(15 * time.Second):
			t.Fatal("no SMS reached the webhook")
		}
		return ""
	}
	codeOf := func(s string) string {
		c := regexp.MustCompile(`\b\d{6}\b`).FindString(s)
		harness.SensitiveCode(c)
		return c
	}

	expectStatus(t, g.client().PostJSON("/auth/forgot-password", map[string]string{"phone": "+1 555 123 0001"}), http.StatusAccepted)
	msg := text()
	if strings.Contains(msg, "http") || codeOf(msg) == "" {
		t.Fatalf("reset SMS: %q", msg)
	}
	expectStatus(t, g.client().PostJSON("/auth/reset-password", map[string]string{"phone": "+15551230001", "code": codeOf(msg), "new_password": newPW}), http.StatusOK)
	g.client().Login("sam@example.test", newPW)

	expectStatus(t, g.client().PostJSON("/auth/passwordless/send", map[string]string{"phone": "+15551230001"}), http.StatusAccepted)
	c := g.client()
	expectStatus(t, c.PostJSON("/auth/passwordless/verify", map[string]string{"phone": "+15551230001", "code": codeOf(text())}), http.StatusOK)
	expectStatus(t, c.Get("/app", api...), http.StatusOK)
	harness.AssertNoLeaks(t, "gateway log", g.caddy.Logs())
}
