package incident

// Storm threads: the incidents of a storm are members of one storm
// incident. Its parent message is edited with the running count and a
// compact table of the members; at most one summary reply per
// StormSummaryEvery lists who joined; resolutions only change the table.
// The storm gets one triage, of the members' common cause or of the
// member whose group changed most.

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/retry"
)

// stormTriageRetry is how long a storm whose triage failed waits before
// a new member asks for it again.
const stormTriageRetry = 5 * time.Minute

// stormLabel marks a storm's own incident record.
const stormLabel = "oncall_storm"

func isStorm(inc oncall.Incident) bool {
	return inc.Alert.Source == "oncall-copilot" && inc.Alert.Labels[stormLabel] == "true"
}

// summaryMax bounds the members one summary reply lists; the rest wait
// for the next.
const summaryMax = 50

// serviceLabels name the service an alert is about, most specific first.
var serviceLabels = []string{"service", "service_name", "service.name", "app", "agent", "gen_ai.agent.name", "gen_ai_agent_name"}

// causeLabels are labels that, shared by every member of a storm, name
// a common cause worth one triage.
var causeLabels = append(slices.Clone(serviceLabels), "model", "gen_ai_request_model", "gen_ai.request.model", "provider", "tool", "dependency", "upstream", "job")

func serviceOf(a oncall.Alert) string {
	for _, l := range serviceLabels {
		if v := strings.TrimSpace(a.Labels[l]); v != "" {
			return v
		}
	}
	return ""
}

// joinStorm lists an incident in its storm instead of opening a thread
// of its own, and lets the storm's thread show it. The member is known
// to be one by its own record (Storm); the sender of the storm's thread
// gathers the members when it renders the table, so that members
// joining at once do not all rewrite the storm's record.
func (s *Service) joinStorm(ctx context.Context, log *slog.Logger, key string, job oncall.Job, inc oncall.Incident) error {
	now := s.opts.Now().UTC()
	storm, err := s.stormOf(ctx, inc, job)
	if err != nil {
		return err
	}
	if _, err := s.opts.Store.UpdateIncident(ctx, key, func(inc *oncall.Incident) error {
		inc.TriagedAt = now
		inc.Headline = "Listed in an alert storm thread; not triaged on its own."
		return nil
	}); err != nil {
		return fmt.Errorf("record storm membership: %w", err)
	}
	if err := s.stormChanged(ctx, storm, job.ID); err != nil {
		return err
	}
	log.Info("incident joined an alert storm", "storm", storm.Key)
	// The StormTriageAt-th member (counted once each, atomically) asks
	// for the storm's one triage.
	at, err := s.opts.Store.JoinBurst(ctx, "storm-members:"+storm.Key, key, inc.OpenedAt, 7*24*time.Hour, s.opts.StormTriageAt-1)
	if err != nil {
		return fmt.Errorf("count storm members: %w", err)
	}
	if at.IsZero() || !storm.TriagedAt.IsZero() {
		return nil
	}
	if storm.OpenedAt.IsZero() { // the light record: read the storm
		if storm, err = s.opts.Store.GetIncident(ctx, storm.Key); err != nil {
			return fmt.Errorf("read storm: %w", err)
		}
		if !storm.TriagedAt.IsZero() {
			return nil
		}
	}
	// One job asks; should its triage fail, a member joining after
	// stormTriageRetry asks again.
	first, err := s.opts.Store.Once(ctx, "storm-triage:"+storm.Key, stormTriageRetry)
	if err != nil || !first {
		return err
	}
	return s.triageStorm(ctx, log, storm, job)
}

// refreshMembers gathers the storm's members from their records into
// its table: those that joined since the last time are added at the end
// (the summaries count on the order), and every member's status is
// brought up to date. Only the storm's sender calls it.
func (s *Service) refreshMembers(ctx context.Context, storm oncall.Incident) (oncall.Incident, error) {
	incs, err := s.opts.Store.ListIncidents(ctx, storm.OpenedAt.Add(-s.opts.StormWindow))
	if err != nil {
		return storm, fmt.Errorf("list storm members: %w", err)
	}
	var found []oncall.Incident
	for _, inc := range incs {
		if inc.Storm == storm.Key && inc.ThreadTS == "" {
			found = append(found, inc)
		}
	}
	slices.SortFunc(found, func(a, b oncall.Incident) int {
		return cmp.Or(a.OpenedAt.Compare(b.OpenedAt), cmp.Compare(a.Key, b.Key))
	})
	return s.opts.Store.UpdateIncident(ctx, storm.Key, func(st *oncall.Incident) error {
		at := map[string]int{}
		for i, m := range st.Members {
			at[m.Key] = i
		}
		for _, inc := range found {
			m := oncall.StormMember{
				Key: inc.Key, Name: inc.Alert.Name, Service: serviceOf(inc.Alert), Severity: inc.Alert.Severity,
				Status: inc.Status, Fires: inc.Fires, JoinedAt: inc.OpenedAt,
			}
			if i, ok := at[inc.Key]; ok {
				m.JoinedAt = st.Members[i].JoinedAt
				st.Members[i] = m
				continue
			}
			at[inc.Key] = len(st.Members)
			st.Members = append(st.Members, m)
		}
		return nil
	})
}

// stormOf returns the member's storm incident, created if need be. With
// the outbox, only the job that creates it (or its retry) reads it: the
// record holds the storm's table, which grows with every member, and the
// jobs of a thousand members need none of it; the others get a record
// with its key and channel.
func (s *Service) stormOf(ctx context.Context, member oncall.Incident, job oncall.Job) (oncall.Incident, error) {
	if s.outboxOn() && job.Attempts == 0 {
		first, err := s.opts.Store.Once(ctx, "storm-created:"+member.Storm, postingTTL)
		if err != nil {
			return oncall.Incident{}, fmt.Errorf("claim storm incident: %w", err)
		}
		if !first {
			return oncall.Incident{Key: member.Storm, Channel: member.Channel, Route: member.Route}, nil
		}
	}
	return s.stormIncident(ctx, member)
}

// stormIncident returns the member's storm incident, created if need be.
func (s *Service) stormIncident(ctx context.Context, member oncall.Incident) (oncall.Incident, error) {
	now := s.opts.Now().UTC()
	storm, _, err := s.opts.Store.CreateIncident(ctx, oncall.Incident{
		Key:     member.Storm,
		Status:  oncall.IncidentOpen,
		Route:   member.Route,
		Channel: member.Channel,
		Alert: oncall.Alert{
			Source: "oncall-copilot", Name: "Alert storm", Severity: "warning", Status: oncall.AlertFiring,
			Summary:  "New incidents in this channel are arriving faster than one thread each can be read; they are listed in the thread.",
			StartsAt: now, Labels: map[string]string{"alertname": "Alert storm", stormLabel: "true"},
		},
		OpenedAt:     now,
		Fires:        1,
		StormChecked: true,
		SummarizedAt: now,
	})
	if err != nil {
		return storm, fmt.Errorf("claim storm incident: %w", err)
	}
	return storm, nil
}

// stormChanged brings the storm's thread up to date: through the
// outbox, or at once, posting the storm's parent first if need be.
func (s *Service) stormChanged(ctx context.Context, storm oncall.Incident, job string) error {
	if s.outboxOn() {
		if storm.ThreadTS == "" {
			// Posted already, perhaps, when the record is the light one
			// of stormOf: the sender then does nothing with it.
			if err := s.enqueue(ctx, storm.Channel, "new:"+storm.Key, prioNewThread+oncall.SeverityRank(storm.Alert.Severity)); err != nil {
				return err
			}
		}
		return s.enqueue(ctx, storm.Channel, "storm:"+storm.Key, prioStorm+oncall.SeverityRank(storm.Alert.Severity))
	}
	if storm.ThreadTS == "" {
		// The job holding the storm's lease posts its parent; others
		// are retried shortly.
		var held bool
		var err error
		if storm, held, err = s.lease(ctx, storm.Key, job, s.opts.Now()); err != nil {
			return err
		}
		if storm.ThreadTS == "" {
			if !held {
				return fmt.Errorf("storm thread %s not posted yet", storm.Key)
			}
			defer s.release(storm.Key, job)
		}
	}
	return s.showParent(ctx, storm.Key)
}

// stormSeverity is the rank of the storm's most severe firing member.
func stormSeverity(storm oncall.Incident) int {
	rank := 4
	for _, m := range storm.Members {
		if m.Status != oncall.IncidentResolved {
			rank = min(rank, oncall.SeverityRank(m.Severity))
		}
	}
	return rank
}

// afterStormSend schedules the storm's next summary reply once its
// parent shows members no summary listed yet: no sooner than
// StormSummaryEvery after the last one.
func (s *Service) afterStormSend(ctx context.Context, storm oncall.Incident) error {
	if len(storm.Members) <= storm.Summarized {
		return nil
	}
	due := storm.SummarizedAt.Add(s.opts.StormSummaryEvery)
	s.log.Debug("storm summary due", "storm", storm.Key, "members", len(storm.Members), "summarized", storm.Summarized, "due", due)
	if s.outboxOn() {
		ch := s.outboxChannel(ctx, storm.Channel)
		if _, err := s.opts.Outbox.PutOutbox(ctx, oncall.OutboxItem{Channel: ch, Key: "summary:" + storm.Key, Priority: prioSummary, Due: due}); err != nil {
			return fmt.Errorf("queue storm summary: %w", err)
		}
		return nil
	}
	if s.opts.Now().Before(due) {
		return nil
	}
	_, err := s.sendSummary(ctx, oncall.OutboxItem{}, storm.Key)
	return err
}

// sendSummary posts one reply in the storm thread listing the members
// that joined since the last summary, at most summaryMax of them.
func (s *Service) sendSummary(ctx context.Context, it oncall.OutboxItem, key string) (bool, error) {
	storm, err := s.opts.Store.GetIncident(ctx, key)
	if err != nil {
		return false, fmt.Errorf("read storm %s: %w", key, err)
	}
	from := storm.Summarized
	if len(storm.Members) <= from {
		return false, nil
	}
	if storm.ThreadTS == "" || s.opts.Now().Before(storm.SummarizedAt.Add(s.opts.StormSummaryEvery)) {
		return false, errNotReady
	}
	to := min(len(storm.Members), from+summaryMax)
	if storm.Summarizing > from {
		to = storm.Summarizing // an earlier attempt chose; its note may be posted
	} else {
		storm, err = s.opts.Store.UpdateIncident(ctx, key, func(st *oncall.Incident) error {
			if st.Summarized == from {
				st.Summarizing = to
			}
			return nil
		})
		if err != nil {
			return false, fmt.Errorf("record storm summary: %w", err)
		}
		if storm.Summarized != from {
			return false, errNotReady
		}
	}
	ev := oncall.IncidentEvent{Kind: oncall.EventStormSummary, From: from + 1, To: to, Members: storm.Members[from:to]}
	if err := s.postMarked(ctx, storm, fmt.Sprintf("summary-%d", from), ev); err != nil {
		return true, fmt.Errorf("post storm summary: %w", err)
	}
	s.log.Info("storm summary posted", "storm", key, "from", from+1, "to", to)
	now := s.opts.Now().UTC()
	storm, err = s.opts.Store.UpdateIncident(ctx, key, func(st *oncall.Incident) error {
		if st.Summarized == from {
			st.Summarized, st.SummarizedAt, st.Summarizing = to, now, 0
		}
		return nil
	})
	if err != nil {
		return true, fmt.Errorf("record storm summary: %w", err)
	}
	if s.outboxOn() {
		return true, s.afterStormSend(ctx, storm)
	}
	return true, nil
}

// stormMemberChanged shows a member's new status in its storm's table,
// instead of a reply.
func (s *Service) stormMemberChanged(ctx context.Context, inc oncall.Incident, job string) error {
	if s.outboxOn() {
		return s.enqueue(ctx, inc.Channel, "storm:"+inc.Storm, prioStorm+oncall.SeverityRank(inc.Alert.Severity))
	}
	storm, err := s.opts.Store.GetIncident(ctx, inc.Storm)
	if err != nil {
		return fmt.Errorf("read storm of %s: %w", inc.Key, err)
	}
	return s.stormChanged(ctx, storm, job)
}

// triageStorm triages the storm once, when it has StormTriageAt members:
// their common cause when they share one, else the member whose group
// changed most. A failed triage is logged; a later member tries again.
func (s *Service) triageStorm(ctx context.Context, log *slog.Logger, storm oncall.Incident, job oncall.Job) error {
	if len(storm.Members) < s.opts.StormTriageAt {
		var err error
		if storm, err = s.refreshMembers(ctx, storm); err != nil {
			return err
		}
	}
	if !s.outboxOn() && storm.ThreadTS == "" {
		return nil
	}
	storm, held, err := s.lease(ctx, storm.Key, job.ID, s.opts.Now())
	if err != nil || !held || !storm.TriagedAt.IsZero() {
		return err
	}
	defer s.release(storm.Key, job.ID)
	opts, err := oncall.DecodeTriageOptions(job.Payload)
	if err != nil {
		return retry.Permanent(err)
	}
	subject, why := s.stormSubject(ctx, storm)
	rep, err := s.opts.Triager.Triage(ctx, oncall.TriageRequest{Alert: subject, Route: storm.Route, Options: opts})
	if err != nil {
		log.Warn("storm triage failed; a later member tries again", "storm", storm.Key, "err", err)
		return nil
	}
	if s.outboxOn() {
		if err := s.enqueue(ctx, storm.Channel, fmt.Sprintf("report:%s:%d", storm.Key, storm.Fires), prioReport+stormSeverity(storm)); err != nil {
			return err
		}
	} else if err := s.postReport(ctx, log, storm.Key, storm, rep); err != nil {
		return err
	}
	now := s.opts.Now().UTC()
	storm, err = s.opts.Store.UpdateIncident(ctx, storm.Key, func(st *oncall.Incident) error {
		r := rep
		st.Report, st.Diagnosis, st.TriagedAt = &r, rep.Diagnosis, now
		st.Headline = why + ": " + headline(rep)
		return nil
	})
	if err != nil {
		return fmt.Errorf("record storm triage: %w", err)
	}
	log.Info("storm triaged", "storm", storm.Key, "subject", subject.Name)
	return s.stormChanged(ctx, storm, job.ID)
}

// stormSubject picks what the storm's one triage looks at: an alert
// carrying the labels every recent member shares, when one of them names
// a service, model or dependency; else the member whose group changed
// most (most alerts, then most fires, then most severe, then first).
func (s *Service) stormSubject(ctx context.Context, storm oncall.Incident) (oncall.Alert, string) {
	members := storm.Members
	if len(members) > summaryMax {
		members = members[len(members)-summaryMax:]
	}
	var incs []oncall.Incident
	for _, m := range members {
		inc, err := s.opts.Store.GetIncident(ctx, m.Key)
		if err == nil {
			incs = append(incs, inc)
		}
	}
	if len(incs) == 0 {
		return storm.Alert, "Storm"
	}
	common := maps.Clone(incs[0].Alert.Labels)
	delete(common, "alertname")
	for _, inc := range incs[1:] {
		for k, v := range common {
			if inc.Alert.Labels[k] != v || strings.TrimSpace(v) == "" {
				delete(common, k)
			}
		}
	}
	var cause []string
	for _, l := range causeLabels {
		if v, ok := common[l]; ok {
			cause = append(cause, l+"="+v)
		}
	}
	if len(incs) > 1 && len(cause) > 0 {
		a := oncall.Alert{
			Source: "oncall-copilot", Name: "Common cause of an alert storm", Status: oncall.AlertFiring,
			Labels:   common,
			Summary:  fmt.Sprintf("%d alerts in this storm share %s.", len(incs), strings.Join(cause, ", ")),
			StartsAt: incs[0].Alert.StartsAt, Severity: incs[0].Alert.Severity,
		}
		for _, inc := range incs {
			if inc.Alert.StartsAt.Before(a.StartsAt) {
				a.StartsAt = inc.Alert.StartsAt
			}
			if oncall.SeverityRank(inc.Alert.Severity) < oncall.SeverityRank(a.Severity) {
				a.Severity = inc.Alert.Severity
			}
		}
		return a, "Common cause (" + strings.Join(cause, ", ") + ")"
	}
	best := slices.MaxFunc(incs, func(a, b oncall.Incident) int {
		return cmp.Or(cmp.Compare(len(a.Alerts), len(b.Alerts)), cmp.Compare(a.Fires, b.Fires),
			cmp.Compare(oncall.SeverityRank(b.Alert.Severity), oncall.SeverityRank(a.Alert.Severity)),
			b.OpenedAt.Compare(a.OpenedAt))
	})
	return best.Alert, "Most changed (" + best.Alert.Name + ")"
}
