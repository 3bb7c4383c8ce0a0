package memory

import (
	"context"
	"fmt"
	"time"

	"github.com/caddyauth/gateway/store"
)

// AdvanceRefresh moves a live session's refresh generation from gen to
// gen+1 under the store's lock (see store.SessionStore).
func (m *Store) AdvanceRefresh(_ context.Context, id string, gen uint64) error {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[id]
	if !ok || !s.Valid(now) {
		return fmt.Errorf("memory: session: %w", store.ErrNotFound)
	}
	if s.RefreshGen != gen {
		return fmt.Errorf("memory: refresh generation: %w", store.ErrConflict)
	}
	s.RefreshGen++
	return nil
}
