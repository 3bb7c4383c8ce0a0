// Package storetest is the conformance suite every store backend runs, so
// the flows can rely on one behaviour whatever the operator configured.
//
// A backend's test calls TestUserStore, TestSessionStore and TestTokenStore
// with an open function that returns a fresh, empty store for each subtest
// (subtests run in parallel). Times are compared at millisecond precision,
// the finest every backend keeps.
package storetest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
	"time"
)

// AddUser makes userID exist for backends whose sessions and tokens
// reference a user row (SQL foreign keys); others pass a no-op.
type AddUser func(t *testing.T, userID string)

// NewID returns a random 64-hex-digit id, the shape of a session id (SHA-256
// of the cookie token).
func NewID() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func sameMs(a, b time.Time) bool { return a.UnixMilli() == b.UnixMilli() }

func checkTime(t *testing.T, field string, got, want time.Time) {
	t.Helper()
	if !sameMs(got, want) {
		t.Errorf("%s = %v, want %v (millisecond precision)", field, got, want)
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: err = %v, want %v", what, err, target)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// shortLife is the lifetime of sessions the suite waits out: long enough
// that a slow backend under -race still sees them alive at first.
const shortLife = 500 * time.Millisecond

// sleepUntil waits until wall time is past at, with a margin so a backend's
// own clock (Redis expiry) has certainly passed it too.
func sleepUntil(at time.Time) {
	time.Sleep(time.Until(at) + 50*time.Millisecond)
}

// ----- sessions -----
