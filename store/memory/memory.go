// Package memory is an in-process store for development and tests. Nothing
// survives a restart and nothing is shared between instances, which is why
// the Caddy glue warns loudly when it is configured for sessions.
//
// Records are copied on the way in and on the way out, so a caller that
// mutates a *User or *Session it handed over or got back cannot change what
// is stored: the same guarantee a real database gives.
package memory

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/caddyauth/gateway/store"
)

// Store implements store.UserStore, store.SessionStore and store.TokenStore.
// The zero value is not usable; call New.
type Store struct {
	mu       sync.Mutex
	users    map[string]*store.User // by id
	byEmail  map[string]string      // normalised email -> id
	byPhone  map[string]string      // phone -> id (empty phones are not indexed)
	sessions map[string]*store.Session
	tokens   map[string]*store.OneTimeToken
	mfa      mfaData

	settings settingsState // settings.go
	// identities by provider and subject (identities.go)
	identities map[identityKey]*store.Identity
	apiKeys    map[string]*store.APIKey
}

var (
	_ store.UserStore    = (*Store)(nil)
	_ store.UserImporter = (*Store)(nil)
	_ store.SessionStore = (*Store)(nil)
	_ store.TokenStore   = (*Store)(nil)
)

// New returns an empty store.
func New() *Store {
	return &Store{
		users:    map[string]*store.User{},
		byEmail:  map[string]string{},
		byPhone:  map[string]string{},
		sessions: map[string]*store.Session{},
		tokens:   map[string]*store.OneTimeToken{},

		identities: map[identityKey]*store.Identity{},
		apiKeys:    map[string]*store.APIKey{},
	}
}

func copyUser(u *store.User) *store.User {
	c := *u
	c.Groups = slices.Clone(u.Groups)
	return &c
}

func copySession(s *store.Session) *store.Session {
	c := *s
	return &c
}

// normEmail is the one normalisation every backend applies, so a lookup
// finds the account whatever case the user typed.
// It folds ASCII case only (store.NormalizeEmail).
func normEmail(e string) string { return store.NormalizeEmail(e) }

// CreateUser stores a copy of u with its email lower-cased. Zero CreatedAt
// or UpdatedAt are set to now.
func (m *Store) CreateUser(_ context.Context, u *store.User) error {
	return m.createUser(u, false)
}

// CreateFirstUser is CreateUser while the store has no user; ErrConflict
// after that. The check and the insert share one lock.
func (m *Store) CreateFirstUser(_ context.Context, u *store.User) error {
	return m.createUser(u, true)
}

func (m *Store) createUser(u *store.User, onlyFirst bool) error {
	if u.ID == "" {
		return fmt.Errorf("memory: create user: empty id")
	}
	c := copyUser(u)
	c.Email = normEmail(c.Email)
	now := time.Now()
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now
	}
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = c.CreatedAt
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	if onlyFirst && len(m.users) > 0 {
		return fmt.Errorf("memory: create first user: a user exists: %w", store.ErrConflict)
	}
	if _, ok := m.users[c.ID]; ok {
		return fmt.Errorf("memory: user id %q: %w", c.ID, store.ErrConflict)
	}
	if _, ok := m.byEmail[c.Email]; ok {
		return fmt.Errorf("memory: email taken: %w", store.ErrConflict)
	}
	if c.Phone != "" {
		if _, ok := m.byPhone[c.Phone]; ok {
			return fmt.Errorf("memory: phone taken: %w", store.ErrConflict)
		}
		m.byPhone[c.Phone] = c.ID
	}
	m.byEmail[c.Email] = c.ID
	m.users[c.ID] = c
	return nil
}

// CreateUsers inserts every user of us or none (store.UserImporter): all
// are checked under the lock before the first is stored.
func (m *Store) CreateUsers(_ context.Context, us []*store.User) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids, emails, phones := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, u := range us {
		e := normEmail(u.Email)
		_, idTaken := m.users[u.ID]
		_, emailTaken := m.byEmail[e]
		_, phoneTaken := m.byPhone[u.Phone]
		switch {
		case u.ID == "":
			return fmt.Errorf("memory: create users: empty id")
		case idTaken || ids[u.ID]:
			return fmt.Errorf("memory: user id %q: %w", u.ID, store.ErrConflict)
		case emailTaken || emails[e]:
			return fmt.Errorf("memory: email %s taken: %w", e, store.ErrConflict)
		case u.Phone != "" && (phoneTaken || phones[u.Phone]):
			return fmt.Errorf("memory: phone taken: %w", store.ErrConflict)
		}
		ids[u.ID], emails[e], phones[u.Phone] = true, true, true
	}
	now := time.Now()
	for _, u := range us {
		c := copyUser(u)
		c.Email = normEmail(c.Email)
		if c.CreatedAt.IsZero() {
			c.CreatedAt = now
		}
		if c.UpdatedAt.IsZero() {
			c.UpdatedAt = c.CreatedAt
		}
		if c.Phone != "" {
			m.byPhone[c.Phone] = c.ID
		}
		m.byEmail[c.Email] = c.ID
		m.users[c.ID] = c
	}
	return nil
}

// UserByID returns a copy of the user.
func (m *Store) UserByID(_ context.Context, id string) (*store.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[id]
	if !ok {
		return nil, fmt.Errorf("memory: user: %w", store.ErrNotFound)
	}
	return copyUser(u), nil
}

// UserByEmail looks the user up by email, ignoring case.
func (m *Store) UserByEmail(_ context.Context, email string) (*store.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id, ok := m.byEmail[normEmail(email)]
	if !ok {
		return nil, fmt.Errorf("memory: user: %w", store.ErrNotFound)
	}
	return copyUser(m.users[id]), nil
}

// UserByPhone looks the user up by E.164 phone.
func (m *Store) UserByPhone(_ context.Context, phone string) (*store.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id, ok := m.byPhone[phone]
	if !ok || phone == "" {
		return nil, fmt.Errorf("memory: user: %w", store.ErrNotFound)
	}
	return copyUser(m.users[id]), nil
}

// ListUsers returns every user, oldest first (ties broken by id) so the
// order is stable across calls and backends.
func (m *Store) ListUsers(_ context.Context) ([]*store.User, error) {
	m.mu.Lock()
	out := make([]*store.User, 0, len(m.users))
	for _, u := range m.users {
		out = append(out, copyUser(u))
	}
	m.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if am, bm := a.CreatedAt.UnixMilli(), b.CreatedAt.UnixMilli(); am != bm {
			return am < bm
		}
		return a.ID < b.ID
	})
	return out, nil
}

// CountUsers returns the number of users.
func (m *Store) CountUsers(_ context.Context) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.users), nil
}

// SetPasswordHash writes the hash and UpdatedAt of one user.
func (m *Store) SetPasswordHash(_ context.Context, id, hash string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.users[id]
	if !ok {
		return fmt.Errorf("memory: user: %w", store.ErrNotFound)
	}
	next := *cur
	next.PasswordHash, next.UpdatedAt = hash, at
	m.users[id] = &next
	return nil
}

// ChangePassword writes the hash, UpdatedAt and PasswordChangedAt of one
// user.
func (m *Store) ChangePassword(_ context.Context, id, hash string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.users[id]
	if !ok {
		return fmt.Errorf("memory: user: %w", store.ErrNotFound)
	}
	next := *cur
	next.PasswordHash, next.UpdatedAt, next.PasswordChangedAt = hash, at, at
	next.MustChangePassword = false
	m.users[id] = &next
	return nil
}

// SetMustChangePassword writes only the flag.
func (m *Store) SetMustChangePassword(_ context.Context, id string, must bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.users[id]
	if !ok {
		return fmt.Errorf("memory: user: %w", store.ErrNotFound)
	}
	next := *cur
	next.MustChangePassword = must
	m.users[id] = &next
	return nil
}

// UpdateUser writes Email, Phone, Name, Groups, Status and PasswordHash, and
// sets UpdatedAt (to u.UpdatedAt, or now when that is zero).
func (m *Store) UpdateUser(_ context.Context, u *store.User) error {
	email := normEmail(u.Email)
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.users[u.ID]
	if !ok {
		return fmt.Errorf("memory: user: %w", store.ErrNotFound)
	}
	if id, ok := m.byEmail[email]; ok && id != u.ID {
		return fmt.Errorf("memory: email taken: %w", store.ErrConflict)
	}
	if u.Phone != "" {
		if id, ok := m.byPhone[u.Phone]; ok && id != u.ID {
			return fmt.Errorf("memory: phone taken: %w", store.ErrConflict)
		}
	}
	delete(m.byEmail, cur.Email)
	if cur.Phone != "" {
		delete(m.byPhone, cur.Phone)
	}
	next := copyUser(cur)
	next.Email = email
	next.Phone = u.Phone
	next.Name = u.Name
	next.Groups = slices.Clone(u.Groups)
	next.Status = u.Status
	next.MustChangePassword = u.MustChangePassword
	next.EmailVerifiedAt = u.EmailVerifiedAt
	next.PhoneVerifiedAt = u.PhoneVerifiedAt
	next.PasswordHash = u.PasswordHash
	next.UpdatedAt = u.UpdatedAt
	if next.UpdatedAt.IsZero() {
		next.UpdatedAt = time.Now()
	}
	m.byEmail[next.Email] = next.ID
	if next.Phone != "" {
		m.byPhone[next.Phone] = next.ID
	}
	m.users[next.ID] = next
	return nil
}

// DeleteUser removes the user with its sessions and one-time tokens, as the
// SQL backend's ON DELETE CASCADE does. ErrNotFound if there is no such user.
func (m *Store) DeleteUser(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[id]
	if !ok {
		return fmt.Errorf("memory: user: %w", store.ErrNotFound)
	}
	delete(m.users, id)
	m.mfa.dropUser(id)
	delete(m.byEmail, u.Email)
	if u.Phone != "" {
		delete(m.byPhone, u.Phone)
	}
	for sid, s := range m.sessions {
		if s.UserID == id {
			delete(m.sessions, sid)
		}
	}
	for h, t := range m.tokens {
		if t.UserID == id {
			delete(m.tokens, h)
		}
	}
	for k, ident := range m.identities {
		if ident.UserID == id {
			delete(m.identities, k)
		}
	}
	for k, key := range m.apiKeys {
		if key.UserID == id {
			delete(m.apiKeys, k)
		}
	}
	return nil
}

// CreateSession stores a copy of s. It does not check that the user exists:
// memory sessions may be paired with a user store elsewhere.
func (m *Store) CreateSession(_ context.Context, s *store.Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.sessions[s.ID]; ok {
		return fmt.Errorf("memory: session id: %w", store.ErrConflict)
	}
	m.sessions[s.ID] = copySession(s)
	return nil
}

// GetSession returns the session if it is live now.
func (m *Store) GetSession(_ context.Context, id string) (*store.Session, error) {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[id]
	if !ok || !s.Valid(now) {
		return nil, fmt.Errorf("memory: session: %w", store.ErrNotFound)
	}
	return copySession(s), nil
}

// TouchSession records activity on a live session. An expired session stays
// expired: touching it is ErrNotFound, so a late request cannot revive it.
func (m *Store) TouchSession(_ context.Context, id string, lastSeen, idleExpires time.Time) error {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[id]
	if !ok || !s.Valid(now) {
		return fmt.Errorf("memory: session: %w", store.ErrNotFound)
	}
	s.LastSeenAt = lastSeen
	s.IdleExpiresAt = idleExpires
	return nil
}

// DeleteSession removes the session; a missing one is no error.
func (m *Store) DeleteSession(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.sessions, id)
	return nil
}

// ListUserSessions returns the user's live sessions, oldest first.
func (m *Store) ListUserSessions(_ context.Context, userID string) ([]*store.Session, error) {
	now := time.Now()
	m.mu.Lock()
	var out []*store.Session
	for _, s := range m.sessions {
		if s.UserID == userID && s.Valid(now) {
			out = append(out, copySession(s))
		}
	}
	m.mu.Unlock()
	sortSessions(out)
	return out, nil
}

// sortSessions orders by CreatedAt at millisecond precision, then id: the
// order the SQL and Redis backends produce.
func sortSessions(ss []*store.Session) {
	sort.Slice(ss, func(i, j int) bool {
		a, b := ss[i], ss[j]
		if am, bm := a.CreatedAt.UnixMilli(), b.CreatedAt.UnixMilli(); am != bm {
			return am < bm
		}
		return a.ID < b.ID
	})
}

// DeleteUserSessions removes every session of the user, live or not, and
// returns their ids.
func (m *Store) DeleteUserSessions(_ context.Context, userID string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ids []string
	for id, s := range m.sessions {
		if s.UserID == userID {
			ids = append(ids, id)
			delete(m.sessions, id)
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// PurgeExpired drops sessions whose deadline is not after now and reports how
// many. It also drops expired one-time tokens, because TokenStore has no
// purge of its own and this is the janitor that runs; they are not counted.
func (m *Store) PurgeExpired(_ context.Context, now time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for id, s := range m.sessions {
		if !s.Valid(now) {
			delete(m.sessions, id)
			n++
		}
	}
	for h, t := range m.tokens {
		if !now.Before(t.ExpiresAt) {
			delete(m.tokens, h)
		}
	}
	return n, nil
}

// Close is a no-op; it exists to satisfy store.SessionStore.
func (m *Store) Close() error { return nil }

// CreateToken stores a copy of t; ErrConflict if the hash is taken.
func (m *Store) CreateToken(_ context.Context, t *store.OneTimeToken) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.tokens[t.Hash]; ok {
		return fmt.Errorf("memory: token: %w", store.ErrConflict)
	}
	c := *t
	m.tokens[t.Hash] = &c
	return nil
}

// lookupToken returns the stored token if it matches purpose and is live;
// the caller holds m.mu.
func (m *Store) lookupToken(hash, purpose string, now time.Time) (*store.OneTimeToken, bool) {
	t, ok := m.tokens[hash]
	if !ok || t.Purpose != purpose || !now.Before(t.ExpiresAt) {
		return nil, false
	}
	return t, true
}

// DeleteUserTokens implements store.TokenPurger.
func (m *Store) DeleteUserTokens(_ context.Context, userID, purpose string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for h, t := range m.tokens {
		if t.UserID == userID && t.Purpose == purpose {
			delete(m.tokens, h)
		}
	}
	return nil
}

// ConsumeToken deletes and returns the token under one lock, so two callers
// racing for the same token cannot both win.
func (m *Store) ConsumeToken(_ context.Context, hash, purpose string, now time.Time) (*store.OneTimeToken, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.lookupToken(hash, purpose, now)
	if !ok {
		return nil, fmt.Errorf("memory: token: %w", store.ErrNotFound)
	}
	delete(m.tokens, hash)
	c := *t
	return &c, nil
}

// PeekToken returns the token without consuming it.
func (m *Store) PeekToken(_ context.Context, hash, purpose string, now time.Time) (*store.OneTimeToken, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.lookupToken(hash, purpose, now)
	if !ok {
		return nil, fmt.Errorf("memory: token: %w", store.ErrNotFound)
	}
	c := *t
	return &c, nil
}
