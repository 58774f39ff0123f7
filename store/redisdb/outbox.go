package redisdb

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// A channel's outbox is a hash of item key → "priority:due(ms):version";
// a set lists the channels with pending items; a counter hands out
// versions; a plain key with a TTL is each channel's send lease.

// putOutboxLua merges an item into its channel's hash.
// KEYS: channel hash, channels set, version counter. ARGV: key, priority,
// due (ms), channel. Returns {priority, due, version}.
const putOutboxLua = `
local prio, due = tonumber(ARGV[2]), tonumber(ARGV[3])
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  local p, d = string.match(old, '^(-?%d+):(-?%d+):')
  p, d = tonumber(p), tonumber(d)
  if p and p < prio then prio = p end
  if d and d < due then due = d end
end
local v = redis.call('INCR', KEYS[3])
redis.call('HSET', KEYS[1], ARGV[1], string.format('%d:%d:%d', prio, due, v))
redis.call('SADD', KEYS[2], ARGV[4])
return {prio, due, v}
`

// doneOutboxLua removes a sent item unless it was put again since.
// KEYS: channel hash, channels set. ARGV: key, version, channel.
// Returns 1 when removed.
const doneOutboxLua = `
local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old then return 0 end
if string.match(old, ':(-?%d+)$') ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HLEN', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[3]) end
return 1
`

// leaseOutboxLua takes or renews a channel's send lease.
// KEYS: lease key. ARGV: owner, ttl (ms). Returns 1 when held.
const leaseOutboxLua = `
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`

// releaseOutboxLua deletes a lease its owner gives up.
const releaseOutboxLua = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
`

var (
	putOutboxScript     = redis.NewScript(putOutboxLua)
	doneOutboxScript    = redis.NewScript(doneOutboxLua)
	leaseOutboxScript   = redis.NewScript(leaseOutboxLua)
	releaseOutboxScript = redis.NewScript(releaseOutboxLua)
)

// outboxKeys names channel's hash, the channel set and the version
// counter; no channel name can make one collide with another.
func (s *Store) outboxKeys(channel string) (hash, channels, versions string) {
	return s.k.prefix + "outbox:items:" + channel, s.k.prefix + "outbox:channels", s.k.prefix + "outbox:version"
}

func (s *Store) outboxLeaseKey(channel string) string { return s.k.prefix + "outbox:lease:" + channel }

// PutOutbox adds item to its channel's outbox, or merges it with the
// pending item of the same key: the earlier Due and the lower Priority
// win. It returns the item as stored, with a new Version. One script on
// the server, so replicas putting the same key agree.
func (s *Store) PutOutbox(ctx context.Context, item oncall.OutboxItem) (oncall.OutboxItem, error) {
	if item.Channel == "" || item.Key == "" {
		return item, errors.New("put outbox item: channel and key are required")
	}
	h, set, ver := s.outboxKeys(item.Channel)
	res, err := putOutboxScript.Run(ctx, s.rdb, []string{h, set, ver}, item.Key, item.Priority, item.Due.UnixMilli(), item.Channel).Int64Slice()
	if err != nil || len(res) != 3 {
		return item, fmt.Errorf("put outbox item %s in %s: %w", item.Key, item.Channel, cmp.Or(err, errors.New("unexpected answer")))
	}
	item.Priority, item.Due, item.Version = int(res[0]), time.UnixMilli(res[1]).UTC(), res[2]
	return item, nil
}

// PendingOutbox lists channel's pending items, by Priority, then Due,
// then Key.
func (s *Store) PendingOutbox(ctx context.Context, channel string) ([]oncall.OutboxItem, error) {
	h, _, _ := s.outboxKeys(channel)
	all, err := s.rdb.HGetAll(ctx, h).Result()
	if err != nil {
		return nil, fmt.Errorf("list outbox of %s: %w", channel, err)
	}
	items := make([]oncall.OutboxItem, 0, len(all))
	for key, v := range all {
		parts := strings.Split(v, ":")
		if len(parts) != 3 {
			s.log.Error("skip unreadable outbox item", "channel", channel, "key", key)
			continue
		}
		p, err1 := strconv.Atoi(parts[0])
		due, err2 := strconv.ParseInt(parts[1], 10, 64)
		ver, err3 := strconv.ParseInt(parts[2], 10, 64)
		if err := errors.Join(err1, err2, err3); err != nil {
			s.log.Error("skip unreadable outbox item", "channel", channel, "key", key, "err", err)
			continue
		}
		items = append(items, oncall.OutboxItem{Channel: channel, Key: key, Priority: p, Due: time.UnixMilli(due).UTC(), Version: ver})
	}
	slices.SortFunc(items, func(a, b oncall.OutboxItem) int {
		return cmp.Or(cmp.Compare(a.Priority, b.Priority), a.Due.Compare(b.Due), cmp.Compare(a.Key, b.Key))
	})
	return items, nil
}

// OutboxChannels lists the channels with pending items.
func (s *Store) OutboxChannels(ctx context.Context) ([]string, error) {
	_, set, _ := s.outboxKeys("")
	chans, err := s.rdb.SMembers(ctx, set).Result()
	if err != nil {
		return nil, fmt.Errorf("list outbox channels: %w", err)
	}
	slices.Sort(chans)
	return chans, nil
}

// DoneOutbox removes item once sent, unless it was put again since
// (its Version changed): then it stays, to be sent with the newer
// state. It reports whether it removed the item.
func (s *Store) DoneOutbox(ctx context.Context, item oncall.OutboxItem) (bool, error) {
	h, set, _ := s.outboxKeys(item.Channel)
	n, err := doneOutboxScript.Run(ctx, s.rdb, []string{h, set}, item.Key, strconv.FormatInt(item.Version, 10), item.Channel).Int()
	if err != nil {
		return false, fmt.Errorf("remove outbox item %s in %s: %w", item.Key, item.Channel, err)
	}
	return n == 1, nil
}

// LeaseOutbox gives owner the right to send channel's items for ttl:
// it takes a free or lapsed lease, renews its own, and reports false
// while another owner's lease lives. The server keeps the ttl, so
// replicas on different clocks agree.
func (s *Store) LeaseOutbox(ctx context.Context, channel, owner string, ttl time.Duration) (bool, error) {
	if channel == "" || owner == "" || ttl < time.Millisecond {
		return false, fmt.Errorf("lease outbox %q for %q for %v: channel, owner and a positive ttl are required", channel, owner, ttl)
	}
	n, err := leaseOutboxScript.Run(ctx, s.rdb, []string{s.outboxLeaseKey(channel)}, owner, ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("lease outbox of %s: %w", channel, err)
	}
	return n == 1, nil
}

// ReleaseOutbox gives owner's lease of channel up; another owner's is
// left alone.
func (s *Store) ReleaseOutbox(ctx context.Context, channel, owner string) error {
	if err := releaseOutboxScript.Run(ctx, s.rdb, []string{s.outboxLeaseKey(channel)}, owner).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("release outbox of %s: %w", channel, err)
	}
	return nil
}
