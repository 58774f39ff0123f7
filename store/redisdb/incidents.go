package redisdb

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/redis/go-redis/v9"
)

// maxUpdateAttempts bounds how often UpdateIncident retries after another
// writer changed the incident between its read and its write.
const maxUpdateAttempts = 200

// mgetBatch bounds the keys of one MGET.
const mgetBatch = 500

func threadField(channel, threadTS string) string { return channel + "\x00" + threadTS }

func decodeIncident(data []byte) (oncall.Incident, error) {
	var inc oncall.Incident
	if err := json.Unmarshal(data, &inc); err != nil {
		return inc, fmt.Errorf("decode: %w", err)
	}
	return inc, nil
}

// GetIncident returns the incident stored under key, or an error wrapping
// oncall.ErrNotFound.
func (s *Store) GetIncident(ctx context.Context, key string) (oncall.Incident, error) {
	data, err := s.rdb.Get(ctx, s.k.incident+key).Bytes()
	if errors.Is(err, redis.Nil) {
		err = oncall.ErrNotFound
	}
	if err != nil {
		return oncall.Incident{}, fmt.Errorf("get incident %s: %w", key, err)
	}
	inc, err := decodeIncident(data)
	if err != nil {
		return oncall.Incident{}, fmt.Errorf("get incident %s: %w", key, err)
	}
	return inc, nil
}

// CreateIncident stores inc unless an incident with its key exists, in
// which case it returns that one and false; the check and the write are
// one step on the server, so of any number of racing replicas exactly one
// creates. Zero OpenedAt and UpdatedAt are set to now.
func (s *Store) CreateIncident(ctx context.Context, inc oncall.Incident) (oncall.Incident, bool, error) {
	if inc.Key == "" {
		return oncall.Incident{}, false, errors.New("create incident: key is required")
	}
	now := s.now()
	if inc.OpenedAt.IsZero() {
		inc.OpenedAt = now
	}
	if inc.UpdatedAt.IsZero() {
		inc.UpdatedAt = now
	}
	data, err := json.Marshal(inc)
	if err != nil {
		return oncall.Incident{}, false, fmt.Errorf("create incident %s: %w", inc.Key, err)
	}
	thread := ""
	if inc.ThreadTS != "" {
		thread = threadField(inc.Channel, inc.ThreadTS)
	}
	res, err := s.createScript.Run(ctx, s.rdb, []string{s.k.incident + inc.Key, s.k.updated, s.k.threads},
		data, ms(inc.UpdatedAt), inc.Key, thread).Slice()
	if err != nil {
		return oncall.Incident{}, false, fmt.Errorf("create incident %s: %w", inc.Key, err)
	}
	if created, _ := res[0].(int64); created == 1 {
		return inc, true, nil
	}
	existing, _ := res[1].(string)
	cur, err := decodeIncident([]byte(existing))
	if err != nil {
		return oncall.Incident{}, false, fmt.Errorf("create incident %s: existing: %w", inc.Key, err)
	}
	return cur, false, nil
}

// errConflict means another writer changed the incident first.
var errConflict = errors.New("too many conflicting writes")

// UpdateIncident applies fn to the incident under key and stores the
// result only if nobody changed the incident in between (WATCH/MULTI); on
// a conflict it reads again and calls fn again, so fn may run more than
// once and should only change the incident it is given. If fn returns an
// error nothing changes and that error is returned as is. Unless fn sets
// UpdatedAt itself, it becomes now. fn may not change the key.
func (s *Store) UpdateIncident(ctx context.Context, key string, fn func(*oncall.Incident) error) (oncall.Incident, error) {
	ik := s.k.incident + key
	for range maxUpdateAttempts {
		var (
			inc   oncall.Incident
			fnErr error
		)
		err := s.rdb.Watch(ctx, func(tx *redis.Tx) error {
			data, err := tx.Get(ctx, ik).Bytes()
			if errors.Is(err, redis.Nil) {
				return oncall.ErrNotFound
			}
			if err != nil {
				return err
			}
			if inc, err = decodeIncident(data); err != nil {
				return err
			}
			old := inc // only its times and thread are compared below
			if fnErr = fn(&inc); fnErr != nil {
				return fnErr
			}
			if inc.Key != key {
				return fmt.Errorf("key changed to %q", inc.Key)
			}
			if inc.UpdatedAt.Equal(old.UpdatedAt) {
				inc.UpdatedAt = s.now()
			}
			return s.writeIncident(ctx, tx, inc, old)
		}, ik)
		if errors.Is(err, redis.TxFailedErr) {
			continue
		}
		if fnErr != nil {
			return oncall.Incident{}, fnErr
		}
		if err != nil {
			return oncall.Incident{}, fmt.Errorf("update incident %s: %w", key, err)
		}
		return inc, nil
	}
	return oncall.Incident{}, fmt.Errorf("update incident %s: %w", key, errConflict)
}

// writeIncident stores inc and moves its index entries from old's, in one
// MULTI that fails if the watched incident changed.
func (s *Store) writeIncident(ctx context.Context, tx *redis.Tx, inc, old oncall.Incident) error {
	data, err := json.Marshal(inc)
	if err != nil {
		return err
	}
	dropThread := ""
	if old.ThreadTS != "" && (old.Channel != inc.Channel || old.ThreadTS != inc.ThreadTS) {
		f := threadField(old.Channel, old.ThreadTS)
		owner, err := tx.HGet(ctx, s.k.threads, f).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		if owner == inc.Key {
			dropThread = f
		}
	}
	_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, s.k.incident+inc.Key, data, 0)
		p.ZAdd(ctx, s.k.updated, redis.Z{Score: ms(inc.UpdatedAt), Member: inc.Key})
		if dropThread != "" {
			p.HDel(ctx, s.k.threads, dropThread)
		}
		if inc.ThreadTS != "" {
			p.HSet(ctx, s.k.threads, threadField(inc.Channel, inc.ThreadTS), inc.Key)
		}
		return nil
	})
	return err
}

// IncidentByThread returns the incident whose Slack thread is threadTS in
// channel, or an error wrapping oncall.ErrNotFound.
func (s *Store) IncidentByThread(ctx context.Context, channel, threadTS string) (oncall.Incident, error) {
	fail := func(err error) (oncall.Incident, error) {
		return oncall.Incident{}, fmt.Errorf("incident of thread %s/%s: %w", channel, threadTS, err)
	}
	if threadTS == "" {
		return fail(oncall.ErrNotFound)
	}
	key, err := s.rdb.HGet(ctx, s.k.threads, threadField(channel, threadTS)).Result()
	if errors.Is(err, redis.Nil) {
		return fail(oncall.ErrNotFound)
	}
	if err != nil {
		return fail(err)
	}
	inc, err := s.GetIncident(ctx, key)
	if err != nil {
		return fail(err)
	}
	if inc.Channel != channel || inc.ThreadTS != threadTS {
		return fail(oncall.ErrNotFound)
	}
	return inc, nil
}

// ListIncidents returns the incidents updated at or after since, newest
// first.
func (s *Store) ListIncidents(ctx context.Context, since time.Time) ([]oncall.Incident, error) {
	fail := func(err error) ([]oncall.Incident, error) {
		return nil, fmt.Errorf("list incidents since %v: %w", since, err)
	}
	lowest := "-inf"
	if !since.IsZero() {
		lowest = strconv.FormatInt(since.UnixMilli()-1, 10) // scores are whole ms; filtered exactly below
	}
	ids, err := s.rdb.ZRevRangeByScore(ctx, s.k.updated, &redis.ZRangeBy{Min: lowest, Max: "+inf"}).Result()
	if err != nil {
		return fail(err)
	}
	out := []oncall.Incident{}
	for batch := range slices.Chunk(ids, mgetBatch) {
		keys := make([]string, len(batch))
		for i, id := range batch {
			keys[i] = s.k.incident + id
		}
		vals, err := s.rdb.MGet(ctx, keys...).Result()
		if err != nil {
			return fail(err)
		}
		for i, v := range vals {
			data, ok := v.(string)
			if !ok {
				continue // gone since the index was read
			}
			inc, err := decodeIncident([]byte(data))
			if err != nil {
				s.log.Error("skipped unreadable incident", "incident", batch[i], "err", err)
				continue
			}
			if !inc.UpdatedAt.Before(since) {
				out = append(out, inc)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b oncall.Incident) int {
		if c := b.UpdatedAt.Compare(a.UpdatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.Key, b.Key)
	})
	return out, nil
}
