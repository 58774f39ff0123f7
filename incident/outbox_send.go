package incident

// What the outbox's sender does with each kind of item: it reads the
// incident and renders the message from its current state.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/retry"
)

// send renders and sends one item, and reports whether it cost a
// message (a post or an edit). Items about incidents that no longer
// need them are done without a call.
func (s *Service) send(ctx context.Context, it oncall.OutboxItem) (sent bool, err error) {
	kind, rest, _ := strings.Cut(it.Key, ":")
	switch kind {
	case "new":
		return s.sendNew(ctx, rest)
	case "parent", "storm":
		return s.sendUpdate(ctx, rest)
	case "summary":
		return s.sendSummary(ctx, it, rest)
	case "report":
		key, fire, err := splitFire(rest)
		if err != nil {
			return false, retry.Permanent(err)
		}
		return s.sendReport(ctx, key, fire)
	case "note":
		key, tail, _ := strings.Cut(rest, ":")
		fireText, what, _ := strings.Cut(tail, ":")
		fire, err := strconv.Atoi(fireText)
		if err != nil {
			return false, retry.Permanent(fmt.Errorf("outbox item %s: %w", it.Key, err))
		}
		return s.sendNote(ctx, key, fire, what)
	}
	return false, retry.Permanent(fmt.Errorf("outbox item %s of unknown kind", it.Key))
}

func splitFire(s string) (string, int, error) {
	key, fireText, _ := strings.Cut(s, ":")
	fire, err := strconv.Atoi(fireText)
	if err != nil {
		return "", 0, fmt.Errorf("outbox item %s: %w", s, err)
	}
	return key, fire, nil
}

// sendNew posts the parent of a new incident or storm, once. It is an
// item apart from the parent's edits ("parent:", "storm:"), which wait
// behind new threads: an edit put while the post was being sent would
// otherwise inherit the post's priority.
func (s *Service) sendNew(ctx context.Context, key string) (bool, error) {
	inc, err := s.opts.Store.GetIncident(ctx, key)
	if errors.Is(err, oncall.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read incident %s: %w", key, err)
	}
	if inc.ThreadTS != "" || (!isStorm(inc) && (!inc.StormChecked || inc.Storm != "")) {
		// Posted already; or not decided yet, or listed in a storm
		// instead: the firing job puts it again once it decided.
		return false, nil
	}
	if isStorm(inc) {
		if inc, err = s.refreshMembers(ctx, inc); err != nil {
			return false, err
		}
	}
	inc, err = s.postParent(ctx, key, inc)
	if err != nil {
		return true, err
	}
	s.log.Info("incident opened", "incident", key, "channel", inc.Channel, "thread", inc.ThreadTS)
	return true, s.afterStormSend(ctx, inc)
}

// sendUpdate edits a parent to show its incident's current state.
func (s *Service) sendUpdate(ctx context.Context, key string) (bool, error) {
	inc, err := s.opts.Store.GetIncident(ctx, key)
	if errors.Is(err, oncall.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read incident %s: %w", key, err)
	}
	if inc.ThreadTS == "" {
		return false, errNotReady
	}
	if isStorm(inc) {
		if inc, err = s.refreshMembers(ctx, inc); err != nil {
			return false, err
		}
	}
	if err := s.opts.Publisher.UpdateParent(ctx, inc); err != nil {
		return true, fmt.Errorf("update parent: %w", err)
	}
	return true, s.afterStormSend(ctx, inc)
}

// showParent posts the parent of key's incident, or edits it, at once.
func (s *Service) showParent(ctx context.Context, key string) error {
	sent, err := s.sendNew(ctx, key)
	if sent || err != nil {
		return err
	}
	if _, err := s.sendUpdate(ctx, key); err != nil && !errors.Is(err, errNotReady) {
		return err
	}
	return nil
}

// sendReport posts the recorded triage report of an incident's fire.
func (s *Service) sendReport(ctx context.Context, key string, fire int) (bool, error) {
	inc, err := s.opts.Store.GetIncident(ctx, key)
	if errors.Is(err, oncall.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read incident %s: %w", key, err)
	}
	switch {
	case inc.Fires > fire:
		return false, nil // a later fire has its own report
	case inc.ThreadTS == "" || inc.Report == nil || inc.TriagedAt.IsZero():
		return false, errNotReady
	}
	return true, s.postReport(ctx, s.log.With("incident", key), key, inc, *inc.Report)
}

// sendNote posts a note of an incident's fire: "resolved" or "refire".
func (s *Service) sendNote(ctx context.Context, key string, fire int, what string) (bool, error) {
	inc, err := s.opts.Store.GetIncident(ctx, key)
	if errors.Is(err, oncall.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read incident %s: %w", key, err)
	}
	if inc.ThreadTS == "" {
		return false, errNotReady
	}
	ev, ok := s.noteEvent(inc, what)
	if !ok || inc.Fires != fire {
		return false, nil
	}
	return true, s.postMarked(ctx, inc, fmt.Sprintf("%s-%d", what, fire), ev)
}

// noteEvent makes a note's event from the incident's state; false when
// the state no longer calls for it.
func (s *Service) noteEvent(inc oncall.Incident, what string) (oncall.IncidentEvent, bool) {
	switch what {
	case "resolved":
		if inc.Status != oncall.IncidentResolved {
			return oncall.IncidentEvent{}, false
		}
		return oncall.IncidentEvent{Kind: oncall.EventResolved, After: inc.ResolvedAt.Sub(inc.Alert.StartsAt)}, true
	case "refire":
		return s.refireEvent(inc)
	}
	return oncall.IncidentEvent{}, false
}

// postMarked posts a note once: a marker set just before posting sends
// a later attempt to look for the note in the thread first.
func (s *Service) postMarked(ctx context.Context, inc oncall.Incident, mark string, ev oncall.IncidentEvent) error {
	if s.opts.Notes == nil {
		return s.opts.Publisher.PostEvent(ctx, inc, ev)
	}
	first, err := s.opts.Store.Once(ctx, "incident-note:"+inc.Key+":"+mark, postingTTL)
	if err != nil {
		return fmt.Errorf("mark note posting: %w", err)
	}
	if !first || s.storeForgot() {
		found, err := s.opts.Notes.FindMarkedNote(ctx, inc, mark)
		switch {
		case retry.IsPermanent(err):
			s.log.Warn("cannot look for the note an earlier attempt may have posted; posting it", "incident", inc.Key, "note", mark, "err", err)
		case err != nil:
			return fmt.Errorf("look for note %s: %w", mark, err)
		case found:
			return nil
		}
	}
	return s.opts.Notes.PostMarkedEvent(ctx, inc, mark, ev)
}
