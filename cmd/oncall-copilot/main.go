// Command oncall-copilot is the on-call engineer's copilot for teams that
// run LLM agents in production: it turns alert webhooks into Slack threads
// with a diagnosis grounded in the agents' traces.
//
// Usage:
//
//	oncall-copilot serve   [--config FILE] [--data-dir DIR] [--insecure-no-auth]
//	oncall-copilot triage  --alert FILE --traces PATH [--source NAME] [--format text|json]
//	oncall-copilot digest  [--since 24h] [--post] [--format text|json]
//	oncall-copilot eval    [--scenarios DIR] [--format text|json]
//	oncall-copilot jobs    list|retry ID|drop ID [--format text|json]
//	oncall-copilot config check [--config FILE] [--online]
//	oncall-copilot version
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "oncall-copilot:", err)
		}
		os.Exit(exitCode(err))
	}
}

// errUsage marks errors whose message was already printed with the usage.
var errUsage = errors.New("usage")

func exitCode(err error) int {
	if errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

const usage = `oncall-copilot: the on-call copilot for LLM agent fleets.

Commands:
  serve          receive alert webhooks, triage them, post to Slack
  triage         triage one alert from files and print the report
  digest         print or post the digest of the last day (--since 24h, --post)
  eval           score triage on labelled scenarios (examples/scenarios)
  jobs           list the queue and its dead letters; retry or drop one (list, retry ID, drop ID)
  config check   validate the configuration as serve does and print it, secrets masked
                 (--online: also check Slack's tokens and channels and the store)
  pages link     print a signed link to an incident page, or to the list of incidents
  version        print the version

Run "oncall-copilot COMMAND -h" for a command's flags.
Configuration comes from an optional YAML file (--config) and environment
variables; see the README's configuration reference.
`

// run is the whole program: main only turns the OS into these values.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], getenv, stdout, stderr)
	case "triage":
		return runTriage(ctx, args[1:], getenv, stdout, stderr)
	case "digest":
		return runDigest(ctx, args[1:], getenv, stdout, stderr)
	case "eval":
		return runEval(ctx, args[1:], getenv, stdout, stderr)
	case "jobs":
		return runJobs(ctx, args[1:], getenv, stdout, stderr)
	case "config":
		return runConfig(ctx, args[1:], getenv, stdout, stderr)
	case "pages":
		return runPages(args[1:], getenv, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "oncall-copilot", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", args[0], usage)
		return errUsage
	}
}
