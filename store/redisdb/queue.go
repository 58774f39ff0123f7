package redisdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/redis/go-redis/v9"
)

// promoteBatch bounds how many due retries one Dequeue moves.
const promoteBatch = 100

// readMargin keeps a blocking read from ending exactly at the caller's
// deadline, which would cost the connection.
const readMargin = 10 * time.Millisecond

// Enqueue appends job to the stream in one XADD, giving it an id and an
// enqueue time if it has none.
func (s *Store) Enqueue(ctx context.Context, job oncall.Job) error {
	if job.ID == "" {
		job.ID = newID()
	}
	if job.EnqueuedAt.IsZero() {
		job.EnqueuedAt = s.now()
	}
	buf := s.bufs.get()
	defer s.bufs.put(buf)
	data, err := appendJob(*buf, &job)
	if err != nil {
		return fmt.Errorf("enqueue job %s: %w", job.ID, err)
	}
	*buf = data
	err = s.rdb.XAdd(ctx, &redis.XAddArgs{Stream: s.k.jobs, Values: []any{"job", data}}).Err()
	if err != nil {
		return fmt.Errorf("enqueue job %s: %w", job.ID, err)
	}
	return nil
}

// EnqueueAll appends jobs to the stream in one round trip, one XADD each
// inside MULTI/EXEC, each given an id and an enqueue time if it has none:
// a connection lost before EXEC queues none of them, so a notification
// routed to several channels is not half queued by a network failure.
func (s *Store) EnqueueAll(ctx context.Context, jobs []oncall.Job) error {
	if len(jobs) == 0 {
		return nil
	}
	bufs := make([]*[]byte, 0, len(jobs))
	defer func() {
		for _, b := range bufs {
			s.bufs.put(b)
		}
	}()
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, job := range jobs {
			if job.ID == "" {
				job.ID = newID()
			}
			if job.EnqueuedAt.IsZero() {
				job.EnqueuedAt = s.now()
			}
			buf := s.bufs.get()
			bufs = append(bufs, buf)
			data, err := appendJob(*buf, &job)
			if err != nil {
				return fmt.Errorf("job %s: %w", job.ID, err)
			}
			*buf = data
			p.XAdd(ctx, &redis.XAddArgs{Stream: s.k.jobs, Values: []any{"job", data}})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("enqueue %d jobs: %w", len(jobs), err)
	}
	return nil
}

// Dequeue hands the next job to consumer: first a delivery idle longer
// than the reclaim timeout, then the oldest new entry. Retries whose due
// time (by the store's clock) has passed join the back of the stream
// first. It waits up to wait for a job and returns (nil, nil) if none came;
// it returns ctx's error if ctx ends first.
func (s *Store) Dequeue(ctx context.Context, consumer string, wait time.Duration) (*oncall.Delivery, error) {
	if consumer == "" {
		return nil, errors.New("dequeue: consumer name is required")
	}
	deadline := time.Now().Add(wait)
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("dequeue for %s: %w", consumer, err)
		}
		d, err := s.claim(ctx, consumer)
		if err != nil {
			return nil, s.dequeueErr(ctx, consumer, err)
		}
		if d != nil {
			return d, nil
		}
		block := min(time.Until(deadline), s.poll)
		if block <= 0 {
			return nil, nil
		}
		if dl, ok := ctx.Deadline(); ok {
			if left := time.Until(dl) - readMargin; left < block {
				if left < time.Millisecond {
					<-ctx.Done()
					return nil, fmt.Errorf("dequeue for %s: %w", consumer, ctx.Err())
				}
				block = left
			}
		}
		d, err = s.read(ctx, consumer, max(block, time.Millisecond))
		if err != nil {
			return nil, s.dequeueErr(ctx, consumer, err)
		}
		if d != nil {
			return d, nil
		}
	}
}

func (s *Store) dequeueErr(ctx context.Context, consumer string, err error) error {
	if ctx.Err() != nil {
		err = ctx.Err()
	}
	return fmt.Errorf("dequeue for %s: %w", consumer, err)
}

// claim runs claimLua once, recreating the group if the stream was lost.
func (s *Store) claim(ctx context.Context, consumer string) (*oncall.Delivery, error) {
	s.mu.Lock()
	cursor := s.cursor
	s.mu.Unlock()
	res, err := s.claimScript.Run(ctx, s.rdb, []string{s.k.jobs, s.k.delayed},
		s.group, consumer, s.now().UnixMilli(), s.reclaimIdle.Milliseconds(), cursor, promoteBatch).Slice()
	if isNoGroup(err) {
		return nil, s.streamLost(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	if len(res) > 0 {
		if next, ok := res[0].(string); ok {
			s.mu.Lock()
			s.cursor = next
			s.mu.Unlock()
		}
	}
	if len(res) < 4 {
		return nil, nil
	}
	id, _ := res[1].(string)
	data, _ := res[2].(string)
	count, _ := res[3].(int64)
	if count > 1 {
		s.log.Warn("reclaimed idle delivery", "entry", id, "consumer", consumer, "deliveries", count)
	}
	return s.delivery(ctx, id, data, consumer, int(count))
}

// streamLost recreates the consumer group after the stream went away,
// first checking whether the whole server's data went with it.
func (s *Store) streamLost(ctx context.Context) error {
	if _, err := s.CheckEpoch(ctx); err != nil {
		s.log.Warn("epoch check after the job stream went away failed", "err", err)
	}
	return s.ensureGroup(ctx)
}

// read blocks up to block for a new entry.
func (s *Store) read(ctx context.Context, consumer string, block time.Duration) (*oncall.Delivery, error) {
	streams, err := s.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group:    s.group,
		Consumer: consumer,
		Streams:  []string{s.k.jobs, ">"},
		Count:    1,
		Block:    block,
	}).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, nil
	case isNoGroup(err):
		return nil, s.streamLost(ctx)
	case err != nil && ctxEnding(ctx):
		// The connection's read deadline, set from ctx, fired as ctx
		// ended (a hair before it, at times).
		return nil, ctx.Err()
	case err != nil:
		return nil, fmt.Errorf("read stream: %w", err)
	}
	for _, st := range streams {
		for _, m := range st.Messages {
			data, _ := m.Values["job"].(string)
			return s.delivery(ctx, m.ID, data, consumer, 1)
		}
	}
	return nil, nil
}

// delivery decodes a delivered entry. An entry that is not a job can never
// be processed, so it is logged and removed.
func (s *Store) delivery(ctx context.Context, id, data, consumer string, deliveries int) (*oncall.Delivery, error) {
	var job oncall.Job
	if err := json.Unmarshal([]byte(data), &job); err != nil {
		s.log.Error("dropped corrupt job entry", "entry", id, "err", err)
		if err := s.settle(ctx, id); err != nil {
			return nil, err
		}
		return nil, nil
	}
	job.Attempts += deliveries - 1
	return &oncall.Delivery{Job: job, Token: id, Consumer: consumer}, nil
}

func (s *Store) settle(ctx context.Context, id string) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.XAck(ctx, s.k.jobs, s.group, id)
		p.XDel(ctx, s.k.jobs, id)
		return nil
	})
	return err
}

// Ack removes a finished job. Acking a delivery that is no longer pending
// does nothing.
func (s *Store) Ack(ctx context.Context, d oncall.Delivery) error {
	if err := s.settle(ctx, d.Token); err != nil {
		return fmt.Errorf("ack job %s: %w", d.Job.ID, err)
	}
	return nil
}

// Extend renews d's lease: the delivery's idle time starts again, so no
// other consumer reclaims it for another reclaim timeout. It is one
// XCLAIM of the entry to its own consumer (JUSTID, which does not count
// a delivery), done only if that consumer still holds it. It returns
// oncall.ErrNotFound if d is no longer pending or another consumer took
// it over.
func (s *Store) Extend(ctx context.Context, d oncall.Delivery) error {
	n, err := s.extendScript.Run(ctx, s.rdb, []string{s.k.jobs}, s.group, d.Token, d.Consumer).Int()
	if isNoGroup(err) {
		err, n = nil, 0
	}
	if err != nil {
		return fmt.Errorf("extend lease of job %s: %w", d.Job.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("extend lease of job %s: delivery %s to %s: %w", d.Job.ID, d.Token, d.Consumer, oncall.ErrNotFound)
	}
	return nil
}

// Retry hands d's job back to be delivered again no earlier than delay
// from now by the store's clock, with Attempts one higher and LastError
// set to cause. It returns oncall.ErrNotFound if d is no longer pending.
func (s *Store) Retry(ctx context.Context, d oncall.Delivery, delay time.Duration, cause string) error {
	job := d.Job
	job.Attempts++
	job.LastError = cause
	data, err := json.Marshal(job)
	if err != nil {
		return fmt.Errorf("retry job %s: %w", job.ID, err)
	}
	due := s.now().Add(max(delay, 0)).UnixMilli()
	n, err := s.retryScript.Run(ctx, s.rdb, []string{s.k.jobs, s.k.delayed}, s.group, d.Token, due, data).Int()
	if err != nil {
		return fmt.Errorf("retry job %s: %w", job.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("retry job %s: delivery %s: %w", job.ID, d.Token, oncall.ErrNotFound)
	}
	return nil
}

// DeadLetter moves d's job to the dead letters with LastError set to cause
// and Attempts counting every delivery. It returns oncall.ErrNotFound if d
// is no longer pending.
func (s *Store) DeadLetter(ctx context.Context, d oncall.Delivery, cause string) error {
	job := d.Job
	job.Attempts++
	job.LastError = cause
	data, err := json.Marshal(job)
	if err != nil {
		return fmt.Errorf("dead-letter job %s: %w", job.ID, err)
	}
	n, err := s.deadScript.Run(ctx, s.rdb, []string{s.k.jobs, s.k.dead}, s.group, d.Token, data).Int()
	if err != nil {
		return fmt.Errorf("dead-letter job %s: %w", job.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("dead-letter job %s: delivery %s: %w", job.ID, d.Token, oncall.ErrNotFound)
	}
	return nil
}

type deadEntry struct {
	id  string
	job oncall.Job
}

func (s *Store) deadEntries(ctx context.Context) ([]deadEntry, error) {
	msgs, err := s.rdb.XRange(ctx, s.k.dead, "-", "+").Result()
	if err != nil {
		return nil, err
	}
	out := make([]deadEntry, 0, len(msgs))
	for _, m := range msgs {
		data, _ := m.Values["job"].(string)
		var job oncall.Job
		if err := json.Unmarshal([]byte(data), &job); err != nil {
			s.log.Error("skipped corrupt dead letter", "entry", m.ID, "err", err)
			continue
		}
		out = append(out, deadEntry{m.ID, job})
	}
	return out, nil
}

// DeadLetters lists dead jobs, oldest first.
func (s *Store) DeadLetters(ctx context.Context) ([]oncall.Job, error) {
	entries, err := s.deadEntries(ctx)
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	jobs := make([]oncall.Job, 0, len(entries))
	for _, e := range entries {
		jobs = append(jobs, e.job)
	}
	return jobs, nil
}

// findDead returns the latest dead letter of job id.
func (s *Store) findDead(ctx context.Context, id string) (deadEntry, error) {
	entries, err := s.deadEntries(ctx)
	if err != nil {
		return deadEntry{}, err
	}
	for i := len(entries) - 1; i >= 0; i-- {
		if entries[i].job.ID == id {
			return entries[i], nil
		}
	}
	return deadEntry{}, fmt.Errorf("dead letter %s: %w", id, oncall.ErrNotFound)
}

// RequeueDead puts dead job jobID back at the end of the queue with its
// attempts reset. It returns oncall.ErrNotFound if there is no such dead
// letter.
func (s *Store) RequeueDead(ctx context.Context, jobID string) error {
	e, err := s.findDead(ctx, jobID)
	if err != nil {
		return fmt.Errorf("requeue dead job %s: %w", jobID, err)
	}
	e.job.Attempts = 0
	data, err := json.Marshal(e.job)
	if err != nil {
		return fmt.Errorf("requeue dead job %s: %w", jobID, err)
	}
	n, err := s.requeueScript.Run(ctx, s.rdb, []string{s.k.dead, s.k.jobs}, e.id, data).Int()
	if err != nil {
		return fmt.Errorf("requeue dead job %s: %w", jobID, err)
	}
	if n == 0 {
		return fmt.Errorf("requeue dead job %s: %w", jobID, oncall.ErrNotFound)
	}
	return nil
}

// DropDead deletes dead job jobID. It returns oncall.ErrNotFound if there
// is no such dead letter.
func (s *Store) DropDead(ctx context.Context, jobID string) error {
	e, err := s.findDead(ctx, jobID)
	if err != nil {
		return fmt.Errorf("drop dead job %s: %w", jobID, err)
	}
	n, err := s.rdb.XDel(ctx, s.k.dead, e.id).Result()
	if err != nil {
		return fmt.Errorf("drop dead job %s: %w", jobID, err)
	}
	if n == 0 {
		return fmt.Errorf("drop dead job %s: %w", jobID, oncall.ErrNotFound)
	}
	return nil
}

// QueueStats counts the queue's jobs. OldestAge is how long, by the
// store's clock, the next job to be delivered has been enqueued.
func (s *Store) QueueStats(ctx context.Context) (oncall.QueueStats, error) {
	var st oncall.QueueStats
	var (
		length, delayed, dead *redis.IntCmd
		pending               *redis.XPendingCmd
		groups                *redis.XInfoGroupsCmd
	)
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		length = p.XLen(ctx, s.k.jobs)
		pending = p.XPending(ctx, s.k.jobs, s.group)
		delayed = p.ZCard(ctx, s.k.delayed)
		dead = p.XLen(ctx, s.k.dead)
		groups = p.XInfoGroups(ctx, s.k.jobs)
		return nil
	})
	if isNoGroup(err) {
		// The stream was lost, so nothing is ready or in flight.
		st.Delayed, st.Dead = int(delayed.Val()), int(dead.Val())
		return st, s.streamLost(ctx)
	}
	if err != nil {
		return st, fmt.Errorf("queue stats: %w", err)
	}
	st.InFlight = int(pending.Val().Count)
	st.Ready = max(int(length.Val())-st.InFlight, 0)
	st.Delayed = int(delayed.Val())
	st.Dead = int(dead.Val())
	if st.Ready == 0 {
		return st, nil
	}
	last := "0-0"
	for _, g := range groups.Val() {
		if g.Name == s.group {
			last = g.LastDeliveredID
		}
	}
	next, err := s.rdb.XRangeN(ctx, s.k.jobs, "("+last, "+", 1).Result()
	if err != nil {
		return st, fmt.Errorf("queue stats: oldest ready job: %w", err)
	}
	if len(next) == 1 {
		data, _ := next[0].Values["job"].(string)
		var job oncall.Job
		if json.Unmarshal([]byte(data), &job) == nil {
			if now := s.now(); now.After(job.EnqueuedAt) {
				st.OldestAge = now.Sub(job.EnqueuedAt)
			}
		}
	}
	return st, nil
}

// ctxEnding reports whether ctx is done or about to be, waiting out the
// last few milliseconds before its deadline.
func ctxEnding(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	if !ok || time.Until(dl) > 50*time.Millisecond {
		return false
	}
	<-ctx.Done()
	return true
}
