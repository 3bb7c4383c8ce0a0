package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caddyauth/gateway/store"
)

// advanceScript: KEYS[1] session; ARGV now ms, expected generation.
// Returns 1 when it moved the generation on, 0 when the session is gone or
// expired, -1 when the generation differs. Check and increment in one
// script on one key, so two refreshes with one token cannot both win.
var advanceScript = redis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'exp', 'idle', 'rgen')
if not v[1] or not v[2] then return 0 end
local now = tonumber(ARGV[1])
if tonumber(v[1]) <= now or tonumber(v[2]) <= now then return 0 end
local gen = v[3] or '0'
if gen ~= ARGV[2] then return -1 end
redis.call('HINCRBY', KEYS[1], 'rgen', 1)
return 1`)

// AdvanceRefresh moves a live session's refresh generation from gen to
// gen+1 (see store.SessionStore).
func (s *Store) AdvanceRefresh(ctx context.Context, id string, gen uint64) error {
	n, err := advanceScript.Run(ctx, s.rdb, []string{s.sessionKey(id)},
		time.Now().UnixMilli(), strconv.FormatUint(gen, 10)).Int()
	switch {
	case err != nil:
		return unavailable("advance refresh", err)
	case n == 0:
		return notFound("session")
	case n < 0:
		return fmt.Errorf("redisstore: refresh generation: %w", store.ErrConflict)
	}
	return nil
}
