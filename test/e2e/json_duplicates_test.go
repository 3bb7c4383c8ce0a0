package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// TestDuplicateJSONKeys (issue 9): through the binary, a body that names
// a key twice, or in two cases, is refused with 400 INVALID_INPUT on the
// portal and on the admin API: {"email":"nobody@...","email":"bob@..."}
// no longer signs in as bob, and a repeated "enabled" switches nothing.
func TestDuplicateJSONKeys(t *testing.T) {
	t.Parallel()
	g := newGateway(t, nil)
	pw := newPassword()
	g.addUser("bob@example.test", "Bob", pw, "admin")
	g.start()
	c := g.client()
	for _, body := range []string{
		`{"email":"nobody@example.test","email":"bob@example.test","password":"` + pw + `"}`,
		`{"email":"nobody@example.test","EMAIL":"bob@example.test","password":"` + pw + `"}`,
		`{"email":"bob@example.test","password":"wrong","Password":"` + pw + `"}`,
	} {
		r := c.Do(c.NewRequest(http.MethodPost, "/auth/login", strings.NewReader(body), "Content-Type", "application/json", "Accept", "application/json"))
		expectError(t, r, http.StatusBadRequest, "INVALID_INPUT")
		if !strings.Contains(string(r.Body), "more than once") {
			t.Errorf("refusal does not say a field was repeated: %s", r)
		}
		if c.Cookie(cookieName) != "" {
			t.Fatalf("a session cookie was set for %s", body)
		}
	}
	// The honest login still works; the admin API refuses a repeated
	// "enabled" and leaves the method as it was.
	expectStatus(t, c.Login("bob@example.test", pw), http.StatusOK)
	enrolTOTP(t, c)
	for _, body := range []string{`{"enabled":true,"enabled":false}`, `{"enabled":true,"ENABLED":false}`} {
		r := c.Do(c.NewRequest(http.MethodPut, "/auth/admin/methods/password", strings.NewReader(body), "Content-Type", "application/json", "Accept", "application/json"))
		expectError(t, r, http.StatusBadRequest, "INVALID_INPUT")
	}
	r := c.Get("/auth/admin/methods", api...)
	if !strings.Contains(string(r.Body), `{"method":"password","enabled":true}`) {
		t.Fatalf("password switched by a refused body: %s", r)
	}
}
