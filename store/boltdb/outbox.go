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

// outboxKey is the key of item key in channel's outbox.
func outboxKey(channel, key string) []byte {
	return []byte(channel + "\x00" + key)
}

// PutOutbox adds item to its channel's outbox, or merges it with the
// pending item of the same key: the earlier Due and the lower Priority
// win. It returns the item as stored, with a new Version.
func (s *Store) PutOutbox(ctx context.Context, item oncall.OutboxItem) (oncall.OutboxItem, error) {
	if item.Channel == "" || item.Key == "" {
		return item, errors.New("put outbox item: channel and key are required")
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketOutbox))
		k := outboxKey(item.Channel, item.Key)
		if raw := b.Get(k); raw != nil {
			var old oncall.OutboxItem
			if err := json.Unmarshal(raw, &old); err == nil {
				item.Priority = min(item.Priority, old.Priority)
				if old.Due.Before(item.Due) {
					item.Due = old.Due
				}
			}
		}
		v, err := b.NextSequence()
		if err != nil {
			return err
		}
		item.Version = int64(v)
		item.Due = item.Due.UTC()
		data, err := json.Marshal(item)
		if err != nil {
			return err
		}
		return b.Put(k, data)
	})
	if err != nil {
		return item, fmt.Errorf("put outbox item %s in %s: %w", item.Key, item.Channel, err)
	}
	return item, nil
}

// PendingOutbox lists channel's pending items, by Priority, then Due,
// then Key.
func (s *Store) PendingOutbox(ctx context.Context, channel string) ([]oncall.OutboxItem, error) {
	var items []oncall.OutboxItem
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket([]byte(bucketOutbox)).Cursor()
		prefix := []byte(channel + "\x00")
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var it oncall.OutboxItem
			if err := json.Unmarshal(v, &it); err != nil {
				s.log.Error("skip unreadable outbox item", "key", string(k), "err", err)
				continue
			}
			items = append(items, it)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list outbox of %s: %w", channel, err)
	}
	sortOutbox(items)
	return items, nil
}

// sortOutbox orders items as a channel sends them.
func sortOutbox(items []oncall.OutboxItem) {
	slices.SortFunc(items, func(a, b oncall.OutboxItem) int {
		return cmp.Or(cmp.Compare(a.Priority, b.Priority), a.Due.Compare(b.Due), cmp.Compare(a.Key, b.Key))
	})
}

// OutboxChannels lists the channels with pending items.
func (s *Store) OutboxChannels(ctx context.Context) ([]string, error) {
	var chans []string
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket([]byte(bucketOutbox)).Cursor()
		for k, _ := c.First(); k != nil; {
			ch, _, _ := bytes.Cut(k, []byte{0})
			chans = append(chans, string(ch))
			// Skip the rest of this channel.
			k, _ = c.Seek(append(append([]byte{}, ch...), 1))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list outbox channels: %w", err)
	}
	return chans, nil
}

// DoneOutbox removes item once sent, unless it was put again since
// (its Version changed): then it stays, to be sent with the newer
// state. It reports whether it removed the item.
func (s *Store) DoneOutbox(ctx context.Context, item oncall.OutboxItem) (bool, error) {
	removed := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketOutbox))
		k := outboxKey(item.Channel, item.Key)
		raw := b.Get(k)
		if raw == nil {
			return nil
		}
		var cur oncall.OutboxItem
		if err := json.Unmarshal(raw, &cur); err == nil && cur.Version != item.Version {
			return nil
		}
		removed = true
		return b.Delete(k)
	})
	if err != nil {
		return false, fmt.Errorf("remove outbox item %s in %s: %w", item.Key, item.Channel, err)
	}
	return removed, nil
}

type outboxLease struct {
	Owner string    `json:"owner"`
	Until time.Time `json:"until"`
}

// LeaseOutbox gives owner the right to send channel's items for ttl:
// it takes a free or lapsed lease, renews its own, and reports false
// while another owner's lease lives.
func (s *Store) LeaseOutbox(ctx context.Context, channel, owner string, ttl time.Duration) (bool, error) {
	if channel == "" || owner == "" || ttl <= 0 {
		return false, fmt.Errorf("lease outbox %q for %q for %v: channel, owner and a positive ttl are required", channel, owner, ttl)
	}
	now := s.now()
	held := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketOutboxLeases))
		var cur outboxLease
		if raw := b.Get([]byte(channel)); raw != nil {
			if err := json.Unmarshal(raw, &cur); err == nil && cur.Owner != owner && now.Before(cur.Until) {
				return nil
			}
		}
		held = true
		data, err := json.Marshal(outboxLease{Owner: owner, Until: now.Add(ttl)})
		if err != nil {
			return err
		}
		return b.Put([]byte(channel), data)
	})
	if err != nil {
		return false, fmt.Errorf("lease outbox of %s: %w", channel, err)
	}
	return held, nil
}

// ReleaseOutbox gives owner's lease of channel up; another owner's is
// left alone.
func (s *Store) ReleaseOutbox(ctx context.Context, channel, owner string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketOutboxLeases))
		var cur outboxLease
		if raw := b.Get([]byte(channel)); raw != nil && json.Unmarshal(raw, &cur) == nil && cur.Owner == owner {
			return b.Delete([]byte(channel))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("release outbox of %s: %w", channel, err)
	}
	return nil
}
