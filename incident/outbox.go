package incident

// The outbox: with Options.Outbox set, jobs do not call Slack. They
// record what the thread should show and put an item naming it in the
// channel's outbox, kept in the store; one sender per channel (a lease
// in the store, so one replica at a time) renders each item from the
// incident's state when its turn comes and sends it, paced to Slack's
// per-channel rate. Workers move on at once, a busy channel has its own
// sender and never delays another's, and a crash loses nothing: an item
// leaves the outbox only after Slack took it, and the posting-once
// markers with the metadata lookups keep a resent item from showing
// twice.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/retry"
)

// Outbox keeps the Slack messages waiting to be sent, per channel.
type Outbox interface {
	PutOutbox(ctx context.Context, item oncall.OutboxItem) (oncall.OutboxItem, error)
	PendingOutbox(ctx context.Context, channel string) ([]oncall.OutboxItem, error)
	OutboxChannels(ctx context.Context) ([]string, error)
	DoneOutbox(ctx context.Context, item oncall.OutboxItem) (bool, error)
	LeaseOutbox(ctx context.Context, channel, owner string, ttl time.Duration) (bool, error)
	ReleaseOutbox(ctx context.Context, channel, owner string) error
}

// MarkedNotes posts thread notes that can be found again, so a note a
// sender posted before dying is not posted twice.
type MarkedNotes interface {
	PostMarkedEvent(ctx context.Context, inc oncall.Incident, mark string, ev oncall.IncidentEvent) error
	FindMarkedNote(ctx context.Context, inc oncall.Incident, mark string) (bool, error)
}

// ChannelIDs turns a channel name into its id, so that an incident
// known by its channel's name and one known by its id share one outbox.
type ChannelIDs interface {
	ChannelID(ctx context.Context, channel string) (string, error)
}

// Priority classes of outbox items; within a class the more severe
// alert goes first (oncall.SeverityRank is added).
const (
	prioNewThread = 0  // the parent of a new incident or storm
	prioStorm     = 10 // a storm's table
	prioReport    = 20 // a triage report, before its parent says "triaged"
	prioEdit      = 25 // a parent's edit
	prioNote      = 30 // a note in a thread, after its parent shows the state
	prioSummary   = 40 // a storm's summary reply
)

// outboxRetries bounds how often an item that keeps failing is tried.
const outboxRetries = 10

// errNotReady holds an item back: what it needs (a thread, a report) is
// not there yet.
var errNotReady = errors.New("not ready")

func (s *Service) outboxOn() bool { return s.opts.Outbox != nil }

// enqueue puts an item for channel in the outbox and wakes the sender.
func (s *Service) enqueue(ctx context.Context, channel, key string, prio int) error {
	ch := s.outboxChannel(ctx, channel)
	if _, err := s.opts.Outbox.PutOutbox(ctx, oncall.OutboxItem{Channel: ch, Key: key, Priority: prio, Due: s.opts.Now().UTC()}); err != nil {
		return fmt.Errorf("queue %s for slack: %w", key, err)
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// outboxChannel is the outbox a channel's items go to: its id when it
// can be had, so a name and its id are one outbox, else as given.
func (s *Service) outboxChannel(ctx context.Context, channel string) string {
	if s.opts.Channels == nil || channel == "" {
		return channel
	}
	id, err := s.opts.Channels.ChannelID(ctx, channel)
	if err != nil || id == "" {
		return channel
	}
	return id
}

// updateParent shows inc's state on its parent message: at once, or
// through the outbox.
func (s *Service) updateParent(ctx context.Context, inc oncall.Incident) error {
	if s.outboxOn() {
		return s.enqueue(ctx, inc.Channel, "parent:"+inc.Key, prioEdit+oncall.SeverityRank(inc.Alert.Severity))
	}
	if err := s.opts.Publisher.UpdateParent(ctx, inc); err != nil {
		return fmt.Errorf("update parent: %w", err)
	}
	return nil
}

// note tells inc's thread what happened (what: "resolved", "refire"),
// once: at once, or through the outbox, where the event is made from the
// incident's state when its turn comes (noteEvent).
func (s *Service) note(ctx context.Context, inc oncall.Incident, what string) error {
	if s.outboxOn() {
		return s.enqueue(ctx, inc.Channel, fmt.Sprintf("note:%s:%d:%s", inc.Key, inc.Fires, what), prioNote+oncall.SeverityRank(inc.Alert.Severity))
	}
	ev, ok := s.noteEvent(inc, what)
	if !ok {
		return nil
	}
	if err := s.opts.Publisher.PostEvent(ctx, inc, ev); err != nil {
		return fmt.Errorf("post %s note: %w", what, err)
	}
	return nil
}

// RunOutbox sends the outbox until ctx ends: one sender per channel with
// pending items whose lease this process holds. It returns nil when ctx
// ends; items left are sent by the next sender.
func (s *Service) RunOutbox(ctx context.Context) error {
	if !s.outboxOn() {
		<-ctx.Done()
		return nil
	}
	var (
		mu     sync.Mutex
		active = map[string]bool{}
		wg     sync.WaitGroup
	)
	defer wg.Wait()
	tick := time.NewTicker(s.opts.OutboxPoll)
	defer tick.Stop()
	for {
		chans, err := s.opts.Outbox.OutboxChannels(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("list outbox channels failed", "err", err)
		}
		for _, ch := range chans {
			mu.Lock()
			busy := active[ch]
			active[ch] = true
			mu.Unlock()
			if busy {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.drain(ctx, ch)
				mu.Lock()
				delete(active, ch)
				mu.Unlock()
			}()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-s.wake:
		}
	}
}

// hold keeps an item back after a failure.
type hold struct {
	until    time.Time
	attempts int
	waiting  time.Time // since when it was not ready, if it was not
}

// notReadyLimit bounds how long an item waits for what it needs (its
// thread, its report, its summary's turn): far longer than a storm
// summary's interval.
const notReadyLimit = 30 * time.Minute

// drain sends channel's items while it holds the channel's lease and
// items are pending, one at a time: the first due item by priority,
// each no sooner than SendInterval after the last, or after the
// Retry-After of a 429.
func (s *Service) drain(ctx context.Context, channel string) {
	log := s.log.With("channel", channel, "owner", s.opts.OutboxOwner)
	held, err := s.opts.Outbox.LeaseOutbox(ctx, channel, s.opts.OutboxOwner, s.opts.OutboxLease)
	if err != nil || !held {
		if err != nil && ctx.Err() == nil {
			log.Warn("take outbox lease failed", "err", err)
		}
		return
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := s.opts.Outbox.ReleaseOutbox(rctx, channel, s.opts.OutboxOwner); err != nil {
			log.Warn("release outbox lease failed", "err", err)
		}
	}()
	holds := map[string]hold{}
	renewed := s.opts.Now()
	for ctx.Err() == nil {
		now := s.opts.Now()
		if now.Sub(renewed) > s.opts.OutboxLease/3 {
			if held, err := s.opts.Outbox.LeaseOutbox(ctx, channel, s.opts.OutboxOwner, s.opts.OutboxLease); err != nil || !held {
				log.Warn("outbox lease lost", "err", err)
				return
			}
			renewed = now
		}
		items, err := s.opts.Outbox.PendingOutbox(ctx, channel)
		if err != nil {
			log.Warn("read outbox failed", "err", err)
			sleep(ctx, s.opts.OutboxPoll)
			continue
		}
		if len(items) == 0 {
			return
		}
		var (
			pick  *oncall.OutboxItem
			until time.Time
		)
		for i, it := range items {
			at := it.Due
			if h := holds[it.Key]; h.until.After(at) {
				at = h.until
			}
			if !at.After(now) {
				pick = &items[i]
				break
			}
			if until.IsZero() || at.Before(until) {
				until = at
			}
		}
		if pick == nil {
			sleep(ctx, min(until.Sub(now), s.opts.OutboxPoll))
			continue
		}
		if !s.reserve(channel) {
			// Wait for the channel's turn, then pick again: something
			// more urgent may have come meanwhile.
			sleep(ctx, s.nextSend(channel).Sub(now))
			continue
		}
		sent, err := s.send(ctx, *pick)
		if !sent {
			// Nothing went out: the turn is not used.
			s.unreserve(channel)
		} else {
			s.setNextSend(channel, s.opts.Now().Add(s.opts.SendInterval))
		}
		var after *retry.AfterError
		switch {
		case err == nil:
			delete(holds, pick.Key)
			if sent && strings.HasPrefix(pick.Key, "storm:") {
				// A storm's table is edited at most every other turn,
				// so that in a long storm the channel's other threads
				// still get theirs; an edit shows every member that
				// joined since the last.
				holds[pick.Key] = hold{until: s.opts.Now().Add(2 * s.opts.SendInterval)}
			}
			if _, err := s.opts.Outbox.DoneOutbox(ctx, *pick); err != nil {
				log.Warn("remove sent outbox item failed", "item", pick.Key, "err", err)
			}
		case ctx.Err() != nil:
			return
		case errors.Is(err, errNotReady):
			h := holds[pick.Key]
			if h.waiting.IsZero() {
				h.waiting = s.opts.Now()
			}
			if s.opts.Now().Sub(h.waiting) > notReadyLimit {
				// What it waits for (a thread Slack refused, say)
				// is not coming.
				log.Error("outbox item dropped: what it needs never came", "item", pick.Key, "waited", notReadyLimit)
				delete(holds, pick.Key)
				if _, err := s.opts.Outbox.DoneOutbox(ctx, *pick); err != nil {
					log.Warn("remove dropped outbox item failed", "item", pick.Key, "err", err)
				}
				continue
			}
			h.until = s.opts.Now().Add(s.opts.SendInterval)
			holds[pick.Key] = h
		case errors.As(err, &after):
			// Slack asked us to wait: the whole channel waits.
			s.setNextSend(channel, s.opts.Now().Add(max(after.After, s.opts.SendInterval)))
			log.Warn("slack asked to slow down", "item", pick.Key, "retry_after", after.After)
		case retry.IsPermanent(err) || holds[pick.Key].attempts+1 >= outboxRetries:
			log.Error("outbox item dropped: slack will not take it", "item", pick.Key, "err", err)
			delete(holds, pick.Key)
			if _, err := s.opts.Outbox.DoneOutbox(ctx, *pick); err != nil {
				log.Warn("remove dropped outbox item failed", "item", pick.Key, "err", err)
			}
		default:
			h := holds[pick.Key]
			h.attempts++
			h.until = s.opts.Now().Add(min(time.Minute, s.opts.SendInterval<<h.attempts))
			holds[pick.Key] = h
			log.Warn("outbox item failed; trying again later", "item", pick.Key, "attempt", h.attempts, "err", err)
		}
	}
}

func (s *Service) nextSend(channel string) time.Time {
	s.paceMu.Lock()
	defer s.paceMu.Unlock()
	return s.paced[channel]
}

// sendNow reports whether a message to channel may be sent at once,
// by the caller, instead of through the outbox: this process holds the
// channel's lease (so no other replica sends there meanwhile) and the
// channel's turn is free, which it takes.
func (s *Service) sendNow(ctx context.Context, channel string) bool {
	ch := s.outboxChannel(ctx, channel)
	held, err := s.opts.Outbox.LeaseOutbox(ctx, ch, s.opts.OutboxOwner, s.opts.OutboxLease)
	if err != nil {
		s.log.Warn("take outbox lease failed; queueing", "channel", ch, "err", err)
		return false
	}
	return held && s.reserve(ch)
}

// reserve takes channel's next turn if it is free now, for a message
// sent at once, and reports whether it did.
func (s *Service) reserve(channel string) bool {
	s.paceMu.Lock()
	defer s.paceMu.Unlock()
	now := s.opts.Now()
	if s.paced[channel].After(now) {
		return false
	}
	s.paced[channel] = now.Add(s.opts.SendInterval)
	return true
}

// unreserve gives back a turn taken by reserve and not used.
func (s *Service) unreserve(channel string) {
	s.paceMu.Lock()
	defer s.paceMu.Unlock()
	s.paced[channel] = s.opts.Now()
}

func (s *Service) setNextSend(channel string, at time.Time) {
	s.paceMu.Lock()
	defer s.paceMu.Unlock()
	if at.After(s.paced[channel]) {
		s.paced[channel] = at
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// newOwner names this process's outbox sender.
func newOwner() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "sender-" + hex.EncodeToString(b[:])
}
