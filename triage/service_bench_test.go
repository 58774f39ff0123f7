package triage

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/analysis"
	"github.com/oncall-copilot/oncall-copilot/redact"
)

// memorySource is a trace store without latency: it answers from a slice.
type memorySource struct{ traces []oncall.Trace }

func (m memorySource) Search(_ context.Context, q oncall.TraceQuery) (oncall.TraceSearchResult, error) {
	var res oncall.TraceSearchResult
	for _, t := range m.traces {
		if !t.Start.Before(q.Start) && t.Start.Before(q.End) {
			res.Traces = append(res.Traces, t)
		}
	}
	res.Matched = len(res.Traces)
	return res, nil
}

func (m memorySource) Get(_ context.Context, id string) (oncall.Trace, error) {
	return oncall.Trace{}, fmt.Errorf("trace %s: %w", id, oncall.ErrNotFound)
}

// instantModel answers at once with a grounded diagnosis citing a trace.
type instantModel struct{ answer string }

func (m instantModel) Chat(context.Context, oncall.ChatRequest) (oncall.ChatResponse, error) {
	return oncall.ChatResponse{Content: m.answer, Model: "gpt-4o-mini", Usage: oncall.Usage{PromptTokens: 8000, CompletionTokens: 400, Calls: 1}}, nil
}

// benchService is a triage service over n traces of about spans spans,
// with a model that answers instantly, so what is measured is the
// service's own work: selection, analysis, evidence under the budget,
// the model's answer checked and grounded, redaction.
func benchService(b *testing.B, n, spans int) (*Service, oncall.Alert, int) {
	b.Helper()
	traces := benchTraces(n, spans)
	total := 0
	for i := range traces {
		total += len(traces[i].Spans)
	}
	red, err := redact.New(redact.Options{})
	if err != nil {
		b.Fatal(err)
	}
	alert := errorAlert()
	alert.StartsAt = incidentWin.End
	rep := analysis.Analyze(alert, traces, windows)
	if len(rep.Clusters) == 0 {
		b.Fatal("the bench traces have no cluster")
	}
	c := rep.Clusters[0]
	answer, _ := json.Marshal(map[string]any{
		"summary": "A tool times out.",
		"causes": []map[string]any{{"title": "Tool timeout", "detail": "The tool call times out.", "confidence": "high",
			"evidence": []map[string]any{{"trace_id": c.TraceIDs[0], "span_id": c.SpanIDs[0], "note": "origin"}}}},
		"fixes":      []map[string]any{{"type": "tool", "change": "Raise the timeout.", "where": "tool"}},
		"next_steps": []string{"Check the tool's dependency."},
	})
	svc, err := NewService(ServiceOptions{
		Sources:   map[string]TraceSource{"memory": memorySource{traces}},
		Model:     instantModel{string(answer)},
		ModelName: "gpt-4o-mini",
		Window:    incidentWin.End.Sub(incidentWin.Start),
		Baseline:  baselineWin.End.Sub(baselineWin.Start),
		Redactor:  red,
	})
	if err != nil {
		b.Fatal(err)
	}
	// Load the tokenizer tables once, as a running server has.
	NewTokenCounter("gpt-4o-mini").Count("warm up")
	return svc, alert, total
}

// BenchmarkTriageOverhead is one whole triage of 200 traces of 100 spans,
// model and trace-store latency excluded.
func BenchmarkTriageOverhead(b *testing.B) {
	svc, alert, spans := benchService(b, 200, 100)
	ctx := context.Background()
	tokens := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		p, err := svc.Prepare(ctx, oncall.TriageRequest{Alert: alert})
		if err != nil {
			b.Fatal(err)
		}
		rep, err := svc.Finish(ctx, p)
		if err != nil || rep.TracesExamined+rep.BaselineTraces != 200 || rep.Diagnosis == nil || rep.Diagnosis.Offline != "" {
			b.Fatalf("triage examined %d traces, diagnosis %+v, err %v", rep.TracesExamined, rep.Diagnosis, err)
		}
		tokens = max(tokens, p.Evidence.Tokens)
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/triage")
	b.ReportMetric(float64(spans)*float64(b.N)/b.Elapsed().Seconds(), "spans/s")
	b.ReportMetric(float64(tokens), "prompt-tokens")
}

// BenchmarkPromptAtVolume builds the evidence of ever larger incidents:
// the prompt stays within the budget whatever the volume.
func BenchmarkPromptAtVolume(b *testing.B) {
	for _, n := range []int{20, 200, 1000} {
		b.Run(fmt.Sprint(n, "traces"), func(b *testing.B) {
			svc, alert, _ := benchService(b, n, 100)
			tokens := 0
			for b.Loop() {
				p, err := svc.Prepare(context.Background(), oncall.TriageRequest{Alert: alert})
				if err != nil {
					b.Fatal(err)
				}
				tokens = max(tokens, p.Evidence.Tokens)
			}
			if tokens > DefaultEvidenceBudget {
				b.Errorf("prompt of %d tokens over the budget of %d", tokens, DefaultEvidenceBudget)
			}
			b.ReportMetric(float64(tokens), "prompt-tokens")
			b.ReportMetric(float64(DefaultEvidenceBudget), "budget-tokens")
		})
	}
}
