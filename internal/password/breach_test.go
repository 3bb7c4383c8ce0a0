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
		if h := sha1Upper(pw); strings.Contains(err.Error(), pw) || strings.Contains(err.Error(), h[5:]) || strings.Contains(err.Error(), h[:5]) {
			t.Fatalf("%s: error leaks the password or part of its hash: %v", name, err)
		}
	}
}

// answerServer answers every range request with body.
func answerServer(t *testing.T, body string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestBreachCheckAnswerShapes: the suffix matches whatever its case, among
// padding lines (count 0) and real ones, with CRLF or LF endings and
// spaces around the count.
func TestBreachCheckAnswerShapes(t *testing.T) {
	const pw = "Tr0ub4dor&3 is well known"
	suffix := sha1Upper(pw)[5:]
	pad := strings.Repeat("0", 35)
	for name, tc := range map[string]struct {
		body string
		want int
	}{
		"lower-case suffix":      {strings.ToLower(suffix) + ":12\r\n", 12},
		"among padding":          {pad + ":0\r\n" + suffix + ":7\r\n" + strings.Repeat("F", 35) + ":0\r\n", 7},
		"LF and spaces":          {"\n" + pad + ":3\n" + suffix + ": 9 \n", 9},
		"own suffix as padding":  {pad + ":5\r\n" + suffix + ":0\r\n", 0},
		"absent":                 {pad + ":5\r\n", 0},
		"empty answer":           {"", 0},
		"last line without CRLF": {pad + ":1\r\n" + suffix + ":2", 2},
	} {
		n, err := (&BreachChecker{URL: answerServer(t, tc.body).URL}).Check(context.Background(), pw)
		if err != nil || n != tc.want {
			t.Errorf("%s: Check = %d, %v; want %d", name, n, err, tc.want)
		}
	}
}

// TestBreachCheckMalformed: an answer with any line that is not
// SUFFIX:COUNT is unusable as a whole, even when the suffix is in it.
func TestBreachCheckMalformed(t *testing.T) {
	const pw = "another passphrase to look up"
	suffix := sha1Upper(pw)[5:]
	for name, body := range map[string]string{
		"no colon":       suffix + ":3\r\nnot a range line\r\n",
		"short suffix":   suffix[:34] + ":3\r\n",
		"full hash":      sha1Upper(pw) + ":3\r\n",
		"not hex":        "Z" + suffix[1:] + ":3\r\n" + suffix + ":3\r\n",
		"count not int":  suffix + ":many\r\n",
		"negative count": suffix + ":-1\r\n",
		"empty count":    suffix + ":\r\n",
		"line too long":  strings.Repeat("A", 70000) + "\r\n",
	} {
		_, err := (&BreachChecker{URL: answerServer(t, body).URL}).Check(context.Background(), pw)
		if !errors.Is(err, ErrBreachUnavailable) {
			t.Errorf("%s: err = %v, want ErrBreachUnavailable", name, err)
		}
	}
}

// TestBreachCheckNoRedirect: a redirect is not followed, so the prefix
// reaches the configured server only.
func TestBreachCheckNoRedirect(t *testing.T) {
	const pw = "redirected passphrase here"
	other, seen := rangeServer(t, map[string]int{pw: 1}, "")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusFound)
	}))
	defer srv.Close()
	_, err := (&BreachChecker{URL: srv.URL}).Check(context.Background(), pw)
	if !errors.Is(err, ErrBreachUnavailable) {
		t.Fatalf("err = %v, want ErrBreachUnavailable", err)
	}
	if len(*seen) != 0 {
		t.Fatalf("the redirect target was asked: %d requests", len(*seen))
	}
}

// TestBreachCheckURLForms: the base URL may end in a slash or carry a
// path; the request is <base>/range/<PREFIX> either way, with a
// User-Agent.
func TestBreachCheckURLForms(t *testing.T) {
	const pw = "path prefixed passphrase"
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL.Path+" "+r.UserAgent())
	}))
	defer srv.Close()
	for _, base := range []string{srv.URL, srv.URL + "/", srv.URL + "/pwned/"} {
		if _, err := (&BreachChecker{URL: base}).Check(context.Background(), pw); err != nil {
			t.Fatal(err)
		}
	}
	p := sha1Upper(pw)[:5]
	want := []string{"/range/" + p + " caddyauth", "/range/" + p + " caddyauth", "/pwned/range/" + p + " caddyauth"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("requests %q, want %q", got, want)
	}
}

// TestBreachCheckCallerCanceled: the caller's context bounds the request
// too (a client that went away does not keep it waiting for the timeout).
func TestBreachCheckCallerCanceled(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := (&BreachChecker{URL: srv.URL, Timeout: 10 * time.Second}).Check(ctx, "any passphrase at all")
	if !errors.Is(err, ErrBreachUnavailable) || time.Since(start) > 5*time.Second {
		t.Fatalf("err = %v after %s", err, time.Since(start))
	}
}
