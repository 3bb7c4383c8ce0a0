package disposable

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestBuiltinListIsLargeAndValid(t *testing.T) {
	l := Builtin() // panics on an invalid line
	if l.Len() < 5000 {
		t.Fatalf("built-in list has %d domains, want several thousand", l.Len())
	}
	if !strings.Contains(builtin, "Source: https://github.com/disposable-email-domains/disposable-email-domains") ||
		!strings.Contains(builtin, "CC0") {
		t.Fatal("domains.txt header must name its source and licence")
	}
}

func TestDisposableMatching(t *testing.T) {
	l := Builtin()
	cases := map[string]bool{
		"mailinator.com":         true,
		"MAILINATOR.COM":         true,
		"mailinator.com.":        true,
		" mailinator.com ":       true,
		"sub.mailinator.com":     true, // parent listed
		"a.b.mailinator.com":     true,
		"gmail.com":              false,
		"example.org":            false,
		"com":                    false, // never a whole TLD
		"":                       false,
		"not a domain":           false,
		"xmailinator.com":        false, // suffix, not a parent
		"mailinator.com.evil.io": false,
	}
	for d, want := range cases {
		if got := l.Disposable(d); got != want {
			t.Errorf("Disposable(%q) = %v, want %v", d, got, want)
		}
	}
}

func TestOperatorFileAddsAndAllows(t *testing.T) {
	p := filepath.Join(t.TempDir(), "extra.txt")
	body := "# operator list\nthrowaway.example  # ours\n-mailinator.com\ntmp.corp.example\n-corp.example\n\nMAILINATOR.COM.x.example\n"
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]bool{
		"throwaway.example":        true,
		"a.throwaway.example":      true,
		"mailinator.com":           false, // allowed by the operator
		"sub.mailinator.com":       false,
		"tmp.corp.example":         true, // more specific wins
		"x.tmp.corp.example":       true,
		"corp.example":             false,
		"yopmail.com":              true, // built-in still there
		"mailinator.com.x.example": true,
	}
	for d, want := range cases {
		if got := l.Disposable(d); got != want {
			t.Errorf("Disposable(%q) = %v, want %v", d, got, want)
		}
	}
	// The built-in list is untouched by an operator file.
	if !Builtin().Disposable("mailinator.com") {
		t.Fatal("operator file leaked into the built-in list")
	}
}

func TestOperatorFileErrors(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("missing file accepted")
	}
	p := filepath.Join(t.TempDir(), "bad.txt")
	if err := os.WriteFile(p, []byte("ok.example\nnodot\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p)
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("bad line not reported with its number: %v", err)
	}
}

func TestUnicodeDomainMatchesPunycode(t *testing.T) {
	p := filepath.Join(t.TempDir(), "idn.txt")
	if err := os.WriteFile(p, []byte("xn--mnchen-3ya.example\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if !l.Disposable("MÜNCHEN.example") {
		t.Fatal("Unicode spelling of a listed punycode domain not matched")
	}
}

func TestDomainAllowed(t *testing.T) {
	if !DomainAllowed(nil, "anything.example") {
		t.Fatal("empty domains list must allow every domain")
	}
	allowed := []string{"Corp.Example", "partner.example"}
	cases := map[string]bool{
		"corp.example":      true,
		"CORP.EXAMPLE.":     true,
		"partner.example":   true,
		"sub.corp.example":  false, // exact domains only
		"evilcorp.example":  false,
		"corp.example.evil": false,
		"":                  false,
	}
	for d, want := range cases {
		if got := DomainAllowed(allowed, d); got != want {
			t.Errorf("DomainAllowed(%q) = %v, want %v", d, got, want)
		}
	}
}

func TestConcurrentReads(t *testing.T) {
	l := Builtin()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 1000; j++ {
				if !l.Disposable("x.mailinator.com") {
					t.Error("lost a match")
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestCheckMode(t *testing.T) {
	for _, m := range []string{"block", "flag", "off"} {
		if CheckMode(m) != nil {
			t.Errorf("mode %q refused", m)
		}
	}
	if CheckMode("maybe") == nil {
		t.Error("unknown mode accepted")
	}
}
