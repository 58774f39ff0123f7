package main

import (
	"fmt"
	"log/slog"

	"github.com/oncall-copilot/oncall-copilot/bot"
	"github.com/oncall-copilot/oncall-copilot/config"
	"github.com/oncall-copilot/oncall-copilot/digest"
	"github.com/oncall-copilot/oncall-copilot/llm"
	"github.com/oncall-copilot/oncall-copilot/store/boltdb"
	"github.com/oncall-copilot/oncall-copilot/store/redisdb"
	"github.com/oncall-copilot/oncall-copilot/triage"
)

// Conformance of the adapters to what the digest declares.
var (
	_ digest.Poster         = (*bot.Slack)(nil)
	_ bot.Digester          = (*digest.OnDemand)(nil)
	_ digest.OnceStore      = (*boltdb.Store)(nil)
	_ digest.OnceStore      = (*redisdb.Store)(nil)
	_ digest.IncidentLister = (*boltdb.Store)(nil)
	_ digest.IncidentLister = (*redisdb.Store)(nil)
	_ digest.TraceSource    = (triage.TraceSource)(nil)
	_ digest.Model          = (*llm.Client)(nil)
)

// digestBackend is what digests need of a store.
type digestBackend interface {
	digest.IncidentLister
	digest.OnceStore
}

// digestStore is the store as digests use it. Both backends list
// incidents and keep once-keys; serve's backend interface names neither.
func digestStore(s backend) (digestBackend, error) {
	ds, ok := s.(digestBackend)
	if !ok {
		return nil, fmt.Errorf("the %T store cannot list incidents or keep once-keys for digests", s)
	}
	return ds, nil
}

// newDigestBuilder builds digests from the store, the shared default
// trace source (no source at all is fine: the digest says so) and, when
// configured, the shared model.
func newDigestBuilder(cfg config.Config, store digest.IncidentLister, d *deps, log *slog.Logger) (*digest.Builder, error) {
	opts, err := digestBuilderOptions(cfg, store, d, log)
	if err != nil {
		return nil, err
	}
	return digest.NewBuilder(opts)
}

// digestBuilderOptions are the digest builder's options over the shared
// clients.
func digestBuilderOptions(cfg config.Config, store digest.IncidentLister, d *deps, log *slog.Logger) (digest.BuilderOptions, error) {
	opts := digest.BuilderOptions{Store: store, Redactor: d.Redactor, MaxTraces: cfg.Triage.MaxTraces * 4, ModelName: cfg.Model.Name, Logger: log}
	if len(d.Sources) > 0 {
		src, err := d.defaultSource()
		if err != nil {
			return digest.BuilderOptions{}, err
		}
		opts.Source, opts.SourceName = src, d.Default
	}
	if d.Model != nil {
		opts.Model = d.Model
	}
	return opts, nil
}

// newDigestScheduler returns the scheduler of the configured digest, or
// nil when DIGEST_SCHEDULE is "off". serve runs it next to the workers:
//
//	sched, err := newDigestScheduler(cfg, store, slack, d, log)
//	...
//	if sched != nil { g.Go(func() error { return sched.Run(workCtx) }) }
func newDigestScheduler(cfg config.Config, s backend, slack *bot.Slack, d *deps, log *slog.Logger) (*digest.Scheduler, error) {
	store, err := digestStore(s)
	if err != nil {
		return nil, err
	}
	st, err := cfg.DigestSettings()
	if err != nil {
		return nil, fmt.Errorf("digest settings:\n%w", err)
	}
	if !st.Enabled {
		return nil, nil
	}
	b, err := newDigestBuilder(cfg, store, d, log)
	if err != nil {
		return nil, err
	}
	return digest.NewScheduler(digest.SchedulerOptions{
		Schedules: st.Schedules,
		Store:     store,
		Build:     b.Build,
		Poster:    slack,
		Grace:     st.Grace,
		Logger:    log,
	})
}

// newDigestOnDemand returns what posts a digest when someone asks with
// /oncall digest (bot.AppOptions.Digester): the window is DIGEST_WINDOW,
// a day by default.
func newDigestOnDemand(cfg config.Config, s backend, slack *bot.Slack, d *deps, log *slog.Logger) (*digest.OnDemand, error) {
	store, err := digestStore(s)
	if err != nil {
		return nil, err
	}
	st, err := cfg.DigestSettings()
	if err != nil {
		return nil, fmt.Errorf("digest settings:\n%w", err)
	}
	b, err := newDigestBuilder(cfg, store, d, log)
	if err != nil {
		return nil, err
	}
	return digest.NewOnDemand(digest.OnDemandOptions{
		Build:    b.Build,
		Poster:   slack,
		Window:   st.Schedule.Window,
		Location: st.Schedule.Location(),
	})
}
