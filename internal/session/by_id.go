package session

import "context"

// ValidateID resolves a session id (the sid claim of a bearer access
// token) to an identity, through the same cache and the same checks as a
// cookie (Validate): a logout, logout-all, disable or admin revoke ends the
// tokens of a session as soon as it ends its cookie, on every instance
// that hears the revocation. Anything but 64 hex digits is ErrNoSession.
func (m *Manager) ValidateID(ctx context.Context, id string) (*Identity, error) {
	key, ok := idKey(id)
	if !ok {
		return nil, ErrNoSession
	}
	return m.validateKey(ctx, key)
}

// idKey decodes a lower-case hex session id without allocating (the
// bearer path runs on every request).
func idKey(id string) (key [32]byte, ok bool) {
	if len(id) != 64 {
		return key, false
	}
	for i := range key {
		hi, ok1 := nibble(id[2*i])
		lo, ok2 := nibble(id[2*i+1])
		if !ok1 || !ok2 {
			return key, false
		}
		key[i] = hi<<4 | lo
	}
	return key, true
}

func nibble(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// AdvanceRefresh moves the session's refresh-token generation from gen to
// gen+1 (store.SessionStore.AdvanceRefresh): store.ErrConflict when gen is
// already used.
func (m *Manager) AdvanceRefresh(ctx context.Context, id string, gen uint64) error {
	return m.sessions.AdvanceRefresh(ctx, id, gen)
}
