package boltdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// burstState is one scope's sliding window: who arrived when, and the
// burst under way, if any.
type burstState struct {
	Arrivals []arrival `json:"arrivals"` // oldest first, within the window
	Start    time.Time `json:"start,omitzero"`
	Until    time.Time `json:"until,omitzero"` // the burst ends unless a member joins before
}

type arrival struct {
	Member string    `json:"member"`
	At     time.Time `json:"at"`
}

// JoinBurst records member as arriving at in scope and reports the burst
// it belongs to: the zero time while at most limit members of scope
// arrived within the window ending at at (member included), else the
// start of scope's current burst. A burst begins with the first member
// over the limit and lasts until a whole window passes without another
// member over it, so arrivals that straddle any fixed boundary share
// one burst. Recording a member again does not count it twice. The read
// and the write are one transaction.
func (s *Store) JoinBurst(ctx context.Context, scope, member string, at time.Time, window time.Duration, limit int) (time.Time, error) {
	if scope == "" || member == "" {
		return time.Time{}, errors.New("join burst: scope and member are required")
	}
	if window <= 0 || limit < 0 {
		return time.Time{}, fmt.Errorf("join burst %s: window %v and limit %d must be positive", scope, window, limit)
	}
	var start time.Time
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketBursts))
		var st burstState
		if raw := b.Get([]byte(scope)); raw != nil {
			if err := json.Unmarshal(raw, &st); err != nil {
				s.log.Error("reset unreadable burst window", "scope", scope, "err", err)
				st = burstState{}
			}
		}
		from := at.Add(-window)
		st.Arrivals = slices.DeleteFunc(st.Arrivals, func(a arrival) bool { return !a.At.After(from) })
		// A new member's place is the number of members in the window
		// when it arrived; a member seen before keeps its place by
		// arrival time.
		place := slices.IndexFunc(st.Arrivals, func(a arrival) bool { return a.Member == member }) + 1
		if place == 0 {
			st.Arrivals = append(st.Arrivals, arrival{member, at})
			slices.SortStableFunc(st.Arrivals, func(a, b arrival) int { return a.At.Compare(b.At) })
			place = len(st.Arrivals)
		}
		if place > limit {
			if st.Start.IsZero() || !at.Before(st.Until) {
				st.Start = at
			}
			st.Until = at.Add(window)
			start = st.Start
		}
		data, err := json.Marshal(st)
		if err != nil {
			return err
		}
		return b.Put([]byte(scope), data)
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("join burst %s: %w", scope, err)
	}
	return start, nil
}
