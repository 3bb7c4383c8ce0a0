package redisstore

import (
	"context"

	"github.com/caddyauth/gateway/store"
)

// CreateSessionCapped stores sess and evicts the oldest sessions of its kind
// beyond max (see store.SessionStore). The decision is one script on the
// kind's index key, so it holds under any concurrency, across instances,
// and stays valid in Cluster; the evicted keys are deleted right after.
// The index is pruned first, so sessions that already expired do not count
// against the cap.
func (s *Store) CreateSessionCapped(ctx context.Context, sess *store.Session, max int) ([]string, error) {
	if max > 0 {
		if _, err := s.listIndex(ctx, s.indexOf(sess), sess.UserID); err != nil {
			return nil, err
		}
	}
	return s.create(ctx, sess, max)
}
