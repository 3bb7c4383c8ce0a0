package webhooksig

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestSignVerify(t *testing.T) {
	secret, body := []byte("s3cret-s3cret-s3cret"), []byte(`{"a":1}`)
	now := time.Unix(1_800_000_000, 0)
	req, _ := http.NewRequest("POST", "http://x", strings.NewReader(string(body)))
	SetHeaders(req, secret, body, now)
	ts, sig := req.Header.Get(HeaderTimestamp), req.Header.Get(HeaderSignature)
	if ts != "1800000000" || !strings.HasPrefix(sig, "sha256=") || len(sig) != 7+64 {
		t.Fatalf("headers: %q %q", ts, sig)
	}
	for name, c := range map[string]struct {
		secret []byte
		ts     string
		sig    string
		body   []byte
		at     time.Time
		ok     bool
	}{
		"valid":         {secret, ts, sig, body, now.Add(time.Minute), true},
		"other secret":  {[]byte("other"), ts, sig, body, now, false},
		"edited body":   {secret, ts, sig, []byte(`{"a":2}`), now, false},
		"moved stamp":   {secret, "1800000001", sig, body, now, false},
		"stale":         {secret, ts, sig, body, now.Add(10 * time.Minute), false},
		"from future":   {secret, ts, sig, body, now.Add(-10 * time.Minute), false},
		"stamp not int": {secret, "x", sig, body, now, false},
		"truncated sig": {secret, ts, sig[:20], body, now, false},
	} {
		if got := Verify(c.secret, c.ts, c.sig, c.body, c.at, 5*time.Minute); got != c.ok {
			t.Errorf("%s: Verify = %v, want %v", name, got, c.ok)
		}
	}
}
