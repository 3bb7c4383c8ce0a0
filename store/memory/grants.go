package memory

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/caddyauth/gateway/store"
)

// IssueToken replaces the user's tokens of t.Purpose with a copy of t
// under one lock.
func (m *Store) IssueToken(_ context.Context, t *store.OneTimeToken) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.tokens[t.Hash]; ok {
		return fmt.Errorf("memory: token: %w", store.ErrConflict)
	}
	for h, o := range m.tokens {
		if o.UserID == t.UserID && o.Purpose == t.Purpose {
			delete(m.tokens, h)
		}
	}
	c := *t
	m.tokens[t.Hash] = &c
	return nil
}

// TryCode spends a try and compares under one lock.
func (m *Store) TryCode(_ context.Context, userID, purpose string, codeHashes []string, maxTries int, now time.Time) (*store.OneTimeToken, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for h, t := range m.tokens {
		if t.UserID != userID || t.Purpose != purpose || t.CodeHash == "" || !now.Before(t.ExpiresAt) || t.Tries >= maxTries {
			continue
		}
		t.Tries++
		if slices.Contains(codeHashes, t.CodeHash) {
			delete(m.tokens, h)
			c := *t
			return &c, nil
		}
		if t.Tries >= maxTries {
			delete(m.tokens, h)
		}
		break
	}
	return nil, fmt.Errorf("memory: token: %w", store.ErrNotFound)
}

var _ store.GrantStore = (*Store)(nil)
