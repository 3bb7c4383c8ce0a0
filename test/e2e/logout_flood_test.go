package e2e

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/caddyauth/gateway/internal/keys"
)

// TestLogoutCookieFlood: issue 9 item 6 through the binary on a private
// Redis. One POST /auth/logout with 300 made-up session cookies cost about
// 1,200 Redis commands and 300 PUBLISH to every instance; now it costs at
// most a few lookups and no PUBLISH, while a real logout still publishes
// its one revocation.
func TestLogoutCookieFlood(t *testing.T) {
	t.Parallel()
	g := newGateway(t, nil)
	pw := newPassword()
	g.addUser("flood@example.test", "Flood", pw)
	g.start()
	rdb := redis.NewClient(&redis.Options{Addr: g.redis.Addr()})
	t.Cleanup(func() { rdb.Close() })
	ctx := context.Background()

	flood := func(c string) string {
		parts := []string{}
		if c != "" {
			parts = append(parts, cookieName+"="+c)
		}
		for range 300 {
			parts = append(parts, cookieName+"="+keys.NewToken())
		}
		return strings.Join(parts, "; ")
	}
	logout := func(cookie string) (total, publish int) {
		t.Helper()
		if err := rdb.ConfigResetStat(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		c := g.client()
		r := c.Do(c.NewRequest(http.MethodPost, "/auth/logout", strings.NewReader("{}"),
			"Content-Type", "application/json", "Accept", "application/json", "Cookie", cookie))
		expectStatus(t, r, http.StatusOK)
		return redisCalls(t, rdb)
	}

	total, publish := logout(flood(""))
	t.Logf("anonymous logout, 300 cookies: %d Redis commands, %d PUBLISH", total, publish)
	if total > 8 || publish != 0 {
		t.Errorf("anonymous logout with 300 cookies: %d Redis commands, %d PUBLISH; want at most 8 and none", total, publish)
	}

	// A real session among the flood is still ended, with one PUBLISH.
	owner := g.client()
	owner.Login("flood@example.test", pw)
	expectStatus(t, owner.Get("/app", api...), http.StatusOK)
	total, publish = logout(flood(owner.Cookie(cookieName)))
	t.Logf("logout of a live session, 300 cookies: %d Redis commands, %d PUBLISH", total, publish)
	if total > 16 || publish != 1 {
		t.Errorf("logout of a live session with 300 cookies: %d Redis commands, %d PUBLISH; want at most 16 and one", total, publish)
	}
	expectError(t, owner.Get("/app", api...), http.StatusUnauthorized, "SESSION_EXPIRED")
}

// redisCalls sums INFO commandstats since the last CONFIG RESETSTAT,
// leaving out the test's own INFO and CONFIG.
func redisCalls(t *testing.T, rdb *redis.Client) (total, publish int) {
	t.Helper()
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		cmd := strings.TrimPrefix(name, "cmdstat_")
		if cmd == "info" || strings.HasPrefix(cmd, "config") {
			continue
		}
		calls := strings.TrimPrefix(strings.Split(rest, ",")[0], "calls=")
		n, err := strconv.Atoi(calls)
		if err != nil {
			t.Fatalf("commandstats line %q: %v", line, err)
		}
		total += n
		if cmd == "publish" {
			publish += n
		}
	}
	return total, publish
}
