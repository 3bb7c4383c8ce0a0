package flows

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddyauth/gateway/internal/audit"
)

// TestForcedPasswordChange (issue 11 item 5): a user whose account must
// change the password is sent to change-password by protect (browsers)
// or refused with 403 PASSWORD_CHANGE_REQUIRED (APIs); the portal stays
// reachable; a successful change clears the flag and the apps open.
func TestForcedPasswordChange(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Config{}, GuardConfig{})
	if err := e.svc.Accounts().RequirePasswordChange(ctx, Actor{ID: ActorCLI}, e.alice, true); err != nil {
		t.Fatal(err)
	}
	c := e.login(alicePW)
	nav := withCookie(httptest.NewRequest("GET", "/app/page", nil), c)
	nav.Header.Set("Accept", "text/html")
	res := e.do(nav)
	if res.StatusCode != http.StatusFound || res.Header.Get("Location") != "/auth/change-password" {
		t.Fatalf("browser: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	res = e.do(withCookie(jsonReq("GET", "/app/api", ""), c))
	if got := decodeErr(t, res); res.StatusCode != http.StatusForbidden || got.Code != CodePasswordChangeRequired {
		t.Fatalf("api: %d %+v", res.StatusCode, got)
	}
	// The portal's own pages still answer (the change-password page).
	page := withCookie(httptest.NewRequest("GET", "/auth/change-password", nil), c)
	page.Header.Set("Accept", "text/html")
	if res := e.do(page); res.StatusCode != http.StatusOK {
		t.Fatalf("change-password page: %d", res.StatusCode)
	}
	res = e.do(changeReq(`{"current_password":"`+alicePW+`","new_password":"`+newPW+`"}`, c))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("change: %d %+v", res.StatusCode, decodeErr(t, res))
	}
	nc := sessionCookie(t, e, res)
	if u, _ := e.mem.UserByID(ctx, e.alice.ID); u.MustChangePassword {
		t.Fatal("the flag survived the change")
	}
	if res := e.do(withCookie(jsonReq("GET", "/app/api", ""), nc)); res.StatusCode != http.StatusOK {
		t.Fatalf("after the change: %d", res.StatusCode)
	}
}

// TestForcedPasswordChangeKeepOthers: the flag also clears when the
// change keeps the other sessions.
func TestForcedPasswordChangeKeepOthers(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, Config{}, GuardConfig{})
	_ = e.svc.Accounts().RequirePasswordChange(ctx, Actor{ID: ActorCLI}, e.alice, true)
	c := e.login(alicePW)
	res := e.do(changeReq(`{"current_password":"`+alicePW+`","new_password":"`+newPW+`","logout_others":false}`, c))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("change: %d", res.StatusCode)
	}
	if u, _ := e.mem.UserByID(ctx, e.alice.ID); u.MustChangePassword {
		t.Fatal("the flag survived a change that kept the other sessions")
	}
}

// TestAdminMustChangePassword: the admin API sets and clears the flag,
// shows it, audits it and judges its input.
func TestAdminMustChangePassword(t *testing.T) {
	e := newAdminEnv(t, nil)
	admin := e.session(e.root, "totp")
	path := "/auth/admin/users/" + e.bob.ID + "/must-change-password"
	ans := e.expect("PUT", path, admin, `{"must_change_password":true}`, 200, "")
	if u := ans["user"].(map[string]any); u["must_change_password"] != true {
		t.Fatalf("answer %v", ans)
	}
	if u, _ := e.mem.UserByID(context.Background(), e.bob.ID); !u.MustChangePassword {
		t.Fatal("flag not stored")
	}
	if ev := e.audit.find(audit.PasswordChangeRequired, e.bob.ID); ev == nil || ev.Actor != e.root.ID || ev.Detail["required"] != "true" {
		t.Fatalf("audit %+v", ev)
	}
	e.expect("POST", path, admin, `{"must_change_password":false}`, 200, "")
	if u, _ := e.mem.UserByID(context.Background(), e.bob.ID); u.MustChangePassword {
		t.Fatal("flag not cleared")
	}
	e.expect("PUT", path, admin, `{}`, 400, CodeInvalidInput)
	e.expect("PUT", path, admin, `{"must_change_password":"yes"}`, 400, CodeInvalidInput)
	e.expect("PUT", path, admin, `{"must_change_password":true,"x":1}`, 400, CodeInvalidInput)
	e.expect("PUT", "/auth/admin/users/nobody/must-change-password", admin, `{"must_change_password":true}`, 404, CodeNotFound)
	e.expect("PUT", path, e.session(e.bob, "totp"), `{"must_change_password":true}`, 403, CodeForbidden)
}
