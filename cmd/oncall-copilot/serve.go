package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/oncall-copilot/oncall-copilot/alerts"
	"github.com/oncall-copilot/oncall-copilot/bot"
	"github.com/oncall-copilot/oncall-copilot/config"
	"github.com/oncall-copilot/oncall-copilot/incident"
	"github.com/oncall-copilot/oncall-copilot/metrics"
	"github.com/oncall-copilot/oncall-copilot/redact"
	"github.com/oncall-copilot/oncall-copilot/worker"
)

const serveHelp = `
Receives alert webhooks, triages them against the agents' traces and
posts each incident as a Slack thread.

Required settings (environment, or the YAML file given with --config):
  SLACK_BOT_TOKEN   the app's Bot User OAuth Token (xoxb-…)
  SLACK_CHANNEL     the channel incidents go to: #name or id; the app must be in it
  WEBHOOK_TOKEN     the bearer token alert sources send (or --insecure-no-auth)
  a trace source    TRACE_JSONL_PATH, LANGFUSE_HOST, PHOENIX_BASE_URL, JAEGER_QUERY_URL or TEMPO_URL
Optional:
  OPENAI_API_KEY    model diagnoses (offline analysis without it)
  SLACK_APP_TOKEN   Socket Mode (xapp-…), or SLACK_SIGNING_SECRET for the HTTP
                    Events API: questions, buttons and /oncall
  REDIS_URL         Redis instead of the embedded store in DATA_DIR (./data)

At start serve checks the Slack token and that the app is in every
configured channel, and stops naming the setting to fix; "config check
--online" makes the same checks without serving.`

// runServe runs the server until ctx ends: HTTP intake, workers, store.
func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = commandHelp(fs, stderr, "serve [--config FILE] [--data-dir DIR] [--insecure-no-auth]", serveHelp)
	path := fs.String("config", getenv("ONCALL_CONFIG"), "YAML configuration file")
	dataDir := fs.String("data-dir", "", "directory of the embedded store (default ./data)")
	noAuth := fs.Bool("insecure-no-auth", false, "accept webhooks without a bearer token (never in production)")
	pos, err := parseArgs(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return errUsage
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "serve takes no arguments, got %q\n", pos)
		fs.Usage()
		return errUsage
	}
	cfg, err := config.Load(*path, getenv)
	if err != nil {
		return err
	}
	if *dataDir != "" {
		cfg.DataDir = *dataDir
	}
	if *noAuth {
		cfg.InsecureNoAuth = true
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("configuration is invalid:\n%w", err)
	}
	if err := serveRequirements(cfg); err != nil {
		return fmt.Errorf("cannot serve:\n%w", err)
	}

	log := newLogger(cfg.LogLevel, stderr)
	if cfg.InsecureNoAuth {
		log.Warn("webhook authentication is disabled (--insecure-no-auth): anyone who can reach the server can post alerts")
	}
	if cfg.DataDir != "" && !cfg.RedisURL.IsSet() {
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return fmt.Errorf("create data dir: %w", err)
		}
	}
	store, kind, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer store.Close()
	queue, _ := store.(metrics.QueueStatser)
	tel, err := newTelemetry(cfg, queue, log)
	if err != nil {
		return err
	}
	log = tel.Logger(log)

	red, err := redact.New(redact.Options{})
	if err != nil {
		return err
	}
	// One model client and one client per trace store, shared by
	// triage, the assistant and the digests.
	d, err := newDeps(cfg, "", "", red, log, tel)
	if err != nil {
		return err
	}
	tri, err := newTriage(cfg, d, log, nil)
	if err != nil {
		return err
	}
	pages, err := newIncidentPages(cfg, store, red, log) // nil when the pages are off
	if err != nil {
		return err
	}
	slack, err := bot.New(bot.Options{
		Token:    cfg.Slack.BotToken.Reveal(),
		APIURL:   cfg.Slack.APIURL.Reveal(),
		Logger:   log,
		TraceURL: cfg.Traces.TraceURL(),
		Redact:   red.String,
		Observer: tel.metrics,
		// The outbox paces messages; this keeps the few calls made
		// outside it (digests, answers) within Slack's rate too.
		MinInterval: cfg.Slack.SendInterval.D(),
		// Buttons nobody could click are left out.
		WithoutButtons: !interactivityConfigured(cfg),
		ReportURL:      reportLinks(cfg, pages),
	})
	if err != nil {
		return err
	}
	// Slack is checked before anything is accepted: a refused token or a
	// channel the app is not in stops serve here, naming the setting;
	// Slack out of reach keeps it unready until a check passes.
	channels := configuredChannels(cfg)
	slackOK := &slackHealth{}
	channelIDs, err := checkSlack(ctx, slack, channels)
	switch {
	case errors.Is(err, errSlackUnreachable):
		log.Error("slack check failed; not ready until it passes", "err", err)
		slackOK.set(err.Error())
	case err != nil:
		return fmt.Errorf("slack is not set up:\n%w", err)
	}
	routeCfg, defaultChannel := resolvedRoutes(cfg, channelIDs)
	routes, err := alerts.NewRouteTable(routeCfg, defaultChannel)
	if err != nil {
		return err
	}
	// A job's lease on its incident, like its lease on its delivery,
	// lapses queue.reclaim_idle after its worker stopped renewing it.
	// Jobs hand their Slack messages to the outbox, which sends them
	// paced per channel while workers go on to the next job.
	host, _ := os.Hostname()
	incOpts := incident.Options{
		Store: store, Publisher: slack, Triager: tel.triager(tri, modelOn(cfg)), Routes: routes,
		Lease: cfg.Queue.ReclaimIdle.D(), Requeue: store, Logger: log,
		// A dead process's channels, like its jobs, are taken over
		// after queue.reclaim_idle.
		Outbox: store, SendInterval: cfg.Slack.SendInterval.D(), OutboxOwner: fmt.Sprintf("%s-%d", host, os.Getpid()),
		OutboxLease:    cfg.Queue.ReclaimIdle.D(),
		StormThreshold: cfg.Storm.Threshold, StormWindow: cfg.Storm.Window.D(),
		StormSummaryEvery: cfg.Storm.SummaryEvery.D(), StormTriageAt: cfg.Storm.TriageAt,
	}
	forgetful, _ := store.(forgetfulStore) // Redis: may lose its data
	if forgetful != nil {
		incOpts.StoreLostAt = forgetful.DataLostAt
	}
	inc, err := incident.New(incOpts)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	od, err := newDigestOnDemand(cfg, store, slack, d, log)
	if err != nil {
		return err
	}
	sa, err := slackApp(ctx, cfg, store, slack, inc, d, od, mux, log, tel)
	if err != nil {
		return err
	}
	pool, err := worker.New(worker.Options{
		Queue:       store,
		Handler:     tel.jobs(sa.Handle(settingHints(cfg)(inc.Handle))),
		Workers:     cfg.Workers,
		Name:        fmt.Sprintf("%s-%d", host, os.Getpid()),
		JobTimeout:  cfg.Queue.JobTimeout.D(),
		Lease:       cfg.Queue.ReclaimIdle.D(),
		MaxAttempts: cfg.Queue.MaxAttempts,
		Drain:       cfg.Shutdown.D(),
		Logger:      log,
		Observer:    tel.metrics,
	})
	if err != nil {
		return err
	}
	sched, err := newDigestScheduler(cfg, store, slack, d, log) // nil when DIGEST_SCHEDULE=off
	if err != nil {
		return err
	}
	intake, err := alerts.NewHandler(alerts.Options{
		Queue:       store,
		Router:      routes,
		Token:       cfg.WebhookToken.Reveal(),
		Sources:     cfg.Webhooks.Auth(),
		Generic:     cfg.Webhooks.GenericMapping,
		Deduper:     store,
		DedupeTTL:   cfg.Webhooks.DedupeTTL.D(),
		AllowNoAuth: cfg.InsecureNoAuth,
		Logger:      log,
		Observer:    tel.metrics,
	})
	if err != nil {
		return err
	}

	intake.Register(mux)
	tel.Register(mux)
	if pages != nil {
		pages.Register(mux)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		pctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := store.Ping(pctx); err != nil {
			http.Error(w, "store unreachable", http.StatusServiceUnavailable)
			return
		}
		if p := slackOK.Problem(); p != "" {
			http.Error(w, "slack: "+p, http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintln(w, "ready")
		if forgetful != nil {
			if at := forgetful.DataLostAt(); !at.IsZero() {
				// Still ready: intake and work go on, and parents are
				// looked up in Slack; the line is for whoever checks.
				fmt.Fprintf(w, "store lost its data at %s: jobs queued before then are gone; threads are looked up in Slack before posting\n", at.UTC().Format(time.RFC3339))
			}
		}
	})
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.ListenAddr, err)
	}
	log.Info("serving", "addr", ln.Addr().String(), "store", kind, "workers", cfg.Workers, "model", modelState(cfg))
	fmt.Fprintf(stdout, "oncall-copilot listening on %s\n", ln.Addr())

	// Self traces are exported until the workers have stopped, then
	// flushed; then the store closes.
	traceCtx, stopTrace := context.WithCancel(context.WithoutCancel(ctx))
	traced := make(chan error, 1)
	go func() { traced <- tel.Run(traceCtx) }()
	defer func() { stopTrace(); <-traced }()

	// Intake stops first; workers then drain; the store closes last (defer).
	g, gctx := errgroup.WithContext(ctx)
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	g.Go(func() error {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server: %w", err)
		}
		return nil
	})
	g.Go(func() error { return sa.Run(gctx) })
	g.Go(func() error { return pool.Run(workCtx) })
	g.Go(func() error { return inc.RunOutbox(workCtx) })
	g.Go(func() error { return slackOK.watch(gctx, slack, channels, time.Minute, log) })
	if sched != nil {
		g.Go(func() error { return sched.Run(workCtx) })
	}
	if forgetful != nil {
		g.Go(func() error { return forgetful.Run(workCtx) })
	}
	g.Go(func() error {
		<-gctx.Done()
		log.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		err := srv.Shutdown(sctx)
		stopWork()
		return err
	})
	err = g.Wait()
	log.Info("stopped")
	return err
}

// forgetfulStore is a store that may lose its data under us (Redis
// without persistence, flushed, failed over) and notices when it does.
type forgetfulStore interface {
	DataLostAt() time.Time
	Run(ctx context.Context) error
}

func modelState(cfg config.Config) string {
	if !cfg.Model.APIKey.IsSet() {
		return "offline (no OPENAI_API_KEY)"
	}
	return cfg.Model.Name
}
