package flows

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/session"
	"github.com/caddyauth/gateway/store"
)

// downRevoker cannot end sessions (Redis down during `user passwd`).
type downRevoker struct{}

func (downRevoker) RevokeUser(context.Context, string) (int, error) { return 0, store.ErrUnavailable }

// TestPasswordChangeEndsOlderSessions (issue 11 item 2): a password set
// by the operator records PasswordChangedAt, and a session that started
// before it is refused at its next check even when the revocation failed;
// a session made after it lives.
func TestPasswordChangeEndsOlderSessions(t *testing.T) {
	for name, open := range accountsBackends {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			e := newAccountsEnv(t, open(t))
			old, err := e.mgr.Create(ctx, e.bob, "192.0.2.1", "ua")
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Millisecond) // SQL keeps milliseconds
			e.acc.Sessions = downRevoker{}
			_, err = e.acc.SetPassword(ctx, Actor{ID: ActorCLI}, e.bob, "another plinth arugula quay")
			var inc *IncompleteError
			if !errors.As(err, &inc) || !errors.Is(err, ErrSessionsNotRevoked) {
				t.Fatalf("SetPassword with sessions down: %v, want IncompleteError", err)
			}
			got, err := e.be.UserByID(ctx, e.bob.ID)
			if err != nil || got.PasswordChangedAt.IsZero() {
				t.Fatalf("PasswordChangedAt not stored: %v %v", got, err)
			}
			if _, err := e.mgr.Validate(ctx, old.Token); !errors.Is(err, session.ErrNoSession) {
				t.Fatalf("session from before the change: %v, want ErrNoSession", err)
			}
			time.Sleep(2 * time.Millisecond)
			fresh, err := e.mgr.Create(ctx, got, "192.0.2.1", "ua")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.mgr.Validate(ctx, fresh.Token); err != nil {
				t.Fatalf("session after the change: %v", err)
			}
		})
	}
}
