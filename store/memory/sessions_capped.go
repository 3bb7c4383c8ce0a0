package memory

import (
	"context"
	"fmt"
	"time"

	"github.com/caddyauth/gateway/store"
)

// CreateSessionCapped inserts s and evicts the oldest live sessions of its
// kind beyond max, all under the store's lock (see store.SessionStore).
func (m *Store) CreateSessionCapped(_ context.Context, s *store.Session, max int) ([]string, error) {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.sessions[s.ID]; ok {
		return nil, fmt.Errorf("memory: session id: %w", store.ErrConflict)
	}
	var same []*store.Session
	for _, e := range m.sessions {
		if e.UserID == s.UserID && e.Full() == s.Full() && e.Valid(now) {
			same = append(same, e)
		}
	}
	sortSessions(same)
	var evicted []string
	for i := 0; max > 0 && i <= len(same)-max; i++ {
		delete(m.sessions, same[i].ID)
		evicted = append(evicted, same[i].ID)
	}
	m.sessions[s.ID] = copySession(s)
	return evicted, nil
}
