package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestOutboxMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	o, err := NewOutbox(reg)
	if err != nil {
		t.Fatal(err)
	}
	again, err := NewOutbox(reg) // a second app on the same registry shares them
	if err != nil {
		t.Fatal(err)
	}
	o.Sent("email")
	again.Sent("email")
	o.Failed("sms")
	o.Failed("fax") // not a channel: ignored
	o.Depth(7)
	want := `
# HELP caddy_auth_outbox_depth Messages waiting in the outbox (pending, including those being sent).
# TYPE caddy_auth_outbox_depth gauge
caddy_auth_outbox_depth 7
# HELP caddy_auth_outbox_failures_total Failed delivery attempts (retried or dead), by channel.
# TYPE caddy_auth_outbox_failures_total counter
caddy_auth_outbox_failures_total{channel="email"} 0
caddy_auth_outbox_failures_total{channel="sms"} 1
# HELP caddy_auth_outbox_sent_total Messages delivered, by channel.
# TYPE caddy_auth_outbox_sent_total counter
caddy_auth_outbox_sent_total{channel="email"} 2
caddy_auth_outbox_sent_total{channel="sms"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"caddy_auth_outbox_depth", "caddy_auth_outbox_failures_total", "caddy_auth_outbox_sent_total"); err != nil {
		t.Fatal(err)
	}
}
