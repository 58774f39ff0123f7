package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunWritesExamples(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "scenarios", "removed-scenario")
	if err := os.MkdirAll(stale, 0o755); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := run([]string{"-out", dir}, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v (stderr %q)", err, stderr.String())
	}
	for _, p := range []string{"README.md", "quickstart/alert.json", "quickstart/expected.json", "scenarios/tool-timeout-1/alert.json"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("missing %s: %v", p, err)
		}
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale scenario directory survived regeneration: %v", err)
	}
	if !strings.Contains(stdout.String(), "scenarios to "+dir) {
		t.Errorf("stdout = %q", stdout.String())
	}
}

func TestRunRejectsArguments(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"positional", []string{"extra"}},
		{"unknown flag", []string{"-nope"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if err := run(tt.args, &stdout, &stderr); err == nil {
				t.Fatal("run succeeded")
			}
		})
	}
}
