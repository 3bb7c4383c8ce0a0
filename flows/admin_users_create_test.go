package flows

import (
	"context"
	"testing"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/notify"
	"github.com/caddyauth/gateway/store"
)

// smsOnly delivers no email.
type smsOnly struct{ *outbox }

func (smsOnly) Has(ch string) bool { return ch == notify.SMS }

// TestAdminCreateUser: POST /auth/admin/users creates one account with a
// password, or invites it without one (email sender configured), or makes
// it without a password (none); a taken email or phone is 409, a bad field
// 400, and only an admin with a second factor may call it.
func TestAdminCreateUser(t *testing.T) {
	ctx := context.Background()
	e := newAdminEnv(t, nil)
	admin := e.session(e.root, "totp")
	const path = "/auth/admin/users"

	ans := e.expect("POST", path, admin, `{"email":"Carol@Example.test","name":"Carol","phone":"+1 555 010 2030","groups":["staff"],"password":"`+alicePW+`"}`, 201, "")
	view := ans["user"].(map[string]any)
	if ans["invited"] != false || view["status"] != store.StatusActive || view["has_password"] != true || view["phone"] != "+15550102030" || view["email_verified_at"] != nil {
		t.Fatalf("answer %v", ans)
	}
	carol, err := e.mem.UserByEmail(ctx, "carol@example.test")
	if err != nil || !carol.PhoneVerifiedAt.IsZero() {
		t.Fatalf("carol = %+v, %v", carol, err)
	}
	if ev := e.audit.find(audit.UserCreated, carol.ID); ev == nil || ev.Actor != e.root.ID {
		t.Fatalf("audit %+v", ev)
	}
	e.expect("POST", "/auth/login", "", `{"email":"carol@example.test","password":"`+alicePW+`"}`, 200, "")

	ans = e.expect("POST", path, admin, `{"email":"dan@example.test","name":"Dan"}`, 201, "")
	if ans["invited"] != true || ans["user"].(map[string]any)["status"] != store.StatusInvited {
		t.Fatalf("answer %v", ans)
	}
	e.outbox.mu.Lock()
	last := e.outbox.msgs[len(e.outbox.msgs)-1]
	e.outbox.mu.Unlock()
	if last.Kind != notify.KindInvitation || last.To != "dan@example.test" {
		t.Fatalf("message %+v", last)
	}

	e.expect("POST", path, admin, `{"email":"BOB@example.test","password":"`+alicePW+`"}`, 409, CodeConflict)
	e.expect("POST", path, admin, `{"email":"dan@example.test"}`, 409, CodeConflict)
	e.expect("POST", path, admin, `{"email":"erin@example.test","phone":"+15550102030"}`, 409, CodeConflict)
	e.expect("POST", path, admin, `{"email":"not an email"}`, 400, CodeInvalidInput)
	e.expect("POST", path, admin, `{"email":"erin@example.test","password":"short"}`, 400, CodeInvalidInput)
	e.expect("POST", path, admin, `{"email":"erin@example.test","password":""}`, 400, CodeInvalidInput)
	e.expect("POST", path, admin, `{"email":"erin@example.test","groups":["a b"]}`, 400, CodeInvalidInput)
	e.expect("POST", path, admin, `{"email":"erin@example.test","role":"admin"}`, 400, CodeInvalidInput)
	e.expect("POST", path, e.session(e.bob, "totp"), `{"email":"erin@example.test"}`, 403, CodeForbidden)
	e.expect("POST", path, e.session(e.root, ""), `{"email":"erin@example.test"}`, 403, CodeMFARequired)
	if _, err := e.mem.UserByEmail(ctx, "erin@example.test"); err == nil {
		t.Fatal("a refused request created an account")
	}

	// Without an email sender: an account without a password, no invitation.
	e.svc.deps.Outbox = smsOnly{e.outbox}
	ans = e.expect("POST", path, admin, `{"email":"fay@example.test"}`, 201, "")
	view = ans["user"].(map[string]any)
	if ans["invited"] != false || view["status"] != store.StatusActive || view["has_password"] != false {
		t.Fatalf("answer %v", ans)
	}
}
