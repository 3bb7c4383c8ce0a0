// Package methods is the runtime auth-method switch: operators turn
// "password", "oauth:<provider>", "passwordless" and "registration" off and
// on during an incident. The state lives in the settings table every
// instance shares; each instance rereads it at most every TTL (default 2s),
// so a change is felt everywhere within seconds without a query per login.
//
// A method nobody switched is enabled: the switch can only turn off what
// the configuration offers, never turn on what it does not.
package methods

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/caddyauth/gateway/store"
)

// DefaultTTL is how long an instance trusts what it last read.
const DefaultTTL = 2 * time.Second

// prefix of the method settings' names ("method:password").
const prefix = "method:"

// Fixed names; OAuth providers are "oauth:<name>".
var fixed = []string{"password", "passwordless", "registration"}

// Valid reports whether m names a switchable method.
func Valid(m string) bool {
	for _, f := range fixed {
		if m == f {
			return true
		}
	}
	name, ok := strings.CutPrefix(m, "oauth:")
	if !ok || name == "" || len(name) > 64 {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Switch implements flows.MethodSwitch over a settings store.
type Switch struct {
	st        store.SettingsStore
	ttl       time.Duration
	now       func() time.Time
	providers []string

	mu      sync.Mutex
	off     map[string]bool
	fetched time.Time
}

// New returns a switch reading st, trusting a read for ttl (0: DefaultTTL;
// negative: read every time). providers are the configured OAuth
// providers' names, listed (as oauth:<name>) even when never switched.
func New(st store.SettingsStore, ttl time.Duration, providers ...string) *Switch {
	if ttl == 0 {
		ttl = DefaultTTL
	}
	return &Switch{st: st, ttl: ttl, now: time.Now, providers: providers}
}

// Enabled reports whether method may be used now. A store error is
// returned (the flows then treat the method as disabled: fail closed).
func (s *Switch) Enabled(ctx context.Context, method string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.off == nil || s.ttl < 0 || now.Sub(s.fetched) >= s.ttl {
		off, err := Disabled(ctx, s.st)
		if err != nil {
			return false, err
		}
		s.off, s.fetched = off, now
	}
	return !s.off[method], nil
}

// Set switches method on this instance at once and, through the store, on
// every other within its TTL.
func (s *Switch) Set(ctx context.Context, method string, enabled bool) error {
	if err := Set(ctx, s.st, method, enabled, s.now()); err != nil {
		return err
	}
	s.mu.Lock()
	s.off = nil // reread at the next question
	s.mu.Unlock()
	return nil
}

// Disabled returns the methods switched off in st.
func Disabled(ctx context.Context, st store.SettingsStore) (map[string]bool, error) {
	all, err := st.Settings(ctx, prefix)
	if err != nil {
		return nil, err
	}
	off := map[string]bool{}
	for k, v := range all {
		if v == "off" {
			off[strings.TrimPrefix(k, prefix)] = true
		}
	}
	return off, nil
}

// Set writes the switch of method to st.
func Set(ctx context.Context, st store.SettingsStore, method string, enabled bool, at time.Time) error {
	if !Valid(method) {
		return fmt.Errorf("unknown auth method %q (want password, passwordless, registration or oauth:<provider>)", method)
	}
	v := "off"
	if enabled {
		v = "on"
	}
	return st.SetSetting(ctx, prefix+method, v, at)
}

// State is one method's switch as listed to operators.
type State struct {
	Method  string `json:"method"`
	Enabled bool   `json:"enabled"`
}

// List returns the fixed methods, the given OAuth providers and any other
// method that has been switched, sorted by name.
func List(ctx context.Context, st store.SettingsStore, providers ...string) ([]State, error) {
	all, err := st.Settings(ctx, prefix)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []State
	add := func(m string) {
		if seen[m] {
			return
		}
		seen[m] = true
		out = append(out, State{Method: m, Enabled: all[prefix+m] != "off"})
	}
	for _, m := range fixed {
		add(m)
	}
	for _, p := range providers {
		add("oauth:" + p)
	}
	for k := range all {
		add(strings.TrimPrefix(k, prefix))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Method < out[j].Method })
	return out, nil
}

// List returns the switchable methods and their state (see List).
func (s *Switch) List(ctx context.Context) ([]State, error) {
	return List(ctx, s.st, s.providers...)
}
