package memory

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/caddyauth/gateway/store"
)

var _ store.APIKeyStore = (*Store)(nil)

// CreateAPIKey stores a copy of k. Like the SQL foreign key, the user must
// exist in this store.
func (m *Store) CreateAPIKey(_ context.Context, k *store.APIKey) error {
	c := *k
	if c.CreatedAt.IsZero() {
		c.CreatedAt = time.Now()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.users[c.UserID]; !ok {
		return fmt.Errorf("memory: api key user: %w", store.ErrNotFound)
	}
	if _, ok := m.apiKeys[c.ID]; ok {
		return fmt.Errorf("memory: api key id taken: %w", store.ErrConflict)
	}
	m.apiKeys[c.ID] = &c
	return nil
}

// APIKey returns a copy of the key.
func (m *Store) APIKey(_ context.Context, id string) (*store.APIKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.apiKeys[id]
	if !ok {
		return nil, fmt.Errorf("memory: api key: %w", store.ErrNotFound)
	}
	c := *k
	return &c, nil
}

// UserAPIKeys lists copies of the user's keys, oldest first.
func (m *Store) UserAPIKeys(_ context.Context, userID string) ([]*store.APIKey, error) {
	m.mu.Lock()
	var out []*store.APIKey
	for _, k := range m.apiKeys {
		if k.UserID == userID {
			c := *k
			out = append(out, &c)
		}
	}
	m.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// DeleteAPIKey removes the user's key.
func (m *Store) DeleteAPIKey(_ context.Context, userID, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.apiKeys[id]
	if !ok || k.UserID != userID {
		return fmt.Errorf("memory: api key: %w", store.ErrNotFound)
	}
	delete(m.apiKeys, id)
	return nil
}

// TouchAPIKey records a use.
func (m *Store) TouchAPIKey(_ context.Context, id string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.apiKeys[id]
	if !ok {
		return fmt.Errorf("memory: api key: %w", store.ErrNotFound)
	}
	k.LastUsedAt = at
	return nil
}
