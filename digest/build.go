package digest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/redact"
)

// IncidentLister is what a digest needs of the incident store.
type IncidentLister interface {
	// ListIncidents returns the incidents updated at or after since.
	ListIncidents(ctx context.Context, since time.Time) ([]oncall.Incident, error)
}

// TraceSource is what a digest needs of a trace store.
type TraceSource interface {
	Search(ctx context.Context, q oncall.TraceQuery) (oncall.TraceSearchResult, error)
}

// Model writes the optional narrative.
type Model interface {
	Chat(ctx context.Context, req oncall.ChatRequest) (oncall.ChatResponse, error)
}

// BuilderOptions configure a Builder.
type BuilderOptions struct {
	Store    IncidentLister   // required
	Redactor *redact.Redactor // required: hides secrets in trace and alert text
	// Source gives the fleet's traces; nil leaves the fleet section out
	// and says so.
	Source     TraceSource
	SourceName string // for what the digest says is missing, e.g. "jsonl"
	// Model writes a short narrative; nil skips it.
	Model     Model
	ModelName string
	// MaxTraces caps the traces read per window; default 2000.
	MaxTraces int
	// OpenLookback is how long before the window an incident may have
	// been opened and still be counted as open, when it was not updated
	// since; default 7 days.
	OpenLookback time.Duration
	TopClusters  int // default 5
	TopAgents    int // default 5
	TopAlerts    int // default 5
	Logger       *slog.Logger
}

// Builder computes digests. It is safe for concurrent use.
type Builder struct {
	opts BuilderOptions
	log  *slog.Logger
}

// NewBuilder checks opts and returns a Builder.
func NewBuilder(opts BuilderOptions) (*Builder, error) {
	var errs []error
	if opts.Store == nil {
		errs = append(errs, errors.New("an incident store is required"))
	}
	if opts.Redactor == nil {
		errs = append(errs, errors.New("a redactor is required"))
	}
	for _, n := range []struct {
		name string
		v    int
	}{{"max traces", opts.MaxTraces}, {"top clusters", opts.TopClusters}, {"top agents", opts.TopAgents}, {"top alerts", opts.TopAlerts}} {
		if n.v < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative", n.name))
		}
	}
	if opts.OpenLookback < 0 {
		errs = append(errs, errors.New("open lookback must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("digest builder: %w", err)
	}
	opts.MaxTraces = cmp.Or(opts.MaxTraces, 2000)
	opts.OpenLookback = cmp.Or(opts.OpenLookback, 7*24*time.Hour)
	opts.TopClusters = cmp.Or(opts.TopClusters, 5)
	opts.TopAgents = cmp.Or(opts.TopAgents, 5)
	opts.TopAlerts = cmp.Or(opts.TopAlerts, 5)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Builder{opts: opts, log: opts.Logger.With("component", "digest")}, nil
}

// Build computes the digest of req's window. It fails only when the
// incidents cannot be read; an unreadable trace source or an unavailable
// model leave their part out and say so in Missing. The same stored
// incidents and traces always give the same digest, narrative aside.
func (b *Builder) Build(ctx context.Context, req Request) (Digest, error) {
	if !req.End.After(req.Start) {
		return Digest{}, fmt.Errorf("build digest: window end %v is not after its start %v", req.End, req.Start)
	}
	loc := req.Location
	if loc == nil {
		loc = time.UTC
	}
	d := Digest{Name: req.Name, Start: req.Start.In(loc), End: req.End.In(loc), Zone: loc.String(), Fleet: FleetStats{Clusters: []oncall.Cluster{}, Agents: []AgentRate{}}}
	since := req.Start.Add(-b.opts.OpenLookback)
	incs, err := b.opts.Store.ListIncidents(ctx, since)
	if err != nil {
		return Digest{}, fmt.Errorf("build digest: list incidents since %s: %w", since.UTC().Format(time.RFC3339), err)
	}
	d.Buckets = buckets(d.Start, d.End)
	d.Incidents = incidentStats(incs, req.Start, req.End, b.opts.TopAlerts)
	d.Copilot = copilotStats(incs, req.Start, req.End)
	for _, inc := range incs {
		if inWindow(inc.OpenedAt, req.Start, req.End) {
			d.Buckets[bucketOf(d.Buckets, inc.OpenedAt)].Opened++
		}
	}

	session := b.opts.Redactor.Session()
	fleetRead := true // a fleet that could not be read is not quiet
	if b.opts.Source == nil {
		d.Missing = append(d.Missing, "agent runs: no trace source configured")
	} else {
		fleetRead = b.fleet(ctx, &d, req)
		if ctx.Err() != nil {
			return Digest{}, fmt.Errorf("build digest: %w", ctx.Err())
		}
	}
	redactDigest(&d, session)
	d.Quiet = d.Incidents.Opened == 0 && d.Incidents.Resolved == 0 && d.Incidents.StillOpen == 0 && d.Fleet.NewClusters == 0 && fleetRead

	if b.opts.Model != nil {
		n, err := b.narrative(ctx, d, session)
		switch {
		case err != nil && ctx.Err() != nil:
			return Digest{}, fmt.Errorf("build digest: %w", ctx.Err())
		case err != nil:
			b.log.Warn("digest narrative failed", "digest", req.Name, "err", err)
			d.Missing = append(d.Missing, "narrative: the model did not answer")
		default:
			d.Narrative = n
		}
	}
	return d, nil
}

// inWindow reports whether t falls in [start, end).
func inWindow(t, start, end time.Time) bool {
	return !t.IsZero() && !t.Before(start) && t.Before(end)
}

// incidentStats counts the incidents of [start, end).
func incidentStats(incs []oncall.Incident, start, end time.Time, topAlerts int) IncidentStats {
	var st IncidentStats
	var ack, res []time.Duration
	noise := map[string]*AlertNoise{}
	for _, inc := range incs {
		opened := inWindow(inc.OpenedAt, start, end)
		resolved := inWindow(inc.ResolvedAt, start, end)
		if opened {
			st.Opened++
		}
		if resolved {
			st.Resolved++
			if d := inc.ResolvedAt.Sub(inc.OpenedAt); d >= 0 {
				res = append(res, d)
			}
		}
		if inWindow(inc.AckedAt, start, end) {
			if d := inc.AckedAt.Sub(inc.OpenedAt); d >= 0 {
				ack = append(ack, d)
			}
		}
		openAtEnd := inc.OpenedAt.Before(end) && (inc.ResolvedAt.IsZero() || !inc.ResolvedAt.Before(end))
		if openAtEnd {
			st.StillOpen++
			st.Open = append(st.Open, OpenIncident{
				Key: inc.Key, Name: incidentName(inc), Severity: inc.Alert.Severity,
				OpenedAt: inc.OpenedAt, Acked: !inc.AckedAt.IsZero() && inc.AckedAt.Before(end),
			})
		}
		// An incident is part of the window's noise when it was alive in it.
		if inc.OpenedAt.Before(end) && (inc.ResolvedAt.IsZero() || !inc.ResolvedAt.Before(start)) && !inc.UpdatedAt.Before(start) {
			name := incidentName(inc)
			n := noise[name]
			if n == nil {
				n = &AlertNoise{Name: name}
				noise[name] = n
			}
			n.Incidents++
			n.Fires += max(inc.Fires, 1)
		}
	}
	st.TimeToAck, st.TimeToResolve = summarize(ack), summarize(res)
	for _, n := range noise {
		st.Noisiest = append(st.Noisiest, *n)
	}
	slices.SortFunc(st.Noisiest, func(a, b AlertNoise) int {
		return cmp.Or(cmp.Compare(b.Fires, a.Fires), cmp.Compare(b.Incidents, a.Incidents), cmp.Compare(a.Name, b.Name))
	})
	// One incident firing once is not noise worth a line of its own.
	st.Noisiest = slices.DeleteFunc(st.Noisiest, func(n AlertNoise) bool { return n.Fires < 2 })
	if len(st.Noisiest) > topAlerts {
		st.Noisiest = st.Noisiest[:topAlerts]
	}
	slices.SortFunc(st.Open, func(a, b OpenIncident) int {
		return cmp.Or(a.OpenedAt.Compare(b.OpenedAt), cmp.Compare(a.Key, b.Key))
	})
	if len(st.Open) > maxOpenListed {
		st.Open = st.Open[:maxOpenListed]
	}
	return st
}

// maxOpenListed bounds the open incidents a digest names.
const maxOpenListed = 5

func incidentName(inc oncall.Incident) string {
	return cmp.Or(inc.Alert.Name, inc.Headline, inc.Key)
}

// summarize returns the count, median and maximum of ds.
func summarize(ds []time.Duration) Durations {
	if len(ds) == 0 {
		return Durations{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Durations{Count: len(s), Median: med, Max: s[len(s)-1]}
}

// copilotStats sums the model usage of the triages of [start, end) and the
// feedback given in it. An incident keeps only its last report, so a
// re-triaged incident counts once, with its last triage's usage.
func copilotStats(incs []oncall.Incident, start, end time.Time) CopilotStats {
	var st CopilotStats
	for _, inc := range incs {
		if inWindow(inc.TriagedAt, start, end) {
			st.Triages++
			if inc.Report != nil {
				st.Usage = st.Usage.Add(inc.Report.Usage)
			}
		}
		for _, f := range inc.Feedback {
			if !inWindow(f.At, start, end) {
				continue
			}
			if f.Helpful {
				st.Helpful++
			} else {
				st.Unhelpful++
			}
		}
	}
	return st
}

// buckets divides [start, end) for the chart: hours up to two days, then
// whole numbers of hours so there are at most 48 buckets.
func buckets(start, end time.Time) []Bucket {
	size := time.Hour
	if w := end.Sub(start); w > 48*time.Hour {
		size = ((w/48 + time.Hour - 1) / time.Hour) * time.Hour
	}
	var out []Bucket
	for t := start; t.Before(end); t = t.Add(size) {
		out = append(out, Bucket{Start: t})
	}
	return out
}

// bucketOf returns the index of the bucket t falls in; t must be in the
// window.
func bucketOf(bs []Bucket, t time.Time) int {
	i, found := slices.BinarySearchFunc(bs, t, func(b Bucket, t time.Time) int { return b.Start.Compare(t) })
	if found {
		return i
	}
	return max(i-1, 0)
}

// redactDigest passes every text of d that came from alerts or traces
// through the digest's redaction session.
func redactDigest(d *Digest, s *redact.Session) {
	for i := range d.Incidents.Noisiest {
		d.Incidents.Noisiest[i].Name = s.String(d.Incidents.Noisiest[i].Name)
	}
	for i := range d.Incidents.Open {
		o := &d.Incidents.Open[i]
		o.Name, o.Severity = s.String(o.Name), s.String(o.Severity)
	}
	for i := range d.Fleet.Clusters {
		c := &d.Fleet.Clusters[i]
		c.Signature, c.Error, c.Detail = s.String(c.Signature), s.String(c.Error), s.String(c.Detail)
		c.SpanName, c.ToolName = s.String(c.SpanName), s.String(c.ToolName)
	}
	for i := range d.Fleet.Agents {
		d.Fleet.Agents[i].Agent = s.String(d.Fleet.Agents[i].Agent)
	}
	for i := range d.Missing {
		d.Missing[i] = s.String(d.Missing[i])
	}
}
