package scenario

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// Scenario is a scenario directory read back from disk.
type Scenario struct {
	Name       string   // the directory's base name
	Dir        string   // the directory
	Alert      []byte   // alert.json as written: an Alertmanager webhook
	TracesPath string   // the traces directory, for a JSONL trace source
	TraceFiles []string // the *.jsonl and *.jsonl.gz files in it, sorted
	Expected   Expected
}

// Load reads the scenario in dir. It fails when alert.json or
// expected.json is missing or malformed, when expected.json has fields it
// does not know, or when there are no trace files.
func Load(dir string) (Scenario, error) {
	s := Scenario{Name: filepath.Base(dir), Dir: dir, TracesPath: filepath.Join(dir, "traces")}
	var err error
	s.Alert, err = os.ReadFile(filepath.Join(dir, "alert.json"))
	if err != nil {
		return Scenario{}, fmt.Errorf("load scenario %s: %w", dir, err)
	}
	if !json.Valid(s.Alert) {
		return Scenario{}, fmt.Errorf("load scenario %s: alert.json is not valid JSON", dir)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		return Scenario{}, fmt.Errorf("load scenario %s: %w", dir, err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s.Expected); err != nil {
		return Scenario{}, fmt.Errorf("load scenario %s: decode expected.json: %w", dir, err)
	}
	if s.Expected.Category == "" || s.Expected.AlertKind == "" {
		return Scenario{}, fmt.Errorf("load scenario %s: expected.json needs a category and an alert_kind", dir)
	}
	for _, pattern := range []string{"*.jsonl", "*.jsonl.gz"} {
		files, err := filepath.Glob(filepath.Join(s.TracesPath, pattern))
		if err != nil {
			return Scenario{}, fmt.Errorf("load scenario %s: list traces: %w", dir, err)
		}
		s.TraceFiles = append(s.TraceFiles, files...)
	}
	if len(s.TraceFiles) == 0 {
		return Scenario{}, fmt.Errorf("load scenario %s: no traces/*.jsonl or *.jsonl.gz", dir)
	}
	sort.Strings(s.TraceFiles)
	return s, nil
}

// LoadAll reads every scenario directory directly under root (those that
// hold an alert.json), sorted by name. A directory that fails to load
// fails the whole call; a root without scenarios is an error too.
func LoadAll(root string) ([]Scenario, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("load scenarios: %w", err)
	}
	var out []Scenario
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(root, e.Name())
		if _, err := os.Stat(filepath.Join(dir, "alert.json")); errors.Is(err, os.ErrNotExist) {
			continue
		}
		s, err := Load(dir)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("load scenarios: no scenario directories under %s", root)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
