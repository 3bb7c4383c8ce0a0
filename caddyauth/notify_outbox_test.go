package caddyauth

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// TestOutboxOption: `outbox { send_timeout lease }` reaches the app (and
// from there the worker); a missing value keeps its default, and the
// lease follows a changed send_timeout unless it is given.
func TestOutboxOption(t *testing.T) {
	for _, tc := range []struct {
		block       string
		send, lease time.Duration
	}{
		{"", 30 * time.Second, 90 * time.Second},
		{"outbox {\n\t\t\tsend_timeout 3s\n\t\t\tlease 8s\n\t\t}", 3 * time.Second, 8 * time.Second},
		{"outbox {\n\t\t\tsend_timeout 2m\n\t\t}", 2 * time.Minute, 3 * time.Minute},
		{"outbox {\n\t\t\tlease 5m\n\t\t}", 30 * time.Second, 5 * time.Minute},
	} {
		src := "{\n\tcaddyauth {\n\t\tsecret " + testSecret + "\n\t\t" + tc.block + "\n\t}\n}\n:80 {\n\trespond ok\n}\n"
		out, err := adapt(t, []byte(src))
		if err != nil {
			t.Fatalf("%q: %v", tc.block, err)
		}
		var cfg struct {
			Apps struct {
				CaddyAuth App `json:"caddyauth"`
			} `json:"apps"`
		}
		if err := json.Unmarshal(out, &cfg); err != nil {
			t.Fatal(err)
		}
		send, lease := cfg.Apps.CaddyAuth.Outbox.times()
		if send != tc.send || lease != tc.lease {
			t.Errorf("%q: send_timeout %s, lease %s; want %s, %s", tc.block, send, lease, tc.send, tc.lease)
		}
		if err := checkOutbox(cfg.Apps.CaddyAuth.Outbox); err != nil {
			t.Errorf("%q: %v", tc.block, err)
		}
	}
	if err := checkOutbox(&OutboxConfig{SendTimeout: caddy.Duration(time.Minute), Lease: caddy.Duration(time.Minute)}); err == nil {
		t.Error("a lease equal to the send timeout is accepted")
	}
}
