package caddyauth

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddyauth/gateway/internal/keys"
)

// validateRaw adapts src and provisions it without listening
// (caddy.Validate).
func validateRaw(t *testing.T, src string) error {
	t.Helper()
	cfgJSON, err := adapt(t, []byte(src))
	if err != nil {
		return err
	}
	var cfg caddy.Config
	if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
		t.Fatal(err)
	}
	return caddy.Validate(&cfg)
}

// TestCookieTransport: protect and auth_portal on a server that serves
// only plain http refuse to start while the session cookie is Secure (the
// browser would drop it: a silent login loop), naming the directive, the
// server and the fixes; https sites, `cookie { insecure }` and a declared
// TLS-terminating proxy (trusted_proxies) start.
func TestCookieTransport(t *testing.T) {
	const insecure = "\t\tcookie {\n\t\t\tinsecure\n\t\t}\n"
	for _, tc := range []struct {
		name, global, app, sites string
		want                     string // "" = starts
	}{
		{"http:// site", "", "", "http://localhost:8080 {\n\tprotect\n\trespond ok\n}", "protect: server srv0 (localhost; listening on :8080) serves plain http"},
		{"port-only site", "", "", ":8080 {\n\tprotect\n\trespond ok\n}", "protect: server srv0"},
		{"http:// site on port 80", "", "", "http://app.example.com {\n\tprotect\n\trespond ok\n}", "(app.example.com; listening on :80) serves plain http"},
		{"protect with a matcher", "", "", "http://localhost:8080 {\n\tprotect /admin*\n\trespond ok\n}", "protect: server"},
		{"auth_portal", "", "", "http://localhost:8080 {\n\tauth_portal\n\trespond ok\n}", "auth_portal: server"},
		{"inside handle", "", "", "http://localhost:8080 {\n\thandle /app/* {\n\t\tprotect\n\t}\n\trespond ok\n}", "protect: server"},
		{"insecure", "", insecure, "http://localhost:8080 {\n\tprotect\n\trespond ok\n}", ""},
		{"https by default", "", "", "app.example.com {\n\tprotect\n\trespond ok\n}", ""},
		{"https localhost with a port", "\tlocal_certs", "", "https://localhost:8443 {\n\tprotect\n\trespond ok\n}", ""},
		{"portal on https", "", "", "auth.example.com {\n\tauth_portal\n}", ""},
		{"behind a TLS-terminating proxy", "\tservers {\n\t\ttrusted_proxies static private_ranges\n\t}", "", "http://app.example.com {\n\tprotect\n\trespond ok\n}", ""},
		{"https site and a plain one", "", "", "app.example.com {\n\tprotect\n\trespond ok\n}\nhttp://localhost:8080 {\n\tprotect\n\trespond ok\n}", "server srv1 (localhost; listening on :8080)"},
		{"plain site without protect", "", "", "app.example.com {\n\tprotect\n\trespond ok\n}\nhttp://localhost:8080 {\n\trespond ok\n}", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := validateRaw(t, fmt.Sprintf(rawTemplate(t, tc.global, tc.sites), tc.app))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("started; want an error with %q", tc.want)
			case tc.want != "":
				for _, w := range []string{tc.want, "cookie { insecure }", "https", "trusted_proxies", "__Host-caddyauth"} {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error lacks %q: %v", w, err)
					}
				}
			}
		})
	}
}

// rawTemplate is the Caddyfile of a case (private storage and database)
// with a %s where the caddyauth block's extra lines go.
func rawTemplate(t *testing.T, global, sites string) string {
	dir := t.TempDir()
	return fmt.Sprintf("{\n\tstorage file_system %s\n\tskip_install_trust\n%s\n\tcaddyauth {\n\t\tsecret %s\n\t\tdatabase sqlite %s\n\t\tsessions memory\n", filepath.Join(dir, "caddy"), global, keys.NewToken(), filepath.Join(dir, "users.db")) +
		"%s\t}\n}\n" + strings.ReplaceAll(sites, "%", "%%") + "\n"
}

// TestCookieTransportExample: the shipped Caddyfile.example (plain http on
// localhost:8080 with `cookie { insecure }`) still starts.
func TestCookieTransportExample(t *testing.T) {
	src, err := os.ReadFile("../Caddyfile.example")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("CADDYAUTH_SECRET", keys.NewToken())
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	if err := validateRaw(t, string(src)); err != nil {
		t.Fatalf("Caddyfile.example refused: %v", err)
	}
}
