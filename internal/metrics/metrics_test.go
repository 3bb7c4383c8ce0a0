package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestCountsAndNames(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.Login("password", "success", 30*time.Millisecond)
	m.Login("password", "invalid_credentials", 25*time.Millisecond)
	m.Login("password", "invalid_credentials", 25*time.Millisecond)
	m.Decision("allow")
	m.Decision("allow")
	m.Decision("not-a-decision") // ignored, never a new series from input
	m.Error("INVALID_CREDENTIALS")
	m.StoreError("protect")
	m.Limited("lockout")
	m.BreachCheck("unavailable")
	m.BreachCheck("breached")
	m.BreachCheck("unavailable")
	want := `
# HELP caddy_auth_logins_total Login attempts by method and result.
# TYPE caddy_auth_logins_total counter
caddy_auth_logins_total{method="password",result="invalid_credentials"} 2
caddy_auth_logins_total{method="password",result="success"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "caddy_auth_logins_total"); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.breach.WithLabelValues("unavailable")); got != 2 {
		t.Fatalf("breach_checks_total{result=unavailable} = %v", got)
	}
	if got := testutil.ToFloat64(m.decisions["allow"]); got != 2 {
		t.Fatalf("allow = %v", got)
	}
	n, err := testutil.GatherAndCount(reg, "caddy_auth_protect_decisions_total")
	if err != nil || n != len(Decisions) {
		t.Fatalf("%d decision series (%v), want the %d fixed ones", n, err, len(Decisions))
	}
	for _, name := range []string{"caddy_auth_login_duration_seconds", "caddy_auth_errors_total", "caddy_auth_store_errors_total", "caddy_auth_rate_limited_total", "caddy_auth_breach_checks_total"} {
		if c, err := testutil.GatherAndCount(reg, name); err != nil || c == 0 {
			t.Errorf("%s: %d series, %v", name, c, err)
		}
	}
}

// TestRegisterTwice: a second New on the same registry (a second app
// instance in one config) shares the collectors instead of failing.
func TestRegisterTwice(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	a.Error("X")
	b.Error("X")
	if got := testutil.ToFloat64(a.errors.WithLabelValues("X")); got != 2 {
		t.Fatalf("shared counter = %v", got)
	}
}
