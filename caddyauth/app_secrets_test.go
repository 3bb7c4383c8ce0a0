package caddyauth

import (
	"strings"
	"testing"
)

// TestSecretOptionNeverEchoesLiteral: a start-up error names a placeholder
// so the operator knows what to fix, but never prints a literal secret, even
// one that contains braces.
func TestSecretOptionNeverEchoesLiteral(t *testing.T) {
	for _, tc := range []struct{ v, want string }{
		{"{env.CADDYAUTH_SECRET}", "secret {env.CADDYAUTH_SECRET}"},
		{"{file./run/secrets/caddyauth}", "secret {file./run/secrets/caddyauth}"},
		{"abc{def}", "secret"},
		{"{abc}", "secret"},
		{"{env.A}{env.B}", "secret"},
		{"x{env.CADDYAUTH_SECRET}", "secret"},
		{"0123456789abcdefghij{klmnopqrstuvwxyz", "secret"},
		{"0123456789abcdefghij", "secret"},
	} {
		if got := secretOption("secret", tc.v); got != tc.want {
			t.Errorf("secretOption(%q) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

// TestLiteralSecretWithBraces: a literal secret containing braces is used as
// written, and a failing one is reported without its value.
func TestLiteralSecretWithBraces(t *testing.T) {
	a := &App{Secret: "abc{def}-gm3uMXVSHuIziiIGqzSukSKdlldgsZPy_MB8kiBIID4", Sessions: &SessionsConfig{Backend: "memory"}}
	if err := provision(t, a); err != nil {
		t.Fatalf("literal secret with braces refused: %v", err)
	}
	for _, v := range []string{"abc{def}", "tooshort{x}"} {
		err := provision(t, &App{Secret: v, Sessions: &SessionsConfig{Backend: "memory"}})
		if err == nil {
			t.Fatalf("%q accepted", v)
		}
		if strings.Contains(err.Error(), v) || strings.Contains(err.Error(), "def") || strings.Contains(err.Error(), "{x}") {
			t.Errorf("error echoes the literal: %v", err)
		}
	}
	err := provision(t, &App{Secret: "{env.A}-{env.B}-0123456789abcdefghijklmnop", Sessions: &SessionsConfig{Backend: "memory"}})
	if err == nil || !strings.Contains(err.Error(), "whole value") {
		t.Errorf("placeholder mixed with text: %v", err)
	}
}
