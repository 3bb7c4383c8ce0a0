package caddyauth

import (
	"strings"
	"testing"
	"time"

	"github.com/caddyauth/gateway/store"
)

// TestFormatRecordQuotesHostileValues: values a client controls (user
// agent, tried email) cannot put escape sequences or fake fields on the
// operator's terminal.
func TestFormatRecordQuotesHostileValues(t *testing.T) {
	r := &store.AuditRecord{
		Seq: 7, Time: time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC), Type: "login.failed",
		Email: "x@example.test reason=ok", UserAgent: "evil\x1b[2J\nnext line", IP: "192.0.2.1",
		Detail: map[string]string{"method": "password"},
	}
	got := formatRecord(r)
	want := `2026-01-02T03:04:05.006Z #7 login.failed email="x@example.test reason=ok" ip=192.0.2.1 method=password agent="evil\x1b[2J\nnext line"`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if strings.ContainsAny(got, "\x1b\n") {
		t.Error("raw control characters in the output")
	}
}
