package harness

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
)

// The leak scan: every password a test uses and every session cookie value
// the gateway issues is registered as sensitive; every Caddy log and CLI
// output is recorded. No sensitive value may appear in any output, in raw,
// URL-encoded or JSON-escaped form. (The first-run setup token is the one
// secret the gateway logs by design; it is never registered.)

var leaks struct {
	mu        sync.Mutex
	sensitive map[string]string // value -> kind
	codes     map[string]bool   // short numeric codes (see SensitiveCode)
	outputs   []output
}

type output struct {
	test, name, text string
}

// Sensitive registers values (passwords, tokens) that must never appear
// in any captured output. Empty and very short values are ignored.
func Sensitive(values ...string) {
	sensitiveKind("secret", values...)
}

func sensitiveKind(kind string, values ...string) {
	leaks.mu.Lock()
	defer leaks.mu.Unlock()
	if leaks.sensitive == nil {
		leaks.sensitive = map[string]string{}
	}
	for _, v := range values {
		if len(v) >= 8 {
			if _, ok := leaks.sensitive[v]; !ok {
				leaks.sensitive[v] = kind
			}
		}
	}
}

// SensitiveCode registers a short numeric one-time code (TOTP, emailed
// code). Six digits are too short for a plain substring search (timestamps
// and durations contain such runs), so a code counts as leaked when it
// stands alone: not part of a longer digit run and not a decimal fraction.
func SensitiveCode(codes ...string) {
	leaks.mu.Lock()
	defer leaks.mu.Unlock()
	if leaks.codes == nil {
		leaks.codes = map[string]bool{}
	}
	for _, c := range codes {
		leaks.codes[c] = true
	}
}

func findCodes(text string) []string {
	var found []string
	for c := range leaks.codes {
		for i := 0; ; {
			j := strings.Index(text[i:], c)
			if j < 0 {
				break
			}
			at := i + j
			end := at + len(c)
			before, after := byte(' '), byte(' ')
			if at > 0 {
				before = text[at-1]
			}
			if end < len(text) {
				after = text[end]
			}
			if !isDigit(before) && !isDigit(after) && before != '.' {
				found = append(found, fmt.Sprintf("one-time code %q found near: %s", mask(c), excerpt(text, at, len(c))))
				break
			}
			i = at + 1
		}
	}
	return found
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// SensitiveCount is how many values are registered (tests assert the scan
// is not vacuous).
func SensitiveCount() int {
	leaks.mu.Lock()
	defer leaks.mu.Unlock()
	return len(leaks.sensitive)
}

func recordOutput(t testing.TB, name, text string) {
	leaks.mu.Lock()
	defer leaks.mu.Unlock()
	leaks.outputs = append(leaks.outputs, output{test: t.Name(), name: name, text: text})
}

// FindLeaks returns a description of every registered sensitive value
// found in text, or "".
func FindLeaks(text string) string {
	leaks.mu.Lock()
	defer leaks.mu.Unlock()
	return findLeaksLocked(text)
}

func findLeaksLocked(text string) string {
	var found []string
	for v, kind := range leaks.sensitive {
		for _, form := range encodings(v) {
			if i := strings.Index(text, form); i >= 0 {
				found = append(found, fmt.Sprintf("%s %q found near: %s", kind, mask(v), excerpt(text, i, len(form))))
				break
			}
		}
	}
	found = append(found, findCodes(text)...)
	sort.Strings(found)
	return strings.Join(found, "\n")
}

// AssertNoLeaks fails t if text (named name) contains a sensitive value.
func AssertNoLeaks(t testing.TB, name, text string) {
	t.Helper()
	if r := FindLeaks(text); r != "" {
		t.Errorf("%s leaks sensitive values:\n%s", name, r)
	}
}

// ScannedOutputs is how many outputs were recorded so far.
func ScannedOutputs() int {
	leaks.mu.Lock()
	defer leaks.mu.Unlock()
	return len(leaks.outputs)
}

func scanAllOutputs() string {
	leaks.mu.Lock()
	defer leaks.mu.Unlock()
	var b strings.Builder
	for _, o := range leaks.outputs {
		if r := findLeaksLocked(o.text); r != "" {
			fmt.Fprintf(&b, "%s: %s:\n%s\n", o.test, o.name, r)
		}
	}
	return b.String()
}

func encodings(v string) []string {
	forms := []string{v, url.QueryEscape(v), url.PathEscape(v)}
	if j, err := json.Marshal(v); err == nil {
		forms = append(forms, strings.Trim(string(j), `"`))
	}
	return forms
}

// mask shows enough of a secret to identify it in a report, not to use it.
func mask(v string) string {
	if len(v) <= 6 {
		return "***"
	}
	return v[:3] + "..." + v[len(v)-2:]
}

func excerpt(text string, i, n int) string {
	lo, hi := max(0, i-80), min(len(text), i+n+40)
	s := text[lo:i] + "<<SECRET>>" + text[i+n:hi]
	return strings.ReplaceAll(s, "\n", " ")
}
