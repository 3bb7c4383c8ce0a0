// Package session issues, validates and revokes browser sessions.
//
// The cookie carries an opaque 256-bit token; the store is keyed by its
// SHA-256, so nothing in the store can be replayed as a cookie. Validation
// is on the hot path of every protected request, so a bounded in-process
// cache serves a validated session for at most CacheTTL, and last-seen
// writes are throttled to one per TouchInterval.
package session

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/caddyauth/gateway/internal/keys"
	"github.com/caddyauth/gateway/store"
)

// ErrNoSession: the token is malformed, unknown, expired or belongs to a
// user who may no longer log in. The caller treats the request as anonymous.
var ErrNoSession = errors.New("no valid session")

// MaxCacheTTL caps how long a revoked session can still be honoured by an
// instance that cached it.
const MaxCacheTTL = 5 * time.Second

// Defaults for a zero Config.Lifetime and Config.Idle. Exported so the
// start-up checks judge the same values the manager applies.
const (
	DefaultLifetime = 24 * time.Hour
	DefaultIdle     = time.Hour
)

// Config tunes the manager. Zero values get defaults in New.
type Config struct {
	Lifetime      time.Duration // absolute lifetime (default DefaultLifetime)
	Idle          time.Duration // idle timeout (default DefaultIdle)
	MaxPerUser    int           // oldest evicted beyond this (default 10)
	CacheTTL      time.Duration // 0: default 5s; negative: no cache
	CacheSize     int           // entries (default 100000)
	TouchInterval time.Duration // min time between last-seen writes (default idle/10, 1s..5m)
	Now           func() time.Time
}

// Identity is a validated session and its user. It is shared with the cache:
// callers must treat it as read-only.
type Identity struct {
	Session store.Session
	User    store.User
	// Token is the cookie value this identity was validated from (empty in
	// the cached copy; set only on values returned by Create).
	Token string
	// groupsCSV is User.Groups joined once when the identity is loaded,
	// not on every request that sends it upstream.
	groupsCSV string
}

// Groups returns the user's groups comma-separated (the Remote-Groups form).
func (id *Identity) Groups() string {
	if id.groupsCSV == "" && len(id.User.Groups) > 0 {
		return strings.Join(id.User.Groups, ",")
	}
	return id.groupsCSV
}

// Broadcaster tells other instances about revoked sessions (Redis pub/sub),
// so their caches drop them at once rather than at the cache TTL.
type Broadcaster interface {
	PublishRevoked(ctx context.Context, ids []string) error
}

// Manager is safe for concurrent use.
type Manager struct {
	sessions store.SessionStore
	users    store.UserStore
	cfg      Config
	cache    *cache
	bcast    Broadcaster
	// bypass, while set, sends every request to the store: the channel
	// that carries revocations is down, so a cached entry may be stale.
	bypass atomic.Bool
}

// SetBroadcaster makes revocations known to other instances. Call before
// serving.
func (m *Manager) SetBroadcaster(b Broadcaster) { m.bcast = b }

// Forget drops a session id from this instance's cache (a revocation heard
// from another instance).
func (m *Manager) Forget(id string) { m.forgetID(id) }

// FlushCache empties this instance's cache, e.g. after missing revocation
// messages while disconnected.
func (m *Manager) FlushCache() {
	if m.cache != nil {
		m.cache.clear()
	}
}

// BypassCache(true) makes every Validate read the store and empties the
// cache; BypassCache(false) uses the cache again. A revocation listener sets
// it while its connection is down (fail safe: slower, never stale).
func (m *Manager) BypassCache(on bool) {
	m.bypass.Store(on)
	if on {
		m.FlushCache()
	}
}

// CacheBypassed reports whether BypassCache(true) is in force.
func (m *Manager) CacheBypassed() bool { return m.bypass.Load() }

func (m *Manager) broadcast(ctx context.Context, ids []string) {
	if m.bcast != nil && len(ids) > 0 {
		// Best effort: the store is already updated, and instances that
		// miss the message drop the session when their cache entry expires.
		_ = m.bcast.PublishRevoked(ctx, ids)
	}
}

// New returns a Manager over the given stores.
func New(sessions store.SessionStore, users store.UserStore, cfg Config) (*Manager, error) {
	if cfg.Lifetime == 0 {
		cfg.Lifetime = DefaultLifetime
	}
	if cfg.Idle == 0 {
		cfg.Idle = DefaultIdle
	}
	if cfg.Lifetime < 0 || cfg.Idle < 0 {
		return nil, fmt.Errorf("session lifetime and idle timeout must be positive")
	}
	if cfg.MaxPerUser == 0 {
		cfg.MaxPerUser = 10
	}
	if cfg.MaxPerUser < 0 {
		return nil, fmt.Errorf("max sessions per user must be positive")
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = MaxCacheTTL
	}
	if cfg.CacheTTL > MaxCacheTTL {
		return nil, fmt.Errorf("session cache TTL %s exceeds the %s maximum", cfg.CacheTTL, MaxCacheTTL)
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 100000
	}
	if cfg.TouchInterval == 0 {
		cfg.TouchInterval = min(max(cfg.Idle/10, time.Second), 5*time.Minute)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := &Manager{sessions: sessions, users: users, cfg: cfg}
	if cfg.CacheTTL > 0 {
		m.cache = newCache(cfg.CacheSize)
	}
	return m, nil
}

// Config returns the effective configuration.
func (m *Manager) Config() Config { return m.cfg }

// Create starts a full password session for u and returns it with its
// token. Beyond MaxPerUser the oldest sessions are evicted.
func (m *Manager) Create(ctx context.Context, u *store.User, ip, userAgent string) (*Identity, error) {
	return m.CreateWith(ctx, u, Options{IP: ip, UserAgent: userAgent, AuthMethod: store.AuthPassword})
}

// Options describe a new session.
type Options struct {
	IP, UserAgent string
	AuthMethod    string // first factor (store.Session.AuthMethod)
	MFAMethod     string // second factor passed, if any
	Pending       string // store.PendingMFA / PendingEnrol, or "" for a full login
	// Lifetime caps the absolute lifetime (challenge stages are short);
	// 0 or more than the configured lifetime means the configured one.
	Lifetime time.Duration
	// EndBy, when set, is an end the session must not pass (a password
	// change keeps the old session's end). Compared with this manager's
	// clock, so no read of another clock can stretch it.
	EndBy time.Time
}

// ErrEndPassed: Options.EndBy is not in the future, so no session can be
// made that ends by it.
var ErrEndPassed = errors.New("the session's end has passed")

// CreateWith starts a session described by o.
func (m *Manager) CreateWith(ctx context.Context, u *store.User, o Options) (*Identity, error) {
	now := m.cfg.Now()
	life := m.cfg.Lifetime
	if o.Lifetime > 0 && o.Lifetime < life {
		life = o.Lifetime
	}
	if !o.EndBy.IsZero() {
		if !o.EndBy.After(now) {
			return nil, ErrEndPassed
		}
		life = min(life, o.EndBy.Sub(now))
	}
	ip, userAgent := o.IP, o.UserAgent
	token := keys.NewToken()
	s := store.Session{
		ID:            keys.HashToken(token),
		UserID:        u.ID,
		CreatedAt:     now,
		LastSeenAt:    now,
		ExpiresAt:     now.Add(life),
		IdleExpiresAt: now.Add(min(m.cfg.Idle, life)),
		IP:            ip,
		UserAgent:     truncate(userAgent, 512),
		AuthMethod:    o.AuthMethod,
		MFAMethod:     o.MFAMethod,
		Pending:       o.Pending,
	}
	// Full sessions and challenge stages are capped separately: stages
	// need only a password, and ten password logins must not sign the
	// real user out of every device. The store evicts and inserts in one
	// atomic step, so concurrent logins cannot overshoot the cap.
	evicted, err := m.sessions.CreateSessionCapped(ctx, &s, m.cfg.MaxPerUser)
	if err != nil {
		return nil, err
	}
	for _, id := range evicted {
		m.forgetID(id)
	}
	m.broadcast(ctx, evicted)
	if err := m.passwordUnchanged(ctx, u, s.ID); err != nil {
		return nil, err
	}
	return &Identity{Session: s, User: *u, Token: token}, nil
}

// ErrPasswordChanged: the password changed after the caller read the
// account (and checked its first factor), so no session is made.
var ErrPasswordChanged = errors.New("the password changed during the login")

// passwordUnchanged closes the race of a login with a password change. u
// is the account as read when the first factor was checked; the session
// is already stored. If the password changed since, the session is
// deleted: a login that checked the old password must not survive the
// change. Otherwise the change's own revocation, which runs after its
// write, finds this session. Either way one of them sees the other,
// without comparing two machines' clocks.
func (m *Manager) passwordUnchanged(ctx context.Context, u *store.User, sid string) error {
	cur, err := m.users.UserByID(ctx, u.ID)
	if err == nil && !cur.PasswordChangedAt.After(u.PasswordChangedAt) {
		return nil
	}
	if derr := m.sessions.DeleteSession(ctx, sid); derr != nil && err == nil {
		err = derr
	}
	switch {
	case err == nil:
		return ErrPasswordChanged
	case errors.Is(err, store.ErrNotFound):
		return ErrNoSession // the account is gone
	}
	return err
}

// Validate resolves a cookie token to an identity. It returns ErrNoSession
// for anything that is not a live session of an active user, and an error
// wrapping store.ErrUnavailable when the store cannot answer (callers must
// fail closed, never pass the request).
func (m *Manager) Validate(ctx context.Context, token string) (*Identity, error) {
	if !wellFormed(token) {
		return nil, ErrNoSession
	}
	// Hash from a stack copy: []byte(token) would allocate on every request.
	var buf [43]byte
	copy(buf[:], token)
	return m.validateKey(ctx, sha256.Sum256(buf[:]))
}

// validateKey is Validate from the session id: the cache, then the store.
func (m *Manager) validateKey(ctx context.Context, key [32]byte) (*Identity, error) {
	now := m.cfg.Now()
	if m.cache == nil || m.bypass.Load() {
		// No cache, or its revocation channel is down: every request
		// reads the store itself, none shares a load begun before it.
		return m.load(ctx, key, now)
	}
	if id, fetched := m.cache.get(key); id != nil {
		if now.Sub(fetched) < m.cfg.CacheTTL && id.Session.Valid(now) && now.Sub(id.Session.LastSeenAt) < m.cfg.TouchInterval {
			return id, nil
		}
	}
	return m.loadShared(ctx, key, now)
}

// loadShared is load for a cache miss, shared with the other misses of the
// same key while it runs (see cache). Each caller waits for at most its
// own context; an error is handed to every waiter as it is, so a store
// failure fails each of them closed.
func (m *Manager) loadShared(ctx context.Context, key [32]byte, now time.Time) (*Identity, error) {
	f, lctx, lead := m.cache.join(ctx, key)
	if lead {
		go m.fly(lctx, key, f, now)
	}
	select {
	case <-f.done:
	case <-ctx.Done():
		m.cache.leave(key, f)
		return nil, ctx.Err()
	}
	if f.err != nil {
		return nil, f.err
	}
	// A caller that joined late judges expiry by its own clock.
	if !f.id.Session.Valid(m.cfg.Now()) {
		return nil, ErrNoSession
	}
	return f.id, nil
}

// fly runs the shared load f. It has a goroutine of its own so that every
// caller, the first one too, can stop waiting when its request ends.
func (m *Manager) fly(ctx context.Context, key [32]byte, f *flight, now time.Time) {
	var (
		id  *Identity
		err error
	)
	defer func() {
		// A panic here would kill the process, not one request as it
		// did on the caller's goroutine: the waiters get an error
		// (fail closed) instead.
		if r := recover(); r != nil {
			id, err = nil, fmt.Errorf("session: load panicked: %v", r)
		}
		m.cache.land(key, f, id, err, now)
	}()
	id, err = m.load(ctx, key, now)
}

// load reads the session of key and its user from the store and checks
// them; it never writes the cache.
func (m *Manager) load(ctx context.Context, key [32]byte, now time.Time) (*Identity, error) {
	sid := hex.EncodeToString(key[:])
	s, err := m.sessions.GetSession(ctx, sid)
	if errors.Is(err, store.ErrNotFound) {
		m.forget(key)
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, err
	}
	if !s.Valid(now) {
		m.forget(key)
		return nil, ErrNoSession
	}
	u, err := m.users.UserByID(ctx, s.UserID)
	if errors.Is(err, store.ErrNotFound) {
		_ = m.sessions.DeleteSession(ctx, sid)
		m.forget(key)
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, err
	}
	if !u.SignsIn() || s.CreatedAt.Before(u.PasswordChangedAt) {
		// A disabled account loses its sessions at the next request, and
		// so does one that started before the password changed: the rule
		// holds even where the change could not revoke them all.
		_ = m.sessions.DeleteSession(ctx, sid)
		m.forget(key)
		return nil, ErrNoSession
	}
	if now.Sub(s.LastSeenAt) >= m.cfg.TouchInterval {
		idle := now.Add(m.cfg.Idle)
		if err := m.sessions.TouchSession(ctx, sid, now, idle); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				m.forget(key)
				return nil, ErrNoSession
			}
			return nil, err
		}
		s.LastSeenAt, s.IdleExpiresAt = now, idle
	}
	// Cached, if at all, by loadShared's flight (cache.land), which knows
	// whether a revocation came during the load.
	return &Identity{Session: *s, User: *u, groupsCSV: strings.Join(u.Groups, ",")}, nil
}

// Revoke ends the session of a cookie token (logout). Unknown tokens are
// no error.
func (m *Manager) Revoke(ctx context.Context, token string) error {
	if !wellFormed(token) {
		return nil
	}
	return m.deleteID(ctx, keys.HashToken(token))
}

// RevokeID ends a session by its id (as listed to its user or an admin).
func (m *Manager) RevokeID(ctx context.Context, id string) error { return m.deleteID(ctx, id) }

// RevokeUser ends every session of a user and returns how many there were.
func (m *Manager) RevokeUser(ctx context.Context, userID string) (int, error) {
	ids, err := m.sessions.DeleteUserSessions(ctx, userID)
	for _, id := range ids {
		m.forgetID(id)
	}
	m.broadcast(ctx, ids)
	return len(ids), err
}

// List returns a user's live sessions, oldest first.
func (m *Manager) List(ctx context.Context, userID string) ([]*store.Session, error) {
	return m.sessions.ListUserSessions(ctx, userID)
}

// Purge deletes expired sessions from the store.
func (m *Manager) Purge(ctx context.Context) (int, error) {
	return m.sessions.PurgeExpired(ctx, m.cfg.Now())
}

// RunJanitor purges expired sessions at once and then every interval until
// ctx is done (at once too, so a gateway restarted more often than the
// interval still cleans up). onErr (may be nil) hears about failures.
func (m *Manager) RunJanitor(ctx context.Context, interval time.Duration, onErr func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := m.Purge(ctx); err != nil && onErr != nil && ctx.Err() == nil {
			onErr(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (m *Manager) deleteID(ctx context.Context, id string) error {
	m.forgetID(id)
	err := m.sessions.DeleteSession(ctx, id)
	// Again after the delete: a load that began between the first forget
	// and the delete may have read the live session, and must not cache it.
	m.forgetID(id)
	if err != nil {
		return err
	}
	m.broadcast(ctx, []string{id})
	return nil
}

func (m *Manager) forget(key [32]byte) {
	if m.cache != nil {
		m.cache.del(key)
	}
}

func (m *Manager) forgetID(id string) {
	if key, ok := idKey(id); ok {
		m.forget(key)
	}
}

// wellFormed accepts exactly what keys.NewToken produces: 43 base64url
// characters. Anything else is refused before hashing or a store lookup.
func wellFormed(t string) bool {
	if len(t) != 43 {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
