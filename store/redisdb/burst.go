package redisdb

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// joinBurstLua is JoinBurst on the server: the window is a sorted set of
// members scored by arrival (ms), the burst a hash of its start and end.
//
// KEYS: window set, burst hash. ARGV: member, at (ms), window (ms), limit.
// A new member's place is the number of members in the window when it
// arrived; a member seen before keeps its place by arrival time.
// Returns the burst's start (ms), or 0 when the member is within the
// limit.
const joinBurstLua = `
local at, window, limit = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', at - window)
local place
if redis.call('ZADD', KEYS[1], 'NX', at, ARGV[1]) == 1 then
  place = redis.call('ZCARD', KEYS[1])
else
  place = redis.call('ZRANK', KEYS[1], ARGV[1]) + 1
end
redis.call('PEXPIRE', KEYS[1], 2 * window)
if place <= limit then return 0 end
local start = tonumber(redis.call('HGET', KEYS[2], 'start') or '0')
local ends = tonumber(redis.call('HGET', KEYS[2], 'until') or '0')
if start == 0 or at >= ends then start = at end
redis.call('HSET', KEYS[2], 'start', start, 'until', at + window)
redis.call('PEXPIRE', KEYS[2], 2 * window)
return start
`

// JoinBurst records member as arriving at in scope and reports the burst
// it belongs to: the zero time while at most limit members of scope
// arrived within the window ending at at (member included), else the
// start of scope's current burst. A burst begins with the first member
// over the limit and lasts until a whole window passes without another
// member over it, so arrivals that straddle any fixed boundary share one
// burst. Recording a member again does not count it twice. It is one
// script on the server, so replicas agree on every member's answer.
func (s *Store) JoinBurst(ctx context.Context, scope, member string, at time.Time, window time.Duration, limit int) (time.Time, error) {
	if scope == "" || member == "" {
		return time.Time{}, errors.New("join burst: scope and member are required")
	}
	if window < time.Millisecond || limit < 0 {
		return time.Time{}, fmt.Errorf("join burst %s: window %v and limit %d must be positive", scope, window, limit)
	}
	k := s.k.burst + scope
	start, err := s.burstScript.Run(ctx, s.rdb, []string{k, k + ":current"},
		member, at.UnixMilli(), window.Milliseconds(), limit).Int64()
	if err != nil {
		return time.Time{}, fmt.Errorf("join burst %s: %w", scope, err)
	}
	if start == 0 {
		return time.Time{}, nil
	}
	return time.UnixMilli(start).UTC(), nil
}
