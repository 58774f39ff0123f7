package digest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/digest/view"
	"github.com/oncall-copilot/oncall-copilot/redact"
)

// The fixture's digest fires on Tue 3 Mar 2026 at 09:00 in Paris (08:00
// UTC) and covers the day before.
var (
	paris, _    = time.LoadLocation("Europe/Paris")
	fixtureFire = time.Date(2026, 3, 3, 9, 0, 0, 0, paris)
	fixtureFrom = fixtureFire.Add(-24 * time.Hour)
)

func at(day, hour, minute int) time.Time {
	return time.Date(2026, 3, day, hour, minute, 0, 0, time.UTC)
}

// memIncidents is an incident store in memory.
type memIncidents struct {
	incs []oncall.Incident
	err  error
}

func (m *memIncidents) ListIncidents(ctx context.Context, since time.Time) ([]oncall.Incident, error) {
	if m.err != nil {
		return nil, m.err
	}
	var out []oncall.Incident
	for _, inc := range m.incs {
		if !inc.UpdatedAt.Before(since) {
			out = append(out, inc)
		}
	}
	return out, nil
}

// memTraces is a trace source over a slice, filtering by start time.
type memTraces struct {
	traces []oncall.Trace
	err    error
	calls  []oncall.TraceQuery
}

func (m *memTraces) Search(ctx context.Context, q oncall.TraceQuery) (oncall.TraceSearchResult, error) {
	m.calls = append(m.calls, q)
	if m.err != nil {
		return oncall.TraceSearchResult{}, m.err
	}
	var res oncall.TraceSearchResult
	for _, t := range m.traces {
		if !t.Start.Before(q.Start) && t.Start.Before(q.End) {
			res.Matched++
			if q.Limit == 0 || len(res.Traces) < q.Limit {
				res.Traces = append(res.Traces, t)
			}
		}
	}
	return res, nil
}

// agentRun is one agent run: a root agent span and a tool and an llm span
// under it. failure, when set, fails the span named by failSpan ("tool"
// or "llm") and the root.
func agentRun(id, agent string, start time.Time, failSpan, failure string) oncall.Trace {
	root := oncall.Span{TraceID: id, SpanID: id + "-r", Name: agent, Kind: oncall.KindAgent, Service: agent + "-svc",
		Start: start, End: start.Add(4 * time.Second), Status: oncall.StatusOK, Output: "answered",
		Attributes: map[string]string{"gen_ai.agent.name": agent}}
	llm := oncall.Span{TraceID: id, SpanID: id + "-l", ParentID: root.SpanID, Name: "chat", Kind: oncall.KindLLM,
		Start: start.Add(100 * time.Millisecond), End: start.Add(time.Second), Status: oncall.StatusOK, Model: "gpt-4o-mini"}
	tool := oncall.Span{TraceID: id, SpanID: id + "-t", ParentID: root.SpanID, Name: "tool call", Kind: oncall.KindTool,
		ToolName: "lookup", Start: start.Add(time.Second), End: start.Add(2 * time.Second), Status: oncall.StatusOK}
	if failure != "" {
		root.Status, root.StatusMessage, root.Output = oncall.StatusError, failure, ""
		if failSpan == "llm" {
			llm.Status, llm.StatusMessage = oncall.StatusError, failure
		} else {
			tool.Status, tool.StatusMessage = oncall.StatusError, failure
		}
	}
	t := oncall.Trace{TraceID: id, Spans: []oncall.Span{root, llm, tool}, Attributes: map[string]string{"gen_ai.agent.name": agent}}
	t.Finish()
	return t
}

// fixtureTraces are two days of runs of two agents. In the digest's day
// the support agent's tool starts failing on a database error it never
// had before, on top of its usual model rate limits; the billing agent
// fails as often as the day before.
func fixtureTraces() []oncall.Trace {
	var out []oncall.Trace
	day := func(from time.Time, tag string, support map[int][2]string, billing map[int][2]string) {
		for i := range 30 {
			f := support[i]
			out = append(out, agentRun(fmt.Sprintf("%s-sup-%02d", tag, i), "support-agent", from.Add(time.Duration(i*47)*time.Minute), f[0], f[1]))
		}
		for i := range 20 {
			f := billing[i]
			out = append(out, agentRun(fmt.Sprintf("%s-bil-%02d", tag, i), "billing-agent", from.Add(time.Duration(30+i*71)*time.Minute), f[0], f[1]))
		}
	}
	db := [2]string{"tool", "pq: connection refused to 10.0.0.7:5432"}
	rl := [2]string{"llm", "429 rate limit exceeded, retry after 20s"}
	inv := [2]string{"tool", "invoice INV-88231 not found"}
	day(fixtureFrom.Add(-24*time.Hour), "prev",
		map[int][2]string{3: rl, 11: rl, 19: rl},
		map[int][2]string{5: inv})
	day(fixtureFrom, "cur",
		map[int][2]string{2: rl, 6: db, 8: db, 9: db, 13: db, 14: db, 15: db, 22: db, 23: db, 27: rl},
		map[int][2]string{12: inv})
	return out
}

// fixtureIncidents are the incidents around the digest's day.
func fixtureIncidents() []oncall.Incident {
	alert := func(name, sev string) oncall.Alert {
		return oncall.Alert{Name: name, Severity: sev, Status: oncall.AlertFiring}
	}
	usage := func(p, c int, cost float64) *oncall.Report {
		return &oncall.Report{Usage: oncall.Usage{PromptTokens: p, CompletionTokens: c, Cost: cost, Calls: 1}}
	}
	return []oncall.Incident{
		{ // opened, acked and resolved in the window
			Key: "inc-a", Status: oncall.IncidentResolved, Alert: alert("SupportAgentErrorRate", "critical"),
			OpenedAt: at(2, 10, 15), AckedAt: at(2, 10, 19), ResolvedAt: at(2, 11, 40), UpdatedAt: at(2, 11, 40),
			TriagedAt: at(2, 10, 16), Report: usage(6200, 800, 0.0041), Fires: 3,
			Feedback: []oncall.Feedback{{User: "U1", Helpful: true, At: at(2, 10, 30)}},
		},
		{ // opened and acked in the window, still open
			Key: "inc-b", Status: oncall.IncidentAcknowledged, Alert: alert("SupportAgentErrorRate", "critical"),
			OpenedAt: at(2, 22, 5), AckedAt: at(2, 22, 17), UpdatedAt: at(3, 1, 0),
			TriagedAt: at(2, 22, 6), Report: usage(5400, 700, 0.0034), Fires: 4,
			Feedback: []oncall.Feedback{{User: "U2", Helpful: false, Reason: "missed the database", At: at(2, 22, 40)}},
		},
		{ // opened the day before, resolved in the window
			Key: "inc-c", Status: oncall.IncidentResolved, Alert: alert("BillingLatencyHigh", "warning"),
			OpenedAt: at(1, 20, 0), ResolvedAt: at(2, 9, 30), UpdatedAt: at(2, 9, 30), Fires: 1,
		},
		{ // opened days ago, never updated since, still open
			Key: "inc-d", Status: oncall.IncidentOpen, Alert: alert("EvalScoreDrop", ""),
			OpenedAt: time.Date(2026, 2, 27, 14, 0, 0, 0, time.UTC), UpdatedAt: time.Date(2026, 2, 27, 14, 0, 0, 0, time.UTC), Fires: 1,
		},
		{ // resolved before the window
			Key: "inc-e", Status: oncall.IncidentResolved, Alert: alert("SupportAgentErrorRate", "critical"),
			OpenedAt: at(1, 9, 0), ResolvedAt: at(1, 10, 0), UpdatedAt: at(1, 10, 0), Fires: 2,
			TriagedAt: at(1, 9, 1), Report: usage(9000, 900, 0.01),
		},
		{ // opened after the window
			Key: "inc-f", Status: oncall.IncidentOpen, Alert: alert("LateAlert", "critical"),
			OpenedAt: at(3, 8, 30), UpdatedAt: at(3, 8, 30), Fires: 1,
		},
	}
}

func newRedactor(t testing.TB) *redact.Redactor {
	t.Helper()
	r, err := redact.New(redact.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// fixtureBuilder builds digests over the fixture, with model as the
// narrative's model (nil for none).
func fixtureBuilder(t testing.TB, model Model) *Builder {
	t.Helper()
	b, err := NewBuilder(BuilderOptions{
		Store: &memIncidents{incs: fixtureIncidents()}, Source: &memTraces{traces: fixtureTraces()},
		SourceName: "jsonl", Redactor: newRedactor(t), Model: model, ModelName: "gpt-4o-mini",
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fixtureDigest(t testing.TB, model Model) Digest {
	t.Helper()
	d, err := fixtureBuilder(t, model).Build(t.Context(), Request{Name: "support-daily", Start: fixtureFrom, End: fixtureFire, Location: paris})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// fakeModel answers every chat with reply, or fails with err.
type fakeModel struct {
	mu    sync.Mutex
	reply string
	err   error
	reqs  []oncall.ChatRequest
}

func (m *fakeModel) Chat(ctx context.Context, req oncall.ChatRequest) (oncall.ChatResponse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reqs = append(m.reqs, req)
	if m.err != nil {
		return oncall.ChatResponse{}, m.err
	}
	return oncall.ChatResponse{Content: m.reply, Model: "gpt-4o-mini-2024-07-18",
		Usage: oncall.Usage{PromptTokens: 900, CompletionTokens: 60, Cost: 0.0002, Calls: 1}}, nil
}

// memOnce is an in-memory once-store on an injected clock.
type memOnce struct {
	mu     sync.Mutex
	now    func() time.Time
	keys   map[string]time.Time // key → expiry
	err    error
	forgot []string
}

func newMemOnce(now func() time.Time) *memOnce {
	return &memOnce{now: now, keys: map[string]time.Time{}}
}

func (m *memOnce) Once(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return false, m.err
	}
	if exp, ok := m.keys[key]; ok && exp.After(m.now()) {
		return false, nil
	}
	m.keys[key] = m.now().Add(ttl)
	return true, nil
}

func (m *memOnce) Forget(ctx context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.keys, key)
	m.forgot = append(m.forgot, key)
	return nil
}

// post is one digest a recordingPoster received.
type post struct {
	Channel string
	Text    string // the digest's headline
	Digest  Digest
	Chart   []byte
	Alt     string
	At      time.Time
}

// recordingPoster records posts; err, when set, fails them.
type recordingPoster struct {
	mu    sync.Mutex
	now   func() time.Time
	posts []post
	err   error
}

func (p *recordingPoster) SendDigest(ctx context.Context, channel string, d Digest, chart []byte, alt string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return p.err
	}
	var now time.Time
	if p.now != nil {
		now = p.now()
	}
	p.posts = append(p.posts, post{Channel: channel, Text: view.Headline(d), Digest: d, Chart: chart, Alt: alt, At: now})
	return nil
}

func (p *recordingPoster) all() []post {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.posts)
}

var errBoom = errors.New("boom")
