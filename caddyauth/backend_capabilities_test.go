package caddyauth

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestBackendCapabilities: the backend declares what its stores can do,
// set where they are opened: Redis sessions bring cross-instance
// revocation and shared rate limits; the database always brings purgeable
// tokens and the methods switch.
func TestBackendCapabilities(t *testing.T) {
	cases := []struct {
		name     string
		sessions *SessionsConfig
		shared   bool
	}{
		{"database", nil, false},
		{"memory", &SessionsConfig{Backend: "memory"}, false},
	}
	if addr := os.Getenv("CADDYAUTH_TEST_REDIS"); addr != "" {
		cases = append(cases, struct {
			name     string
			sessions *SessionsConfig
			shared   bool
		}{"redis", &SessionsConfig{Backend: "redis", URL: "redis://" + addr + "/0"}, true})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := &App{Database: &DatabaseConfig{Driver: "sqlite", DSN: filepath.Join(t.TempDir(), "users.db")}, Sessions: tc.sessions}
			b, err := openBackend(context.Background(), a)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if b.tokens == nil || b.methods == nil {
				t.Errorf("tokens %v, methods %v: the database provides both", b.tokens, b.methods)
			}
			if got := b.revocations != nil; got != tc.shared {
				t.Errorf("revocations declared: %v, want %v", got, tc.shared)
			}
			if got := b.newLimiter != nil; got != tc.shared {
				t.Errorf("shared limiter declared: %v, want %v", got, tc.shared)
			}
		})
	}
}
