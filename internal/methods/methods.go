// Package methods is the runtime auth-method switch: operators turn
// "password", "oauth:<provider>", "registration" (sign-up through a
// provider), "password_reset" and "passwordless" off and on during an
// incident. The state
// lives in the settings table every
// instance shares; each instance rereads it at most every TTL (default 2s),
// so a change is felt everywhere within seconds without a query per login.
//
// A method nobody switched is enabled: the switch can only turn off what
// the configuration offers, never turn on what it does not. A method the
// configuration does not offer cannot be switched at all (ErrUnknown), so
// a typo (oauth:githb) is an error, not a stored, audited no-op.
package methods

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
var fixed = []string{store.AuthPassword, "registration", "password_reset", store.AuthPasswordless}

// Valid reports whether m names a switchable method.
func Valid(m string) bool {
	for _, f := range fixed {
		if m == f {
			return true
		}
	}
	name, ok := strings.CutPrefix(m, store.AuthOAuthPrefix)
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
	st      store.SettingsStore
	ttl     time.Duration
	now     func() time.Time
	offered []string // sorted

	mu      sync.Mutex
	off     map[string]bool
	fetched time.Time
}

// New returns a switch reading st, trusting a read for ttl (0: DefaultTTL;
// negative: read every time). offered are the methods the configuration
// has, as Offered returns them (method names, not provider names);
// "password" is always one. Only they are listed and only they can be
// switched.
func New(st store.SettingsStore, ttl time.Duration, offered []string) *Switch {
	if ttl == 0 {
		ttl = DefaultTTL
	}
	return &Switch{st: st, ttl: ttl, now: time.Now, offered: normalise(offered)}
}

// Offered returns the switchable methods of a configuration, sorted:
// "password" (every configuration has the login form), "oauth:<name>" for
// each configured provider, and "registration" when signup says some
// provider may create accounts (`signup on` or `allowed_domains`). The
// flows with options of their own (password_reset, passwordless) are
// added by the caller when the configuration turns them on.
func Offered(signup bool, providers ...string) []string {
	out := []string{store.AuthPassword}
	for _, p := range providers {
		out = append(out, store.AuthOAuth(p))
	}
	if signup && len(providers) > 0 {
		out = append(out, "registration")
	}
	return normalise(out)
}

func normalise(m []string) []string {
	out := append([]string{"password"}, m...)
	sort.Strings(out)
	return slices.Compact(out)
}

// ErrUnknown: the method is not one the configuration offers.
var ErrUnknown = errors.New("unknown auth method")

// Offers reports whether method is one of the switch's methods (exact
// spelling: the names are lower case).
func (s *Switch) Offers(method string) bool {
	_, ok := slices.BinarySearch(s.offered, method)
	return ok
}

// Offered returns the switch's methods, sorted.
func (s *Switch) Offered() []string { return slices.Clone(s.offered) }

// UnknownError says which method was refused and what exists instead.
func (s *Switch) UnknownError(method string) error {
	return fmt.Errorf("%w %q: this configuration offers %s", ErrUnknown, method, strings.Join(s.offered, ", "))
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
// every other within its TTL. A method the switch does not offer is
// refused (ErrUnknown) before anything is written.
func (s *Switch) Set(ctx context.Context, method string, enabled bool) error {
	if !s.Offers(method) {
		return s.UnknownError(method)
	}
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

// Set writes the switch of method to st. It checks only that method is
// spelled like one; Switch.Set also checks that the configuration offers
// it, and is what the admin API and the CLI call.
func Set(ctx context.Context, st store.SettingsStore, method string, enabled bool, at time.Time) error {
	if !Valid(method) {
		return fmt.Errorf("%w %q (want password, registration or oauth:<provider>)", ErrUnknown, method)
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

// List returns the state of each offered method (see Offered), sorted by
// name. Switches stored for methods not offered (a provider since
// removed) are not listed: they switch nothing.
func List(ctx context.Context, st store.SettingsStore, offered ...string) ([]State, error) {
	all, err := st.Settings(ctx, prefix)
	if err != nil {
		return nil, err
	}
	var out []State
	for _, m := range normalise(offered) {
		out = append(out, State{Method: m, Enabled: all[prefix+m] != "off"})
	}
	return out, nil
}

// List returns the switchable methods and their state (see List).
func (s *Switch) List(ctx context.Context) ([]State, error) {
	return List(ctx, s.st, s.offered...)
}
