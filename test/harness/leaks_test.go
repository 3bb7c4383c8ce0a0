package harness

import (
	"net/url"
	"strings"
	"testing"
)

func TestFindLeaks(t *testing.T) {
	pw := "a leak-scan self test " + RandomSecret()[:10]
	Sensitive(pw)
	tok := RandomSecret()
	sensitiveKind("cookie", tok)
	for _, text := range []string{
		"before " + pw + " after",
		`{"password":"` + pw + `"}`,
		"password=" + url.QueryEscape(pw),
		"Cookie: __Host-caddyauth=" + tok,
	} {
		if FindLeaks(text) == "" {
			t.Errorf("leak not found in %q", text)
		}
	}
	if r := FindLeaks("nothing to see " + strings.ToUpper(tok[:20])); r != "" {
		t.Errorf("false positive: %s", r)
	}
	if got := FindLeaks(pw); strings.Contains(got, pw) {
		t.Errorf("the report repeats the secret: %s", got)
	}
}

func TestFindLeaksCodes(t *testing.T) {
	SensitiveCode("493817")
	for text, leak := range map[string]bool{
		`{"msg":"sent","code":"493817"}`: true,
		`code 493817 accepted`:           true,
		`{"ts":1764128512.493817}`:       false, // a fraction
		`{"bytes":14938172}`:             false, // a longer number
		`{"id":"a493817b"}`:              true,  // letters around: still the code
	} {
		if got := FindLeaks(text) != ""; got != leak {
			t.Errorf("FindLeaks(%s) = %v, want %v", text, got, leak)
		}
	}
}
