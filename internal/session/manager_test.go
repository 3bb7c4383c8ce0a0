package session

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/store"
	"github.com/caddyauth/gateway/store/memory"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// countingStore counts reads and can fail every call, to check the cache
// and fail-closed behaviour.
type countingStore struct {
	store.SessionStore
	mu      sync.Mutex
	gets    int
	touches int
	fail    bool

	purgeFail atomic.Bool
}

func (c *countingStore) PurgeExpired(ctx context.Context, now time.Time) (int, error) {
	if c.purgeFail.Load() {
		return 0, store.ErrUnavailable
	}
	return c.SessionStore.PurgeExpired(ctx, now)
}

func (c *countingStore) GetSession(ctx context.Context, id string) (*store.Session, error) {
	c.mu.Lock()
	c.gets++
	fail := c.fail
	c.mu.Unlock()
	if fail {
		return nil, store.ErrUnavailable
	}
	return c.SessionStore.GetSession(ctx, id)
}

func (c *countingStore) TouchSession(ctx context.Context, id string, a, b time.Time) error {
	c.mu.Lock()
	c.touches++
	c.mu.Unlock()
	return c.SessionStore.TouchSession(ctx, id, a, b)
}

func setup(t *testing.T, cfg Config) (*Manager, *memory.Store, *countingStore, *clock, *store.User) {
	t.Helper()
	mem := memory.New()
	cs := &countingStore{SessionStore: mem}
	clk := &clock{t: time.Now()}
	cfg.Now = clk.Now
	m, err := New(cs, mem, cfg)
	if err != nil {
		t.Fatal(err)
	}
	u := &store.User{ID: keys.NewID(), Email: "a@example.test", Status: store.StatusActive}
	if err := mem.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return m, mem, cs, clk, u
}

func TestCreateValidate(t *testing.T) {
	m, mem, _, _, u := setup(t, Config{})
	ctx := context.Background()
	id, err := m.Create(ctx, u, "192.0.2.1", "test-agent")
	if err != nil {
		t.Fatal(err)
	}
	if len(id.Token) != 43 || id.Session.ID != keys.HashToken(id.Token) {
		t.Fatal("session id is not the token hash")
	}
	// The store holds the hash, never the token.
	if _, err := mem.GetSession(ctx, id.Token); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("token usable as a store key")
	}
	got, err := m.Validate(ctx, id.Token)
	if err != nil || got.User.ID != u.ID || got.Token != "" {
		t.Fatalf("validate: %v %+v", err, got)
	}
	// The store id is not a credential.
	if _, err := m.Validate(ctx, id.Session.ID); !errors.Is(err, ErrNoSession) {
		t.Fatal("store id accepted as a token")
	}
}

func TestMalformedTokens(t *testing.T) {
	m, _, cs, _, _ := setup(t, Config{})
	for _, tok := range []string{"", "short", keys.NewToken() + "x", "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!", keys.NewToken()} {
		if _, err := m.Validate(context.Background(), tok); !errors.Is(err, ErrNoSession) {
			t.Fatalf("%q: %v", tok, err)
		}
	}
	if cs.gets != 1 { // only the well-formed unknown token reaches the store
		t.Fatalf("store reads = %d, want 1", cs.gets)
	}
}

func TestCacheBoundsStoreReads(t *testing.T) {
	m, _, cs, clk, u := setup(t, Config{CacheTTL: 2 * time.Second})
	ctx := context.Background()
	id, _ := m.Create(ctx, u, "", "")
	for i := 0; i < 100; i++ {
		if _, err := m.Validate(ctx, id.Token); err != nil {
			t.Fatal(err)
		}
	}
	if cs.gets != 1 {
		t.Fatalf("store reads = %d, want 1 (cache)", cs.gets)
	}
	clk.Add(2 * time.Second)
	if _, err := m.Validate(ctx, id.Token); err != nil {
		t.Fatal(err)
	}
	if cs.gets != 2 {
		t.Fatalf("store reads = %d after TTL, want 2", cs.gets)
	}
}

func TestRevocationFeltThroughCache(t *testing.T) {
	// Two managers over one store stand in for two instances.
	m1, mem, _, clk, u := setup(t, Config{CacheTTL: time.Second})
	m2, _ := New(mem, mem, Config{CacheTTL: time.Second, Now: clk.Now})
	ctx := context.Background()
	id, _ := m1.Create(ctx, u, "", "")
	if _, err := m2.Validate(ctx, id.Token); err != nil {
		t.Fatal(err)
	}
	if err := m1.Revoke(ctx, id.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := m1.Validate(ctx, id.Token); !errors.Is(err, ErrNoSession) {
		t.Fatal("revoking instance still accepts the session")
	}
	clk.Add(time.Second)
	if _, err := m2.Validate(ctx, id.Token); !errors.Is(err, ErrNoSession) {
		t.Fatal("other instance accepts a revoked session after the cache TTL")
	}
}

func TestIdleAndAbsoluteExpiry(t *testing.T) {
	m, _, cs, clk, u := setup(t, Config{Lifetime: time.Hour, Idle: 10 * time.Minute, CacheTTL: -1})
	ctx := context.Background()
	id, _ := m.Create(ctx, u, "", "")
	// Activity every 5 minutes keeps it alive past the idle timeout...
	for i := 0; i < 11; i++ {
		clk.Add(5 * time.Minute)
		if _, err := m.Validate(ctx, id.Token); err != nil {
			t.Fatalf("after %d min: %v", (i+1)*5, err)
		}
	}
	// ...but touches are throttled, not one per request.
	if cs.touches > 11 {
		t.Fatalf("%d touches", cs.touches)
	}
	// The absolute lifetime ends it regardless.
	clk.Add(5 * time.Minute)
	if _, err := m.Validate(ctx, id.Token); !errors.Is(err, ErrNoSession) {
		t.Fatal("session outlived its absolute lifetime")
	}
	id2, _ := m.Create(ctx, u, "", "")
	clk.Add(10*time.Minute + time.Second)
	if _, err := m.Validate(ctx, id2.Token); !errors.Is(err, ErrNoSession) {
		t.Fatal("session outlived its idle timeout")
	}
}

func TestTouchThrottled(t *testing.T) {
	m, _, cs, clk, u := setup(t, Config{Idle: time.Hour, CacheTTL: -1})
	ctx := context.Background()
	id, _ := m.Create(ctx, u, "", "")
	for i := 0; i < 50; i++ {
		clk.Add(time.Second)
		if _, err := m.Validate(ctx, id.Token); err != nil {
			t.Fatal(err)
		}
	}
	if cs.touches != 0 {
		t.Fatalf("%d touches within the 6-minute interval", cs.touches)
	}
	clk.Add(6 * time.Minute)
	_, _ = m.Validate(ctx, id.Token)
	if cs.touches != 1 {
		t.Fatalf("touches = %d, want 1", cs.touches)
	}
}

func TestMaxPerUserEvictsOldest(t *testing.T) {
	m, _, _, clk, u := setup(t, Config{MaxPerUser: 3})
	ctx := context.Background()
	var toks []string
	for i := 0; i < 4; i++ {
		clk.Add(time.Second)
		id, err := m.Create(ctx, u, "", "")
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, id.Token)
	}
	if _, err := m.Validate(ctx, toks[0]); !errors.Is(err, ErrNoSession) {
		t.Fatal("oldest session not evicted")
	}
	for _, tok := range toks[1:] {
		if _, err := m.Validate(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	list, _ := m.List(ctx, u.ID)
	if len(list) != 3 {
		t.Fatalf("%d sessions", len(list))
	}
}

// TestStagesDoNotEvictFullSessions: challenge stages (a password alone)
// are capped among themselves and never push out a full session.
func TestStagesDoNotEvictFullSessions(t *testing.T) {
	m, _, _, clk, u := setup(t, Config{MaxPerUser: 2})
	ctx := context.Background()
	full, err := m.Create(ctx, u, "", "")
	if err != nil {
		t.Fatal(err)
	}
	var stages []string
	for i := 0; i < 5; i++ {
		clk.Add(time.Second)
		id, err := m.CreateWith(ctx, u, Options{AuthMethod: "password", Pending: store.PendingMFA})
		if err != nil {
			t.Fatal(err)
		}
		stages = append(stages, id.Token)
	}
	if _, err := m.Validate(ctx, full.Token); err != nil {
		t.Fatalf("full session evicted by challenge stages: %v", err)
	}
	if _, err := m.Validate(ctx, stages[0]); !errors.Is(err, ErrNoSession) {
		t.Error("oldest stage not evicted beyond the cap")
	}
	if _, err := m.Validate(ctx, stages[4]); err != nil {
		t.Errorf("newest stage: %v", err)
	}
}

func TestRevokeUserAndDisabledUser(t *testing.T) {
	m, mem, _, clk, u := setup(t, Config{CacheTTL: time.Second})
	ctx := context.Background()
	a, _ := m.Create(ctx, u, "", "")
	b, _ := m.Create(ctx, u, "", "")
	_, _ = m.Validate(ctx, a.Token)
	n, err := m.RevokeUser(ctx, u.ID)
	if err != nil || n != 2 {
		t.Fatalf("revoked %d, %v", n, err)
	}
	for _, tok := range []string{a.Token, b.Token} {
		if _, err := m.Validate(ctx, tok); !errors.Is(err, ErrNoSession) {
			t.Fatal("session survived logout-all")
		}
	}
	c, _ := m.Create(ctx, u, "", "")
	u.Status = store.StatusDisabled
	_ = mem.UpdateUser(ctx, u)
	clk.Add(time.Second)
	if _, err := m.Validate(ctx, c.Token); !errors.Is(err, ErrNoSession) {
		t.Fatal("disabled user's session accepted")
	}
}

func TestFailClosed(t *testing.T) {
	m, _, cs, clk, u := setup(t, Config{CacheTTL: time.Second})
	ctx := context.Background()
	id, _ := m.Create(ctx, u, "", "")
	cs.fail = true
	clk.Add(time.Second)
	_, err := m.Validate(ctx, id.Token)
	if err == nil || errors.Is(err, ErrNoSession) || !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("store failure gave %v; want an ErrUnavailable error", err)
	}
}

func TestConfigLimits(t *testing.T) {
	mem := memory.New()
	if _, err := New(mem, mem, Config{CacheTTL: 6 * time.Second}); err == nil {
		t.Fatal("cache TTL above 5s accepted")
	}
	if _, err := New(mem, mem, Config{MaxPerUser: -1}); err == nil {
		t.Fatal("negative max accepted")
	}
}

// TestConfigDefaults: a zero lifetime and idle get the exported defaults,
// which the caddyauth start-up warnings rely on.
func TestConfigDefaults(t *testing.T) {
	m, _, _, _, _ := setup(t, Config{})
	if m.cfg.Lifetime != DefaultLifetime || m.cfg.Idle != DefaultIdle {
		t.Fatalf("defaults: lifetime %s idle %s", m.cfg.Lifetime, m.cfg.Idle)
	}
	if DefaultIdle >= DefaultLifetime {
		t.Fatalf("default idle %s is not shorter than lifetime %s", DefaultIdle, DefaultLifetime)
	}
}

func TestCookieValues(t *testing.T) {
	for _, tc := range []struct {
		header []string
		want   []string
	}{
		{nil, nil},
		{[]string{"a=1; s=tok; b=2"}, []string{"tok"}},
		{[]string{"s=one", "x=1; s=two"}, []string{"one", "two"}},
		{[]string{"ss=no; s2=no; s=yes"}, []string{"yes"}},
		{[]string{`s="quoted"`}, []string{"quoted"}},
		{[]string{"s=; s"}, nil},
		{[]string{" \ts=sp  "}, []string{"sp"}},
	} {
		h := http.Header{"Cookie": tc.header}
		got := CookieValues(h, "s", nil)
		if len(got) != len(tc.want) {
			t.Fatalf("%q: got %q want %q", tc.header, got, tc.want)
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Fatalf("%q: got %q want %q", tc.header, got, tc.want)
			}
		}
	}
}

// FuzzCookieValues: never panics, and every value returned is a substring
// of the header that was preceded by the exact cookie name.
func FuzzCookieValues(f *testing.F) {
	f.Add("a=1; __Host-s=abc; b=2")
	f.Add(`__Host-s="x"`)
	f.Add(";;;=;__Host-s")
	f.Fuzz(func(t *testing.T, line string) {
		h := http.Header{"Cookie": {line}}
		for _, v := range CookieValues(h, "__Host-s", nil) {
			if v == "" {
				t.Fatal("empty value returned")
			}
			if !containsStr(line, v) {
				t.Fatalf("value %q not in %q", v, line)
			}
		}
	})
}

// FuzzValidate: arbitrary cookie values never panic and never validate.
func FuzzValidate(f *testing.F) {
	mem := memory.New()
	m, _ := New(mem, mem, Config{})
	f.Add(keys.NewToken())
	f.Add("")
	f.Fuzz(func(t *testing.T, tok string) {
		if _, err := m.Validate(context.Background(), tok); !errors.Is(err, ErrNoSession) {
			t.Fatalf("%q: %v", tok, err)
		}
	})
}

func containsStr(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func BenchmarkValidateCached(b *testing.B) {
	mem := memory.New()
	m, _ := New(mem, mem, Config{})
	u := &store.User{ID: keys.NewID(), Email: "b@example.test", Status: store.StatusActive, Groups: []string{"staff"}}
	_ = mem.CreateUser(context.Background(), u)
	id, _ := m.Create(context.Background(), u, "", "")
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := m.Validate(ctx, id.Token); err != nil {
				b.Fatal(err)
			}
		}
	})
}

type recorder struct {
	mu  sync.Mutex
	ids []string
}

func (r *recorder) PublishRevoked(_ context.Context, ids []string) error {
	r.mu.Lock()
	r.ids = append(r.ids, ids...)
	r.mu.Unlock()
	return nil
}

// TestBroadcastRevocations: every way a session ends is announced, and an
// instance that hears the id drops its cached copy before the TTL.
func TestBroadcastRevocations(t *testing.T) {
	m1, mem, _, clk, u := setup(t, Config{MaxPerUser: 2})
	m2, _ := New(mem, mem, Config{Now: clk.Now})
	rec := &recorder{}
	m1.SetBroadcaster(rec)
	m2.SetBroadcaster(recorderFunc(func(ids []string) {
		for _, id := range ids {
			m1.Forget(id)
		}
	}))
	ctx := context.Background()
	a, _ := m1.Create(ctx, u, "", "")
	b, _ := m1.Create(ctx, u, "", "")
	if _, err := m1.Validate(ctx, a.Token); err != nil {
		t.Fatal(err)
	}
	// m2 revokes; m1 hears it and must not serve its cached copy.
	if err := m2.Revoke(ctx, a.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := m1.Validate(ctx, a.Token); !errors.Is(err, ErrNoSession) {
		t.Fatal("cached session served after a broadcast revocation")
	}
	c, _ := m1.Create(ctx, u, "", "")
	_, _ = m1.Create(ctx, u, "", "") // evicts b (max 2)
	if _, err := m1.RevokeUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	want := map[string]bool{b.Session.ID: true, c.Session.ID: true}
	for _, id := range rec.ids {
		delete(want, id)
	}
	if len(want) != 0 {
		t.Fatalf("not broadcast: %v (got %v)", want, rec.ids)
	}
	m1.FlushCache()
	if m1.cache.len() != 0 {
		t.Fatal("flush left entries")
	}
}

type recorderFunc func([]string)

func (f recorderFunc) PublishRevoked(_ context.Context, ids []string) error { f(ids); return nil }

func TestCacheBounded(t *testing.T) {
	c := newCache(2)
	for i := 0; i < 5; i++ {
		c.put([32]byte{byte(i)}, &Identity{}, time.Now())
	}
	if c.len() != 2 {
		t.Fatalf("cache holds %d entries, bound 2", c.len())
	}
}

// TestJanitorPurgesOnSchedule: the janitor the app starts removes expired
// sessions from the store by itself, keeps live ones, reports store
// failures, and stops with its context.
func TestJanitorPurgesOnSchedule(t *testing.T) {
	m, mem, cs, clk, u := setup(t, Config{Lifetime: time.Hour, Idle: time.Hour, CacheTTL: -1})
	ctx := context.Background()
	old, _ := m.Create(ctx, u, "", "")
	clk.Add(2 * time.Hour)
	live, _ := m.Create(ctx, u, "", "")
	if _, err := mem.GetSession(ctx, old.Session.ID); err != nil {
		t.Fatalf("the expired row should still be stored before the janitor runs: %v", err)
	}

	jctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	errs := make(chan error, 16)
	go func() {
		defer close(done)
		m.RunJanitor(jctx, 10*time.Millisecond, func(err error) {
			select {
			case errs <- err:
			default:
			}
		})
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := mem.GetSession(ctx, old.Session.ID)
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the janitor did not purge the expired session within 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := mem.GetSession(ctx, live.Session.ID); err != nil {
		t.Fatalf("the janitor removed a live session: %v", err)
	}

	cs.purgeFail.Store(true)
	select {
	case err := <-errs:
		if !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("janitor reported %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a failing purge was not reported")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the janitor did not stop with its context")
	}
}

// TestJanitorPurgesAtStart: the first purge does not wait a whole interval.
func TestJanitorPurgesAtStart(t *testing.T) {
	m, mem, _, clk, u := setup(t, Config{Lifetime: time.Hour, Idle: time.Hour, CacheTTL: -1})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	old, _ := m.Create(ctx, u, "", "")
	clk.Add(2 * time.Hour)
	go m.RunJanitor(ctx, time.Hour, nil)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := mem.GetSession(ctx, old.Session.ID); errors.Is(err, store.ErrNotFound) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no purge at start")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
