package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

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

// digestSettings are the digest's settings, read from the environment:
//
//	DIGEST_SCHEDULE    cron spec, default "0 9 * * *"; "off" disables the scheduled digest
//	DIGEST_TZ          IANA zone of the spec and of the times shown, default UTC
//	DIGEST_CHANNEL     channel the digest goes to, default slack.channel
//	DIGEST_WINDOW      how far back a digest looks, default since the previous fire
//	DIGEST_GRACE       how late a missed fire may still be posted, default 1h
//	DIGEST_SKIP_QUIET  true posts nothing on a quiet day instead of "all quiet"
type digestSettings struct {
	Enabled   bool
	Schedule  digest.Schedule   // the first schedule: /oncall digest and the CLI use its zone and window
	Schedules []digest.Schedule // every scheduled digest, Name and Channel set
	Grace     time.Duration
}

// digestEnvNames lists the variables loadDigestSettings reads.
var digestEnvNames = []string{"DIGEST_SCHEDULE", "DIGEST_TZ", "DIGEST_CHANNEL", "DIGEST_WINDOW", "DIGEST_GRACE", "DIGEST_SKIP_QUIET"}

// loadDigestSettings reads and checks the digest's settings, returning
// every problem at once.
func loadDigestSettings(cfg config.Config, getenv func(string) string) (digestSettings, error) {
	var errs []error
	spec := strings.TrimSpace(getenv("DIGEST_SCHEDULE"))
	st := digestSettings{Enabled: !strings.EqualFold(spec, "off"), Grace: time.Hour}
	if !st.Enabled {
		spec = ""
	}
	s, err := digest.ParseSchedule(spec, getenv("DIGEST_TZ"))
	if err != nil {
		errs = append(errs, fmt.Errorf("DIGEST_SCHEDULE/DIGEST_TZ: %w", err))
	}
	s.Name = "default"
	s.Channel = cfg.Slack.Channel
	if c := strings.TrimSpace(getenv("DIGEST_CHANNEL")); c != "" {
		s.Channel = c
	}
	if v := getenv("DIGEST_WINDOW"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("DIGEST_WINDOW: want a positive duration such as 24h, got %q", v))
		}
		s.Window = d
	}
	if v := getenv("DIGEST_GRACE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("DIGEST_GRACE: want a positive duration such as 1h, got %q", v))
		}
		st.Grace = d
	}
	if v := getenv("DIGEST_SKIP_QUIET"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("DIGEST_SKIP_QUIET: want true or false, got %q", v))
		}
		s.SkipQuiet = b
	}
	st.Schedule = s
	st.Schedules = []digest.Schedule{s}
	if g := cfg.Digests.Grace.D(); g > 0 {
		st.Grace = g
	}
	// Schedules in the configuration file replace the DIGEST_* default.
	if len(cfg.Digests.Schedules) > 0 {
		st.Schedules = nil
		seen := map[string]bool{}
		for i, c := range cfg.Digests.Schedules {
			field := fmt.Sprintf("digests.schedules[%d]", i)
			ds, err := digest.ParseSchedule(c.Schedule, c.TZ)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", field, err))
			}
			ds.Name, ds.Channel, ds.Window, ds.SkipQuiet = c.Name, c.Channel, c.Window.D(), c.SkipQuiet
			if ds.Name == "" {
				ds.Name = fmt.Sprintf("digest-%d", i+1)
			}
			if seen[ds.Name] {
				errs = append(errs, fmt.Errorf("%s.name: %q is used twice (names key the exactly-once record)", field, ds.Name))
			}
			seen[ds.Name] = true
			if ds.Channel == "" {
				ds.Channel = cfg.Slack.Channel
			}
			st.Schedules = append(st.Schedules, ds)
		}
		st.Schedule = st.Schedules[0]
	}
	return st, errors.Join(errs...)
}

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
//	sched, err := newDigestScheduler(cfg, getenv, store, slack, d, log)
//	...
//	if sched != nil { g.Go(func() error { return sched.Run(workCtx) }) }
func newDigestScheduler(cfg config.Config, getenv func(string) string, s backend, slack *bot.Slack, d *deps, log *slog.Logger) (*digest.Scheduler, error) {
	store, err := digestStore(s)
	if err != nil {
		return nil, err
	}
	st, err := loadDigestSettings(cfg, getenv)
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
		Render:    digest.RenderOptions{TraceURL: traceURL(cfg.Traces)},
		Grace:     st.Grace,
		Logger:    log,
	})
}

// newDigestOnDemand returns what posts a digest when someone asks with
// /oncall digest (bot.AppOptions.Digester): the window is DIGEST_WINDOW,
// a day by default.
func newDigestOnDemand(cfg config.Config, getenv func(string) string, s backend, slack *bot.Slack, d *deps, log *slog.Logger) (*digest.OnDemand, error) {
	store, err := digestStore(s)
	if err != nil {
		return nil, err
	}
	st, err := loadDigestSettings(cfg, getenv)
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
		Render:   digest.RenderOptions{TraceURL: traceURL(cfg.Traces)},
		Window:   st.Schedule.Window,
		Location: st.Schedule.Location(),
	})
}

// checkDigest validates the digest's settings, for config check.
func checkDigest(cfg config.Config, getenv func(string) string) error {
	_, err := loadDigestSettings(cfg, getenv)
	return err
}
