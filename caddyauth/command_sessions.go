package caddyauth

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/caddyauth/gateway/internal/audit"
	"github.com/caddyauth/gateway/internal/session"
	"github.com/caddyauth/gateway/store"
)

// sessionStore is the server's session store for the CLI (opened by
// loadEnv); done releases it. Sessions in a server's memory are out of
// reach.
func (e *cliEnv) sessionStore() (store.SessionStore, func(), error) {
	if e.app.sessionsBackend() == "memory" {
		return nil, nil, errors.New("sessions are kept in the server's memory (sessions memory): restart it to end them")
	}
	return e.stores.sessions, func() {}, nil
}

// sessionManager is a session manager over the configured store that tells
// running instances about revocations (Redis pub/sub) like a server does.
func (e *cliEnv) sessionManager() (*session.Manager, func(), error) {
	ss, done, err := e.sessionStore()
	if err != nil {
		return nil, nil, err
	}
	mgr, err := session.New(ss, e.db, session.Config{CacheTTL: -1})
	if err != nil {
		done()
		return nil, nil, err
	}
	if bus := e.stores.revocations; bus != nil {
		mgr.SetBroadcaster(bus)
	}
	return mgr, done, nil
}

// revokeAll ends every session of every user (the leaked-secret runbook).
func (e *cliEnv) revokeAll(ctx context.Context) (int, error) {
	mgr, done, err := e.sessionManager()
	if err != nil {
		return 0, err
	}
	defer done()
	users, err := e.db.ListUsers(ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, u := range users {
		n, err := mgr.RevokeUser(ctx, u.ID)
		total += n
		if err != nil {
			return total, fmt.Errorf("after %d session(s): %w", total, err)
		}
	}
	return total, nil
}

// revokeAllCommand is `caddy auth sessions revoke --all`.
func revokeAllCommand(c *cobra.Command) error {
	env, err := loadEnv(c)
	if err != nil {
		return err
	}
	defer env.Close()
	n, err := env.revokeAll(c.Context())
	if err != nil {
		return err
	}
	env.record(c.Context(), audit.Event{Type: audit.LogoutAll, Reason: "all_users", Detail: map[string]string{"sessions": fmt.Sprint(n)}})
	fmt.Fprintf(c.OutOrStdout(), "%d session(s) revoked for every user\n", n)
	return nil
}
