package boltdb

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	bolt "go.etcd.io/bbolt"
)

// inFlight is a delivered job waiting for Ack, Retry or DeadLetter.
type inFlight struct {
	Job         oncall.Job `json:"job"` // as queued; Attempts does not count redeliveries
	Consumer    string     `json:"consumer"`
	DeliveredAt time.Time  `json:"delivered_at"`
	Deliveries  int        `json:"deliveries"` // including reclaims
}

// queue is the set of buckets of one transaction that hold jobs.
type queue struct {
	ready, delayed, inFlight, deliveries, dead *bolt.Bucket
}

func queueOf(tx *bolt.Tx) queue {
	return queue{
		ready:      tx.Bucket([]byte(bucketReady)),
		delayed:    tx.Bucket([]byte(bucketDelayed)),
		inFlight:   tx.Bucket([]byte(bucketInFlight)),
		deliveries: tx.Bucket([]byte(bucketDeliveries)),
		dead:       tx.Bucket([]byte(bucketDead)),
	}
}

// Enqueue adds job to the back of the queue, giving it an id and an
// enqueue time if it has none.
func (s *Store) Enqueue(ctx context.Context, job oncall.Job) error {
	if job.ID == "" {
		job.ID = newID()
	}
	if job.EnqueuedAt.IsZero() {
		job.EnqueuedAt = s.now()
	}
	data, err := json.Marshal(job)
	if err != nil {
		return fmt.Errorf("enqueue job %s: %w", job.ID, err)
	}
	if err := s.db.Update(func(tx *bolt.Tx) error { return queueOf(tx).pushReady(data) }); err != nil {
		return fmt.Errorf("enqueue job %s: %w", job.ID, err)
	}
	s.notify()
	return nil
}

func (q queue) pushReady(job []byte) error {
	seq, err := q.ready.NextSequence()
	if err != nil {
		return err
	}
	return q.ready.Put(seqKey(seq), job)
}

// Dequeue hands the next job to consumer: first a delivery idle longer
// than the reclaim timeout, then the oldest ready job. Retries whose delay
// has passed join the back of the queue first. It waits up to wait for a
// job and returns (nil, nil) if none came; it returns ctx's error if ctx
// ends first.
func (s *Store) Dequeue(ctx context.Context, consumer string, wait time.Duration) (*oncall.Delivery, error) {
	if consumer == "" {
		return nil, errors.New("dequeue: consumer name is required")
	}
	deadline := time.Now().Add(wait)
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("dequeue for %s: %w", consumer, err)
		}
		wake := s.wakeChan()
		d, next, err := s.take(consumer)
		if err != nil {
			return nil, fmt.Errorf("dequeue for %s: %w", consumer, err)
		}
		if d != nil {
			return d, nil
		}
		pause := time.Until(deadline)
		if pause <= 0 {
			return nil, nil
		}
		pause = min(pause, s.poll)
		if next > 0 {
			pause = min(pause, next)
		}
		timer := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, fmt.Errorf("dequeue for %s: %w", consumer, ctx.Err())
		case <-s.closed:
			timer.Stop()
			return nil, fmt.Errorf("dequeue for %s: %w", consumer, errClosed)
		case <-wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// take makes one attempt at a delivery. With nothing to deliver it
// returns how long until a retry falls due or a delivery can be reclaimed,
// or 0 if nothing is pending.
func (s *Store) take(consumer string) (*oncall.Delivery, time.Duration, error) {
	select {
	case <-s.closed:
		return nil, 0, errClosed
	default:
	}
	now := s.now()
	var (
		ready bool
		next  time.Duration
	)
	// A read-only look first, so idle consumers do not serialise on the
	// writer lock or sync the file.
	err := s.db.View(func(tx *bolt.Tx) error {
		ready, next = queueOf(tx).readiness(now, s.reclaimIdle)
		return nil
	})
	if err != nil || !ready {
		return nil, next, err
	}

	var (
		d        *oncall.Delivery
		promoted int
	)
	err = s.db.Update(func(tx *bolt.Tx) error {
		q := queueOf(tx)
		var err error
		if promoted, err = q.promote(now); err != nil {
			return fmt.Errorf("promote due retries: %w", err)
		}
		if d, err = q.reclaim(now, s.reclaimIdle, consumer, s.log); d != nil || err != nil {
			return err
		}
		d, err = q.deliverNext(now, consumer, s.log)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	if promoted > 1 || (promoted == 1 && d == nil) {
		s.notify()
	}
	return d, 0, nil
}

func (q queue) readiness(now time.Time, idle time.Duration) (bool, time.Duration) {
	if k, _ := q.ready.Cursor().First(); k != nil {
		return true, 0
	}
	var next time.Duration
	consider := func(at time.Time) bool {
		if !at.After(now) {
			return true
		}
		if wait := at.Sub(now); next == 0 || wait < next {
			next = wait
		}
		return false
	}
	if k, _ := q.delayed.Cursor().First(); k != nil && consider(keyTime(k)) {
		return true, 0
	}
	if k, _ := q.deliveries.Cursor().First(); k != nil && consider(keyTime(k).Add(idle)) {
		return true, 0
	}
	return false, next
}

// promote moves retries due by now to the back of the ready queue.
func (q queue) promote(now time.Time) (int, error) {
	var due [][]byte
	c := q.delayed.Cursor()
	for k, _ := c.First(); k != nil && !keyTime(k).After(now) && len(due) < 1000; k, _ = c.Next() {
		due = append(due, append([]byte(nil), k...))
	}
	for _, k := range due {
		if err := q.pushReady(append([]byte(nil), q.delayed.Get(k)...)); err != nil {
			return 0, err
		}
		if err := q.delayed.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(due), nil
}

// reclaim hands the longest-idle delivery to consumer if it has been idle
// for at least idle.
func (q queue) reclaim(now time.Time, idle time.Duration, consumer string, log *slog.Logger) (*oncall.Delivery, error) {
	for {
		k, _ := q.deliveries.Cursor().First()
		if k == nil || keyTime(k).Add(idle).After(now) {
			return nil, nil
		}
		k = append([]byte(nil), k...)
		seq := k[8:]
		if err := q.deliveries.Delete(k); err != nil {
			return nil, err
		}
		var rec inFlight
		raw := q.inFlight.Get(seq)
		if raw == nil {
			continue // acked; a stale index entry
		}
		if err := json.Unmarshal(raw, &rec); err != nil {
			log.Error("dropped corrupt delivery", "seq", binary.BigEndian.Uint64(seq), "err", err)
			if err := q.inFlight.Delete(seq); err != nil {
				return nil, err
			}
			continue
		}
		log.Warn("reclaimed idle delivery", "job_id", rec.Job.ID, "from", rec.Consumer, "to", consumer,
			"idle", now.Sub(rec.DeliveredAt), "deliveries", rec.Deliveries)
		rec.Consumer, rec.DeliveredAt = consumer, now
		rec.Deliveries++
		if err := q.putInFlight(seq, rec); err != nil {
			return nil, err
		}
		return rec.delivery(seq), nil
	}
}

// deliverNext moves the oldest ready job in flight to consumer.
func (q queue) deliverNext(now time.Time, consumer string, log *slog.Logger) (*oncall.Delivery, error) {
	for {
		k, v := q.ready.Cursor().First()
		if k == nil {
			return nil, nil
		}
		seq := append([]byte(nil), k...)
		var job oncall.Job
		err := json.Unmarshal(v, &job)
		if err := q.ready.Delete(seq); err != nil {
			return nil, err
		}
		if err != nil {
			log.Error("dropped corrupt job", "seq", binary.BigEndian.Uint64(seq), "err", err)
			continue
		}
		rec := inFlight{Job: job, Consumer: consumer, DeliveredAt: now, Deliveries: 1}
		if err := q.putInFlight(seq, rec); err != nil {
			return nil, err
		}
		return rec.delivery(seq), nil
	}
}

func (q queue) putInFlight(seq []byte, rec inFlight) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := q.inFlight.Put(seq, data); err != nil {
		return err
	}
	return q.deliveries.Put(joinKey(timeKey(rec.DeliveredAt), seq), nil)
}

func (rec inFlight) delivery(seq []byte) *oncall.Delivery {
	job := rec.Job
	job.Attempts += rec.Deliveries - 1
	return &oncall.Delivery{Job: job, Token: strconv.FormatUint(binary.BigEndian.Uint64(seq), 10), Consumer: rec.Consumer}
}

// settle removes delivery d from flight. It returns oncall.ErrNotFound if
// d is not in flight (already acked, retried or dead-lettered).
func (q queue) settle(d oncall.Delivery) error {
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
	if err := json.Unmarshal(raw, &rec); err == nil {
		if err := q.deliveries.Delete(joinKey(timeKey(rec.DeliveredAt), seq)); err != nil {
			return err
		}
	}
	return q.inFlight.Delete(seq)
}

// Ack removes a finished job. Acking a delivery that is no longer in
// flight does nothing.
func (s *Store) Ack(ctx context.Context, d oncall.Delivery) error {
	err := s.db.Update(func(tx *bolt.Tx) error { return queueOf(tx).settle(d) })
	if err != nil && !errors.Is(err, oncall.ErrNotFound) {
		return fmt.Errorf("ack job %s: %w", d.Job.ID, err)
	}
	return nil
}

// Retry hands d's job back to be delivered again no earlier than delay
// from now, with Attempts one higher and LastError set to cause. It
// returns oncall.ErrNotFound if d is no longer in flight.
func (s *Store) Retry(ctx context.Context, d oncall.Delivery, delay time.Duration, cause string) error {
	job := d.Job
	job.Attempts++
	job.LastError = cause
	data, err := json.Marshal(job)
	if err != nil {
		return fmt.Errorf("retry job %s: %w", job.ID, err)
	}
	due := s.now().Add(max(delay, 0))
	err = s.db.Update(func(tx *bolt.Tx) error {
		q := queueOf(tx)
		if err := q.settle(d); err != nil {
			return err
		}
		seq, err := q.delayed.NextSequence()
		if err != nil {
			return err
		}
		return q.delayed.Put(joinKey(timeKey(due), seqKey(seq)), data)
	})
	if err != nil {
		return fmt.Errorf("retry job %s: %w", job.ID, err)
	}
	s.notify()
	return nil
}

// DeadLetter moves d's job to the dead letters with LastError set to cause
// and Attempts counting every delivery. It returns oncall.ErrNotFound if d
// is no longer in flight.
func (s *Store) DeadLetter(ctx context.Context, d oncall.Delivery, cause string) error {
	job := d.Job
	job.Attempts++
	job.LastError = cause
	data, err := json.Marshal(job)
	if err != nil {
		return fmt.Errorf("dead-letter job %s: %w", job.ID, err)
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		q := queueOf(tx)
		if err := q.settle(d); err != nil {
			return err
		}
		seq, err := q.dead.NextSequence()
		if err != nil {
			return err
		}
		return q.dead.Put(seqKey(seq), data)
	})
	if err != nil {
		return fmt.Errorf("dead-letter job %s: %w", job.ID, err)
	}
	return nil
}

// DeadLetters lists dead jobs, oldest first.
func (s *Store) DeadLetters(ctx context.Context) ([]oncall.Job, error) {
	var jobs []oncall.Job
	err := s.db.View(func(tx *bolt.Tx) error {
		return queueOf(tx).dead.ForEach(func(k, v []byte) error {
			var job oncall.Job
			if err := json.Unmarshal(v, &job); err != nil {
				s.log.Error("skipped corrupt dead letter", "seq", binary.BigEndian.Uint64(k), "err", err)
				return nil
			}
			jobs = append(jobs, job)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	return jobs, nil
}

// removeDead deletes every dead letter of job id and returns the last.
func (q queue) removeDead(id string) (oncall.Job, error) {
	var (
		found []byte
		job   oncall.Job
	)
	err := q.dead.ForEach(func(k, v []byte) error {
		var j oncall.Job
		if json.Unmarshal(v, &j) == nil && j.ID == id {
			found, job = append([]byte(nil), k...), j
		}
		return nil
	})
	if err != nil {
		return job, err
	}
	if found == nil {
		return job, fmt.Errorf("dead letter %s: %w", id, oncall.ErrNotFound)
	}
	return job, q.dead.Delete(found)
}

// RequeueDead puts dead job jobID back at the end of the queue with its
// attempts reset. It returns oncall.ErrNotFound if there is no such dead
// letter.
func (s *Store) RequeueDead(ctx context.Context, jobID string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		q := queueOf(tx)
		job, err := q.removeDead(jobID)
		if err != nil {
			return err
		}
		job.Attempts = 0
		data, err := json.Marshal(job)
		if err != nil {
			return err
		}
		return q.pushReady(data)
	})
	if err != nil {
		return fmt.Errorf("requeue dead job %s: %w", jobID, err)
	}
	s.notify()
	return nil
}

// DropDead deletes dead job jobID. It returns oncall.ErrNotFound if there
// is no such dead letter.
func (s *Store) DropDead(ctx context.Context, jobID string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		_, err := queueOf(tx).removeDead(jobID)
		return err
	})
	if err != nil {
		return fmt.Errorf("drop dead job %s: %w", jobID, err)
	}
	return nil
}

// QueueStats counts the queue's jobs. OldestAge is how long the job at the
// head of the ready queue has been enqueued.
func (s *Store) QueueStats(ctx context.Context) (oncall.QueueStats, error) {
	var st oncall.QueueStats
	now := s.now()
	err := s.db.View(func(tx *bolt.Tx) error {
		q := queueOf(tx)
		st.Ready = q.ready.Stats().KeyN
		st.Delayed = q.delayed.Stats().KeyN
		st.InFlight = q.inFlight.Stats().KeyN
		st.Dead = q.dead.Stats().KeyN
		if _, v := q.ready.Cursor().First(); v != nil {
			var job oncall.Job
			if json.Unmarshal(v, &job) == nil && now.After(job.EnqueuedAt) {
				st.OldestAge = now.Sub(job.EnqueuedAt)
			}
		}
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("queue stats: %w", err)
	}
	return st, nil
}
