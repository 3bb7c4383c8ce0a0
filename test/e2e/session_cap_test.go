package e2e

import (
	"net/http"
	"sync"
	"testing"

	"github.com/caddyauth/gateway/test/harness"
)

// TestSessionCapConcurrentLogins: issue 9 item 9 through the binary. With
// max_sessions_per_user 2, rounds of 20 concurrent logins of one user
// leave exactly two sessions alive, on the database backend and on Redis.
func TestSessionCapConcurrentLogins(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"database", "redis"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			g := newGateway(t, func(c *harness.GatewayConfig) {
				if backend == "database" {
					c.Sessions = "database"
				}
				c.AppOptions = append(c.AppOptions, "max_sessions_per_user 2")
			})
			pw := newPassword()
			email := "cap-" + backend + "@example.test"
			g.addUser(email, "Cap", pw)
			g.start()
			for round := range 5 {
				clients := make([]*harness.Client, 20)
				var wg sync.WaitGroup
				for i := range clients {
					clients[i] = g.client()
					wg.Add(1)
					go func(c *harness.Client) {
						defer wg.Done()
						c.Login(email, pw)
					}(clients[i])
				}
				wg.Wait()
				alive := 0
				for _, c := range clients {
					if r := c.Get("/app", api...); r.StatusCode == http.StatusOK {
						alive++
					}
				}
				r := clients[0].Get("/auth/sessions", api...)
				listed := -1
				if r.StatusCode == http.StatusOK {
					l, _ := r.JSON()["sessions"].([]any)
					listed = len(l)
				}
				if alive != 2 {
					t.Fatalf("round %d (%s): %d of 20 concurrent logins still open the app, want 2 (sessions listed: %d)", round, backend, alive, listed)
				}
			}
		})
	}
}
