package redisdb

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Once records key for ttl and reports whether this call recorded it:
// true the first time within ttl, false while an earlier record lives.
// The ttl is kept by the server (SET NX PX), on its clock.
func (s *Store) Once(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if key == "" {
		return false, errors.New("once: key is required")
	}
	if ttl < time.Millisecond {
		return false, fmt.Errorf("once %s: ttl %v is below a millisecond", key, ttl)
	}
	first, err := s.rdb.SetNX(ctx, s.k.once+key, 1, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("once %s: %w", key, err)
	}
	return first, nil
}

// Forget removes key, so the next Once for it returns true.
func (s *Store) Forget(ctx context.Context, key string) error {
	if err := s.rdb.Del(ctx, s.k.once+key).Err(); err != nil {
		return fmt.Errorf("forget %s: %w", key, err)
	}
	return nil
}
