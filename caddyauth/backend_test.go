package caddyauth

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/store"
	redisstore "github.com/caddyauth/gateway/store/redis"
)

// testRedisURL is the Redis the integration tests use (a real server:
// CADDYAUTH_TEST_REDIS, default 127.0.0.1:6379).
func testRedisURL() string {
	addr := os.Getenv("CADDYAUTH_TEST_REDIS")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	if !strings.Contains(addr, "://") {
		addr = "redis://" + addr + "/0"
	}
	return addr
}

// cliCommand is a command with the CLI's config flags, --config set to cfg.
func cliCommand(t *testing.T, cfg string) *cobra.Command {
	t.Helper()
	c := &cobra.Command{Use: "test"}
	configFlags(c)
	if err := c.Flags().Set("config", cfg); err != nil {
		t.Fatal(err)
	}
	c.SetContext(context.Background())
	return c
}

// TestCLIOpensServerStores: with the database path and the Redis URL behind
// {env.X} placeholders, the CLI opens the stores the server opened, and
// revoking a user's sessions from the CLI deletes the server's session in
// Redis (it failed with "invalid URL scheme" when the CLI read the URL raw).
func TestCLIOpensServerStores(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("CADDYAUTH_TEST_DB", filepath.Join(dir, "users.db"))
	t.Setenv("CADDYAUTH_TEST_REDIS_URL", testRedisURL())
	secret := keys.NewToken()
	server := &App{
		Secret:   secret,
		Database: &DatabaseConfig{Driver: "sqlite", DSN: "{env.CADDYAUTH_TEST_DB}"},
		Sessions: &SessionsConfig{Backend: "redis", URL: "{env.CADDYAUTH_TEST_REDIS_URL}"},
	}
	if err := provision(t, server); err != nil {
		t.Fatal(err)
	}
	if _, ok := server.sstore.(*redisstore.Store); !ok {
		t.Fatalf("server session store %T, want redis", server.sstore)
	}
	ctx := context.Background()
	u := &store.User{ID: keys.NewID(), Email: "cli-stores@example.test", Status: store.StatusActive, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := server.db.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if _, err := server.sessions.Create(ctx, u, "192.0.2.1", "test"); err != nil {
		t.Fatalf("creating a session in Redis (is redis-server running? CADDYAUTH_TEST_REDIS): %v", err)
	}

	cfg := filepath.Join(dir, "Caddyfile")
	caddyfile := "{\n\tcaddyauth {\n\t\tsecret " + secret + "\n\t\tdatabase sqlite {env.CADDYAUTH_TEST_DB}\n\t\tsessions redis {env.CADDYAUTH_TEST_REDIS_URL}\n\t}\n}\n"
	if err := os.WriteFile(cfg, []byte(caddyfile), 0o600); err != nil {
		t.Fatal(err)
	}
	env, err := loadEnv(cliCommand(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	if got, err := env.lookup(ctx, u.Email); err != nil || got.ID != u.ID {
		t.Fatalf("the CLI does not see the server's database: %v %v", got, err)
	}
	n, err := env.revokeSessions(ctx, u.ID)
	if err != nil || n != 1 {
		t.Fatalf("revokeSessions = %d, %v; want 1 session revoked", n, err)
	}
	left, err := server.sstore.ListUserSessions(ctx, u.ID)
	if err != nil || len(left) != 0 {
		t.Fatalf("the server's store still has %d session(s) (%v)", len(left), err)
	}
}

// TestOpenBackendErrors: a sessions option that cannot be opened fails with
// the option's name and never echoes the Redis URL (it may hold a password).
func TestOpenBackendErrors(t *testing.T) {
	t.Setenv("CADDYAUTH_TEST_EMPTY", "")
	t.Setenv("CADDYAUTH_TEST_BAD_URL", "http://user:hunter2@127.0.0.1:6379")
	for _, tc := range []struct {
		sessions *SessionsConfig
		want     string
	}{
		{&SessionsConfig{Backend: "redis", URL: "{env.CADDYAUTH_TEST_EMPTY}"}, "sessions redis"},
		{&SessionsConfig{Backend: "redis", URL: "{env.CADDYAUTH_TEST_BAD_URL}"}, "invalid URL scheme"},
		{&SessionsConfig{Backend: "redis", URL: "redis://user:hunter2@[::1"}, "sessions redis"},
		{&SessionsConfig{Backend: "redis", URL: "{file./nonexistent/redis-url}"}, "sessions redis"},
		{&SessionsConfig{Backend: "mongo"}, "unknown sessions backend"},
	} {
		a := &App{Database: &DatabaseConfig{Driver: "sqlite", DSN: filepath.Join(t.TempDir(), "users.db")}, Sessions: tc.sessions}
		b, err := openBackend(context.Background(), a)
		if err == nil {
			b.Close()
			t.Errorf("%+v: opened", tc.sessions)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%+v: %v, want %q and no password", tc.sessions, err, tc.want)
		}
	}
}
