// Command bench measures oncall-copilot against its performance targets
// on the machine it runs on and prints one table: figure, target,
// measured, baseline (a yardstick measured in the same run) and their
// ratio. `make bench` runs the Go benchmarks first and passes their
// output with -go; this command adds what needs a process of its own:
//
//   - webhook intake with the Redis backend under sustained load, against
//     a bare net/http handler doing one XADD;
//   - peak RSS of an `oncall-copilot triage` over a generated directory of
//     JSONL traces (1 GB by default), against the same over the example
//     traces, with the prompt the model received counted;
//   - prompt tokens against pasting the selected traces raw, with the
//     evidence recall of the eval over the example scenarios.
//
// Usage:
//
//	go run ./cmd/bench [-go FILE] [-quick] [-data-mb 1024] [-skip intake,langfuse,memory,tokens] [-markdown FILE]
//	                   [-intake-before BENCH_BINARY_OF_AN_EARLIER_COMMIT] [-intake-profile-dir DIR]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "serve-intake" {
		return runIntakeServer(ctx, args[1:], stdin, stdout)
	}
	if len(args) > 0 && args[0] == "bare-decode" {
		return runBareDecode(ctx, args[1:], stdout)
	}
	if len(args) > 0 && args[0] == "langfuse-triage" {
		return runLangfuseTriage(ctx, args[1:], stdout)
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	goOut := fs.String("go", "", "output of `go test -bench` to include in the table")
	quick := fs.Bool("quick", false, "shorter runs and 128 MB of generated traces (a smoke test, not a measurement)")
	dataMB := fs.Int("data-mb", 1024, "size of the generated trace directory for the memory figure, in MB")
	skip := fs.String("skip", "", "comma-separated parts to leave out: intake, langfuse, memory, tokens")
	examples := fs.String("examples", "examples", "the repository's examples directory")
	workDir := fs.String("work-dir", filepath.Join(os.TempDir(), "oncall-bench"), "where generated traces and the built binary are kept between runs")
	mdPath := fs.String("markdown", "", "also write the table as Markdown to this file")
	intakeBefore := fs.String("intake-before", "", "a bench binary built from an earlier commit: its intake server runs in the same rounds, for a before/after comparison")
	intakeProfiles := fs.String("intake-profile-dir", "", "write a CPU profile of each intake server process into this directory")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of this process (intake and eval) to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	where := machine() // before the runs load the machine themselves
	skipped := strings.Split(*skip, ",")
	redis := getenv("REDIS_URL")
	if redis == "" {
		redis = "redis://127.0.0.1:6379/15"
	}
	dur := 8 * time.Second
	if *quick {
		dur, *dataMB = 2*time.Second, min(*dataMB, 128)
	}
	if err := os.MkdirAll(*workDir, 0o750); err != nil {
		return err
	}
	progress := func(format string, a ...any) { fmt.Fprintf(stderr, "bench: "+format+"\n", a...) }
	var rows []row
	var problems []error

	if *goOut != "" {
		f, err := os.Open(*goOut)
		if err != nil {
			return fmt.Errorf("read go benchmarks: %w", err)
		}
		res, err := parseBench(f)
		f.Close()
		if err != nil {
			return err
		}
		rows = append(rows, benchRows(res)...)
	}
	if !slices.Contains(skipped, "intake") {
		progress("webhook intake against Redis (%s per run)", dur)
		r, err := intakeRows(ctx, intakeSettings{RedisURL: redis, AlertPath: filepath.Join(*examples, "quickstart", "alert.json"),
			Conns: 32, Duration: dur, TargetRate: 5000, ShapeAlerts: 4000, ShapeGroups: 200,
			Before: *intakeBefore, ProfileDir: *intakeProfiles})
		rows = append(rows, r...)
		problems = append(problems, err)
	}
	if !slices.Contains(skipped, "langfuse") {
		progress("triage over a local Langfuse holding 2,000 runs a window")
		rounds := 3
		if *quick {
			rounds = 1
		}
		r, err := langfuseRows(ctx, 2000, rounds)
		if err != nil {
			r = []row{{Figure: "Triage over Langfuse", Target: "<= 100 requests", Measured: "not run", Met: "NO", Note: err.Error()}}
		}
		rows = append(rows, r...)
		problems = append(problems, err)
	}
	if !slices.Contains(skipped, "memory") {
		progress("triage over %d MB of generated JSONL traces", *dataMB)
		r, err := memoryRows(ctx, memorySettings{WorkDir: *workDir, MB: *dataMB, Examples: *examples, Progress: progress, Getenv: getenv})
		rows = append(rows, r...)
		problems = append(problems, err)
	}
	if !slices.Contains(skipped, "tokens") {
		progress("prompt tokens against raw traces over the example scenarios")
		r, err := tokenRows(ctx, filepath.Join(*examples, "scenarios"))
		rows = append(rows, r...)
		problems = append(problems, err)
	}

	fmt.Fprintf(stdout, "oncall-copilot benchmarks on %s\n\n", where)
	writeTable(stdout, rows)
	if *mdPath != "" {
		f, err := os.Create(*mdPath)
		if err != nil {
			return err
		}
		fmt.Fprintf(f, "Machine: %s\n\n", where)
		writeMarkdown(f, rows)
		if err := f.Close(); err != nil {
			return err
		}
	}
	return errors.Join(problems...)
}

// intakeRows measures the intake and renders its rows.
func intakeRows(ctx context.Context, s intakeSettings) ([]row, error) {
	run, err := benchIntake(ctx, s)
	if err != nil {
		return []row{{Figure: "Webhook intake (Redis)", Target: ">= 5,000 alerts/s, p99 <= 10 ms", Measured: "not run", Met: "NO", Note: err.Error()}}, err
	}
	copilot, base := run.Copilot, run.Baseline
	// before says what the earlier build measured in the same rounds.
	before := func(f func(intakeFigures) string) string {
		if run.Before == nil {
			return ""
		}
		return "the earlier build (-intake-before) in the same rounds: " + f(*run.Before)
	}
	rate, baseRate := copilot.Sustained.Rate(), base.Sustained.Rate()
	thr := row{
		Figure:   fmt.Sprintf("Webhook intake with Redis, sustained (%d connections, closed loop)", s.Conns),
		Target:   ">= 5,000 alerts/s; ratio >= 0.9",
		Measured: fmt.Sprintf("%.0f alerts/s", rate),
		Baseline: fmt.Sprintf("%.0f alerts/s (net/http + one XADD)", baseRate),
		Ratio:    ratio(rate, baseRate),
		Met:      met(rate >= 5000 && baseRate > 0 && rate/baseRate >= 0.9),
		Note: joinNotes(failedNote(copilot.Sustained), before(func(f intakeFigures) string {
			return fmt.Sprintf("%.0f alerts/s, ratio %s", f.Sustained.Rate(), ratio(f.Sustained.Rate(), baseRate))
		})),
	}
	rows := []row{thr}
	if s.ShapeAlerts > 0 {
		r, br := copilot.Shape.Rate(), base.Shape.Rate()
		p99, bp99 := copilot.Shape.Quantile(0.99), base.Shape.Quantile(0.99)
		shape := fmt.Sprintf("%d alerts / %d groups / %d connections", s.ShapeAlerts, s.ShapeGroups, s.Conns)
		rows = append(rows, row{
			Figure:   "Webhook intake with Redis, " + shape + ", throughput",
			Target:   "ratio >= 0.9",
			Measured: fmt.Sprintf("%.0f alerts/s", r),
			Baseline: fmt.Sprintf("%.0f alerts/s (net/http + one XADD)", br),
			Ratio:    ratio(r, br),
			Met:      met(br > 0 && r/br >= 0.9 && copilot.Shape.Failed == 0),
			Note: joinNotes(failedNote(copilot.Shape), before(func(f intakeFigures) string {
				return fmt.Sprintf("%.0f alerts/s, ratio %s", f.Shape.Rate(), ratio(f.Shape.Rate(), br))
			})),
		}, row{
			Figure:   "Webhook intake with Redis, " + shape + ", p99",
			Target:   "<= 10 ms",
			Measured: fmt.Sprintf("%s (p50 %s)", ms(p99), ms(copilot.Shape.Quantile(0.5))),
			Baseline: ms(bp99),
			Ratio:    ratio(float64(p99), float64(bp99)),
			Met:      met(p99 > 0 && p99 <= 10*time.Millisecond && copilot.Shape.Failed == 0),
			Note: before(func(f intakeFigures) string {
				return fmt.Sprintf("p99 %s (p50 %s)", ms(f.Shape.Quantile(0.99)), ms(f.Shape.Quantile(0.5)))
			}),
		})
	}
	p99, baseP99 := copilot.AtTarget.Quantile(0.99), base.AtTarget.Quantile(0.99)
	lat := row{
		Figure:   fmt.Sprintf("Webhook intake with Redis, p99 at %.0f alerts/s offered (open loop)", s.TargetRate),
		Target:   "<= 10 ms",
		Measured: fmt.Sprintf("%s (p50 %s, %.0f alerts/s served)", ms(p99), ms(copilot.AtTarget.Quantile(0.5)), copilot.AtTarget.Rate()),
		Baseline: ms(baseP99),
		Ratio:    ratio(float64(p99), float64(baseP99)),
		Met:      met(p99 > 0 && p99 <= 10*time.Millisecond && copilot.AtTarget.Failed == 0),
		Note: joinNotes(failedNote(copilot.AtTarget), before(func(f intakeFigures) string {
			return fmt.Sprintf("p99 %s (p50 %s)", ms(f.AtTarget.Quantile(0.99)), ms(f.AtTarget.Quantile(0.5)))
		})),
	}
	cpu, baseCPU := copilot.CPUPerAlert(), base.CPUPerAlert()
	perCore := func(d time.Duration) float64 { return float64(time.Second) / float64(d) }
	work := row{
		Figure:   "Webhook intake with Redis, server CPU per alert (closed loop)",
		Measured: fmt.Sprintf("%.0f µs (%.0f alerts/s per core)", float64(cpu)/1e3, perCore(cpu)),
		Baseline: fmt.Sprintf("%.0f µs (%.0f alerts/s per core)", float64(baseCPU)/1e3, perCore(baseCPU)),
		Ratio:    ratio(float64(baseCPU), float64(cpu)),
		Note: joinNotes("CPU time of the server process alone, which other load on the machine barely moves; the ratio is the baseline's cost over the copilot's, as throughput on a core to itself would compare",
			before(func(f intakeFigures) string { return fmt.Sprintf("%.0f µs", float64(f.CPUPerAlert())/1e3) })),
	}
	if cpu <= 0 || baseCPU <= 0 {
		work.Measured, work.Baseline, work.Ratio = "not measured (no /proc)", "", ""
	}
	return append(rows, lat, work), nil
}

// failedNote says how many requests of r were not accepted, if any.
func failedNote(r loadResult) string {
	if r.Failed > 0 {
		return fmt.Sprintf("%d of %d requests were not accepted", r.Failed, r.Sent)
	}
	return ""
}

// joinNotes joins the non-empty notes with "; ".
func joinNotes(notes ...string) string {
	var out []string
	for _, n := range notes {
		if n != "" {
			out = append(out, n)
		}
	}
	return strings.Join(out, "; ")
}
