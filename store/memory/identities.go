package memory

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/caddyauth/gateway/store"
)

var _ store.IdentityStore = (*Store)(nil)

type identityKey struct{ provider, subject string }

// CreateIdentity stores a copy of id; zero times are set to now. Like the
// SQL foreign key, the user must exist in this store.
func (m *Store) CreateIdentity(_ context.Context, id *store.Identity) error {
	c := *id
	if c.CreatedAt.IsZero() {
		c.CreatedAt = time.Now()
	}
	if c.LastLoginAt.IsZero() {
		c.LastLoginAt = c.CreatedAt
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.users[c.UserID]; !ok {
		return fmt.Errorf("memory: identity user: %w", store.ErrNotFound)
	}
	k := identityKey{c.Provider, c.Subject}
	if _, ok := m.identities[k]; ok {
		return fmt.Errorf("memory: identity taken: %w", store.ErrConflict)
	}
	for _, o := range m.identities {
		if o.UserID == c.UserID && o.Provider == c.Provider {
			return fmt.Errorf("memory: user already linked at %s: %w", c.Provider, store.ErrConflict)
		}
	}
	m.identities[k] = &c
	return nil
}

// IdentityBySubject returns a copy of the identity.
func (m *Store) IdentityBySubject(_ context.Context, provider, subject string) (*store.Identity, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id, ok := m.identities[identityKey{provider, subject}]
	if !ok {
		return nil, fmt.Errorf("memory: identity: %w", store.ErrNotFound)
	}
	c := *id
	return &c, nil
}

// UserIdentities lists copies of the user's identities ordered by provider.
func (m *Store) UserIdentities(_ context.Context, userID string) ([]*store.Identity, error) {
	m.mu.Lock()
	var out []*store.Identity
	for _, id := range m.identities {
		if id.UserID == userID {
			c := *id
			out = append(out, &c)
		}
	}
	m.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Provider < out[j].Provider })
	return out, nil
}

// TouchIdentity records a login.
func (m *Store) TouchIdentity(_ context.Context, provider, subject, email string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	id, ok := m.identities[identityKey{provider, subject}]
	if !ok {
		return fmt.Errorf("memory: identity: %w", store.ErrNotFound)
	}
	id.Email, id.LastLoginAt = email, at
	return nil
}

// DeleteIdentity removes the user's identity at provider.
func (m *Store) DeleteIdentity(_ context.Context, userID, provider string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, id := range m.identities {
		if id.UserID == userID && id.Provider == provider {
			delete(m.identities, k)
			return nil
		}
	}
	return fmt.Errorf("memory: identity: %w", store.ErrNotFound)
}
