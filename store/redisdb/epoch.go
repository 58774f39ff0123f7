package redisdb

// A Redis that restarts without persistence, or is flushed, or fails over
// to an empty replica, comes back empty: queued jobs, incidents and
// once-keys are gone, and nothing in the protocol says so. The store
// notices it two ways: at start it asks whether the server persists
// anything at all, and while it runs it watches an epoch key that every
// replica of the deployment shares. A changed or missing epoch means the
// data written before is gone.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Persistence is what a Redis server says it keeps across a restart.
type Persistence struct {
	Known bool   // false when the server refused to say (CONFIG is disabled on managed Redis)
	AOF   bool   // appendonly yes
	Save  string // RDB snapshot rules; "" for none
	Why   string // why Known is false
}

// Durable reports whether the server keeps writes across a restart in
// some form (AOF, or RDB snapshots, which keep them up to the last one).
func (p Persistence) Durable() bool { return p.AOF || p.Save != "" }

func (p Persistence) String() string {
	switch {
	case !p.Known:
		return "unknown (" + p.Why + ")"
	case p.AOF:
		return fmt.Sprintf("appendonly yes, save %q", p.Save)
	case p.Save != "":
		return fmt.Sprintf("RDB snapshots only (save %q): writes since the last snapshot are lost on a restart", p.Save)
	default:
		return `none (appendonly no, save "")`
	}
}

// ErrNotPersistent is returned by Open with RequirePersistence when the
// server says it keeps nothing across a restart.
var ErrNotPersistent = errors.New("redis keeps nothing across a restart")

// CheckPersistence asks the server what it keeps across a restart: CONFIG
// GET appendonly and save, or, where CONFIG is refused as on managed
// Redis, the aof_enabled line of INFO persistence.
func (s *Store) CheckPersistence(ctx context.Context) (Persistence, error) {
	vals, err := s.rdb.ConfigGet(ctx, "appendonly").Result()
	if err == nil {
		var save map[string]string
		if save, err = s.rdb.ConfigGet(ctx, "save").Result(); err == nil {
			return Persistence{Known: true, AOF: vals["appendonly"] == "yes", Save: strings.TrimSpace(save["save"])}, nil
		}
	}
	if !isRefused(err) {
		return Persistence{}, fmt.Errorf("check redis persistence: %w", err)
	}
	refused := "CONFIG refused: " + err.Error()
	info, ierr := s.rdb.Info(ctx, "persistence").Result()
	if ierr == nil && strings.Contains(info, "aof_enabled:1") {
		return Persistence{Known: true, AOF: true}, nil
	}
	return Persistence{Why: refused}, nil
}

// isRefused reports whether err is the server refusing a command (an
// ACL, a renamed or disabled command), not a failed connection.
func isRefused(err error) bool {
	var rerr redis.Error
	return errors.As(err, &rerr)
}

// epochKey holds a random value written by the first replica to start on
// an empty server.
func (s *Store) epochKey() string { return s.k.prefix + "epoch" }

// lostKey records when a replica last found the data gone, for replicas
// that start after it.
func (s *Store) lostKey() string { return s.k.prefix + "data_lost_at" }

// lostMemory is how long replicas starting after a loss still treat the
// store as having lost its data.
const lostMemory = 24 * time.Hour

// joinEpoch adopts the server's epoch, writing one if there is none, and
// picks up a loss another replica recorded.
func (s *Store) joinEpoch(ctx context.Context) error {
	if err := s.rdb.SetNX(ctx, s.epochKey(), newID(), 0).Err(); err != nil {
		return fmt.Errorf("write epoch: %w", err)
	}
	epoch, err := s.rdb.Get(ctx, s.epochKey()).Result()
	if err != nil {
		return fmt.Errorf("read epoch: %w", err)
	}
	lost, err := s.rdb.Get(ctx, s.lostKey()).Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("read data loss record: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.epoch = epoch
	if at := time.UnixMilli(lost).UTC(); lost > 0 && at.After(s.lostAt) {
		s.lostAt = at
	}
	return nil
}

// CheckEpoch compares the server's epoch with the one this store joined.
// When it is gone or changed, the server lost the data written before
// (a restart without persistence, a flush, a failover to an empty
// replica): the loss is logged, counted, recorded for the other replicas,
// and a new epoch joined. It reports whether a loss was found now.
func (s *Store) CheckEpoch(ctx context.Context) (bool, error) {
	s.checking.Lock()
	defer s.checking.Unlock()
	s.mu.Lock()
	mine := s.epoch
	s.mu.Unlock()
	vals, err := s.rdb.MGet(ctx, s.epochKey(), s.lostKey()).Result()
	if err != nil {
		return false, fmt.Errorf("check epoch: %w", err)
	}
	cur, _ := vals[0].(string)
	if cur == mine {
		// A replica that started on the emptied server before the others
		// noticed learns of the loss from their record.
		if rec, _ := vals[1].(string); rec != "" {
			if ms, err := strconv.ParseInt(rec, 10, 64); err == nil {
				s.mu.Lock()
				if at := time.UnixMilli(ms).UTC(); at.After(s.lostAt) {
					s.lostAt = at
				}
				s.mu.Unlock()
			}
		}
		return false, nil
	}
	now := s.now().UTC()
	if err := s.rdb.SetNX(ctx, s.epochKey(), newID(), 0).Err(); err != nil {
		return false, fmt.Errorf("write epoch after data loss: %w", err)
	}
	if err := s.rdb.Set(ctx, s.lostKey(), now.UnixMilli(), lostMemory).Err(); err != nil {
		return false, fmt.Errorf("record data loss: %w", err)
	}
	s.mu.Lock()
	s.lostAt = now
	s.losses++
	s.mu.Unlock()
	if err := s.joinEpoch(ctx); err != nil {
		return true, err
	}
	if err := s.ensureGroup(ctx); err != nil {
		return true, err
	}
	s.log.Error("redis lost its data: jobs queued, incidents and dedupe keys written before are gone; "+
		"accepted alerts not yet handled are lost, and parents are looked up in Slack before posting new ones",
		"epoch_was", mine, "epoch_found", cur)
	if s.onLoss != nil {
		s.onLoss(now)
	}
	return true, nil
}

// DataLostAt returns when this store last found the server's data gone
// (by itself or, within a day, from the record another replica left);
// zero if never.
func (s *Store) DataLostAt() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lostAt
}

// DataLosses counts the losses this store found.
func (s *Store) DataLosses() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.losses
}

// Run checks the epoch every EpochCheck until ctx ends, so a loss is
// noticed within seconds even while no job uses the store. Failed checks
// (the server is down) are retried at the next tick.
func (s *Store) Run(ctx context.Context) error {
	tick := time.NewTicker(s.epochCheck)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		cctx, cancel := context.WithTimeout(ctx, s.epochCheck)
		if _, err := s.CheckEpoch(cctx); err != nil && ctx.Err() == nil {
			s.log.Debug("epoch check failed", "err", err)
		}
		cancel()
	}
}
