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

// runServe runs the server until ctx ends: HTTP intake, workers, store.
func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", getenv("ONCALL_CONFIG"), "YAML configuration file")
	dataDir := fs.String("data-dir", "", "directory of the embedded store (default ./data)")
	noAuth := fs.Bool("insecure-no-auth", false, "accept webhooks without a bearer token (never in production)")
	if err := fs.Parse(args); err != nil {
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
	var problems []error
	if !cfg.Slack.BotToken.IsSet() {
		problems = append(problems, errors.New("slack.bot_token: SLACK_BOT_TOKEN is required to serve"))
	}
	if cfg.Slack.Channel == "" {
		problems = append(problems, errors.New("slack.channel: SLACK_CHANNEL is required to serve"))
	}
	if !cfg.WebhookToken.IsSet() && !cfg.InsecureNoAuth {
		problems = append(problems, errors.New("webhook_token: WEBHOOK_TOKEN is required (or pass --insecure-no-auth to accept unauthenticated alerts)"))
	}
	if err := errors.Join(problems...); err != nil {
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
	tri, err := newTriage(cfg, "", "", red, log, tel)
	if err != nil {
		return err
	}
	pages, err := newIncidentPages(cfg, store, red, log) // nil when the pages are off
	if err != nil {
		return err
	}
	slack, err := bot.New(bot.Options{
		Token:    cfg.Slack.BotToken.Reveal(),
		APIURL:   cfg.Slack.APIURL,
		Logger:   log,
		TraceURL: traceURL(cfg.Traces),
		Redact:   red.String,
		Observer: tel.metrics,

		ReportURL: reportLinks(cfg, pages),
	})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	od, err := newDigestOnDemand(cfg, getenv, store, slack, log)
	if err != nil {
		return err
	}
	sa, err := slackApp(ctx, cfg, getenv, store, slack, od, mux, log, tel)
	if err != nil {
		return err
	}
	// A job's lease on its incident lasts as long as its delivery may go
	// unacknowledged before another worker takes the job over.
	inc, err := incident.New(incident.Options{Store: store, Publisher: slack, Triager: tel.triager(tri, modelOn(cfg)), Lease: cfg.Queue.ReclaimIdle.D(), Logger: log})
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	pool, err := worker.New(worker.Options{
		Queue:       store,
		Handler:     tel.jobs(sa.Handle(inc.Handle)),
		Workers:     cfg.Workers,
		Name:        fmt.Sprintf("%s-%d", host, os.Getpid()),
		JobTimeout:  cfg.Queue.JobTimeout.D(),
		MaxAttempts: cfg.Queue.MaxAttempts,
		Drain:       cfg.Shutdown.D(),
		Logger:      log,
		Observer:    tel.metrics,
	})
	if err != nil {
		return err
	}
	sched, err := newDigestScheduler(cfg, getenv, store, slack, log) // nil when DIGEST_SCHEDULE=off
	if err != nil {
		return err
	}
	routes, err := alerts.NewRouteTable(cfg.Routes, cfg.Slack.Channel)
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
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintln(w, "ready")
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
	if sched != nil {
		g.Go(func() error { return sched.Run(workCtx) })
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

func modelState(cfg config.Config) string {
	if !cfg.Model.APIKey.IsSet() {
		return "offline (no OPENAI_API_KEY)"
	}
	return cfg.Model.Name
}
