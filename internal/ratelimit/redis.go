package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// gcra is the generic cell rate algorithm in one round trip: the key holds
// the theoretical arrival time (TAT, ms). An event is allowed when the new
// TAT is at most burst x interval ahead of now. Redis's own clock is used,
// so instances with skewed clocks still share one budget.
var gcra = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local ahead = new_tat - now
if ahead > interval * burst then
  return ahead - interval * burst
end
redis.call('SET', KEYS[1], new_tat, 'PX', ahead)
return 0
`)

// Redis is a Limiter whose buckets live in Redis, shared by every instance
// using the same key prefix.
type Redis struct {
	rdb      redis.UniversalClient
	prefix   string
	interval int64 // ms per token
	burst    int
}

// NewRedis returns a shared limiter for r; keys are prefix+key. A zero
// (off) Rate allows everything without a round trip.
func NewRedis(rdb redis.UniversalClient, prefix string, r Rate) *Redis {
	l := &Redis{rdb: rdb, prefix: prefix, burst: r.N}
	if !r.Off() {
		l.interval = max(1, (r.Per / time.Duration(r.N)).Milliseconds())
	}
	return l
}

// Allow implements Limiter. now is ignored: Redis's clock decides.
func (l *Redis) Allow(ctx context.Context, key string, _ time.Time) (bool, time.Duration, error) {
	if l.burst == 0 {
		return true, 0, nil
	}
	wait, err := gcra.Run(ctx, l.rdb, []string{l.prefix + key}, l.interval, l.burst).Int64()
	if err != nil {
		return false, 0, fmt.Errorf("ratelimit: redis: %w", err)
	}
	if wait > 0 {
		return false, time.Duration(wait) * time.Millisecond, nil
	}
	return true, 0, nil
}
