package boltdb

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	bolt "go.etcd.io/bbolt"
)

// incidents is the set of buckets of one transaction that hold incidents.
type incidents struct {
	byKey, updated, threads *bolt.Bucket
}

func incidentsOf(tx *bolt.Tx) incidents {
	return incidents{
		byKey:   tx.Bucket([]byte(bucketIncidents)),
		updated: tx.Bucket([]byte(bucketUpdated)),
		threads: tx.Bucket([]byte(bucketThreads)),
	}
}

func threadKey(channel, threadTS string) []byte { return []byte(channel + "\x00" + threadTS) }

func (b incidents) get(key string) (oncall.Incident, error) {
	var inc oncall.Incident
	raw := b.byKey.Get([]byte(key))
	if raw == nil {
		return inc, oncall.ErrNotFound
	}
	if err := json.Unmarshal(raw, &inc); err != nil {
		return inc, fmt.Errorf("decode: %w", err)
	}
	return inc, nil
}

// put stores inc and moves its index entries from what they were for old
// (nil for a new incident).
func (b incidents) put(inc oncall.Incident, old *oncall.Incident) error {
	data, err := json.Marshal(inc)
	if err != nil {
		return err
	}
	key := []byte(inc.Key)
	if err := b.byKey.Put(key, data); err != nil {
		return err
	}
	if old == nil || !old.UpdatedAt.Equal(inc.UpdatedAt) {
		if old != nil {
			if err := b.updated.Delete(joinKey(timeKey(old.UpdatedAt), key)); err != nil {
				return err
			}
		}
		if err := b.updated.Put(joinKey(timeKey(inc.UpdatedAt), key), nil); err != nil {
			return err
		}
	}
	if old != nil && (old.Channel != inc.Channel || old.ThreadTS != inc.ThreadTS) && old.ThreadTS != "" {
		tk := threadKey(old.Channel, old.ThreadTS)
		if bytes.Equal(b.threads.Get(tk), key) {
			if err := b.threads.Delete(tk); err != nil {
				return err
			}
		}
	}
	if inc.ThreadTS != "" {
		return b.threads.Put(threadKey(inc.Channel, inc.ThreadTS), key)
	}
	return nil
}

// GetIncident returns the incident stored under key, or an error wrapping
// oncall.ErrNotFound.
func (s *Store) GetIncident(ctx context.Context, key string) (oncall.Incident, error) {
	var inc oncall.Incident
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		inc, err = incidentsOf(tx).get(key)
		return err
	})
	if err != nil {
		return oncall.Incident{}, fmt.Errorf("get incident %s: %w", key, err)
	}
	return inc, nil
}

// CreateIncident stores inc unless an incident with its key exists, in
// which case it returns that one and false. Zero OpenedAt and UpdatedAt
// are set to now.
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
	var (
		existing oncall.Incident
		found    bool
	)
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := incidentsOf(tx)
		cur, err := b.get(inc.Key)
		switch {
		case err == nil:
			existing, found = cur, true
			return nil
		case !errors.Is(err, oncall.ErrNotFound):
			return err
		}
		return b.put(inc, nil)
	})
	if err != nil {
		return oncall.Incident{}, false, fmt.Errorf("create incident %s: %w", inc.Key, err)
	}
	if found {
		return existing, false, nil
	}
	return inc, true, nil
}

// UpdateIncident applies fn to the incident under key in one transaction
// and stores the result. If fn returns an error nothing changes and that
// error is returned as is. fn must not call the store: it runs while the
// store's write lock is held. Unless fn sets UpdatedAt itself, it becomes
// now. fn may not change the key.
func (s *Store) UpdateIncident(ctx context.Context, key string, fn func(*oncall.Incident) error) (oncall.Incident, error) {
	var (
		inc   oncall.Incident
		fnErr error
	)
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := incidentsOf(tx)
		cur, err := b.get(key)
		if err != nil {
			return err
		}
		old := cur // put only compares old's times and thread
		if fnErr = fn(&cur); fnErr != nil {
			return fnErr
		}
		if cur.Key != key {
			return fmt.Errorf("key changed to %q", cur.Key)
		}
		if cur.UpdatedAt.Equal(old.UpdatedAt) {
			cur.UpdatedAt = s.now()
		}
		inc = cur
		return b.put(cur, &old)
	})
	if fnErr != nil {
		return oncall.Incident{}, fnErr
	}
	if err != nil {
		return oncall.Incident{}, fmt.Errorf("update incident %s: %w", key, err)
	}
	return inc, nil
}

// IncidentByThread returns the incident whose Slack thread is threadTS in
// channel, or an error wrapping oncall.ErrNotFound.
func (s *Store) IncidentByThread(ctx context.Context, channel, threadTS string) (oncall.Incident, error) {
	var inc oncall.Incident
	err := s.db.View(func(tx *bolt.Tx) error {
		if threadTS == "" {
			return oncall.ErrNotFound
		}
		b := incidentsOf(tx)
		key := b.threads.Get(threadKey(channel, threadTS))
		if key == nil {
			return oncall.ErrNotFound
		}
		var err error
		if inc, err = b.get(string(key)); err != nil {
			return err
		}
		if inc.Channel != channel || inc.ThreadTS != threadTS {
			return oncall.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return oncall.Incident{}, fmt.Errorf("incident of thread %s/%s: %w", channel, threadTS, err)
	}
	return inc, nil
}

// ListIncidents returns the incidents updated at or after since, newest
// first.
func (s *Store) ListIncidents(ctx context.Context, since time.Time) ([]oncall.Incident, error) {
	out := []oncall.Incident{}
	err := s.db.View(func(tx *bolt.Tx) error {
		b := incidentsOf(tx)
		from := timeKey(since)
		c := b.updated.Cursor()
		for k, _ := c.Last(); k != nil && bytes.Compare(k[:8], from) >= 0; k, _ = c.Prev() {
			inc, err := b.get(string(k[8:]))
			if err != nil {
				s.log.Error("skipped unreadable incident", "incident", string(k[8:]), "err", err)
				continue
			}
			if !inc.UpdatedAt.Before(since) {
				out = append(out, inc)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list incidents since %v: %w", since, err)
	}
	slices.SortStableFunc(out, func(a, b oncall.Incident) int {
		if c := b.UpdatedAt.Compare(a.UpdatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.Key, b.Key)
	})
	return out, nil
}
