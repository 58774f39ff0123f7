package jsonl

import (
	"context"
	"path/filepath"
	"testing"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// What the OpenTelemetry JS SDK and the OpenInference instrumentations
// wrote (testdata/realsdk, see its README) decodes completely: every span
// has its kind although OTLP says INTERNAL for all, model calls have their
// model, provider and tokens, tools their names, and each service keeps
// the environment key it wrote as a trace attribute.
func TestRealInstrumentationDecodes(t *testing.T) {
	for set, envKey := range map[string]map[string]string{
		"store":            {"support-agent": "deployment.environment.name", "billing-agent": "deployment.environment"},
		"store-legacy-env": {"support-agent": "deployment.environment", "billing-agent": "deployment.environment.name"},
	} {
		t.Run(set, func(t *testing.T) {
			src := newSource(t, filepath.Join("../../testdata/realsdk", set))
			res, err := src.Search(context.Background(), oncall.TraceQuery{Limit: 10000})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Unreadable) != 0 || src.Skipped() != 0 {
				t.Fatalf("unreadable %q, skipped %d", res.Unreadable, src.Skipped())
			}
			services := map[string]int{}
			kinds := map[oncall.SpanKind]int{}
			for _, tr := range res.Traces {
				services[tr.Service]++
				if key := envKey[tr.Service]; tr.Attributes[key] != "production" {
					t.Errorf("trace %s of %s: %s = %q", tr.TraceID, tr.Service, key, tr.Attributes[key])
				}
				for _, s := range tr.Spans {
					kinds[s.Kind]++
					switch s.Kind {
					case oncall.KindSpan:
						t.Errorf("span %s %q has no kind", s.SpanID, s.Name)
					case oncall.KindLLM:
						if s.Model == "" || s.Provider == "" || s.InputTokens == 0 || s.OutputTokens == 0 || s.Input == "" {
							t.Errorf("llm span %s %q: model %q provider %q tokens %d/%d, input %d bytes", s.SpanID, s.Name, s.Model, s.Provider, s.InputTokens, s.OutputTokens, len(s.Input))
						}
					case oncall.KindTool:
						if s.ToolName == "" {
							t.Errorf("tool span %s %q has no tool name", s.SpanID, s.Name)
						}
						if s.Failed() && s.StatusMessage == "" {
							t.Errorf("failing tool span %s has no status message", s.SpanID)
						}
					}
				}
			}
			if services["support-agent"] != 75 || services["billing-agent"] != 103 {
				t.Errorf("traces per service %v, want 75 support-agent and 103 billing-agent runs", services)
			}
			for _, k := range []oncall.SpanKind{oncall.KindChain, oncall.KindAgent, oncall.KindLLM, oncall.KindTool} {
				if kinds[k] == 0 {
					t.Errorf("no %s span; kinds %v", k, kinds)
				}
			}
		})
	}
}
