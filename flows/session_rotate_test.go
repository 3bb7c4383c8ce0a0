package flows

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/session"
)

// TestRotateSession is a table of what each caller asks of the rotation
// primitive: which old sessions end, whether a cookie is written, what is
// audited, the end a new session keeps, and the label a store failure is
// answered under (the old session always ends first).
func TestRotateSession(t *testing.T) {
	type olds struct{ first, second *session.Identity }
	for _, tc := range []struct {
		name       string
		rot        func(o olds) rotation
		down       bool // the session store fails every read
		createDown bool // the session store fails only creation
		wantOp     string
		wantErr    error // with wantOp, when the cause matters
		wantFirst  bool  // first old session still live afterwards
		wantSecond bool
		wantCookie bool
		wantAudit  bool
		wantMFA    string
		keepEnd    func(o olds) time.Time // the end the new session must keep
	}{
		{
			name: "login ends every session cookie the browser sends",
			rot: func(olds) rotation {
				return rotation{
					Op: "login", Revoke: revokeBrowser, Cookie: true, Log: "login succeeded", Audit: audit.LoginSucceeded,
					Session: session.Options{AuthMethod: "password"},
				}
			},
			wantCookie: true, wantAudit: true,
		},
		{
			name: "mfa upgrade ends only the caller's token",
			rot: func(o olds) rotation {
				return rotation{
					Op: "mfa", Revoke: revokeToken, Token: o.first.Token, Cookie: true, Audit: audit.LoginSucceeded,
					Session: session.Options{AuthMethod: "password", MFAMethod: MethodTOTP},
				}
			},
			wantSecond: true, wantCookie: true, wantAudit: true, wantMFA: MethodTOTP,
		},
		{
			name: "password change keeps the old end, its sessions already ended",
			rot: func(o olds) rotation {
				return rotation{
					Op: "change password", Revoke: revokeNone, Cookie: true,
					Session: session.Options{AuthMethod: "password"}, KeepEnd: o.first.Session.ExpiresAt.Add(-time.Hour),
				}
			},
			wantFirst: true, wantSecond: true, wantCookie: true,
			keepEnd: func(o olds) time.Time { return o.first.Session.ExpiresAt.Add(-time.Hour) },
		},
		{
			name: "no cookie when the caller hands the session out itself",
			rot: func(o olds) rotation {
				return rotation{Op: "bearer", Revoke: revokeToken, Token: o.first.Token}
			},
			wantSecond: true,
		},
		{
			name: "a kept end that has passed gives no session, not a full one",
			rot: func(olds) rotation {
				return rotation{Op: "change password", Cookie: true, KeepEnd: time.Now().Add(-time.Second)}
			},
			wantOp: "change password create session", wantErr: session.ErrEndPassed, wantFirst: true, wantSecond: true,
		},
		{
			name: "store down while ending the old sessions",
			rot: func(olds) rotation {
				return rotation{Op: "login", Revoke: revokeBrowser, Cookie: true, Audit: audit.LoginSucceeded}
			},
			down:   true,
			wantOp: "login rotate", wantFirst: true, wantSecond: true,
		},
		{
			name: "store down while creating: the old session has ended",
			rot: func(o olds) rotation {
				return rotation{Op: "mfa", Revoke: revokeToken, Token: o.first.Token, Cookie: true, Audit: audit.LoginSucceeded}
			},
			createDown: true,
			wantOp:     "mfa create session", wantSecond: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Config{}, GuardConfig{})
			rec := &recorder{}
			e.svc.deps.Audit = rec
			ctx := context.Background()
			var o olds
			var err error
			for _, p := range []**session.Identity{&o.first, &o.second} {
				if *p, err = e.svc.deps.Sessions.CreateWith(ctx, e.alice, session.Options{AuthMethod: "password"}); err != nil {
					t.Fatal(err)
				}
			}
			name := e.svc.CookieName()
			r := httptest.NewRequest("POST", "/auth/x", nil)
			r.Header.Set("Cookie", name+"="+o.first.Token+"; "+name+"="+o.second.Token)
			w := httptest.NewRecorder()
			rot := tc.rot(o)
			rot.User = e.alice
			e.ss.mu.Lock()
			e.ss.down, e.ss.createDown = tc.down, tc.createDown
			e.ss.mu.Unlock()
			nid, err := e.svc.rotateSession(w, r, rot)
			e.ss.mu.Lock()
			e.ss.down, e.ss.createDown = false, false
			e.ss.mu.Unlock()

			if tc.wantOp != "" {
				var re *rotateError
				if !errors.As(err, &re) || re.op != tc.wantOp || nid != nil {
					t.Fatalf("got %v, %v; want a failure labelled %q", nid, err, tc.wantOp)
				}
				if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
					t.Fatalf("error %v, want %v", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			for _, old := range []struct {
				id   *session.Identity
				want bool
			}{{o.first, tc.wantFirst}, {o.second, tc.wantSecond}} {
				_, verr := e.svc.deps.Sessions.Validate(ctx, old.id.Token)
				if live := verr == nil; live != old.want {
					t.Errorf("old session live=%v, want %v (%v)", live, old.want, verr)
				}
			}
			cookies := w.Result().Cookies()
			if got := len(cookies) == 1; got != tc.wantCookie {
				t.Fatalf("cookies %v, want one: %v", cookies, tc.wantCookie)
			}
			if tc.wantCookie && (cookies[0].Name != name || cookies[0].Value != nid.Token || !cookies[0].HttpOnly || !cookies[0].Secure) {
				t.Errorf("cookie %+v is not the new session's", cookies[0])
			}
			ev := rec.find(audit.LoginSucceeded, e.alice.ID)
			if (ev != nil) != tc.wantAudit {
				t.Fatalf("audit event %+v, want one: %v", ev, tc.wantAudit)
			}
			if ev != nil && (ev.Detail["session"] != publicSessionID(nid.Session.ID) || ev.Detail["mfa"] != tc.wantMFA) {
				t.Errorf("audit detail %v, want the new session and mfa %q", ev.Detail, tc.wantMFA)
			}
			if nid == nil {
				return
			}
			if _, err := e.svc.deps.Sessions.Validate(ctx, nid.Token); err != nil {
				t.Errorf("new session not live: %v", err)
			}
			if nid.Session.MFAMethod != tc.wantMFA || nid.Session.IP == "" {
				t.Errorf("new session %+v: want mfa %q and the client address", nid.Session, tc.wantMFA)
			}
			if tc.keepEnd != nil {
				end := tc.keepEnd(o)
				if got := nid.Session.ExpiresAt; !got.Equal(end) {
					t.Errorf("new session ends %v, want %v", got, end)
				}
			}
		})
	}
}
