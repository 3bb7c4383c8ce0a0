// Package redisstore keeps sessions (and one-time tokens) in Redis, so
// several Caddy instances share them and a logout-all is felt everywhere.
//
// It takes a go-redis UniversalClient, so standalone, Sentinel and Cluster
// all work. Every script touches a single key, which keeps it valid in
// Cluster without hash tags: the session key cannot carry the user id (a
// lookup knows only the session id), so it can never share a slot with the
// per-user index anyway.
//
// Layout (prefix defaults to "caddyauth:"):
//
//	<prefix>session:<id>            hash, PEXPIREAT at the session's Deadline()
//	<prefix>user-sessions:<userID>  sorted set of the user's full session ids scored by
//	                                CreatedAt (ms), expiring with the longest-lived member
//	<prefix>user-stages:<userID>    the same for challenge stages (Session.Pending set),
//	                                so each kind's cap is one script on one key
//	<prefix>token:<hash>            hash, PEXPIREAT at ExpiresAt
//
// Every error other than "not found" wraps store.ErrUnavailable, so callers
// fail closed when Redis is down.
package redisstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caddyauth/gateway/store"
)

// DefaultPrefix is the key prefix NewFromURL uses.
const DefaultPrefix = "caddyauth:"

// Store is a Redis-backed store.SessionStore and store.TokenStore.
type Store struct {
	rdb    redis.UniversalClient
	prefix string

	closeOnce sync.Once
	closeErr  error
}

var (
	_ store.SessionStore = (*Store)(nil)
	_ store.TokenStore   = (*Store)(nil)
)

// New wraps client. Keys are prefixed with prefix, so several deployments
// (or tests) can share one Redis database. Close closes client.
func New(client redis.UniversalClient, prefix string) *Store {
	return &Store{rdb: client, prefix: prefix}
}

// NewFromURL connects to a standalone Redis given as redis://, rediss:// or
// unix:// (see redis.ParseURL) and uses DefaultPrefix. Open also takes
// Sentinel and Cluster.
func NewFromURL(url string) (*Store, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redisstore: %w", err)
	}
	// Fail fast (see failFastTimeout); values given in the URL win.
	q := ""
	if i := strings.IndexByte(url, '?'); i >= 0 {
		q = url[i+1:]
	}
	if !strings.Contains(q, "dial_timeout=") {
		opts.DialTimeout = failFastTimeout
	}
	if !strings.Contains(q, "read_timeout=") {
		opts.ReadTimeout = failFastTimeout
	}
	if !strings.Contains(q, "write_timeout=") {
		opts.WriteTimeout = failFastTimeout
	}
	if !strings.Contains(q, "max_retries=") {
		opts.MaxRetries = failFastRetries
	}
	opts.DialerRetries = failFastDials
	return New(redis.NewClient(opts), DefaultPrefix), nil
}

// Close closes the client; later calls return the first result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.rdb.Close() })
	return s.closeErr
}

func (s *Store) sessionKey(id string) string   { return s.prefix + "session:" + id }
func (s *Store) indexKey(userID string) string { return s.prefix + "user-sessions:" + userID }
func (s *Store) stageKey(userID string) string { return s.prefix + "user-stages:" + userID }
func (s *Store) tokenKey(hash string) string   { return s.prefix + "token:" + hash }

// indexOf is the index a session belongs in, by its kind.
func (s *Store) indexOf(sess *store.Session) string {
	if sess.Full() {
		return s.indexKey(sess.UserID)
	}
	return s.stageKey(sess.UserID)
}

func unavailable(op string, err error) error {
	return fmt.Errorf("redisstore: %s: %w: %w", op, store.ErrUnavailable, err)
}

func notFound(what string) error { return fmt.Errorf("redisstore: %s: %w", what, store.ErrNotFound) }

func isNil(err error) bool { return errors.Is(err, redis.Nil) }

// Times are stored as Unix milliseconds, the precision of PEXPIREAT.
func msStr(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

func parseMs(v string) (time.Time, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	return time.UnixMilli(n).UTC(), err
}

// ----- scripts (each on one key) -----

// createScript: KEYS[1] key; ARGV[1] expire-at ms; ARGV[2..] field/value
// pairs. Returns 0 if the key exists (an id collision is a conflict, never
// an overwrite).
var createScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return 1`)

// indexAddScript: KEYS[1] index; ARGV score, id, expire-at ms, now ms, max.
// The index lives as long as its longest-lived member could. With max > 0
// it then removes the oldest members other than id until max remain and
// returns them: one script on one key, so concurrent logins of a user
// cannot overshoot the cap (the caller deletes the returned keys).
var indexAddScript = redis.NewScript(`
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 or tonumber(ARGV[4]) + ttl < tonumber(ARGV[3]) then
  redis.call('PEXPIREAT', KEYS[1], ARGV[3])
end
local max = tonumber(ARGV[5])
local out = {}
if max <= 0 then return out end
local over = redis.call('ZCARD', KEYS[1]) - max
if over <= 0 then return out end
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, over)) do
  if #out == over then break end
  if m ~= ARGV[2] then table.insert(out, m) end
end
redis.call('ZREM', KEYS[1], unpack(out))
return out`)

// touchScript: KEYS[1] session; ARGV now, last seen, idle expiry (ms).
// Updates only a session that is still live, and moves the key's expiry to
// the new deadline.
var touchScript = redis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'exp', 'idle')
if not v[1] or not v[2] then return 0 end
local now = tonumber(ARGV[1])
if tonumber(v[1]) <= now or tonumber(v[2]) <= now then return 0 end
redis.call('HSET', KEYS[1], 'seen', ARGV[2], 'idle', ARGV[3])
local at = v[1]
if tonumber(ARGV[3]) < tonumber(v[1]) then at = ARGV[3] end
redis.call('PEXPIREAT', KEYS[1], at)
return 1`)

// deleteScript: KEYS[1] session. Deletes it and returns its user id (nil if
// it was gone), so the caller can drop it from the index.
var deleteScript = redis.NewScript(`
local u = redis.call('HGET', KEYS[1], 'uid')
if u then redis.call('DEL', KEYS[1]) end
return u`)

// takeScript: KEYS[1] token; ARGV purpose, now ms, consume ("1" or "0").
// Returns {uid, exp} if the token matches and is live, deleting it when
// consuming; nil otherwise. Check and delete in one script, so two consumers
// cannot both win.
var takeScript = redis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'purpose', 'uid', 'exp')
if not v[1] or v[1] ~= ARGV[1] or tonumber(v[3]) <= tonumber(ARGV[2]) then return nil end
if ARGV[3] == '1' then redis.call('DEL', KEYS[1]) end
return {v[2], v[3]}`)

// ----- sessions -----

// CreateSession stores s. The session key is written before the index
// entry: an index entry without a key is harmless (listing prunes it), while
// a key without an index entry would survive a logout-all. If indexing
// fails the key is removed again; if even that fails, the caller got an
// error and never handed out the token, so nobody can present the session.
// A session already past its deadline is not stored (Redis would drop it at
// once anyway).
func (s *Store) CreateSession(ctx context.Context, sess *store.Session) error {
	_, err := s.create(ctx, sess, 0)
	return err
}

// create stores sess as CreateSession does; with max > 0 the index script
// also evicts the oldest of its kind beyond max (see CreateSessionCapped)
// and returns their ids, whose keys are then deleted.
func (s *Store) create(ctx context.Context, sess *store.Session, max int) ([]string, error) {
	now := time.Now()
	if !sess.Valid(now) {
		return nil, nil
	}
	key := s.sessionKey(sess.ID)
	ok, err := createScript.Run(ctx, s.rdb, []string{key}, msStr(sess.Deadline()),
		"uid", sess.UserID,
		"created", msStr(sess.CreatedAt),
		"seen", msStr(sess.LastSeenAt),
		"exp", msStr(sess.ExpiresAt),
		"idle", msStr(sess.IdleExpiresAt),
		"ip", sess.IP,
		"ua", sess.UserAgent,
		"am", sess.AuthMethod,
		"mfa", sess.MFAMethod,
		"pend", sess.Pending,
		"rgen", strconv.FormatUint(sess.RefreshGen, 10),
	).Int()
	if err != nil {
		return nil, unavailable("create session", err)
	}
	if ok == 0 {
		return nil, fmt.Errorf("redisstore: create session: %w", store.ErrConflict)
	}
	evicted, err := indexAddScript.Run(ctx, s.rdb, []string{s.indexOf(sess)},
		sess.CreatedAt.UnixMilli(), sess.ID, msStr(sess.ExpiresAt), now.UnixMilli(), max).StringSlice()
	if err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		s.rdb.Del(cctx, key)
		return nil, unavailable("index session", err)
	}
	if len(evicted) == 0 {
		return nil, nil
	}
	// Unindexed already; delete the keys even if the caller gives up, so
	// an evicted session cannot outlive its index entry.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	// One DEL per key: the keys hash to different Cluster slots.
	_, err = s.rdb.Pipelined(cctx, func(p redis.Pipeliner) error {
		for _, id := range evicted {
			p.Del(cctx, s.sessionKey(id))
		}
		return nil
	})
	if err != nil {
		return nil, unavailable("evict sessions", err)
	}
	return evicted, nil
}

func parseSession(id string, m map[string]string) (*store.Session, error) {
	sess := &store.Session{
		ID: id, UserID: m["uid"], IP: m["ip"], UserAgent: m["ua"],
		AuthMethod: m["am"], MFAMethod: m["mfa"], Pending: m["pend"],
	}
	var err error
	for _, f := range []struct {
		dst   *time.Time
		field string
	}{
		{&sess.CreatedAt, "created"},
		{&sess.LastSeenAt, "seen"},
		{&sess.ExpiresAt, "exp"},
		{&sess.IdleExpiresAt, "idle"},
	} {
		if *f.dst, err = parseMs(m[f.field]); err != nil {
			return nil, fmt.Errorf("session field %s: %w", f.field, err)
		}
	}
	if v := m["rgen"]; v != "" {
		if sess.RefreshGen, err = strconv.ParseUint(v, 10, 64); err != nil {
			return nil, fmt.Errorf("session field rgen: %w", err)
		}
	}
	return sess, nil
}

// GetSession returns the session if it is live now. The deadline is checked
// here as well as by Redis expiry, which is only millisecond-exact on the
// Redis server's clock.
func (s *Store) GetSession(ctx context.Context, id string) (*store.Session, error) {
	m, err := s.rdb.HGetAll(ctx, s.sessionKey(id)).Result()
	if err != nil {
		return nil, unavailable("get session", err)
	}
	if len(m) == 0 {
		return nil, notFound("session")
	}
	sess, err := parseSession(id, m)
	if err != nil {
		return nil, unavailable("get session", err)
	}
	if !sess.Valid(time.Now()) {
		return nil, notFound("session")
	}
	return sess, nil
}

// TouchSession updates a live session and moves its key expiry; an expired
// or missing session is ErrNotFound and is not revived.
func (s *Store) TouchSession(ctx context.Context, id string, lastSeen, idleExpires time.Time) error {
	ok, err := touchScript.Run(ctx, s.rdb, []string{s.sessionKey(id)},
		time.Now().UnixMilli(), msStr(lastSeen), msStr(idleExpires)).Int()
	if err != nil {
		return unavailable("touch session", err)
	}
	if ok == 0 {
		return notFound("session")
	}
	return nil
}

// DeleteSession removes the session and its index entry; a missing session
// is no error.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	uid, err := deleteScript.Run(ctx, s.rdb, []string{s.sessionKey(id)}).Text()
	if isNil(err) {
		return nil
	}
	if err != nil {
		return unavailable("delete session", err)
	}
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRem(ctx, s.indexKey(uid), id)
		p.ZRem(ctx, s.stageKey(uid), id)
		return nil
	})
	if err != nil {
		// The session itself is gone; a stale index entry is pruned later.
		return unavailable("unindex session", err)
	}
	return nil
}

// ListUserSessions returns the user's live sessions (both indexes), oldest
// first, and prunes index entries whose session key has expired or been
// deleted. Ties on CreatedAt are ordered by id, like the SQL backend.
func (s *Store) ListUserSessions(ctx context.Context, userID string) ([]*store.Session, error) {
	full, err := s.listIndex(ctx, s.indexKey(userID), userID)
	if err != nil {
		return nil, err
	}
	stages, err := s.listIndex(ctx, s.stageKey(userID), userID)
	if err != nil {
		return nil, err
	}
	if len(stages) == 0 {
		return full, nil
	}
	out := append(full, stages...)
	slices.SortFunc(out, func(a, b *store.Session) int {
		if c := cmp.Compare(a.CreatedAt.UnixMilli(), b.CreatedAt.UnixMilli()); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// listIndex lists the live sessions of one index in sorted-set order and
// prunes its stale entries.
func (s *Store) listIndex(ctx context.Context, idx, userID string) ([]*store.Session, error) {
	ids, err := s.rdb.ZRange(ctx, idx, 0, -1).Result()
	if err != nil {
		return nil, unavailable("list sessions", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGetAll(ctx, s.sessionKey(id))
		}
		return nil
	})
	if err != nil {
		return nil, unavailable("list sessions", err)
	}
	now := time.Now()
	var (
		out   []*store.Session
		stale []any
	)
	for i, c := range cmds {
		m := c.Val()
		if len(m) == 0 {
			stale = append(stale, ids[i])
			continue
		}
		sess, err := parseSession(ids[i], m)
		if err != nil {
			return nil, unavailable("list sessions", err)
		}
		if sess.UserID == userID && sess.Valid(now) {
			out = append(out, sess)
		}
	}
	if len(stale) > 0 {
		// A key never comes back once gone (ids are unique and the key is
		// written before the index), so pruning cannot lose a live session.
		if err := s.rdb.ZRem(ctx, idx, stale...).Err(); err != nil {
			return nil, unavailable("prune sessions", err)
		}
	}
	return out, nil
}

// DeleteUserSessions removes every indexed session of the user and returns
// the ids of those that still existed. Only the ids it read are removed from
// the index, so a session created concurrently stays indexed for the next
// logout-all.
func (s *Store) DeleteUserSessions(ctx context.Context, userID string) ([]string, error) {
	full, err := s.deleteIndex(ctx, s.indexKey(userID))
	if err != nil {
		return nil, err
	}
	stages, err := s.deleteIndex(ctx, s.stageKey(userID))
	return append(full, stages...), err
}

// deleteIndex deletes the sessions of one index (see DeleteUserSessions).
func (s *Store) deleteIndex(ctx context.Context, idx string) ([]string, error) {
	ids, err := s.rdb.ZRange(ctx, idx, 0, -1).Result()
	if err != nil {
		return nil, unavailable("delete user sessions", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.IntCmd, len(ids))
	members := make([]any, len(ids))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.Del(ctx, s.sessionKey(id))
			members[i] = id
		}
		return nil
	})
	if err != nil {
		return nil, unavailable("delete user sessions", err)
	}
	if err := s.rdb.ZRem(ctx, idx, members...).Err(); err != nil {
		return nil, unavailable("delete user sessions", err)
	}
	var deleted []string
	for i, c := range cmds {
		if c.Val() > 0 {
			deleted = append(deleted, ids[i])
		}
	}
	return deleted, nil
}

// PurgeExpired returns 0: Redis expires sessions and tokens by itself. It
// still pings, so a janitor that logs errors notices when Redis is down.
func (s *Store) PurgeExpired(ctx context.Context, _ time.Time) (int, error) {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return 0, unavailable("purge", err)
	}
	return 0, nil
}

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return unavailable("ping", err)
	}
	return nil
}

// ----- one-time tokens -----

// CreateToken stores t until its expiry; ErrConflict if the hash is taken.
func (s *Store) CreateToken(ctx context.Context, t *store.OneTimeToken) error {
	ok, err := createScript.Run(ctx, s.rdb, []string{s.tokenKey(t.Hash)}, msStr(t.ExpiresAt),
		"purpose", t.Purpose, "uid", t.UserID, "exp", msStr(t.ExpiresAt)).Int()
	if err != nil {
		return unavailable("create token", err)
	}
	if ok == 0 {
		return fmt.Errorf("redisstore: create token: %w", store.ErrConflict)
	}
	return nil
}

func (s *Store) takeToken(ctx context.Context, op, hash, purpose string, now time.Time, consume bool) (*store.OneTimeToken, error) {
	del := "0"
	if consume {
		del = "1"
	}
	v, err := takeScript.Run(ctx, s.rdb, []string{s.tokenKey(hash)}, purpose, now.UnixMilli(), del).StringSlice()
	if isNil(err) {
		return nil, notFound("token")
	}
	if err != nil {
		return nil, unavailable(op, err)
	}
	if len(v) != 2 {
		return nil, unavailable(op, fmt.Errorf("unexpected reply %q", v))
	}
	exp, err := parseMs(v[1])
	if err != nil {
		return nil, unavailable(op, err)
	}
	return &store.OneTimeToken{Hash: hash, Purpose: purpose, UserID: v[0], ExpiresAt: exp}, nil
}

// ConsumeToken atomically deletes and returns a live token of that purpose.
func (s *Store) ConsumeToken(ctx context.Context, hash, purpose string, now time.Time) (*store.OneTimeToken, error) {
	return s.takeToken(ctx, "consume token", hash, purpose, now, true)
}

// PeekToken returns the token without consuming it.
func (s *Store) PeekToken(ctx context.Context, hash, purpose string, now time.Time) (*store.OneTimeToken, error) {
	return s.takeToken(ctx, "peek token", hash, purpose, now, false)
}

// revokedChannel carries the ids of deleted sessions, so every instance can
// drop them from its in-process cache at once instead of at the cache TTL.
func (s *Store) revokedChannel() string { return s.prefix + "revoked" }

// PublishRevoked tells every subscribed instance that the sessions ids are
// gone. Best effort: an instance that misses it still stops honouring them
// when its cache entry expires.
func (s *Store) PublishRevoked(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if err := s.rdb.Publish(ctx, s.revokedChannel(), strings.Join(ids, ",")).Err(); err != nil {
		return unavailable("publish revoked", err)
	}
	return nil
}

// SubscribeRevoked calls onRevoke for every session id another instance (or
// the CLI) revokes, until ctx ends. onResync runs at every (re)subscription:
// revocations published while the connection was down are lost, so the
// caller should drop its whole cache then.
func (s *Store) SubscribeRevoked(ctx context.Context, onRevoke func(id string), onResync func()) {
	ps := s.rdb.Subscribe(ctx, s.revokedChannel())
	defer ps.Close()
	// The channel form pings the connection, reconnects and resubscribes by
	// itself, and reports each (re)subscription.
	ch := ps.ChannelWithSubscriptions()
	for {
		select {
		case <-ctx.Done():
			return
		case msg, ok := <-ch:
			if !ok {
				return
			}
			switch m := msg.(type) {
			case *redis.Subscription:
				onResync()
			case *redis.Message:
				for _, id := range strings.Split(m.Payload, ",") {
					if id != "" {
						onRevoke(id)
					}
				}
			}
		}
	}
}

// Client is the underlying connection, for features that share the
// session Redis (rate-limit buckets).
func (s *Store) Client() redis.UniversalClient { return s.rdb }

// Prefix is the key prefix of this store.
func (s *Store) Prefix() string { return s.prefix }
