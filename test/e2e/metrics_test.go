package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestMetrics: after a scripted session, Caddy's metrics endpoint (admin
// API) shows the caddy_auth_ counts.
func TestMetrics(t *testing.T) {
	t.Parallel()
	g := newGateway(t, nil)
	pw := newPassword()
	g.addUser("alice@example.test", "Alice", pw)
	g.start()
	c := g.client()
	expectError(t, c.PostJSON("/auth/login", map[string]string{"email": "alice@example.test", "password": "wrong password here"}),
		http.StatusUnauthorized, "INVALID_CREDENTIALS")
	expectStatus(t, c.Get("/app", api...), http.StatusUnauthorized)
	c.Login("alice@example.test", pw)
	for i := 0; i < 3; i++ {
		expectStatus(t, c.Get("/app", api...), http.StatusOK)
	}
	expectStatus(t, c.Get("/health", api...), http.StatusOK)

	hc := &http.Client{Timeout: 10 * time.Second}
	res, err := hc.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", g.cfg.AdminPort))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	text := string(body)
	for _, want := range []string{
		`caddy_auth_logins_total{method="password",result="success"} 1`,
		`caddy_auth_logins_total{method="password",result="invalid_credentials"} 1`,
		`caddy_auth_protect_decisions_total{decision="allow"} 3`,
		`caddy_auth_protect_decisions_total{decision="public"} 1`,
		`caddy_auth_errors_total{code="INVALID_CREDENTIALS"} 1`,
		`caddy_auth_login_duration_seconds_count{method="password"} 2`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// The harness's readiness probe is an anonymous request too.
	if v := metricValue(text, `caddy_auth_protect_decisions_total{decision="unauthenticated"}`); v < 1 {
		t.Errorf("unauthenticated decisions = %v, want >= 1", v)
	}
	if t.Failed() {
		var lines []string
		for _, l := range strings.Split(text, "\n") {
			if strings.HasPrefix(l, "caddy_auth_") {
				lines = append(lines, l)
			}
		}
		t.Logf("caddy_auth_ lines:\n%s", strings.Join(lines, "\n"))
	}
}

// metricValue returns the value of one series in a text exposition (-1 if
// absent).
func metricValue(text, series string) float64 {
	for _, l := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(l, series+" "); ok {
			var v float64
			if _, err := fmt.Sscan(rest, &v); err == nil {
				return v
			}
		}
	}
	return -1
}
