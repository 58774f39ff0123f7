package boltdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// bucketInvestigations holds what each incident's last triage saw, apart
// from the incident so incident updates stay small.
const bucketInvestigations = "investigations" // incident key → investigation

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
	err = s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(bucketInvestigations))
		if err != nil {
			return err
		}
		return b.Put([]byte(key), data)
	})
	if err != nil {
		return fmt.Errorf("put investigation %s: %w", key, err)
	}
	return nil
}

// GetInvestigation returns what the last triage of the incident under key
// saw, or an error wrapping oncall.ErrNotFound.
func (s *Store) GetInvestigation(ctx context.Context, key string) (oncall.Investigation, error) {
	var inv oncall.Investigation
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketInvestigations))
		if b == nil {
			return oncall.ErrNotFound
		}
		data := b.Get([]byte(key))
		if data == nil {
			return oncall.ErrNotFound
		}
		return json.Unmarshal(data, &inv)
	})
	if err != nil {
		return oncall.Investigation{}, fmt.Errorf("get investigation %s: %w", key, err)
	}
	return inv, nil
}
