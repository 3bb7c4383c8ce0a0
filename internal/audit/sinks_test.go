package audit_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/webhooksig"
	"github.com/caddyauth/gateway/store"
	"github.com/caddyauth/gateway/store/memory"
)

func TestFileSink(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	if _, _, ok, err := audit.ReadFileAnchor(path); ok || err != nil {
		t.Fatalf("anchor of a missing file: ok %v err %v", ok, err)
	}
	fs, err := audit.OpenFileSink(path)
	if err != nil {
		t.Fatal(err)
	}
	st := memory.NewAudit()
	r := ring(t, secretA, "")
	record(t, newChain(t, st, r, fs), 5)
	if err := fs.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600", fi.Mode().Perm())
	}
	lines := strings.Split(strings.TrimSpace(readString(t, path)), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d lines, want 5", len(lines))
	}
	recs, _ := st.ListAudit(context.Background(), store.AuditFilter{})
	for i, l := range lines {
		var j audit.JSONRecord
		if err := json.Unmarshal([]byte(l), &j); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if j.Seq != recs[i].Seq || j.MAC != hex.EncodeToString(recs[i].MAC) || j.Type != recs[i].Type || j.Email != recs[i].Email {
			t.Errorf("line %d = %+v, want record %d", i, j, recs[i].Seq)
		}
	}
	seq, mac, ok, err := audit.ReadFileAnchor(path)
	if err != nil || !ok || seq != 5 || !bytes.Equal(mac, recs[4].MAC) {
		t.Errorf("anchor seq %d ok %v err %v", seq, ok, err)
	}
	if err := fs.Write(recs[0]); err == nil {
		t.Error("write after close succeeded")
	}
}

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestWebhookSink: records arrive signed, failures are retried, and the
// delivery order follows the chain.
func TestWebhookSink(t *testing.T) {
	secret := []byte("webhook-shared-secret")
	var (
		mu    sync.Mutex
		got   []audit.JSONRecord
		calls atomic.Int32
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !webhooksig.Verify(secret, r.Header.Get(audit.TimestampHeader), r.Header.Get(audit.SignatureHeader), body, time.Now(), time.Minute) || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("bad signature or type: %q", r.Header.Get(audit.SignatureHeader))
		}
		if calls.Add(1)%3 != 0 { // two failures for every success
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		var j audit.JSONRecord
		if err := json.Unmarshal(body, &j); err != nil {
			t.Errorf("body: %v", err)
		}
		mu.Lock()
		got = append(got, j)
		mu.Unlock()
	}))
	defer srv.Close()
	var failures atomic.Int32
	wh := audit.NewWebhookSink(audit.WebhookOptions{
		URL: srv.URL, Secret: secret, Backoff: time.Millisecond, Attempts: 3,
		OnError: func(error) { failures.Add(1) },
	})
	st := memory.NewAudit()
	record(t, newChain(t, st, ring(t, secretA, ""), wh), 4)
	if err := wh.Close(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || failures.Load() != 0 {
		t.Fatalf("delivered %d records, %d failures", len(got), failures.Load())
	}
	for i, j := range got {
		if j.Seq != int64(i+1) || j.MAC == "" {
			t.Errorf("delivery %d is %+v", i, j)
		}
	}
}

// TestWebhookNeverBlocks: with a receiver that hangs, Record returns at
// once; records beyond the queue are dropped and reported.
func TestWebhookNeverBlocks(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		http.Error(w, "down", http.StatusBadGateway)
	}))
	defer srv.Close()
	defer close(release)
	var failures atomic.Int32
	wh := audit.NewWebhookSink(audit.WebhookOptions{
		URL: srv.URL + "/hook?token=sekrit", Secret: []byte("s"), Queue: 2, Attempts: 1, Timeout: 200 * time.Millisecond,
		OnError: func(err error) {
			if strings.Contains(err.Error(), "sekrit") {
				t.Errorf("webhook error names the URL's query: %v", err)
			}
			failures.Add(1)
		},
	})
	var sinkErrs atomic.Int32
	st := memory.NewAudit()
	c, _ := audit.NewChain(st, audit.Options{
		Key: ring(t, secretA, "").Key(audit.KeyPurpose), Sinks: []audit.Sink{wh},
		OnSinkError: func(string, error) { sinkErrs.Add(1) },
	})
	start := time.Now()
	record(t, c, 10)
	if took := time.Since(start); took > 150*time.Millisecond {
		t.Errorf("10 records took %s with a hanging webhook", took)
	}
	if sinkErrs.Load() < 7 {
		t.Errorf("%d records reported dropped, want at least 7 (queue 2, one in flight)", sinkErrs.Load())
	}
	if rep := verify(t, st, ring(t, secretA, "")); rep.Records != 10 || rep.Broken != nil {
		t.Errorf("the database lost records because of the webhook: %+v", rep)
	}
	wh.Close()
	if failures.Load() == 0 {
		t.Error("failed deliveries not reported")
	}
}
