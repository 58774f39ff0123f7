package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/oncall-copilot/oncall-copilot/bot"
	"github.com/oncall-copilot/oncall-copilot/config"
	"github.com/oncall-copilot/oncall-copilot/incident"
	"github.com/oncall-copilot/oncall-copilot/llm"
	"github.com/oncall-copilot/oncall-copilot/redact"
	"github.com/oncall-copilot/oncall-copilot/retry"
	"github.com/oncall-copilot/oncall-copilot/store/boltdb"
	"github.com/oncall-copilot/oncall-copilot/store/redisdb"
	"github.com/oncall-copilot/oncall-copilot/tracesource/jsonl"
	"github.com/oncall-copilot/oncall-copilot/triage"
	"github.com/oncall-copilot/oncall-copilot/worker"
)

// Conformance of the adapters to what their users declare.
var (
	_ incident.Publisher = (*bot.Slack)(nil)
	_ incident.Triager   = (*triage.Service)(nil)
	_ incident.Store     = (*boltdb.Store)(nil)
	_ incident.Store     = (*redisdb.Store)(nil)
	_ worker.Queue       = (*boltdb.Store)(nil)
	_ worker.Queue       = (*redisdb.Store)(nil)
	_ triage.TraceSource = (*jsonl.Source)(nil)
	_ triage.Model       = (*llm.Client)(nil)
)

// backend is what serve needs of a store: the queue and the incidents.
type backend interface {
	worker.Queue
	incident.Store
	alertsQueue
	Ping(ctx context.Context) error
	Close() error
}

// openStore opens Redis when configured, the embedded store otherwise.
func openStore(ctx context.Context, cfg config.Config, log *slog.Logger) (backend, string, error) {
	if cfg.RedisURL.IsSet() {
		s, err := redisdb.Open(ctx, redisdb.Options{URL: cfg.RedisURL.Reveal(), Prefix: cfg.RedisPrefix, Logger: log})
		if err != nil {
			return nil, "", fmt.Errorf("open redis store: %w", err)
		}
		return s, "redis", nil
	}
	path := filepath.Join(cfg.DataDir, "oncall.db")
	s, err := boltdb.Open(boltdb.Options{Path: path, Logger: log})
	if err != nil {
		return nil, "", fmt.Errorf("open embedded store %s: %w", path, err)
	}
	return s, "embedded (" + path + ")", nil
}

// newTriage builds the triage service from the configuration. tracePath,
// when set, overrides the configured JSONL path.
func newTriage(cfg config.Config, tracePath string, log *slog.Logger) (*triage.Service, error) {
	if tracePath == "" {
		tracePath = cfg.Traces.JSONLPath
	}
	if tracePath == "" {
		return nil, errors.New("no trace source configured: set TRACE_JSONL_PATH (or traces.jsonl_path)")
	}
	src, err := jsonl.New(jsonl.Options{Path: tracePath})
	if err != nil {
		return nil, fmt.Errorf("open traces: %w", err)
	}
	red, err := redact.New(redact.Options{})
	if err != nil {
		return nil, fmt.Errorf("redaction rules: %w", err)
	}
	opts := triage.ServiceOptions{
		Source:     src,
		SourceName: "jsonl",
		ModelName:  cfg.Model.Name,
		Window:     cfg.Triage.Window.D(),
		Baseline:   cfg.Triage.Baseline.D(),
		LabelMap:   cfg.Triage.LabelMap,
		MaxTraces:  cfg.Triage.MaxTraces,
		Budget:     cfg.Model.TokenBudget,
		Redactor:   red,
		Logger:     log,
	}
	if cfg.Model.APIKey.IsSet() {
		m, err := llm.New(llm.Options{
			BaseURL: cfg.Model.BaseURL,
			APIKey:  cfg.Model.APIKey.Reveal(),
			Model:   cfg.Model.Name,
			Timeout: cfg.Model.Timeout.D(),
			Retry:   retry.Default,
		})
		if err != nil {
			return nil, fmt.Errorf("model client: %w", err)
		}
		opts.Model = m
	}
	return triage.NewService(opts)
}

// traceURL links trace and span ids to the configured trace UI.
func traceURL(base string) func(traceID, spanID string) string {
	if base == "" {
		return nil
	}
	base = strings.TrimRight(base, "/")
	return func(traceID, spanID string) string {
		u := base + "/trace/" + url.PathEscape(traceID)
		if spanID != "" {
			u += "?uiFind=" + url.QueryEscape(spanID)
		}
		return u
	}
}

func newLogger(level string, w interface{ Write([]byte) (int, error) }) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }
