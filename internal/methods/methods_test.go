package methods

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/caddyauth/gateway/store"
	"github.com/caddyauth/gateway/store/memory"
	sqlstore "github.com/caddyauth/gateway/store/sql"
)

func TestValid(t *testing.T) {
	for m, want := range map[string]bool{
		"password": true, "registration": true, "password_reset": true, "passwordless": true,
		"oauth:google": true, "oauth:my-idp_2": true,
		"": false, "oauth:": false, "oauth:Google": false, "oauth:a/b": false, "totp": false, "Password": false,
		"oauth:" + string(make([]byte, 65)): false,
	} {
		if got := Valid(m); got != want {
			t.Errorf("Valid(%q) = %v, want %v", m, got, want)
		}
	}
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newSwitch(st store.SettingsStore, c *clock) *Switch {
	s := New(st, 2*time.Second, nil)
	s.now = c.now
	return s
}

// TestSharedBetweenInstances: two switches (two instances) over one
// database; a change made through one is seen by the other once its TTL
// has passed, and at once by the one that made it.
func TestSharedBetweenInstances(t *testing.T) {
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, "sqlite", filepath.Join(t.TempDir(), "auth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	a, b := newSwitch(db, c), newSwitch(db, c)
	for _, s := range []*Switch{a, b} {
		if ok, err := s.Enabled(ctx, "password"); !ok || err != nil {
			t.Fatalf("fresh switch: password enabled = %v, %v", ok, err)
		}
	}
	if err := a.Set(ctx, "password", false); err != nil {
		t.Fatal(err)
	}
	if ok, _ := a.Enabled(ctx, "password"); ok {
		t.Error("the instance that disabled password still allows it")
	}
	if ok, _ := b.Enabled(ctx, "password"); !ok {
		t.Error("the other instance reread before its TTL (cache not used)")
	}
	c.add(2 * time.Second)
	if ok, _ := b.Enabled(ctx, "password"); ok {
		t.Error("the other instance still allows password after its TTL")
	}
	if ok, _ := b.Enabled(ctx, "oauth:google"); !ok {
		t.Error("disabling password disabled oauth:google")
	}
	if err := b.Set(ctx, "password", true); err != nil {
		t.Fatal(err)
	}
	c.add(2 * time.Second)
	if ok, _ := a.Enabled(ctx, "password"); !ok {
		t.Error("re-enabled password not seen")
	}
	if err := a.Set(ctx, "bogus", false); err == nil {
		t.Error("Set accepted an unknown method")
	}
}

type brokenSettings struct{ store.SettingsStore }

func (brokenSettings) Settings(context.Context, string) (map[string]string, error) {
	return nil, store.ErrUnavailable
}

func TestStoreErrorIsReturned(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	s := newSwitch(brokenSettings{memory.New()}, c)
	ok, err := s.Enabled(context.Background(), "password")
	if ok || !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Enabled with a dead store = %v, %v; want false and the error", ok, err)
	}
}

func TestList(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	if err := Set(ctx, st, "oauth:github", false, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := Set(ctx, st, "registration", false, time.Now()); err != nil {
		t.Fatal(err)
	}
	got, err := List(ctx, st, Offered(true, "google", "github")...)
	if err != nil {
		t.Fatal(err)
	}
	want := []State{{"oauth:github", false}, {"oauth:google", true}, {"password", true}, {"registration", false}}
	if len(got) != len(want) {
		t.Fatalf("List = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("List[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}

// TestSwitchListsProviders: the switch lists the configured providers
// before anyone switched them (the admin API and `methods list` used to
// show only the fixed methods, so an operator could not see what to
// disable).
func TestSwitchListsProviders(t *testing.T) {
	ctx := context.Background()
	s := New(memory.New(), -1, Offered(false, "corp", "github"))
	if err := s.Set(ctx, "oauth:github", false); err != nil {
		t.Fatal(err)
	}
	got, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []State{{"oauth:corp", true}, {"oauth:github", false}, {"password", true}}
	if len(got) != len(want) {
		t.Fatalf("List = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("List[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}
