package incidentpage

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/alerts"
	"github.com/oncall-copilot/oncall-copilot/bot"
	"github.com/oncall-copilot/oncall-copilot/eval/scenario"
	"github.com/oncall-copilot/oncall-copilot/store/boltdb"
	"github.com/oncall-copilot/oncall-copilot/tracesource/jsonl"
	"github.com/oncall-copilot/oncall-copilot/triage"
)

// manyTraces is a trace store holding a bundled scenario's runs copied
// until its incident window holds at least n of them: each copy a new
// trace id, its spans shifted by a few seconds, so the triage reads n
// runs in the window and as many in the baseline.
type manyTraces struct{ traces []oncall.Trace }

func (m *manyTraces) Search(_ context.Context, q oncall.TraceQuery) (oncall.TraceSearchResult, error) {
	var res oncall.TraceSearchResult
	for _, t := range m.traces {
		if t.Start.Before(q.Start) || !t.Start.Before(q.End) || !t.MatchesFilters(q.Filters) {
			continue
		}
		res.Matched++
		if q.Limit == 0 || len(res.Traces) < q.Limit {
			res.Traces = append(res.Traces, t)
		}
	}
	return res, nil
}

func (m *manyTraces) Get(_ context.Context, id string) (oncall.Trace, error) {
	for _, t := range m.traces {
		if t.TraceID == id {
			return t, nil
		}
	}
	return oncall.Trace{}, fmt.Errorf("trace %s: %w", id, oncall.ErrNotFound)
}

// bigIncident triages a bundled scenario blown up to n runs in the
// incident window and returns the incident and its investigation.
func bigIncident(tb testing.TB, name string, n int) (oncall.Incident, *oncall.Investigation) {
	tb.Helper()
	sc, err := scenario.Load(filepath.Join("..", "examples", "scenarios", name))
	if err != nil {
		tb.Fatal(err)
	}
	am, err := alerts.DecodeAlertmanager(sc.Alert, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	if err != nil {
		tb.Fatal(err)
	}
	alert := am.Alerts[0]
	src, err := jsonl.New(jsonl.Options{Path: sc.TracesPath})
	if err != nil {
		tb.Fatal(err)
	}
	big := &manyTraces{}
	svc, err := triage.NewService(triage.ServiceOptions{
		Sources:   map[string]triage.TraceSource{"jsonl": big},
		Redactor:  redactor(tb),
		LabelMap:  map[string]string{"agent": "gen_ai.agent.name", "service": "service.name"},
		MaxTraces: 20 * n,
	})
	if err != nil {
		tb.Fatal(err)
	}
	// The windows the triage reads, so every copy stays in its
	// original's window.
	incWin, baseWin := svc.Windows(alert, oncall.TriageOptions{})
	all, err := src.Search(context.Background(), oncall.TraceQuery{Start: baseWin.Start, End: incWin.End, Limit: 100000})
	if err != nil {
		tb.Fatal(err)
	}
	inWindow := 0
	for _, t := range all.Traces {
		if incWin.Contains(t.Start) {
			inWindow++
		}
	}
	if inWindow == 0 {
		tb.Fatalf("scenario %s has no run in the incident window", name)
	}
	// The store holds several services; the alert's are a part of the
	// runs, so copy until the triage selects n of them.
	copies := (n + inWindow - 1) / inWindow
	var rep oncall.Report
	for range 3 {
		big.traces = big.traces[:0]
		for k := range copies {
			for _, t := range all.Traces {
				c := t
				c.TraceID = fmt.Sprintf("%s%02x", t.TraceID[:len(t.TraceID)-2], k)
				shift := time.Duration(k%7) * time.Second
				if s := t.Start.Add(shift); incWin.Contains(t.Start) != incWin.Contains(s) || baseWin.Contains(t.Start) != baseWin.Contains(s) {
					shift = 0
				}
				c.Start, c.End = t.Start.Add(shift), t.End.Add(shift)
				c.Spans = make([]oncall.Span, len(t.Spans))
				for i, s := range t.Spans {
					s.TraceID = c.TraceID
					s.Start, s.End = s.Start.Add(shift), s.End.Add(shift)
					c.Spans[i] = s
				}
				big.traces = append(big.traces, c)
			}
		}
		rep, err = svc.Triage(context.Background(), oncall.TriageRequest{Alert: alert})
		if err != nil {
			tb.Fatal(err)
		}
		if rep.TracesExamined >= n {
			break
		}
		copies = copies*n/max(rep.TracesExamined, 1) + 1
	}
	if rep.TracesExamined < n {
		tb.Fatalf("the triage read %d runs in the window, want at least %d", rep.TracesExamined, n)
	}
	opened := alert.StartsAt.Add(20 * time.Second)
	inc := oncall.Incident{
		Key: oncall.IncidentKey("agents", alert.GroupKey), Status: oncall.IncidentOpen, Alert: alert, Channel: "C0123456789",
		ThreadTS: "1741000000.000100", OpenedAt: opened, UpdatedAt: opened, TriagedAt: opened.Add(time.Minute), Fires: 1,
		Report: &rep, Diagnosis: rep.Diagnosis,
	}
	inv := *rep.Investigation
	return inc, &inv
}

// boltWith opens an embedded store holding the incident and its
// investigation, as serve keeps them.
func boltWith(tb testing.TB, inc oncall.Incident, inv *oncall.Investigation) *boltdb.Store {
	tb.Helper()
	st, err := boltdb.Open(boltdb.Options{Path: filepath.Join(tb.TempDir(), "oncall.db")})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	ctx := context.Background()
	if _, _, err := st.CreateIncident(ctx, inc); err != nil {
		tb.Fatal(err)
	}
	if err := st.PutInvestigation(ctx, inc.Key, *inv); err != nil {
		tb.Fatal(err)
	}
	return st
}

// The page of an incident with 500 runs in its window, from the largest
// bundled scenario, stays under 2 MB.
func TestPageOf500TracesStaysSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("triages 1000 traces")
	}
	inc, inv := bigIncident(t, "upstream-5xx-3", 500)
	h, err := New(Options{Store: boltWith(t, inc, inv), Auth: AuthProxy, Redact: redactor(t).String})
	if err != nil {
		t.Fatal(err)
	}
	page, err := h.Render(context.Background(), inc.Key)
	if err != nil {
		t.Fatal(err)
	}
	if len(page) >= 2<<20 {
		t.Errorf("the page is %d bytes, want under 2 MB", len(page))
	}
	t.Logf("%d runs in the window, %d kept traces, page %d bytes", inc.Report.TracesExamined, len(inv.Traces), len(page))

	fatten(inv)
	h, err = New(Options{Store: boltWith(t, inc, inv), Auth: AuthProxy, Redact: redactor(t).String})
	if err != nil {
		t.Fatal(err)
	}
	page, err = h.Render(context.Background(), inc.Key)
	if err != nil {
		t.Fatal(err)
	}
	if len(page) >= 2<<20 {
		t.Errorf("the page of the largest investigation is %d bytes, want under 2 MB", len(page))
	}
	t.Logf("largest investigation: page %d bytes", len(page))
}

// fatten fills an investigation to the most a triage keeps (its caps in
// triage/investigation.go): every kept trace at 200 spans, excerpts of
// 1000 characters, in text that escaping makes longer, until 1 MiB of
// span text.
func fatten(inv *oncall.Investigation) {
	long := strings.Repeat(`<"x">`, 200)
	budget := 1 << 20
	for i := range inv.Traces {
		tr := &inv.Traces[i]
		for len(tr.Spans) < 200 {
			s := tr.Spans[len(tr.Spans)-1]
			s.SpanID = fmt.Sprintf("pad%013x", len(tr.Spans))
			tr.Spans = append(tr.Spans, s)
		}
		for j := range tr.Spans {
			s := &tr.Spans[j]
			s.Status = oncall.StatusError
			if budget > 0 {
				s.Input, s.Output, s.ToolArgs, s.StatusMessage = long, long, long, long
				budget -= 4 * len(long)
			}
		}
	}
}

// BenchmarkIncidentPageLargestInvestigation is the same page with the
// investigation filled to its caps.
func BenchmarkIncidentPageLargestInvestigation(b *testing.B) {
	inc, inv := bigIncident(b, "upstream-5xx-3", 500)
	fatten(inv)
	benchPage(b, inc, inv)
}

// BenchmarkIncidentPage measures the server time of the page of an
// incident with 500 runs in its window: reading the incident and its
// investigation from the embedded store and rendering the HTML.
func BenchmarkIncidentPage(b *testing.B) {
	inc, inv := bigIncident(b, "upstream-5xx-3", 500)
	benchPage(b, inc, inv)
}

func benchPage(b *testing.B, inc oncall.Incident, inv *oncall.Investigation) {
	h, err := New(Options{Store: boltWith(b, inc, inv), Auth: AuthProxy, Redact: redactor(b).String})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var size int
	b.ReportAllocs()
	for b.Loop() {
		page, err := h.Render(ctx, inc.Key)
		if err != nil {
			b.Fatal(err)
		}
		size = len(page)
	}
	b.ReportMetric(float64(size), "html-bytes")
}

// BenchmarkSlackReportOfSameIncident is the baseline: the same incident,
// read from the same store, rendered as the Slack triage reply.
func BenchmarkSlackReportOfSameIncident(b *testing.B) {
	inc, inv := bigIncident(b, "upstream-5xx-3", 500)
	st := boltWith(b, inc, inv)
	red := redactor(b).String
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		got, err := st.GetIncident(ctx, inc.Key)
		if err != nil {
			b.Fatal(err)
		}
		if msgs := bot.RenderReport(got, *got.Report, bot.RenderOptions{Redact: red}); len(msgs) == 0 {
			b.Fatal("no report")
		}
	}
}
