package flows

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/caddyauth/gateway/internal/disposable"
)

func TestRegistrationAdmitEmail(t *testing.T) {
	p := filepath.Join(t.TempDir(), "extra.txt")
	if err := os.WriteFile(p, []byte("burner.example\n-mailinator.com\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	operator, err := disposable.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		flagged bool
		code    string
	}
	cases := []struct {
		name  string
		cfg   RegistrationConfig
		email string
		want  want
	}{
		{"default blocks disposable", RegistrationConfig{On: true}, "a@mailinator.com", want{false, CodeEmailDomainNotAllowed}},
		{"default blocks disposable subdomain, any case", RegistrationConfig{On: true}, "a@X.Mailinator.COM", want{false, CodeEmailDomainNotAllowed}},
		{"default admits ordinary", RegistrationConfig{On: true}, "a@example.com", want{false, ""}},
		{"flag admits and flags", RegistrationConfig{On: true, Disposable: disposable.ModeFlag}, "a@yopmail.com", want{true, ""}},
		{"flag does not flag ordinary", RegistrationConfig{On: true, Disposable: disposable.ModeFlag}, "a@example.com", want{false, ""}},
		{"off admits disposable unflagged", RegistrationConfig{On: true, Disposable: disposable.ModeOff}, "a@yopmail.com", want{false, ""}},
		{"domains refuses others", RegistrationConfig{On: true, Domains: []string{"corp.example"}}, "a@example.com", want{false, CodeEmailDomainNotAllowed}},
		{"domains admits listed", RegistrationConfig{On: true, Domains: []string{"corp.example"}}, "a@CORP.example", want{false, ""}},
		{"domains exact, no subdomain", RegistrationConfig{On: true, Domains: []string{"corp.example"}}, "a@x.corp.example", want{false, CodeEmailDomainNotAllowed}},
		{"domains then disposable", RegistrationConfig{On: true, Domains: []string{"mailinator.com"}}, "a@mailinator.com", want{false, CodeEmailDomainNotAllowed}},
		{"operator adds", RegistrationConfig{On: true, DisposableList: operator}, "a@burner.example", want{false, CodeEmailDomainNotAllowed}},
		{"operator allows", RegistrationConfig{On: true, DisposableList: operator}, "a@mailinator.com", want{false, ""}},
		{"no domain", RegistrationConfig{On: true}, "a@", want{false, CodeInvalidInput}},
		{"no at", RegistrationConfig{On: true}, "nobody", want{false, CodeInvalidInput}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			flagged, err := tc.cfg.AdmitEmail(tc.email)
			code := ""
			if err != nil {
				code = err.Code
				if code == CodeEmailDomainNotAllowed && err.Status != http.StatusForbidden {
					t.Fatalf("status %d, want 403", err.Status)
				}
			}
			if flagged != tc.want.flagged || code != tc.want.code {
				t.Fatalf("AdmitEmail(%q) = %v, %q; want %v, %q", tc.email, flagged, code, tc.want.flagged, tc.want.code)
			}
		})
	}
}

// The refusal does not say which rule refused: the domains list and the
// disposable list give the same body.
func TestRegistrationRefusalsAlike(t *testing.T) {
	_, a := RegistrationConfig{Domains: []string{"corp.example"}}.AdmitEmail("a@example.com")
	_, b := RegistrationConfig{}.AdmitEmail("a@mailinator.com")
	if a == nil || b == nil || *a != *b {
		t.Fatalf("refusals differ: %+v vs %+v", a, b)
	}
}
