package analysis

import (
	"fmt"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// modelScenario: half the incident traffic moved to a new model snapshot,
// and its answers no longer parse. The tool behind the failing runs also
// shipped a new version to every run, failing or not.
func modelScenario() []oncall.Trace {
	var traces []oncall.Trace
	for _, incident := range []bool{false, true} {
		for i := range 30 {
			start, id := baselineWin.Start.Add(time.Duration(i)*2*time.Minute), fmt.Sprintf("base-%03d", i)
			if incident {
				start, id = incidentStart.Add(time.Duration(i)*time.Minute), fmt.Sprintf("inc-%03d", i)
			}
			m, toolVersion := "gpt-4o-2024-08-06", "1.4"
			if incident {
				toolVersion = "1.5"
			}
			canary := incident && i%2 == 0
			if canary {
				m = "gpt-4o-2024-11-20"
			}
			b := newTrace(id, start).
				Attr("session.id", "sess-"+id).
				Attr("enduser.email", fmt.Sprintf("user%d@example.com", i)).
				Attr("api_key", "sk-test-0000").
				Attr("request.started", start.Format(time.RFC3339))
			var rootOpts []spanOpt
			if canary {
				rootOpts = append(rootOpts, failed("OutputParserException: Invalid json output"))
			}
			root := b.Span("", oncall.KindAgent, "extract-agent", 0, 4*time.Second, append(rootOpts, output("{}"))...)
			b.Span(root, oncall.KindLLM, "chat", 0, 2*time.Second, model(m, "openai", 500, 200, 0.002))
			var parseOpts []spanOpt
			if canary {
				parseOpts = append(parseOpts, raised("OutputParserException", "Invalid json output: Sure! Here is the JSON"))
			}
			b.Span(root, oncall.KindChain, "JsonOutputParser", 2*time.Second, 10*time.Millisecond, parseOpts...)
			b.Span(root, oncall.KindTool, "store_record", 3*time.Second, 100*time.Millisecond, call("store_record", "{}"), spanAttr("tool.version", toolVersion))
			traces = append(traces, b.Done())
		}
	}
	return traces
}

func TestSuspectsModelChange(t *testing.T) {
	rep := Analyze(errorAlert(), modelScenario(), windows)
	if len(rep.Clusters) == 0 || rep.Clusters[0].SpanName != "JsonOutputParser" || rep.Clusters[0].Count != 15 {
		t.Fatalf("clusters %+v, want the output parser failing in 15 runs", rep.Clusters)
	}
	if len(rep.Suspects) == 0 {
		t.Fatal("no suspects")
	}
	want := oncall.Suspect{Attribute: "gen_ai.request.model", Value: "gpt-4o-2024-11-20", FailingCount: 15, FailingTotal: 15, HealthyCount: 0, HealthyTotal: 45, BaselineValue: "gpt-4o-2024-08-06"}
	if rep.Suspects[0] != want {
		t.Errorf("top suspect %+v, want %+v", rep.Suspects[0], want)
	}
	for _, s := range rep.Suspects {
		switch s.Attribute {
		case "session.id", "enduser.email", "api_key", "request.started":
			t.Errorf("suspect %+v: ids, addresses, times and credentials are no settings", s)
		}
	}
	// The tool's new version is in every incident run: it is in a third
	// of the healthy ones too, so it ranks below the model.
	for i, s := range rep.Suspects {
		if s.Attribute == "tool.version" && (s.Value != "1.5" || i == 0) {
			t.Errorf("tool version suspect %+v at %d", s, i)
		}
	}
}

func TestSuspectsNeedAClearMargin(t *testing.T) {
	tests := []struct {
		name string
		// value of a "flag" attribute for failing and healthy incident runs
		failing, healthy func(i int) string
		want             bool
	}{
		{"in every failing run and no healthy one", func(int) string { return "on" }, func(int) string { return "off" }, true},
		{"as common in healthy runs", func(i int) string { return []string{"on", "off"}[i/2%2] }, func(i int) string { return []string{"on", "off"}[i/2%2] }, false},
		{"a setting with too many values", func(i int) string { return fmt.Sprint(i) }, func(i int) string { return fmt.Sprint(100 + i) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var traces []oncall.Trace
			for i := range 24 {
				fail := i%2 == 0
				value := tt.healthy(i)
				if fail {
					value = tt.failing(i)
				}
				b := newTrace(fmt.Sprintf("i%02d", i), incidentStart.Add(time.Duration(i)*time.Minute)).Attr("feature.mode", value)
				var opts []spanOpt
				if fail {
					opts = append(opts, raised("ValueError", "bad"))
				}
				b.Span("", oncall.KindAgent, "agent", 0, time.Second, opts...)
				traces = append(traces, b.Done())
			}
			rep := Analyze(errorAlert(), traces, windows)
			found := false
			for _, s := range rep.Suspects {
				found = found || s.Attribute == "feature.mode"
			}
			if found != tt.want {
				t.Errorf("suspects %+v, want feature.mode: %v", rep.Suspects, tt.want)
			}
		})
	}
}

func TestSettingValue(t *testing.T) {
	tests := []struct {
		k, v string
		want bool
	}{
		{"service.version", "2.4.0", true},
		{"cloud.region", "eu-west-1", true},
		{"user.id", "u1", false},
		{"request_id", "abc", false},
		{"db.password", "x", false},
		{"trace", "4bf92f3577b34da6a3ce929d0e0e4736", false},
		{"started", "2025-03-14T12:00:00Z", false},
		{"owner", "bob@example.com", false},
		{"note", string(make([]byte, 100)), false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.k, func(t *testing.T) {
			if got := settingKey(tt.k) && settingValue(tt.v); got != tt.want {
				t.Errorf("settingValue(%q, %q) = %v, want %v", tt.k, tt.v, got, tt.want)
			}
		})
	}
}
