package boltdb

import (
	"context"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// pruneBatch bounds how many expired once-keys one Once call deletes.
const pruneBatch = 64

// Once records key for ttl and reports whether this call recorded it:
// true the first time within ttl, false while an earlier record lives.
// Expired records count as absent and are pruned a few at a time.
func (s *Store) Once(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if key == "" {
		return false, errors.New("once: key is required")
	}
	if ttl <= 0 {
		return false, fmt.Errorf("once %s: ttl %v is not positive", key, ttl)
	}
	now := s.now()
	var first bool
	err := s.db.Update(func(tx *bolt.Tx) error {
		keys := tx.Bucket([]byte(bucketOnce))
		expiry := tx.Bucket([]byte(bucketOnceExpiry))
		if err := pruneOnce(keys, expiry, now); err != nil {
			return fmt.Errorf("prune: %w", err)
		}
		k := []byte(key)
		if old := keys.Get(k); old != nil {
			if keyTime(old).After(now) {
				return nil
			}
			if err := expiry.Delete(joinKey(old, k)); err != nil {
				return err
			}
		}
		first = true
		until := timeKey(now.Add(ttl))
		if err := keys.Put(k, until); err != nil {
			return err
		}
		return expiry.Put(joinKey(until, k), nil)
	})
	if err != nil {
		return false, fmt.Errorf("once %s: %w", key, err)
	}
	return first, nil
}

// pruneOnce deletes up to pruneBatch keys that expired by now.
func pruneOnce(keys, expiry *bolt.Bucket, now time.Time) error {
	var gone [][]byte
	c := expiry.Cursor()
	for k, _ := c.First(); k != nil && !keyTime(k).After(now) && len(gone) < pruneBatch; k, _ = c.Next() {
		gone = append(gone, append([]byte(nil), k...))
	}
	for _, k := range gone {
		if err := expiry.Delete(k); err != nil {
			return err
		}
		if err := keys.Delete(k[8:]); err != nil {
			return err
		}
	}
	return nil
}

// Forget removes key, so the next Once for it returns true.
func (s *Store) Forget(ctx context.Context, key string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		keys := tx.Bucket([]byte(bucketOnce))
		k := []byte(key)
		old := keys.Get(k)
		if old == nil {
			return nil
		}
		if err := tx.Bucket([]byte(bucketOnceExpiry)).Delete(joinKey(old, k)); err != nil {
			return err
		}
		return keys.Delete(k)
	})
	if err != nil {
		return fmt.Errorf("forget %s: %w", key, err)
	}
	return nil
}
