package alerts

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the decoders' output")

var received = time.Date(2026, 11, 23, 10, 1, 0, 0, time.UTC)

// golden compares got with testdata/name.golden, rewriting it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the decoder's output (run go test -update and review the diff):\n%s", path, got)
	}
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustGeneric(t *testing.T, m GenericMapping) Decoder {
	t.Helper()
	d, err := NewGenericDecoder(m)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestDecodeSources decodes each source's documented payloads; the
// normalised notification is pinned in a golden file, and the fields
// triage and routing depend on are asserted by name.
func TestDecodeSources(t *testing.T) {
	customMapping := GenericMapping{
		Title:       Paths{"alert.title"},
		Status:      Paths{"alert.state"},
		StatusMap:   map[string]string{"ALARM": "firing", "OK": "resolved"},
		Severity:    Paths{"alert.level"},
		Fingerprint: Paths{"alert.id"},
		EventID:     Paths{"delivery"},
		Labels:      Paths{"alert.tags", "$.context.labels"},
		LabelPaths:  map[string]Paths{"policy": {}, "first_tag": {"alert.tags[0]"}},
		StartsAt:    Paths{"alert.opened"},
		TraceIDs:    Paths{"context.traces"},
	}
	tests := []struct {
		file   string
		decode Decoder
		check  func(t *testing.T, n Notification)
	}{
		{"grafana-firing.json", DecodeGrafana, func(t *testing.T, n Notification) {
			a := n.Alerts[0]
			expect(t, "source", a.Source, "grafana")
			expect(t, "status", string(a.Status), "firing")
			expect(t, "name", a.Name, "AgentToolErrors")
			expect(t, "fingerprint", a.Fingerprint, "7d3e9f1a2b4c5d6e")
			expect(t, "severity", a.Severity, "warning")
			expect(t, "source url", a.SourceURL, "https://grafana.example/d/agents?orgId=1&viewPanel=4")
			expect(t, "rule uid", a.Annotations["rule_uid"], "fe1a2b3c")
			expect(t, "values", a.Annotations["values"], "A=0.137 B=1")
			expect(t, "starts (UTC)", a.StartsAt.Format(time.RFC3339), "2026-11-23T08:58:00Z")
			expect(t, "trace id", strings.Join(a.TraceIDs, ","), "0af7651916cd43dd8448eb211c80319c")
			if !strings.HasPrefix(n.GroupKey, "grafana-org-1:{}/") || a.GroupKey != n.GroupKey {
				t.Errorf("group key %q / %q", n.GroupKey, a.GroupKey)
			}
			if !a.EndsAt.IsZero() {
				t.Errorf("zero endsAt decoded as %v", a.EndsAt)
			}
		}},
		{"grafana-resolved.json", DecodeGrafana, func(t *testing.T, n Notification) {
			a := n.Alerts[0]
			expect(t, "status", string(n.Status), "resolved")
			expect(t, "ends", a.EndsAt.Format(time.RFC3339), "2026-11-23T09:40:00Z")
			expect(t, "values with null", a.Annotations["values"], "A=null B=0")
			expect(t, "source url falls back to external", a.SourceURL, "https://grafana.example/")
		}},
		{"pagerduty-triggered.json", DecodePagerDuty, func(t *testing.T, n Notification) {
			a := n.Alerts[0]
			expect(t, "fingerprint", a.Fingerprint, "Q2W8DLV0ZA3F1X")
			expect(t, "group", n.GroupKey, "pagerduty:Q2W8DLV0ZA3F1X")
			expect(t, "status", string(a.Status), "firing")
			expect(t, "dedupe key", n.DedupeKey, "01DEN4HXT1ZQ9QJ0XDNM6RM9KZ")
			expect(t, "severity from P1", a.Severity, "critical")
			expect(t, "service", a.Labels["pagerduty_service"], "Agents API")
			expect(t, "alertname", a.Labels["alertname"], "Agent run failures above 20%")
			expect(t, "pd status", a.Labels["pagerduty_status"], "triggered")
			expect(t, "url", a.SourceURL, "https://acme.pagerduty.com/incidents/Q2W8DLV0ZA3F1X")
			expect(t, "starts at creation", a.StartsAt.Format(time.RFC3339), "2026-11-23T10:00:00Z")
		}},
		{"pagerduty-acknowledged.json", DecodePagerDuty, func(t *testing.T, n Notification) {
			a := n.Alerts[0]
			expect(t, "status", string(a.Status), "firing")
			expect(t, "pd status", a.Labels["pagerduty_status"], "acknowledged")
			expect(t, "fingerprint", a.Fingerprint, "Q2W8DLV0ZA3F1X")
		}},
		{"pagerduty-resolved.json", DecodePagerDuty, func(t *testing.T, n Notification) {
			a := n.Alerts[0]
			expect(t, "status", string(n.Status), "resolved")
			expect(t, "ends", a.EndsAt.Format(time.RFC3339), "2026-11-23T10:42:00Z")
			expect(t, "group", n.GroupKey, "pagerduty:Q2W8DLV0ZA3F1X")
		}},
		{"langsmith-latency.json", DecodeLangSmith, func(t *testing.T, n Notification) {
			a := n.Alerts[0]
			expect(t, "kind", string(a.Kind()), "latency")
			expect(t, "project", a.Labels["project"], "support-agent-prod")
			expect(t, "service", a.Labels["service"], "support-agent-prod")
			expect(t, "name", a.Name, "Support agent latency")
			expect(t, "summary", a.Summary, "Support agent latency: latency 14.2 (threshold 8)")
			expect(t, "starts", a.StartsAt.Format(time.RFC3339), "2026-11-23T10:00:00Z")
			if n.DedupeKey == "" || a.Fingerprint == "" {
				t.Errorf("dedupe key %q, fingerprint %q", n.DedupeKey, a.Fingerprint)
			}
		}},
		{"langsmith-errors.json", DecodeLangSmith, func(t *testing.T, n Notification) {
			a := n.Alerts[0]
			expect(t, "kind", a.Labels["alert_kind"], "errors")
			expect(t, "project url kept", a.SourceURL, "https://smith.langchain.com/o/0f1e2d3c/projects/p/9a8b7c6d")
			expect(t, "template field kept", a.Annotations["text"], "Errored runs spiked in support-agent-prod")
		}},
		{"generic-datadog-default.json", DecodeGeneric, func(t *testing.T, n Notification) {
			a := n.Alerts[0]
			expect(t, "status from title", string(a.Status), "firing")
			expect(t, "name without the status tag", a.Name, "Agent error rate high")
			expect(t, "starts from $DATE", a.StartsAt.Format(time.RFC3339), "2026-11-23T10:00:00Z")
		}},
		{"generic-datadog-default-recovered.json", DecodeGeneric, func(t *testing.T, n Notification) {
			expect(t, "status from title", string(n.Status), "resolved")
			firing, err := DecodeGeneric(readTestdata(t, "generic-datadog-default.json"), received)
			if err != nil {
				t.Fatal(err)
			}
			expect(t, "fingerprint shared with the firing one", n.Alerts[0].Fingerprint, firing.Alerts[0].Fingerprint)
		}},
		{"generic-datadog.json", DecodeGeneric, func(t *testing.T, n Notification) {
			a := n.Alerts[0]
			expect(t, "fingerprint", a.Fingerprint, "9bd4ac313a4d1e8fae2482df7b77628")
			expect(t, "severity", a.Severity, "critical")
			expect(t, "kind from metric", string(a.Kind()), "latency")
			expect(t, "tags", a.Labels["team"]+"/"+a.Labels["env"]+"/"+a.Labels["service"], "agents/prod/support-agent")
			expect(t, "trace", strings.Join(a.TraceIDs, ","), "4bf92f3577b34da6a3ce929d0e0e4736")
			expect(t, "link", a.SourceURL, "https://app.datadoghq.com/event/event?id=7481298173452519631")
			expect(t, "name", a.Name, "Agent p95 latency high")
		}},
		{"generic-newrelic-workflow.json", DecodeGeneric, func(t *testing.T, n Notification) {
			a := n.Alerts[0]
			expect(t, "status", string(a.Status), "firing")
			expect(t, "severity", a.Severity, "critical")
			expect(t, "entity", a.Labels["entity"], "support-agent")
			expect(t, "policy", a.Labels["policy"], "Agents")
			expect(t, "url", a.SourceURL, "https://radar-api.service.newrelic.com/accounts/1234567/issues/c0ffee12-3456-4789-abcd-ef0123456789?notifier=WEBHOOK")
		}},
		{"generic-newrelic-workflow-closed.json", DecodeGeneric, func(t *testing.T, n Notification) {
			expect(t, "status", string(n.Status), "resolved")
			open, err := DecodeGeneric(readTestdata(t, "generic-newrelic-workflow.json"), received)
			if err != nil {
				t.Fatal(err)
			}
			expect(t, "fingerprint shared with the open one", n.Alerts[0].Fingerprint, open.Alerts[0].Fingerprint)
			expect(t, "group shared with the open one", n.GroupKey, open.GroupKey)
		}},
		{"generic-newrelic-legacy.json", DecodeGeneric, func(t *testing.T, n Notification) {
			a := n.Alerts[0]
			expect(t, "name", a.Name, "Agent run errors")
			expect(t, "fingerprint", a.Fingerprint, "4242")
			expect(t, "target labels", a.Labels["environment"], "prod")
			expect(t, "runbook", a.Annotations["runbook_url"], "https://runbooks.example/agents/errors")
			expect(t, "description", a.Description, "Error percentage > 5.0% for at least 5 minutes on 'support-agent'")
		}},
		{"generic-custom.json", mustGeneric(t, customMapping), func(t *testing.T, n Notification) {
			a := n.Alerts[0]
			expect(t, "name", a.Name, "Checkout agent loops")
			expect(t, "status", string(a.Status), "firing")
			expect(t, "severity", a.Severity, "critical")
			expect(t, "fingerprint", a.Fingerprint, "chk-loop-17")
			expect(t, "dedupe", n.DedupeKey, "d-1")
			expect(t, "labels", a.Labels["team"]+"/"+a.Labels["env"]+"/"+a.Labels["agent"]+"/"+a.Labels["first_tag"], "checkout/prod/checkout-agent/team:checkout")
			if _, ok := a.Labels["policy"]; ok {
				t.Error("an empty label path must remove the default one")
			}
			expect(t, "traces", strings.Join(a.TraceIDs, ","), "5b8efff798038103d269b633813fc60c")
			expect(t, "starts", a.StartsAt.Format(time.RFC3339), "2026-11-23T09:59:30Z")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			n, err := tt.decode(readTestdata(t, tt.file), received)
			if err != nil {
				t.Fatal(err)
			}
			checkInvariants(t, n)
			tt.check(t, n)
			out, err := json.MarshalIndent(n, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, strings.TrimSuffix(tt.file, ".json"), append(out, '\n'))
		})
	}
}

func expect(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

// checkInvariants asserts what every decoded notification must hold for
// the handler and the worker.
func checkInvariants(t *testing.T, n Notification) {
	t.Helper()
	if len(n.Alerts) == 0 {
		t.Fatal("no alerts")
	}
	if n.GroupKey == "" {
		t.Error("empty group key")
	}
	resolved := true
	for i, a := range n.Alerts {
		if a.Fingerprint == "" || a.GroupKey != n.GroupKey || a.Name == "" || a.Source == "" {
			t.Errorf("alert %d: fingerprint %q group %q name %q source %q", i, a.Fingerprint, a.GroupKey, a.Name, a.Source)
		}
		if a.Status != oncall.AlertFiring && a.Status != oncall.AlertResolved {
			t.Errorf("alert %d: status %q", i, a.Status)
		}
		if a.StartsAt.IsZero() {
			t.Errorf("alert %d: no start", i)
		}
		resolved = resolved && a.Resolved()
	}
	if resolved != (n.Status == oncall.AlertResolved) && len(n.Alerts) == 1 {
		t.Errorf("notification status %q with alert status %q", n.Status, n.Alerts[0].Status)
	}
	if _, err := json.Marshal(oncall.Job{Alerts: n.Alerts}); err != nil {
		t.Errorf("a job of these alerts cannot be stored: %v", err)
	}
}

// TestDecodeRejects checks each kind of invalid input per source: the
// error is an InputError naming the field, or an IgnoredError for events
// that carry nothing to triage.
func TestDecodeRejects(t *testing.T) {
	pdTriggered := string(readTestdata(t, "pagerduty-triggered.json"))
	tests := []struct {
		name        string
		decode      Decoder
		body        string
		wantField   string
		wantText    string
		wantIgnored bool
	}{
		{"grafana malformed", DecodeGrafana, `{"status":"firing","alerts":[`, "", "malformed JSON", false},
		{"grafana no alerts", DecodeGrafana, `{"status":"firing","alerts":[]}`, "alerts", "at least one", false},
		{"grafana bad alert status", DecodeGrafana, `{"status":"firing","alerts":[{"status":"pending","labels":{"a":"b"},"startsAt":"2026-11-23T10:00:00Z"}]}`, "alerts[0].status", "firing or resolved", false},
		{"grafana bad startsAt", DecodeGrafana, `{"status":"firing","alerts":[{"status":"firing","labels":{"a":"b"},"startsAt":"yesterday"}]}`, "alerts[0].startsAt", "RFC 3339", false},
		{"grafana endsAt out of range", DecodeGrafana, `{"status":"firing","alerts":[{"status":"firing","labels":{"a":"b"},"startsAt":"2026-11-23T10:00:00Z","endsAt":"9999-12-31T23:59:59-23:00"}]}`, "alerts[0].endsAt", "out of range", false},
		{"grafana labels wrong type", DecodeGrafana, `{"status":"firing","alerts":[{"status":"firing","labels":["a"],"startsAt":"2026-11-23T10:00:00Z"}]}`, "alerts.labels", "must be", false},
		{"pagerduty malformed", DecodePagerDuty, `{"event":`, "", "malformed JSON", false},
		{"pagerduty no event", DecodePagerDuty, `{"messages":[]}`, "event", "required", false},
		{"pagerduty no event type", DecodePagerDuty, `{"event":{"id":"E1","data":{"id":"P1","type":"incident"}}}`, "event.event_type", "required", false},
		{"pagerduty no event id", DecodePagerDuty, `{"event":{"event_type":"incident.triggered","data":{"id":"P1","type":"incident"}}}`, "event.id", "required", false},
		{"pagerduty no incident id", DecodePagerDuty, `{"event":{"id":"E1","event_type":"incident.triggered","data":{"type":"incident"}}}`, "event.data.id", "required", false},
		{"pagerduty data wrong type", DecodePagerDuty, `{"event":{"id":"E1","event_type":"incident.triggered","data":"P1"}}`, "event.data", "must be", false},
		{"pagerduty bad occurred_at", DecodePagerDuty, strings.Replace(pdTriggered, `"2026-11-23T10:00:05.000Z"`, `"soon"`, 1), "event.occurred_at", "RFC 3339", false},
		{"pagerduty note", DecodePagerDuty, string(readTestdata(t, "pagerduty-annotated.json")), "", "", true},
		{"pagerduty ping", DecodePagerDuty, string(readTestdata(t, "pagerduty-ping.json")), "", "", true},
		{"langsmith malformed", DecodeLangSmith, `{"project_name":`, "", "malformed JSON", false},
		{"langsmith not an object", DecodeLangSmith, `["project_name"]`, "", "JSON object", false},
		{"langsmith no rule", DecodeLangSmith, `{"project_name":"p","triggered_metric_value":3}`, "alert_rule_id", "required", false},
		{"langsmith rule is an object", DecodeLangSmith, `{"alert_rule_id":{"id":"x"}}`, "alert_rule_id", "must be a string", false},
		{"langsmith bad timestamp", DecodeLangSmith, `{"alert_rule_id":"r","timestamp":"last tuesday"}`, "timestamp", "not an RFC 3339", false},
		{"generic malformed", DecodeGeneric, `{"title": "x",}`, "", "malformed JSON", false},
		{"generic trailing data", DecodeGeneric, `{"title": "x"} {"title": "y"}`, "", "after the top-level value", false},
		{"generic unknown status", DecodeGeneric, `{"title":"x","status":"smouldering"}`, "status", "status_map", false},
		{"generic bad start", DecodeGeneric, `{"title":"x","status":"firing","createdAt":"tomorrow-ish"}`, "createdAt", "not an RFC 3339", false},
		{"generic start out of range", DecodeGeneric, `{"title":"x","status":"firing","date":-5}`, "date", "not a valid time", false},
		{"generic empty object", DecodeGeneric, `{}`, "title", "required", false},
		{"generic no title", DecodeGeneric, `{"status":"firing","labels":{"agent":"x"}}`, "title", "required", false},
		{"generic no status", DecodeGeneric, `{"title":"Agent down"}`, "status", "required", false},
		{"generic title is a number", DecodeGeneric, `{"title":42,"status":"firing"}`, "title", "must be a string", false},
		{"generic title is an object", DecodeGeneric, `{"title":{"text":"x"},"status":"firing"}`, "title", "must be a string", false},
		{"generic status is a boolean", DecodeGeneric, `{"title":"x","status":true}`, "status", "must be a string", false},
		{"generic status is a list", DecodeGeneric, `{"title":"x","state":["firing"]}`, "state", "must be a string", false},
		{"generic labels is a number", DecodeGeneric, `{"title":"x","status":"firing","labels":7}`, "labels", "must be an object", false},
		{"generic label value is an object", DecodeGeneric, `{"title":"x","status":"firing","labels":{"agent":{"id":1}}}`, `labels["agent"]`, "string, number or boolean", false},
		{"generic tag is a number", DecodeGeneric, `{"title":"x","status":"firing","tags":["env:prod",3]}`, "tags[1]", "key:value", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.decode([]byte(tt.body), received)
			if err == nil {
				t.Fatal("decoded without error")
			}
			var ignored *IgnoredError
			if tt.wantIgnored {
				if !errors.As(err, &ignored) {
					t.Fatalf("err = %v, want an IgnoredError", err)
				}
				return
			}
			var in *InputError
			if !errors.As(err, &in) {
				t.Fatalf("err = %T %v, want an InputError", err, err)
			}
			if in.Field != tt.wantField || !strings.Contains(in.Reason, tt.wantText) {
				t.Errorf("err = field %q reason %q, want field %q and text %q", in.Field, in.Reason, tt.wantField, tt.wantText)
			}
		})
	}
}

// TestUnknownFieldsAreIgnored: senders add fields between releases; an
// unread field must not refuse the alert.
func TestUnknownFieldsAreIgnored(t *testing.T) {
	tests := []struct {
		file   string
		decode Decoder
	}{
		{"alertmanager-firing.json", DecodeAlertmanager},
		{"grafana-firing.json", DecodeGrafana},
		{"pagerduty-triggered.json", DecodePagerDuty},
		{"langsmith-latency.json", DecodeLangSmith},
		{"generic-datadog.json", DecodeGeneric},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body := readTestdata(t, tt.file)
			want, err := tt.decode(body, received)
			if err != nil {
				t.Fatal(err)
			}
			extended := append([]byte(`{"x_new_field":{"nested":[1,2,3]},`), bytes.TrimPrefix(bytes.TrimSpace(body), []byte("{"))...)
			got, err := tt.decode(extended, received)
			if err != nil {
				t.Fatalf("an added field refused the alert: %v", err)
			}
			if got.Alerts[0].Fingerprint != want.Alerts[0].Fingerprint || got.GroupKey != want.GroupKey || got.Alerts[0].Status != want.Alerts[0].Status {
				t.Errorf("added field changed identity: %+v vs %+v", got.Alerts[0], want.Alerts[0])
			}
		})
	}
}

// TestMissingFingerprintDerivedStably covers sources that may omit one:
// the fingerprint comes from the labels, the same on every delivery.
func TestMissingFingerprintDerivedStably(t *testing.T) {
	tests := []struct {
		name   string
		decode Decoder
		body   string
	}{
		{"grafana", DecodeGrafana, `{"status":"firing","alerts":[{"status":"firing","labels":{"alertname":"A","agent":"x"},"startsAt":"2026-11-23T10:00:00Z"}]}`},
		{"generic", DecodeGeneric, `{"title":"Agent down","status":"triggered","labels":{"agent":"x"}}`},
		{"langsmith", DecodeLangSmith, `{"project_name":"p","alert_rule_id":"r"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := tt.decode([]byte(tt.body), received)
			if err != nil {
				t.Fatal(err)
			}
			b, err := tt.decode([]byte(tt.body), received.Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if a.Alerts[0].Fingerprint == "" || a.Alerts[0].Fingerprint != b.Alerts[0].Fingerprint || a.GroupKey != b.GroupKey {
				t.Errorf("fingerprints %q %q, groups %q %q", a.Alerts[0].Fingerprint, b.Alerts[0].Fingerprint, a.GroupKey, b.GroupKey)
			}
		})
	}
	// A severity that changes on recovery keeps the fingerprint.
	fire, _ := DecodeGeneric([]byte(`{"title":"Agent down","alert_type":"error","status":"Triggered","tags":"agent:x"}`), received)
	ok, _ := DecodeGeneric([]byte(`{"title":"Agent down","alert_type":"success","status":"Recovered","tags":"agent:x"}`), received)
	if fire.Alerts[0].Fingerprint != ok.Alerts[0].Fingerprint || ok.Alerts[0].Status != oncall.AlertResolved {
		t.Errorf("firing %+v and recovered %+v do not pair", fire.Alerts[0], ok.Alerts[0])
	}
	// Different labels must not collide.
	x, _ := DecodeGeneric([]byte(`{"title":"Agent down","status":"triggered","labels":{"agent":"x"}}`), received)
	y, _ := DecodeGeneric([]byte(`{"title":"Agent down","status":"triggered","labels":{"agent":"y"}}`), received)
	if x.Alerts[0].Fingerprint == y.Alerts[0].Fingerprint {
		t.Error("different label sets share a fingerprint")
	}
}

func TestGenericMappingRejectsEveryBadEntry(t *testing.T) {
	_, err := NewGenericDecoder(GenericMapping{
		Title:      Paths{"a..b"},
		Status:     Paths{"x[", "ok.path"},
		StatusMap:  map[string]string{"up": "sideways"},
		LabelPaths: map[string]Paths{"team": {"tags[-1]"}},
	})
	if err == nil {
		t.Fatal("bad mapping accepted")
	}
	for _, want := range []string{"title[0]", "status[0]", "status_map", "label_paths.team[0]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s: %v", want, err)
		}
	}
}

func TestPathsDecodeFromStringOrList(t *testing.T) {
	var m GenericMapping
	if err := json.Unmarshal([]byte(`{"title":"alert.title","status":["a","b"]}`), &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Title) != 1 || m.Title[0] != "alert.title" || len(m.Status) != 2 {
		t.Errorf("mapping = %+v", m)
	}
	if err := json.Unmarshal([]byte(`{"title":5}`), &m); err == nil {
		t.Error("a number was accepted as paths")
	}
}
