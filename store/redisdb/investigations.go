package redisdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

func (k keys) investigation(key string) string { return k.incident + key + ":investigation" }

// PutInvestigation stores what the last triage of the incident under key
// saw, replacing what an earlier triage stored.
func (s *Store) PutInvestigation(ctx context.Context, key string, inv oncall.Investigation) error {
	if key == "" {
		return errors.New("put investigation: key is required")
	}
	inv.IncidentKey = key
	data, err := json.Marshal(inv)
	if err != nil {
		return fmt.Errorf("put investigation %s: %w", key, err)
	}
	if err := s.rdb.Set(ctx, s.k.investigation(key), data, 0).Err(); err != nil {
		return fmt.Errorf("put investigation %s: %w", key, err)
	}
	return nil
}

// GetInvestigation returns what the last triage of the incident under key
// saw, or an error wrapping oncall.ErrNotFound.
func (s *Store) GetInvestigation(ctx context.Context, key string) (oncall.Investigation, error) {
	data, err := s.rdb.Get(ctx, s.k.investigation(key)).Bytes()
	if errors.Is(err, redis.Nil) {
		err = oncall.ErrNotFound
	}
	if err != nil {
		return oncall.Investigation{}, fmt.Errorf("get investigation %s: %w", key, err)
	}
	var inv oncall.Investigation
	if err := json.Unmarshal(data, &inv); err != nil {
		return oncall.Investigation{}, fmt.Errorf("get investigation %s: decode: %w", key, err)
	}
	return inv, nil
}
