package flows

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/password"
	"github.com/caddyauth/gateway/internal/session"
	"github.com/caddyauth/gateway/store"
	"github.com/caddyauth/gateway/store/memory"
	sqlstore "github.com/caddyauth/gateway/store/sql"
)

// accountsBackend is what the account service needs of one backend.
type accountsBackend interface {
	store.UserStore
	store.MFAStore
	store.SessionStore
	store.LockoutStore
}

// A password the new-password policy accepts.
const accountsPW = "plinth arugula mezzanine quay"

var accountsBackends = map[string]func(t *testing.T) accountsBackend{
	"memory": func(*testing.T) accountsBackend { return memory.New() },
	"sqlite": func(t *testing.T) accountsBackend {
		db, err := sqlstore.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "auth.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	},
}

type accountsEnv struct {
	acc   *Accounts
	be    accountsBackend
	mgr   *session.Manager
	audit *recorder
	bob   *store.User
}

func newAccountsEnv(t *testing.T, be accountsBackend) *accountsEnv {
	t.Helper()
	mgr, err := session.New(be, be, session.Config{CacheTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	acc := &Accounts{
		Users: be, MFA: be, Sessions: mgr, Lockouts: StoreLockouts{Store: be, Now: time.Now},
		Hasher: password.New(fastHash, 1), Audit: rec, Now: time.Now, ContextWords: []string{"acme"},
	}
	bob, err := acc.Draft(context.Background(), NewAccount{Email: " Bob@Example.test", Name: "Bob", Password: accountsPW})
	if err != nil {
		t.Fatal(err)
	}
	if err := acc.Create(context.Background(), Actor{ID: ActorCLI}, bob); err != nil {
		t.Fatal(err)
	}
	return &accountsEnv{acc: acc, be: be, mgr: mgr, audit: rec, bob: bob}
}

func (e *accountsEnv) signIn(t *testing.T) {
	t.Helper()
	if _, err := e.mgr.Create(context.Background(), e.bob, "192.0.2.1", "test"); err != nil {
		t.Fatal(err)
	}
}

func (e *accountsEnv) sessions(t *testing.T) int {
	t.Helper()
	l, err := e.mgr.List(context.Background(), e.bob.ID)
	if err != nil {
		t.Fatal(err)
	}
	return len(l)
}

// TestAccounts runs every operation of the account service on each
// backend: the store change, the sessions it ends and the audit record
// with its actor.
func TestAccounts(t *testing.T) {
	admin := Actor{ID: "admin-id", IP: "192.0.2.9", UserAgent: "ua"}
	cases := []struct {
		name  string
		event string
		run   func(t *testing.T, e *accountsEnv) (int, error)
		check func(t *testing.T, e *accountsEnv)
		ended int  // what the operation reports: sessions ended (unlock: pairs)
		keeps bool // the user's sessions stay
	}{
		{
			name: "disable", event: audit.UserDisabled, ended: 1,
			run: func(t *testing.T, e *accountsEnv) (int, error) {
				return e.acc.SetStatus(context.Background(), admin, e.bob, store.StatusDisabled)
			},
			check: func(t *testing.T, e *accountsEnv) {
				if u, _ := e.be.UserByID(context.Background(), e.bob.ID); u.Status != store.StatusDisabled {
					t.Errorf("status = %q", u.Status)
				}
			},
		},
		{
			name: "enable", event: audit.UserEnabled, ended: 0, keeps: true,
			run: func(t *testing.T, e *accountsEnv) (int, error) {
				return e.acc.SetStatus(context.Background(), admin, e.bob, store.StatusActive)
			},
		},
		{
			name: "delete", event: audit.UserDeleted, ended: 1,
			run: func(t *testing.T, e *accountsEnv) (int, error) {
				return e.acc.Delete(context.Background(), admin, e.bob)
			},
			check: func(t *testing.T, e *accountsEnv) {
				if _, err := e.be.UserByID(context.Background(), e.bob.ID); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("user after delete: %v", err)
				}
			},
		},
		{
			name: "set password", event: audit.PasswordChanged, ended: 1,
			run: func(t *testing.T, e *accountsEnv) (int, error) {
				return e.acc.SetPassword(context.Background(), admin, e.bob, "tundra marimba oxbow lantern")
			},
			check: func(t *testing.T, e *accountsEnv) {
				u, _ := e.be.UserByID(context.Background(), e.bob.ID)
				if e.acc.Hasher.Verify(context.Background(), u.PasswordHash, "tundra marimba oxbow lantern") != nil {
					t.Error("new password does not verify")
				}
			},
		},
		{
			name: "store password (change-password's step)", event: audit.PasswordChanged, keeps: true,
			run: func(t *testing.T, e *accountsEnv) (int, error) {
				err := e.acc.StorePassword(context.Background(), admin, e.bob, "hash", map[string]string{"sessions_ended": "0"})
				return 0, err
			},
			check: func(t *testing.T, e *accountsEnv) {
				ev := e.audit.find(audit.PasswordChanged, e.bob.ID)
				if ev.Detail["via"] != admin.ID || ev.Detail["sessions_ended"] != "0" {
					t.Errorf("detail = %v", ev.Detail)
				}
			},
		},
		{
			name: "logout all", event: audit.LogoutAll, ended: 1,
			run: func(t *testing.T, e *accountsEnv) (int, error) {
				return e.acc.LogoutAll(context.Background(), admin, e.bob)
			},
		},
		{
			name: "unlock", event: audit.Unlocked, ended: 1, keeps: true,
			run: func(t *testing.T, e *accountsEnv) (int, error) {
				ctx := context.Background()
				p := store.LockoutPolicy{Max: 1, Window: time.Hour, Duration: time.Hour}
				if _, err := e.be.LockoutFail(ctx, e.bob.Email, "192.0.2.1", time.Now(), p); err != nil {
					t.Fatal(err)
				}
				return e.acc.Unlock(ctx, admin, "BOB@example.test")
			},
		},
		{
			name: "reset mfa", event: audit.MFAReset, ended: 1,
			run: func(t *testing.T, e *accountsEnv) (int, error) {
				ctx := context.Background()
				if err := e.be.CreateTOTP(ctx, &store.TOTPDevice{ID: "d1", UserID: e.bob.ID, Secret: []byte("s"), CreatedAt: time.Now()}); err != nil {
					t.Fatal(err)
				}
				return 1, e.acc.ResetMFA(ctx, admin, e.bob)
			},
			check: func(t *testing.T, e *accountsEnv) {
				if l, _ := e.be.ListTOTP(context.Background(), e.bob.ID); len(l) != 0 {
					t.Error("factors left after reset")
				}
			},
		},
	}
	for name, open := range accountsBackends {
		for _, tc := range cases {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				e := newAccountsEnv(t, open(t))
				e.signIn(t)
				n, err := tc.run(t, e)
				if err != nil {
					t.Fatal(err)
				}
				if n != tc.ended {
					t.Errorf("reported %d, want %d", n, tc.ended)
				}
				if left := e.sessions(t); tc.keeps != (left == 1) {
					t.Errorf("%d session(s) left", left)
				}
				ev := e.audit.find(tc.event, e.bob.ID)
				if ev == nil || ev.Actor != admin.ID || ev.IP != admin.IP || ev.UserAgent != admin.UserAgent || ev.Email != e.bob.Email {
					t.Errorf("audit %s = %+v", tc.event, ev)
				}
				if tc.check != nil {
					tc.check(t, e)
				}
			})
		}
	}
}

// TestAccountsRefusals pins the rules every caller now shares.
func TestAccountsRefusals(t *testing.T) {
	for name, open := range accountsBackends {
		t.Run(name, func(t *testing.T) {
			e := newAccountsEnv(t, open(t))
			ctx := context.Background()
			for _, tc := range []struct {
				in   NewAccount
				want error
			}{
				{NewAccount{Email: "not-an-email", Password: accountsPW}, ErrInvalidEmail},
				{NewAccount{Email: "a@example.test", Name: "line\nbreak", Password: accountsPW}, ErrInvalidName},
				{NewAccount{Email: "a@example.test", Name: string(make([]byte, MaxNameLen+1)), Password: accountsPW}, ErrInvalidName},
				{NewAccount{Email: "a@example.test", Phone: "555", Password: accountsPW}, ErrInvalidPhone},
				{NewAccount{Email: "a@example.test", Groups: []string{"a,b"}, Password: accountsPW}, ErrInvalidGroup},
				{NewAccount{Email: "a@example.test"}, password.ErrTooShort},
				// Built from a context word: refused, whichever reason says so.
				{NewAccount{Email: "a@example.test", Password: "acme acme acme acme acme"}, nil},
			} {
				_, err := e.acc.Draft(ctx, tc.in)
				if tc.want == nil {
					if err == nil {
						t.Errorf("%+v accepted", tc.in)
					}
					continue
				}
				if !errors.Is(err, tc.want) {
					t.Errorf("%+v: %v, want %v", tc.in, err, tc.want)
				}
			}
			if _, err := e.acc.Draft(ctx, NewAccount{Email: "sso@example.test", NoPassword: true}); err != nil {
				t.Errorf("account without a password: %v", err)
			}
			taken, err := e.acc.Draft(ctx, NewAccount{Email: "bob@example.test", Password: accountsPW})
			if err != nil {
				t.Fatal(err)
			}
			if err := e.acc.Create(ctx, Actor{ID: ActorCLI}, taken); !errors.Is(err, store.ErrConflict) {
				t.Errorf("second bob: %v", err)
			}
			if err := e.acc.CreateFirst(ctx, Actor{ID: ActorSetup}, taken); !errors.Is(err, store.ErrConflict) {
				t.Errorf("first user when one exists: %v", err)
			}
			self := Actor{ID: e.bob.ID}
			if _, err := e.acc.SetStatus(ctx, self, e.bob, store.StatusDisabled); !errors.Is(err, ErrSelf) {
				t.Errorf("disable self: %v", err)
			}
			if _, err := e.acc.Delete(ctx, self, e.bob); !errors.Is(err, ErrSelf) {
				t.Errorf("delete self: %v", err)
			}
			if ev := e.audit.find(audit.UserCreated, e.bob.ID); ev == nil || ev.Actor != ActorCLI || ev.Detail["via"] != ActorCLI {
				t.Errorf("user.created = %+v", ev)
			}
		})
	}
}
