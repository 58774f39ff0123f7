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

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/retry"
)

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
// of its own, and lets the storm's thread show it.
func (s *Service) joinStorm(ctx context.Context, log *slog.Logger, key string, job oncall.Job, inc oncall.Incident) error {
	now := s.opts.Now().UTC()
	storm, err := s.stormIncident(ctx, inc)
	if err != nil {
		return err
	}
	m := oncall.StormMember{
		Key: key, Name: inc.Alert.Name, Service: serviceOf(inc.Alert), Severity: inc.Alert.Severity,
		Status: inc.Status, Fires: inc.Fires, JoinedAt: now,
	}
	storm, err = s.opts.Store.UpdateIncident(ctx, storm.Key, func(st *oncall.Incident) error {
		if i := slices.IndexFunc(st.Members, func(x oncall.StormMember) bool { return x.Key == key }); i >= 0 {
			m.JoinedAt = st.Members[i].JoinedAt
			st.Members[i] = m
			return nil
		}
		st.Members = append(st.Members, m)
		return nil
	})
	if err != nil {
		return fmt.Errorf("list incident in storm: %w", err)
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
	log.Info("incident joined an alert storm", "storm", storm.Key, "members", len(storm.Members))
	return s.triageStorm(ctx, log, storm, job)
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
			StartsAt: now, Labels: map[string]string{"alertname": "Alert storm"},
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
			if err := s.enqueue(ctx, storm.Channel, "new:"+storm.Key, prioNewThread+stormSeverity(storm)); err != nil {
				return err
			}
		}
		return s.enqueue(ctx, storm.Channel, "storm:"+storm.Key, prioStorm+stormSeverity(storm))
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
	var b strings.Builder
	fmt.Fprintf(&b, ":zap: %d joined the storm (%d to %d):", to-from, from+1, to)
	for _, m := range storm.Members[from:to] {
		b.WriteString("\n• " + m.Name)
		if m.Severity != "" {
			b.WriteString(" (" + m.Severity + ")")
		}
		if m.Service != "" {
			b.WriteString(" — " + m.Service)
		}
		if m.Fires > 1 {
			fmt.Fprintf(&b, " — re-fired (#%d)", m.Fires)
		}
	}
	if err := s.postMarked(ctx, storm, fmt.Sprintf("summary-%d", from), b.String()); err != nil {
		return true, fmt.Errorf("post storm summary: %w", err)
	}
	now := s.opts.Now().UTC()
	storm, err = s.opts.Store.UpdateIncident(ctx, key, func(st *oncall.Incident) error {
		if st.Summarized == from {
			st.Summarized, st.SummarizedAt = to, now
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
	storm, err := s.opts.Store.UpdateIncident(ctx, inc.Storm, func(st *oncall.Incident) error {
		if i := slices.IndexFunc(st.Members, func(x oncall.StormMember) bool { return x.Key == inc.Key }); i >= 0 {
			st.Members[i].Status = inc.Status
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("update storm table: %w", err)
	}
	return s.stormChanged(ctx, storm, job)
}

// triageStorm triages the storm once, when it has StormTriageAt members:
// their common cause when they share one, else the member whose group
// changed most. A failed triage is logged; a later member tries again.
func (s *Service) triageStorm(ctx context.Context, log *slog.Logger, storm oncall.Incident, job oncall.Job) error {
	if !storm.TriagedAt.IsZero() || len(storm.Members) < s.opts.StormTriageAt {
		return nil
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
