package e2e

import (
	"net/http"
	"testing"

	"github.com/caddyauth/gateway/test/harness"
)

// TestAdminCreateUserEndToEnd: POST /auth/admin/users through the built
// binary, by an admin whose session passed TOTP. With a password the
// account signs in at once; without one (and a real SMTP server) it is
// invited and the invitation reaches the mailbox; a taken email is 409,
// a weak password 400, and a password-only admin is refused.
func TestAdminCreateUserEndToEnd(t *testing.T) {
	t.Parallel()
	mp := harness.StartMailpit(t)
	g := newGateway(t, func(c *harness.GatewayConfig) {
		c.AppOptions = append(c.AppOptions, mp.EmailOption())
	})
	rootPW := newPassword()
	g.addUser("root@example.test", "Root", rootPW, "admin")
	g.start()
	root := g.client()
	root.Login("root@example.test", rootPW)
	harness.Sensitive(root.Cookie(cookieName))
	body := func(email, pw string) map[string]any {
		m := map[string]any{"email": email, "name": "New", "groups": []string{"staff"}}
		if pw != "" {
			m["password"] = pw
		}
		return m
	}
	expectError(t, adminCall(t, root, http.MethodPost, "/auth/admin/users", body("x@example.test", "")), http.StatusForbidden, "MFA_REQUIRED")
	enrolTOTP(t, root)

	pw := newPassword()
	r := adminCall(t, root, http.MethodPost, "/auth/admin/users", body("Nell@Example.test", pw))
	expectStatus(t, r, http.StatusCreated)
	if ans := r.JSON(); ans["invited"] != false || ans["user"].(map[string]any)["email"] != "nell@example.test" {
		t.Fatalf("answer %s", r)
	}
	g.client().Login("nell@example.test", pw)

	r = adminCall(t, root, http.MethodPost, "/auth/admin/users", body("ivo@example.test", ""))
	expectStatus(t, r, http.StatusCreated)
	if ans := r.JSON(); ans["invited"] != true || ans["user"].(map[string]any)["status"] != "invited" {
		t.Fatalf("answer %s", r)
	}
	inviteMail(t, mp, "ivo@example.test", 1)

	expectError(t, adminCall(t, root, http.MethodPost, "/auth/admin/users", body("nell@example.test", newPassword())), http.StatusConflict, "CONFLICT")
	expectError(t, adminCall(t, root, http.MethodPost, "/auth/admin/users", body("ivo@example.test", "")), http.StatusConflict, "CONFLICT")
	expectError(t, adminCall(t, root, http.MethodPost, "/auth/admin/users", body("weak@example.test", "password")), http.StatusBadRequest, "INVALID_INPUT")
	expectError(t, adminCall(t, root, http.MethodPost, "/auth/admin/users", body("not an email", "")), http.StatusBadRequest, "INVALID_INPUT")
}
