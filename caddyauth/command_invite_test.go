package caddyauth

import "testing"

// TestPortalURLOf: the invitation link's portal is the first site with
// auth_portal (else protect), with its base and a non-default port.
func TestPortalURLOf(t *testing.T) {
	for _, tc := range []struct{ caddyfile, want string }{
		{"{\n\tcaddyauth {\n\t\tsecret " + testSecret + "\n\t}\n}\nauth.example.com {\n\tauth_portal /sso\n}\napp.example.com {\n\tprotect\n\treverse_proxy localhost:8080\n}\n", "https://auth.example.com/sso"},
		{"{\n\tcaddyauth {\n\t\tsecret " + testSecret + "\n\t}\n}\napp.example.com:8443 {\n\tprotect\n\treverse_proxy localhost:8080\n}\n", "https://app.example.com:8443/auth"},
		{"{\n\tcaddyauth {\n\t\tsecret " + testSecret + "\n\t}\n}\n:80 {\n\tprotect\n\treverse_proxy localhost:8080\n}\n", ""},
	} {
		raw, err := adapt(t, []byte(tc.caddyfile))
		if err != nil {
			t.Fatalf("adapt: %v", err)
		}
		got, ok := portalURLOf(raw)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("portalURLOf = %q %v, want %q\n%s", got, ok, tc.want, tc.caddyfile)
		}
	}
}
