package main

import (
	"maps"
	"testing"

	"github.com/oncall-copilot/oncall-copilot/config"
	"github.com/oncall-copilot/oncall-copilot/eval"
)

// The eval scores what a new user gets: the default configuration's label
// map.
func TestEvalUsesTheDefaultLabelMap(t *testing.T) {
	if got, want := eval.DefaultLabelMap(), config.Default().Triage.LabelMap; !maps.Equal(got, want) {
		t.Errorf("eval label map %v, the default configuration's is %v", got, want)
	}
}
