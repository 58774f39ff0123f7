package jsonl

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/tracesource/otlp"
)

// Inputs the source cannot read are reported, never counted as no traces:
// the search either fails naming the files, or returns what it read and
// says in Unreadable what it did not.
func TestUnreadableInputsAreReported(t *testing.T) {
	var good bytes.Buffer
	otlp.WriteJSONL(&good, []oncall.Trace{genTrace(1, t0, "svc", "a", true)})
	all := oncall.TraceQuery{Start: t0.Add(-time.Hour), End: t0.Add(time.Hour)}

	tests := []struct {
		name       string
		files      map[string]string
		traces     int
		errHas     []string // the search fails naming these
		unreadable []string // the search succeeds and reports these
	}{
		{
			name:   "a file of unknown records",
			files:  map[string]string{"events.jsonl": `{"event":"login","user":"u1"}` + "\n" + `{"event":"logout","user":"u1"}` + "\n"},
			errHas: []string{"no trace could be read", "events.jsonl", "2 records"},
		},
		{
			name:       "unknown records beside traces",
			files:      map[string]string{"traces.jsonl": good.String(), "events.jsonl": `{"event":"login"}` + "\n"},
			traces:     1,
			unreadable: []string{"events.jsonl: 1 record could not be read"},
		},
		{
			name:   "only files of other kinds",
			files:  map[string]string{"spans.csv": "trace_id,span_id\n", "traces.zst": "\x28\xb5\x2f\xfd", "README.md": "notes"},
			errHas: []string{"no trace files", "spans.csv", "traces.zst"},
		},
		{
			name:       "files of other kinds beside traces",
			files:      map[string]string{"traces.jsonl": good.String(), "spans.parquet": "PAR1"},
			traces:     1,
			unreadable: []string{"spans.parquet not read"},
		},
		{
			name:   "a pretty-printed document of another kind counts once",
			files:  map[string]string{"alert.json": "{\n  \"receiver\": \"x\",\n  \"alerts\": [\n    {\"status\": \"firing\"}\n  ]\n}\n"},
			errHas: []string{"alert.json: 1 record could not be read"},
		},
		{
			name:   "OTLP logs instead of traces",
			files:  map[string]string{"logs.jsonl": `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"hi"}}]}]}]}` + "\n"},
			errHas: []string{"logs.jsonl", "OTLP logs or metrics, not traces"},
		},
		{
			name:   "protobuf that is not OTLP",
			files:  map[string]string{"export.pb": "this is not a protobuf message at all"},
			errHas: []string{"export.pb"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, data := range tt.files {
				writeFile(t, filepath.Join(dir, name), []byte(data))
			}
			res, err := newSource(t, dir).Search(context.Background(), all)
			if len(tt.errHas) > 0 {
				if err == nil {
					t.Fatalf("search succeeded with %d traces, want an error", len(res.Traces))
				}
				for _, s := range tt.errHas {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not say %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Traces) != tt.traces {
				t.Errorf("got %d traces, want %d", len(res.Traces), tt.traces)
			}
			got := strings.Join(res.Unreadable, "\n")
			for _, s := range tt.unreadable {
				if !strings.Contains(got, s) {
					t.Errorf("unreadable %q does not say %q", got, s)
				}
			}
		})
	}
	t.Run("a path that does not exist", func(t *testing.T) {
		_, err := newSource(t, filepath.Join(t.TempDir(), "nope")).Search(context.Background(), all)
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("err = %v, want not exist", err)
		}
	})
}

// A Tempo v2 answer ({"trace": {...}}) saved to a file reads like the
// request inside it.
func TestTempoTraceBodyFile(t *testing.T) {
	var buf bytes.Buffer
	otlp.WriteJSONL(&buf, []oncall.Trace{genTrace(1, t0, "svc", "a", true)})
	body := `{"trace": ` + strings.TrimSpace(buf.String()) + `, "status": "COMPLETE"}`
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "tempo-trace.json"), []byte(body))
	res, err := newSource(t, dir).Search(context.Background(), oncall.TraceQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Traces) != 1 || len(res.Traces[0].Spans) == 0 || len(res.Unreadable) != 0 {
		t.Fatalf("got %d traces, unreadable %q", len(res.Traces), res.Unreadable)
	}
}

// A folder of OTLP protobuf files, as the OpenTelemetry JS SDK's
// OTLP/HTTP protobuf exporter sent them (testdata/realsdk/protobuf, see
// its README), reads like their JSON counterpart would.
func TestProtobufFolder(t *testing.T) {
	dir := "../../testdata/realsdk/protobuf"
	files, _ := filepath.Glob(filepath.Join(dir, "*.pb"))
	if len(files) == 0 {
		t.Fatalf("no protobuf exports in %s", dir)
	}
	res, err := newSource(t, dir).Search(context.Background(), oncall.TraceQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Traces) < len(files) || len(res.Unreadable) != 0 {
		t.Fatalf("got %d traces from %d files, unreadable %q", len(res.Traces), len(files), res.Unreadable)
	}
	failed := 0
	for _, tr := range res.Traces {
		if tr.Service != "support-agent" || tr.Attributes["deployment.environment.name"] != "production" {
			t.Errorf("trace %s: service %q, attributes %v", tr.TraceID, tr.Service, tr.Attributes)
		}
		if tr.Failed() {
			failed++
		}
	}
	if failed == 0 {
		t.Error("no failing trace in the incident's exports")
	}
	// The same bytes, length-delimited into one file as the collector's
	// file exporter writes them, read the same.
	var stream []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		stream = append(stream, byte(len(b)>>24), byte(len(b)>>16), byte(len(b)>>8), byte(len(b)))
		stream = append(stream, b...)
	}
	one := filepath.Join(t.TempDir(), "traces.binpb")
	writeFile(t, one, stream)
	res2, err := newSource(t, one).Search(context.Background(), oncall.TraceQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(res2.Traces) != len(res.Traces) {
		t.Errorf("delimited file: %d traces, want %d", len(res2.Traces), len(res.Traces))
	}
}
