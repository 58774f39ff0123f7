package boltdb

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	oncall "github.com/oncall-copilot/oncall-copilot"
	bolt "go.etcd.io/bbolt"
)

// Extend renews d's lease: its idle time starts again, so it is not
// reclaimed for another reclaim timeout. It returns oncall.ErrNotFound if
// d is no longer in flight or another consumer reclaimed it.
func (s *Store) Extend(ctx context.Context, d oncall.Delivery) error {
	now := s.now()
	err := s.db.Update(func(tx *bolt.Tx) error {
		q := queueOf(tx)
		n, err := strconv.ParseUint(d.Token, 10, 64)
		if err != nil {
			return fmt.Errorf("delivery token %q: %w", d.Token, oncall.ErrNotFound)
		}
		seq := seqKey(n)
		raw := q.inFlight.Get(seq)
		if raw == nil {
			return fmt.Errorf("delivery %s: %w", d.Token, oncall.ErrNotFound)
		}
		var rec inFlight
		if err := json.Unmarshal(raw, &rec); err != nil {
			return fmt.Errorf("delivery %s: %w", d.Token, err)
		}
		if rec.Consumer != d.Consumer {
			return fmt.Errorf("delivery %s held by %s, not %s: %w", d.Token, rec.Consumer, d.Consumer, oncall.ErrNotFound)
		}
		if err := q.deliveries.Delete(joinKey(timeKey(rec.DeliveredAt), seq)); err != nil {
			return err
		}
		rec.DeliveredAt = now
		return q.putInFlight(seq, rec)
	})
	if err != nil {
		return fmt.Errorf("extend lease of job %s: %w", d.Job.ID, err)
	}
	return nil
}
