package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestAuditMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	a, err := NewAudit(reg)
	if err != nil {
		t.Fatal(err)
	}
	again, err := NewAudit(reg) // a config reload on the same registry shares them
	if err != nil {
		t.Fatal(err)
	}
	a.WriteFailed()
	again.WriteFailed()
	a.SinkFailed("webhook")
	want := `
# HELP caddy_auth_audit_sink_failures_total Audit records an extra sink (file, webhook) failed to take; the database still has them.
# TYPE caddy_auth_audit_sink_failures_total counter
caddy_auth_audit_sink_failures_total{sink="file"} 0
caddy_auth_audit_sink_failures_total{sink="webhook"} 1
# HELP caddy_auth_audit_write_failures_total Audit events the database did not store (the event happened; its record is missing).
# TYPE caddy_auth_audit_write_failures_total counter
caddy_auth_audit_write_failures_total 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"caddy_auth_audit_sink_failures_total", "caddy_auth_audit_write_failures_total"); err != nil {
		t.Fatal(err)
	}
}
