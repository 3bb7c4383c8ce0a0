package password

import (
	"context"
	"crypto/sha1" //nolint:gosec // protocol-mandated
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func sha1Upper(pw string) string {
	s := sha1.Sum([]byte(pw)) //nolint:gosec // protocol-mandated
	return strings.ToUpper(hex.EncodeToString(s[:]))
}

// rangeServer serves a range file built from breached passwords (with counts)
// plus padding lines, and records every path and header it was sent.
func rangeServer(t *testing.T, breached map[string]int, padding string) (*httptest.Server, *[]*http.Request) {
	t.Helper()
	var mu sync.Mutex
	var seen []*http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Clone(context.Background()))
		mu.Unlock()
		prefix := strings.TrimPrefix(r.URL.Path, "/range/")
		for pw, n := range breached {
			h := sha1Upper(pw)
			if h[:5] == prefix {
				_, _ = fmt.Fprintf(w, "%s:%d\r\n", h[5:], n)
			}
		}
		if r.Header.Get("Add-Padding") == "true" && padding != "" {
			_, _ = fmt.Fprintf(w, "%s:0\r\n", padding)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

func TestBreachCheckFoundAndOnlyPrefixLeaves(t *testing.T) {
	const bad = "password123"
	srv, seen := rangeServer(t, map[string]int{bad: 4242}, "")
	b := &BreachChecker{URL: srv.URL}
	n, err := b.Check(context.Background(), bad)
	if err != nil || n != 4242 {
		t.Fatalf("Check = %d, %v; want 4242", n, err)
	}
	n, err = b.Check(context.Background(), "a long unseen passphrase 9f8e")
	if err != nil || n != 0 {
		t.Fatalf("unseen Check = %d, %v; want 0", n, err)
	}
	for _, r := range *seen {
		p := strings.TrimPrefix(r.URL.Path, "/range/")
		if len(p) != 5 || strings.ToUpper(p) != p || r.URL.RawQuery != "" {
			t.Fatalf("request leaked more than 5 upper-case hex chars: %q", r.URL.String())
		}
		if r.Header.Get("Add-Padding") != "true" {
			t.Fatal("Add-Padding header not sent")
		}
	}
}

func TestBreachCheckPaddingLineIgnored(t *testing.T) {
	pw := "padded but clean"
	// A padding line carrying this password's own suffix with count 0 must not count.
	srv, _ := rangeServer(t, nil, sha1Upper(pw)[5:])
	n, err := (&BreachChecker{URL: srv.URL}).Check(context.Background(), pw)
	if err != nil || n != 0 {
		t.Fatalf("Check = %d, %v; want 0 (padding ignored)", n, err)
	}
}

func TestBreachCheckUnavailable(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer slow.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("<html>not a range</html>\n"))
	}))
	defer bad.Close()
	status := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer status.Close()
	for name, b := range map[string]*BreachChecker{
		"timeout":   {URL: slow.URL, Timeout: 100 * time.Millisecond},
		"refused":   {URL: downURL},
		"malformed": {URL: bad.URL},
		"status":    {URL: status.URL},
	} {
		const pw = "secret-should-not-leak"
		_, err := b.Check(context.Background(), pw)
		if !errors.Is(err, ErrBreachUnavailable) {
			t.Fatalf("%s: err = %v, want ErrBreachUnavailable", name, err)
		}
		if strings.Contains(err.Error(), pw) || strings.Contains(err.Error(), sha1Upper(pw)[5:]) {
			t.Fatalf("%s: error leaks the password or its suffix: %v", name, err)
		}
	}
}
