package flows

import (
	"context"
	"net/url"
	"testing"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/internal/notify"
	"github.com/caddyauth/gateway/store"
)

// TestInvitations (issue 11 item 4): the admin API invites a new email
// (an account without a password, status invited, that cannot sign in)
// and mails a set-password link; inviting again replaces the link; the
// link, redeemed on the reset page, sets the password once and makes the
// account active; an existing account is not invitable.
func TestInvitations(t *testing.T) {
	ctx := context.Background()
	e := newAdminEnv(t, nil)
	admin := e.session(e.root, "totp")
	ans := e.expect("POST", "/auth/admin/invitations", admin, `{"email":"Nina@Example.test","name":"Nina","groups":["staff"]}`, 201, "")
	view := ans["user"].(map[string]any)
	if view["status"] != store.StatusInvited || view["has_password"] != false || ans["again"] != false || view["email_verified_at"] != nil {
		t.Fatalf("answer %v", ans)
	}
	link := func() string {
		e.outbox.mu.Lock()
		defer e.outbox.mu.Unlock()
		m := e.outbox.msgs[len(e.outbox.msgs)-1]
		if m.Kind != notify.KindInvitation || m.To != "nina@example.test" || m.Data[notify.DataExpires] != "7 days" {
			t.Fatalf("message %+v", m)
		}
		u, err := url.Parse(m.Data[notify.DataLink])
		if err != nil || u.Path != "/auth/reset-password" {
			t.Fatalf("link %q", m.Data[notify.DataLink])
		}
		return u.Query().Get("token")
	}
	first := link()
	if ev := e.audit.find(audit.UserInvited, ""); ev == nil || ev.Actor != e.root.ID {
		t.Fatalf("audit %+v", ev)
	}
	res, _ := e.call("POST", "/auth/login", "", `{"email":"nina@example.test","password":"anything at all here"}`)
	if res.StatusCode != 401 {
		t.Fatalf("an invited account signed in: %d", res.StatusCode)
	}
	ans = e.expect("POST", "/auth/admin/invitations", admin, `{"email":"nina@example.test"}`, 200, "")
	if ans["again"] != true {
		t.Fatalf("re-invite %v", ans)
	}
	second := link()
	if _, err := e.mem.PeekToken(ctx, keys.HashToken(first), invitationPurpose, e.svc.cfg.Now()); err == nil {
		t.Fatal("re-inviting kept the old link")
	}
	e.expect("POST", "/auth/admin/invitations", admin, `{"email":"bob@example.test"}`, 409, CodeConflict)
	e.expect("POST", "/auth/admin/invitations", admin, `{"email":"not an email"}`, 400, CodeInvalidInput)
	e.expect("POST", "/auth/admin/invitations", admin, `{"email":"x@example.test","role":"admin"}`, 400, CodeInvalidInput)
	e.expect("POST", "/auth/admin/invitations", e.session(e.bob, "totp"), `{"email":"y@example.test"}`, 403, CodeForbidden)

	// The reset page shows the form for the link and redeems it once.
	res, _ = e.call("GET", "/auth/reset-password?token="+second, "", "")
	if res.StatusCode != 200 {
		t.Fatalf("reset page with an invitation: %d", res.StatusCode)
	}
	const pw = "quiet harbour lanterns glow"
	_, got := e.call("POST", "/auth/reset-password", "", `{"token":"`+second+`","new_password":"`+pw+`"}`)
	if got["invitation_accepted"] != true || got["signed_in"] != false {
		t.Fatalf("redeem %v", got)
	}
	u, _ := e.mem.UserByEmail(ctx, "nina@example.test")
	if u.Status != store.StatusActive || u.PasswordHash == "" || u.EmailVerifiedAt.IsZero() {
		t.Fatalf("after redeeming %+v", u)
	}
	if ev := e.audit.find(audit.InvitationAccepted, u.ID); ev == nil {
		t.Fatal("no invitation.accepted")
	}
	e.expect("POST", "/auth/reset-password", "", `{"token":"`+second+`","new_password":"`+pw+`"}`, 400, CodeResetTokenInvalid)
	res, _ = e.call("POST", "/auth/login", "", `{"email":"nina@example.test","password":"`+pw+`"}`)
	if res.StatusCode != 200 {
		t.Fatalf("login after accepting: %d", res.StatusCode)
	}
	e.expect("POST", "/auth/admin/invitations", admin, `{"email":"nina@example.test"}`, 409, CodeConflict)
}
