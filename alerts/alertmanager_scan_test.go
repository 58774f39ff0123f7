package alerts

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzScanAMPayload checks the fast Alertmanager reader against
// encoding/json: whenever it takes a payload, it must decode exactly what
// json.Unmarshal decodes, and it must take the well-formed payloads
// Alertmanager sends.
func FuzzScanAMPayload(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`{"alerts":[]}`, `{"alerts":null,"groupLabels":null}`, `{"Status":"firing"}`, `{"status":"firing","status":"resolved"}`,
		`{"truncatedAlerts":01}`, `{"truncatedAlerts":-0}`, `{"truncatedAlerts":1e2}`, `{"extra":{"a":[1,2,{"b":"}"}]},"status":"x"}`,
		`{"commonLabels":{"a":null,"b":"\u00e9\n"}}`, `{"alerts":[{"startsAt":"2026-01-01T00:00:00Z","endsAt":null,"labels":{}}]}`,
		`{"alerts":[{"startsAt":12}]}`, `{"groupKey":"\xff"}`, `{"x":tru}`, `{"x":1}}`, `{"x":1} x`, `{"x":}`, `{null:1}`,
		`{"alerts":[{},]}`, `{"version":"4","x":true}`, `{"receiver":"é"}`,
		`{"receiver":"a\u0026b\n\ud83d\ude00\/"}`, `{"receiver":"\ud83d"}`, `{"receiver":"\ude00\u0041"}`, `{"receiver":"\u12G4"}`,
		`{"commonAnnotations":{"d":"x \"quoted\" \\ \t"}}`, `{"receiver":"\u00"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var fast amPayload
		if !scanAMPayload(body, &fast) {
			return
		}
		var slow amPayload
		if err := json.Unmarshal(body, &slow); err != nil {
			t.Fatalf("scanner took %q, encoding/json refuses it: %v", body, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("scanner read %q as\n%+v\nencoding/json as\n%+v", body, fast, slow)
		}
	})
}

func TestScanTakesAlertmanagerPayloads(t *testing.T) {
	for _, name := range []string{"testdata/alertmanager-firing.json", "../examples/quickstart/alert.json"} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var p amPayload
		if !scanAMPayload(b, &p) {
			t.Errorf("%s: the scanner gave up on a payload Alertmanager sends", name)
		}
	}
}
