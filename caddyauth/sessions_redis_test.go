package caddyauth

import (
	"reflect"
	"strings"
	"testing"

	redisstore "github.com/caddyauth/gateway/store/redis"
)

// TestRedisConfigResolves: placeholders in every field of `sessions redis`
// resolve as the server resolves them; a password is literal unless it is
// one whole placeholder, and no error quotes it.
func TestRedisConfigResolves(t *testing.T) {
	t.Setenv("CADDYAUTH_TEST_MASTER", "mymaster")
	t.Setenv("CADDYAUTH_TEST_SENTINEL", "10.0.0.9:26379")
	t.Setenv("CADDYAUTH_TEST_PW", "s3cret{not-a-placeholder}")
	t.Setenv("CADDYAUTH_TEST_SPW", "sentinel pw")
	s := &SessionsConfig{
		Backend:  "redis",
		Sentinel: &RedisSentinel{Master: "{env.CADDYAUTH_TEST_MASTER}", Addresses: []string{"10.0.0.1:26379", "{env.CADDYAUTH_TEST_SENTINEL}"}, Password: "{env.CADDYAUTH_TEST_SPW}"},
		Username: "gw", Password: "{env.CADDYAUTH_TEST_PW}", DB: 2, TLS: true,
	}
	got, err := s.resolvedRedisConfig()
	if err != nil {
		t.Fatal(err)
	}
	want := redisstore.Config{
		MasterName: "mymaster", Sentinels: []string{"10.0.0.1:26379", "10.0.0.9:26379"},
		SentinelPassword: "sentinel pw", Username: "gw", Password: "s3cret{not-a-placeholder}", DB: 2, TLS: true,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("resolved %+v, want %+v", got, want)
	}

	// A literal password with braces is taken as written, never parsed.
	lit := &SessionsConfig{Backend: "redis", Cluster: []string{"h:7000"}, Password: "hunter2{oops}"}
	if got, err := lit.resolvedRedisConfig(); err != nil || got.Password != "hunter2{oops}" {
		t.Errorf("literal password: %q, %v", got.Password, err)
	}
	// An unresolvable placeholder names the option, not a value.
	bad := &SessionsConfig{Backend: "redis", Cluster: []string{"h:7000"}, Password: "{file./nonexistent/hunter2}"}
	if _, err := bad.resolvedRedisConfig(); err == nil || !strings.Contains(err.Error(), "sessions redis password") {
		t.Errorf("unresolvable password placeholder: %v", err)
	}
}
