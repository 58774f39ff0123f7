package redisdb

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// testJobs are jobs whose encodings must read back as encoding/json's do:
// every field set and unset, strings that need escaping, invalid UTF-8,
// times with zones and nanoseconds, and times encoding/json refuses.
func testJobs() map[string]oncall.Job {
	at := time.Date(2026, 12, 8, 3, 4, 5, 123456789, time.FixedZone("x", 5*3600+30*60))
	full := oncall.Alert{
		Source: "alertmanager", Fingerprint: "fp1", GroupKey: `{}:{alertname="AgentErrorRate"}`, Status: oncall.AlertFiring,
		Name: "AgentErrorRate", Severity: "page", Summary: "quote \" backslash \\ tab \t nl \n <b>&amp;</b>",
		Description: "ctl \x00\x01\x1f\x7f bad utf8 \xff\xfe line sep \u2028\u2029 emoji 🚨 é",
		Labels:      map[string]string{"service": "support-agent", "": "empty key", "k\"q": "v\\"},
		Annotations: map[string]string{"runbook": "https://example.com/a?b=c&d=<e>"},
		StartsAt:    at, EndsAt: at.Add(time.Minute), SourceURL: "https://am/#/alerts", GeneratorURL: "http://prom/graph?g0.expr=rate(x[5m])",
		TraceIDs: []string{"4bf92f3577b34da6a3ce929d0e0e4736", ""}, ReceivedAt: at.UTC(),
	}
	return map[string]oncall.Job{
		"empty":   {},
		"minimal": {ID: "j1", Kind: oncall.JobAlert, EnqueuedAt: time.Unix(0, 0).UTC()},
		"full": {ID: "0123456789abcdef01234567", Kind: oncall.JobAlert, Alerts: []oncall.Alert{full, {Name: "second", StartsAt: at}},
			GroupKey: "g", Route: "agents", Channel: "C0123", Payload: []byte(`{"mention":"@oncall"}`),
			EnqueuedAt: at, Attempts: 3, LastError: "post parent: slack: ratelimited\n"},
		"negative attempts": {ID: "j", Attempts: -2, EnqueuedAt: at},
		"year 10000":        {ID: "j", EnqueuedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		"alert year -1":     {ID: "j", Alerts: []oncall.Alert{{Name: "x", StartsAt: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}}},
		"offset of a day":   {ID: "j", EnqueuedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("far", 25*3600))},
	}
}

func TestAppendJobReadsBackAsEncodingJSON(t *testing.T) {
	for name, job := range testJobs() {
		t.Run(name, func(t *testing.T) {
			want, wantErr := json.Marshal(job)
			got, err := appendJob(nil, &job)
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("appendJob error %v, encoding/json's %v", err, wantErr)
			}
			if err != nil {
				return
			}
			if !json.Valid(got) {
				t.Fatalf("not JSON: %s", got)
			}
			var fromOurs, fromJSON oncall.Job
			if err := json.Unmarshal(got, &fromOurs); err != nil {
				t.Fatalf("decode %s: %v", got, err)
			}
			if err := json.Unmarshal(want, &fromJSON); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(fromOurs, fromJSON) {
				t.Errorf("read back:\n%+v\nencoding/json's:\n%+v\nours: %s\ntheirs: %s", fromOurs, fromJSON, got, want)
			}
			// Without maps (whose order is free), the bytes are
			// encoding/json's but for its HTML escapes.
			var generic, genericJSON any
			_ = json.Unmarshal(got, &generic)
			_ = json.Unmarshal(want, &genericJSON)
			if !reflect.DeepEqual(generic, genericJSON) {
				t.Errorf("fields differ:\n%v\n%v", generic, genericJSON)
			}
		})
	}
}

func TestAppendJobAppends(t *testing.T) {
	job := testJobs()["full"]
	got, err := appendJob([]byte("prefix"), &job)
	if err != nil {
		t.Fatal(err)
	}
	if string(got[:6]) != "prefix" || !json.Valid(got[6:]) {
		t.Errorf("appendJob onto a buffer = %q", got)
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "\"\\\n\r\t\b\f\x00\x7f", "\xff", "\u2028", "é🚨", "<>&"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("appendString(%q) = %s: %v", s, b, err)
		}
		want, _ := json.Marshal(s)
		var wantS string
		_ = json.Unmarshal(want, &wantS)
		if got != wantS {
			t.Errorf("appendString(%q) reads back %q, encoding/json's %q", s, got, wantS)
		}
	})
}

func BenchmarkAppendJob(b *testing.B) {
	job := testJobs()["full"]
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf, _ = appendJob(buf[:0], &job)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = json.Marshal(job)
		}
	})
}
