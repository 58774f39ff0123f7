// Package incident drives an alert group's life in Slack: it claims the
// incident, posts the parent message once, runs triage and posts the
// diagnosis in the thread, and records resolution and re-fires. Every step
// is idempotent, because jobs are delivered at least once.
//
// With an Outbox, jobs hand their Slack messages to a per-channel outbox
// in the store, which RunOutbox sends at Slack's pace (outbox.go); when a
// channel gets more new incidents than it can read, they join one storm
// thread with a table, summaries and one triage (storm.go).
package incident

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/retry"
)

// Store keeps incidents.
type Store interface {
	Once(ctx context.Context, key string, ttl time.Duration) (bool, error)
	GetIncident(ctx context.Context, key string) (oncall.Incident, error)
	CreateIncident(ctx context.Context, inc oncall.Incident) (oncall.Incident, bool, error)
	UpdateIncident(ctx context.Context, key string, fn func(*oncall.Incident) error) (oncall.Incident, error)
	// ListIncidents returns incidents updated at or after since.
	ListIncidents(ctx context.Context, since time.Time) ([]oncall.Incident, error)
	// JoinBurst records member in scope's sliding window at at and
	// returns the start of the burst it belongs to, or the zero time.
	JoinBurst(ctx context.Context, scope, member string, at time.Time, window time.Duration, limit int) (time.Time, error)
}

// Publisher posts to the incident's Slack thread.
type Publisher interface {
	// PostParent posts the parent message in inc.Channel, an id or a
	// name, and returns the channel's id and the thread's ts: every
	// later call on the thread uses the id.
	PostParent(ctx context.Context, inc oncall.Incident) (channelID, ts string, err error)
	UpdateParent(ctx context.Context, inc oncall.Incident) error
	PostReport(ctx context.Context, inc oncall.Incident, rep oncall.Report) error
	// PostEvent tells the incident's thread what happened to it.
	PostEvent(ctx context.Context, inc oncall.Incident, ev oncall.IncidentEvent) error
}

// ParentFinder finds an incident's parent message in its channel, for a
// job that may have posted it before dying without recording its ts. It
// returns "" when there is none; an error marked retry.Permanent says the
// channel cannot be searched at all.
type ParentFinder interface {
	FindParent(ctx context.Context, inc oncall.Incident) (ts string, err error)
}

// ReportFinder tells whether the triage report of an incident's current
// fire is in its thread already, for a job that may have posted it
// before dying without recording the triage. Errors are as ParentFinder's.
type ReportFinder interface {
	FindReport(ctx context.Context, inc oncall.Incident) (bool, error)
}

// RouteChannels says which channel a route posts to now.
type RouteChannels interface {
	Channel(route string) (channel string, ok bool)
}

// Triager analyses an alert's traces.
type Triager interface {
	Triage(ctx context.Context, req oncall.TriageRequest) (oncall.Report, error)
}

// Options configure a Service.
type Options struct {
	Store     Store     // required
	Publisher Publisher // required
	Triager   Triager   // required
	// Routes gives the channel each route posts to now, so that an
	// incident whose thread was never posted (its channel was wrong, say)
	// goes where the configuration says after a fix, and so does a job
	// queued before it; nil keeps the channel the job was queued with.
	Routes RouteChannels
	// Finder looks a parent up before a job posts it again; default the
	// Publisher when it implements ParentFinder, else none (a crash
	// between posting a parent and recording it then posts it twice).
	Finder ParentFinder
	// Reports looks a triage report up before a job posts it again;
	// default the Publisher when it implements ReportFinder.
	Reports ReportFinder
	// Lease is how long an incident's posting and triage stay with one
	// job without a renewal; the job renews it every third of this while
	// it works, so a dead job's lease lapses within Lease. Default 20s.
	Lease time.Duration
	// A group that fires FlapThreshold times within FlapWindow is
	// flapping: it is not re-triaged and its resolutions and re-fires
	// only update the parent, until it settles. Defaults: 3 in 1h.
	FlapThreshold int
	FlapWindow    time.Duration
	// More than StormThreshold new incidents in one channel within any
	// StormWindow (a sliding window) is a storm: the next ones are
	// listed in one storm thread instead of a thread each, for as long
	// as they keep coming faster than that. Defaults: 5 in 5m; a
	// negative threshold turns the guard off.
	StormThreshold int
	StormWindow    time.Duration
	// StormSummaryEvery spaces the storm thread's summary replies; the
	// parent's table shows every member at once. Default 1m.
	StormSummaryEvery time.Duration
	// StormTriageAt is how many members a storm has when it gets its one
	// triage. Default 3.
	StormTriageAt int
	// Outbox, when set, takes every Slack message the jobs want sent:
	// jobs record it and move on, and RunOutbox sends it. Nil posts from
	// the job, waiting for Slack's pacing.
	Outbox Outbox
	// SendInterval spaces the outbox's messages to one channel: Slack
	// takes about one message per second per channel
	// (api.slack.com/apis/rate-limits, "Posting messages"). Default 1s.
	SendInterval time.Duration
	// OutboxOwner names this process's sender for the channel leases;
	// default a random name. OutboxLease is how long a channel's lease
	// lasts unrenewed (default 15s); OutboxPoll how often other
	// replicas' items are looked for (default 200ms).
	OutboxOwner string
	OutboxLease time.Duration
	OutboxPoll  time.Duration
	// Notes posts notes that can be looked up again; default the
	// Publisher when it implements MarkedNotes.
	Notes MarkedNotes
	// Channels turns channel names into ids for the outbox; default the
	// Publisher when it implements ChannelIDs.
	Channels ChannelIDs
	// StoreLostAt, when set, tells when the store last lost its data
	// (a Redis restarted without persistence): for RecoveryWindow after
	// that, every parent is first looked up in Slack, so that alerts of
	// groups whose threads the store forgot go back to those threads.
	StoreLostAt func() time.Time
	// RecoveryWindow defaults to 24h.
	RecoveryWindow time.Duration
	Requeue        Requeuer // queues the alert job of a re-run asked for in Slack; nil refuses re-runs
	Now            func() time.Time
	Logger         *slog.Logger
}

// Service handles alert jobs.
type Service struct {
	opts Options
	log  *slog.Logger
	wake chan struct{} // an item was put in the outbox

	paceMu sync.Mutex
	paced  map[string]time.Time // channel → when its outbox may send again
}

// New checks opts and returns a Service.
func New(opts Options) (*Service, error) {
	if opts.Store == nil || opts.Publisher == nil || opts.Triager == nil {
		return nil, errors.New("incident: store, publisher and triager are required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Lease <= 0 {
		opts.Lease = 20 * time.Second
	}
	if opts.Finder == nil {
		opts.Finder, _ = opts.Publisher.(ParentFinder)
	}
	if opts.Reports == nil {
		opts.Reports, _ = opts.Publisher.(ReportFinder)
	}
	if opts.FlapThreshold <= 0 {
		opts.FlapThreshold = 3
	}
	if opts.FlapWindow <= 0 {
		opts.FlapWindow = time.Hour
	}
	if opts.StormThreshold == 0 {
		opts.StormThreshold = 5
	}
	if opts.RecoveryWindow <= 0 {
		opts.RecoveryWindow = 24 * time.Hour
	}
	if opts.StormWindow <= 0 {
		opts.StormWindow = 5 * time.Minute
	}
	if opts.StormSummaryEvery <= 0 {
		opts.StormSummaryEvery = time.Minute
	}
	if opts.StormTriageAt <= 0 {
		opts.StormTriageAt = 3
	}
	if opts.SendInterval <= 0 {
		opts.SendInterval = time.Second
	}
	if opts.OutboxOwner == "" {
		opts.OutboxOwner = newOwner()
	}
	if opts.OutboxLease <= 0 {
		opts.OutboxLease = 15 * time.Second
	}
	if opts.OutboxPoll <= 0 {
		opts.OutboxPoll = 200 * time.Millisecond
	}
	if opts.Notes == nil {
		opts.Notes, _ = opts.Publisher.(MarkedNotes)
	}
	if opts.Channels == nil {
		opts.Channels, _ = opts.Publisher.(ChannelIDs)
	}
	return &Service{
		opts: opts, log: opts.Logger.With("component", "incident"),
		wake: make(chan struct{}, 1), paced: map[string]time.Time{},
	}, nil
}

// Handle processes one alert job: a notification of one alert group.
func (s *Service) Handle(ctx context.Context, job oncall.Job) error {
	if job.Kind != oncall.JobAlert {
		return retry.Permanent(fmt.Errorf("incident: unexpected job kind %q", job.Kind))
	}
	if len(job.Alerts) == 0 {
		return retry.Permanent(errors.New("incident: alert job without alerts"))
	}
	key := oncall.IncidentKey(job.Route, job.GroupKey)
	log := s.log.With("incident", key, "job", job.ID)
	if groupResolved(job.Alerts) {
		return s.resolve(ctx, log, key, job)
	}
	return s.fire(ctx, log, key, job)
}

// channel is where the job's incident is posted: the channel its route
// names now, or the one it was queued with.
func (s *Service) channel(job oncall.Job) string {
	if s.opts.Routes != nil {
		if ch, ok := s.opts.Routes.Channel(job.Route); ok && ch != "" {
			return ch
		}
	}
	return job.Channel
}

// groupResolved reports whether every alert of the notification ended.
func groupResolved(alerts []oncall.Alert) bool {
	for _, a := range alerts {
		if !a.Resolved() {
			return false
		}
	}
	return true
}

// representative picks the alert that stands for the group: the earliest
// firing one.
func representative(alerts []oncall.Alert) oncall.Alert {
	best := -1
	for i, a := range alerts {
		if a.Resolved() {
			continue
		}
		if best < 0 || a.StartsAt.Before(alerts[best].StartsAt) {
			best = i
		}
	}
	if best < 0 {
		best = 0
	}
	return alerts[best]
}

func (s *Service) fire(ctx context.Context, log *slog.Logger, key string, job oncall.Job) error {
	now := s.opts.Now().UTC()
	alert := representative(job.Alerts)
	channel := s.channel(job)
	inc, created, err := s.opts.Store.CreateIncident(ctx, oncall.Incident{
		Key:        key,
		Status:     oncall.IncidentOpen,
		Alert:      alert,
		Alerts:     job.Alerts,
		Route:      job.Route,
		Channel:    channel,
		OpenedAt:   now,
		UpdatedAt:  now,
		Fires:      1,
		FireTimes:  []time.Time{now},
		LeaseOwner: job.ID,
		LeaseUntil: now.Add(s.opts.Lease),
	})
	if err != nil {
		return fmt.Errorf("claim incident: %w", err)
	}
	refired := false
	if !created {
		inc, refired, err = s.refresh(ctx, key, job, channel, now)
		if err != nil {
			return err
		}
		if (inc.ThreadTS != "" || inc.Storm != "") && !inc.TriagedAt.IsZero() && !refired {
			if job.Attempts > 0 && inc.ThreadTS != "" {
				// An earlier attempt may have recorded the triage and
				// died before the parent showed it.
				if err := s.updateParent(ctx, inc); err != nil {
					return err
				}
			}
			log.Debug("nothing new for this incident")
			return nil
		}
		var held bool
		if inc, held, err = s.lease(ctx, key, job.ID, now); err != nil {
			return err
		}
		if !held {
			// Another delivery of this group is posting or triaging; its
			// job is retried if it dies, so this one has nothing to do.
			log.Info("incident is being handled by another job", "owner", inc.LeaseOwner)
			return nil
		}
	}
	defer s.release(key, job.ID)
	ctx, stop := s.keepLease(ctx, key, job.ID)
	defer stop()
	if inc.ThreadTS == "" {
		if inc, err = s.checkStorm(ctx, key, inc); err != nil {
			return err
		}
		if inc.Storm != "" {
			return s.joinStorm(ctx, log, key, job, inc)
		}
		if s.outboxOn() && !s.sendNow(ctx, inc.Channel) {
			// The channel is busy: the sender posts the parent ahead of
			// everything else waiting there, and triage goes on
			// meanwhile. In a quiet channel the job posts it at once,
			// so a channel Slack refuses sends the job to the dead
			// letters, naming the fix.
			if err := s.enqueue(ctx, inc.Channel, "new:"+key, prioNewThread+oncall.SeverityRank(inc.Alert.Severity)); err != nil {
				return err
			}
		} else {
			if inc, err = s.postParent(ctx, key, inc); err != nil {
				return err
			}
			log.Info("incident opened", "channel", inc.Channel, "thread", inc.ThreadTS)
		}
	} else if refired {
		if err := s.noteRefire(ctx, inc); err != nil {
			return err
		}
	}
	if !inc.TriagedAt.IsZero() {
		log.Debug("already triaged", "at", inc.TriagedAt)
		return nil
	}
	opts, err := oncall.DecodeTriageOptions(job.Payload)
	if err != nil {
		return retry.Permanent(err)
	}
	return s.triage(ctx, log, key, inc, opts)
}

// refresh records a notification for an incident that already exists: new
// alerts in the group, or a re-fire after resolution (which asks for a new
// triage).
func (s *Service) refresh(ctx context.Context, key string, job oncall.Job, channel string, now time.Time) (oncall.Incident, bool, error) {
	refired := false
	inc, err := s.opts.Store.UpdateIncident(ctx, key, func(inc *oncall.Incident) error {
		refired = false
		if inc.ThreadTS == "" && inc.Storm == "" && channel != "" {
			// Never posted: it goes where its route says now.
			inc.Channel = channel
		}
		if inc.Status == oncall.IncidentResolved && !inc.ResolvedAt.IsZero() &&
			!representative(job.Alerts).StartsAt.After(inc.ResolvedAt) {
			// A firing notification of the episode that already ended,
			// delivered late or processed after its resolution: a
			// re-fire starts after the resolution.
			return nil
		}
		inc.Alerts = job.Alerts
		if inc.Status == oncall.IncidentResolved {
			refired = true
			inc.Status = oncall.IncidentOpen
			inc.Alert = representative(job.Alerts)
			inc.ResolvedAt = time.Time{}
			inc.AckedAt, inc.AckedBy = time.Time{}, ""
			inc.Fires++
			inc.UpdatedAt = now
			inc.FireTimes = recent(append(inc.FireTimes, now), now.Add(-s.opts.FlapWindow))
			inc.Flapping = len(inc.FireTimes) >= s.opts.FlapThreshold
			if !inc.Flapping {
				inc.TriagedAt = time.Time{} // triage again
			}
		}
		return nil
	})
	if err != nil {
		return inc, false, fmt.Errorf("update incident: %w", err)
	}
	return inc, refired, nil
}

func (s *Service) triage(ctx context.Context, log *slog.Logger, key string, inc oncall.Incident, opts oncall.TriageOptions) error {
	rep, err := s.opts.Triager.Triage(ctx, oncall.TriageRequest{Alert: inc.Alert, Route: inc.Route, Options: opts})
	if err != nil {
		return fmt.Errorf("triage: %w", err)
	}
	if s.outboxOn() {
		// Queued before the triage is recorded, so a crash between the
		// two leaves the job to run again rather than a report unsent;
		// the sender holds it until the report is recorded.
		if err := s.enqueue(ctx, inc.Channel, fmt.Sprintf("report:%s:%d", key, inc.Fires), prioReport+oncall.SeverityRank(inc.Alert.Severity)); err != nil {
			return err
		}
	} else if err := s.postReport(ctx, log, key, inc, rep); err != nil {
		return err
	}
	now := s.opts.Now().UTC()
	s.keepInvestigation(ctx, log, key, rep, now)
	inc, err = s.opts.Store.UpdateIncident(ctx, key, func(inc *oncall.Incident) error {
		inc.TriagedAt = now
		inc.UpdatedAt = now
		r := rep
		inc.Report = &r
		inc.Diagnosis = rep.Diagnosis
		inc.Headline = headline(rep)
		return nil
	})
	if err != nil {
		return fmt.Errorf("record triage: %w", err)
	}
	if err := s.updateParent(ctx, inc); err != nil {
		return err
	}
	log.Info("incident triaged", "clusters", len(rep.Clusters), "traces", rep.TracesExamined)
	return nil
}

// headline is the one line the parent message shows after triage.
func headline(rep oncall.Report) string {
	if rep.Diagnosis != nil && rep.Diagnosis.Summary != "" {
		return firstSentence(rep.Diagnosis.Summary, 240)
	}
	if len(rep.Clusters) > 0 {
		c := rep.Clusters[0]
		return fmt.Sprintf("%s %s: %s", c.SpanKind, c.SpanName, c.Error)
	}
	return "No failing traces found for this alert."
}

func firstSentence(s string, max int) string {
	r := []rune(s)
	for i, c := range r {
		if (c == '.' || c == '\n') && i > 20 {
			r = r[:i+1]
			break
		}
	}
	if len(r) > max {
		r = append(r[:max-1], '…')
	}
	return string(r)
}

func (s *Service) resolve(ctx context.Context, log *slog.Logger, key string, job oncall.Job) error {
	now := s.opts.Now().UTC()
	changed := false
	inc, err := s.opts.Store.UpdateIncident(ctx, key, func(inc *oncall.Incident) error {
		changed = false
		if inc.Status == oncall.IncidentResolved {
			return nil
		}
		changed = true
		inc.Status = oncall.IncidentResolved
		inc.Alerts = job.Alerts
		inc.ResolvedAt = endedAt(job.Alerts, now)
		inc.UpdatedAt = now
		return nil
	})
	if errors.Is(err, oncall.ErrNotFound) {
		log.Info("resolution of an unknown incident ignored")
		return nil
	}
	if err != nil {
		return fmt.Errorf("resolve incident: %w", err)
	}
	if !changed {
		return nil
	}
	if inc.ThreadTS == "" {
		if inc.Storm != "" {
			// The storm's table shows it; no reply.
			return s.stormMemberChanged(ctx, inc, job.ID)
		}
		if !s.outboxOn() || !inc.StormChecked {
			// The firing job has not posted yet: it renders the
			// resolved state when it does.
			return nil
		}
	}
	if err := s.updateParent(ctx, inc); err != nil {
		return err
	}
	if inc.Flapping {
		return nil // the parent shows it; no note per flap
	}
	if err := s.note(ctx, inc, "resolved"); err != nil {
		return err
	}
	log.Info("incident resolved")
	return nil
}

// endedAt is when the last alert of the group ended, or now.
func endedAt(alerts []oncall.Alert, now time.Time) time.Time {
	var end time.Time
	for _, a := range alerts {
		if a.EndsAt.After(end) {
			end = a.EndsAt
		}
	}
	if end.IsZero() || end.After(now) {
		return now
	}
	return end
}
