package langfuse

import (
	"encoding/json"
	"testing"
)

// facts are what a fixture says about itself, read independently of the
// decoder under test.
type facts struct {
	id, name     string
	observations int
	generations  int
	totalTokens  int64
	totalCost    float64
	models       map[string]bool
}

func fixtureFacts(t *testing.T, data []byte) facts {
	t.Helper()
	var raw struct {
		Trace struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"trace"`
		Observations []map[string]any `json:"observations"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	f := facts{id: raw.Trace.ID, name: raw.Trace.Name, observations: len(raw.Observations), models: map[string]bool{}}
	for _, o := range raw.Observations {
		if o["type"] != "GENERATION" {
			continue
		}
		f.generations++
		if u, ok := o["usageDetails"].(map[string]any); ok {
			if v, ok := u["total"].(float64); ok {
				f.totalTokens += int64(v)
			}
		}
		if c, ok := o["totalCost"].(float64); ok {
			f.totalCost += c
		}
		if m, ok := o["model"].(string); ok && m != "" {
			f.models[m] = true
		}
	}
	return f
}
