package session

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestCreateWithEndBy: a session made with EndBy ends no later than it,
// by this manager's own clock, and none is made once it has passed (a
// zero cap would otherwise mean the full configured lifetime).
func TestCreateWithEndBy(t *testing.T) {
	m, _, _, clk, u := setup(t, Config{Lifetime: 24 * time.Hour, Idle: time.Hour})
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		endBy    time.Duration // from now; 0: not set
		lifetime time.Duration
		want     time.Duration // absolute lifetime; 0: ErrEndPassed
	}{
		{"not set", 0, 0, 24 * time.Hour},
		{"sooner than the lifetime", 3 * time.Hour, 0, 3 * time.Hour},
		{"later than the lifetime", 48 * time.Hour, 0, 24 * time.Hour},
		{"later than a shorter cap", 3 * time.Hour, time.Hour, time.Hour},
		{"now", -1, 0, 0},
		{"past", -time.Minute, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := clk.Now()
			o := Options{AuthMethod: "password", Lifetime: tc.lifetime}
			switch {
			case tc.endBy == -1:
				o.EndBy = now
			case tc.endBy != 0:
				o.EndBy = now.Add(tc.endBy)
			}
			id, err := m.CreateWith(ctx, u, o)
			if tc.want == 0 {
				if !errors.Is(err, ErrEndPassed) || id != nil {
					t.Fatalf("got %v, %v; want ErrEndPassed", id, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := id.Session.ExpiresAt.Sub(now); got != tc.want {
				t.Errorf("lifetime %v, want %v", got, tc.want)
			}
			if got := id.Session.IdleExpiresAt.Sub(now); got != min(time.Hour, tc.want) {
				t.Errorf("idle %v", got)
			}
		})
	}
}
