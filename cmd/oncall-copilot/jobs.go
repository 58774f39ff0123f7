package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/config"
	"github.com/oncall-copilot/oncall-copilot/redact"
	"github.com/oncall-copilot/oncall-copilot/report"
	"github.com/oncall-copilot/oncall-copilot/store/boltdb"
	"github.com/oncall-copilot/oncall-copilot/store/redisdb"
)

// jobStore is what the jobs command needs of a store: the queue's
// figures and its dead letters.
type jobStore interface {
	QueueStats(ctx context.Context) (oncall.QueueStats, error)
	DeadLetters(ctx context.Context) ([]oncall.Job, error)
	RequeueDead(ctx context.Context, jobID string) error
	DropDead(ctx context.Context, jobID string) error
	Close() error
}

var (
	_ jobStore = (*boltdb.Store)(nil)
	_ jobStore = (*redisdb.Store)(nil)
)

const jobsUsage = `usage: oncall-copilot jobs COMMAND [ID] [--config FILE] [--data-dir DIR]

  list [--format text|json]   queue figures and the dead letters
  retry ID                    queue dead letter ID again, its attempts reset
  drop ID                     delete dead letter ID

ID is a dead letter's id, as jobs list shows it; flags may come before or
after it. Settings: REDIS_URL (and REDIS_PREFIX) for Redis, else DATA_DIR
or --data-dir for the embedded store (default ./data).

With Redis (REDIS_URL) the commands work while serve runs. The embedded
store is one file that one process at a time may open: stop serve first.
A retried alert is posted where the configuration says when serve runs it
(fix SLACK_CHANNEL or the route's channel first).
`

// runJobs lists, requeues and drops dead letters.
func runJobs(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprint(stderr, jobsUsage)
		return errUsage
	}
	cmd := args[0]
	flags := flag.NewFlagSet("jobs "+cmd, flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.Usage = func() { fmt.Fprint(stderr, jobsUsage) }
	path := flags.String("config", getenv("ONCALL_CONFIG"), "YAML configuration file")
	dataDir := flags.String("data-dir", "", "directory of the embedded store (default ./data)")
	format := flags.String("format", "text", "output format of list: text or json")
	pos, err := parseArgs(flags, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return errUsage
	}
	var id string
	switch cmd {
	case "list":
		if len(pos) != 0 || (*format != "text" && *format != "json") {
			fmt.Fprint(stderr, jobsUsage)
			return errUsage
		}
	case "retry", "drop":
		if len(pos) != 1 || strings.TrimSpace(pos[0]) == "" {
			fmt.Fprintf(stderr, "jobs %s: the id of one dead letter is required (see oncall-copilot jobs list)\n\n%s", cmd, jobsUsage)
			return errUsage
		}
		id = pos[0]
	default:
		fmt.Fprintf(stderr, "unknown jobs command %q\n\n%s", cmd, jobsUsage)
		return errUsage
	}
	cfg, err := config.Load(*path, getenv)
	if err != nil {
		return err
	}
	if *dataDir != "" {
		cfg.DataDir = *dataDir
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("configuration is invalid:\n%w", err)
	}
	store, err := openJobStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()

	switch cmd {
	case "retry":
		if err := store.RequeueDead(ctx, id); err != nil {
			return deadLetterError("requeue", id, err)
		}
		fmt.Fprintf(stdout, "job %s queued again\n", id)
		return nil
	case "drop":
		if err := store.DropDead(ctx, id); err != nil {
			return deadLetterError("drop", id, err)
		}
		fmt.Fprintf(stdout, "job %s dropped\n", id)
		return nil
	}
	stats, err := store.QueueStats(ctx)
	if err != nil {
		return fmt.Errorf("read queue figures: %w", err)
	}
	dead, err := store.DeadLetters(ctx)
	if err != nil {
		return fmt.Errorf("list dead letters: %w", err)
	}
	red, err := redact.New(redact.Options{})
	if err != nil {
		return err
	}
	rows := report.DeadLetterRows(dead, red)
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Stats oncall.QueueStats   `json:"stats"`
			Dead  []report.DeadLetter `json:"dead"`
		}{stats, rows})
	}
	report.WriteJobs(stdout, stats, rows)
	return nil
}

func deadLetterError(what, id string, err error) error {
	if errors.Is(err, oncall.ErrNotFound) {
		return fmt.Errorf("no dead letter has id %s (see oncall-copilot jobs list)", id)
	}
	return fmt.Errorf("%s dead letter %s: %w", what, id, err)
}

// openJobStore opens the configured store for the jobs command. The
// embedded store is opened only if it exists, and a serve holding it is
// named as the reason it cannot be.
func openJobStore(ctx context.Context, cfg config.Config) (jobStore, error) {
	if cfg.RedisURL.IsSet() {
		s, err := redisdb.Open(ctx, redisdb.Options{URL: cfg.RedisURL.Reveal(), Prefix: cfg.RedisPrefix})
		if err != nil {
			return nil, fmt.Errorf("open redis store: %w", err)
		}
		return s, nil
	}
	path := filepath.Join(cfg.DataDir, "oncall.db")
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no embedded store at %s: serve has not run with this data directory (set --data-dir or DATA_DIR)", path)
	}
	s, err := boltdb.Open(boltdb.Options{Path: path, LockTimeout: time.Second})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("the embedded store %s is locked by a running oncall-copilot serve: "+
			"only one process may open it, so stop serve first (or use Redis, where jobs works while serving)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("open embedded store %s: %w", path, err)
	}
	return s, nil
}
