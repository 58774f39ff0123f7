package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/oncall-copilot/oncall-copilot/alerts"
	"github.com/oncall-copilot/oncall-copilot/redact"
	"github.com/oncall-copilot/oncall-copilot/store/redisdb"
)

const benchToken = "bench-webhook-token"

// alertBodies turns an Alertmanager webhook payload into a generator of
// payloads of one alert each, every one its own group: the i-th carries
// i in its group key and a bench_id label.
func alertBodies(path string) (func(i int) []byte, error) { return groupedAlertBodies(path, 0) }

// groupedAlertBodies is alertBodies with the alerts spread over groups
// groups (the i-th alert in group i mod groups, as Alertmanager re-sends
// a group's notification with its alerts); 0 gives every alert a group
// of its own.
func groupedAlertBodies(path string, groups int) (func(i int) []byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read alert template: %w", err)
	}
	var p map[string]any
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("alert template %s: %w", path, err)
	}
	list, _ := p["alerts"].([]any)
	if len(list) == 0 {
		return nil, fmt.Errorf("alert template %s has no alerts", path)
	}
	a, _ := list[0].(map[string]any)
	labels, _ := a["labels"].(map[string]any)
	if labels == nil {
		labels = map[string]any{}
		a["labels"] = labels
	}
	labels["bench_id"] = "BENCHID"
	a["fingerprint"] = "BENCHID"
	p["alerts"] = []any{a}
	p["groupKey"] = fmt.Sprint(p["groupKey"]) + ":BENCHGROUP"
	tpl, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return func(i int) []byte {
		g := i
		if groups > 0 {
			g = i % groups
		}
		b := bytes.ReplaceAll(tpl, []byte("BENCHGROUP"), []byte(strconv.Itoa(g)))
		return bytes.ReplaceAll(b, []byte("BENCHID"), []byte(strconv.Itoa(i)))
	}, nil
}

// serve runs h on a loopback port until ctx ends and returns its URL.
func serve(ctx context.Context, h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	return "http://" + ln.Addr().String(), nil
}

func randomPrefix(what string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "oncall-bench:" + what + ":" + hex.EncodeToString(b) + ":"
}

// dropKeys deletes every key under prefix.
func dropKeys(ctx context.Context, rdb *redis.Client, prefix string) error {
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return err
	}
	if len(keys) == 0 {
		return nil
	}
	return rdb.Unlink(ctx, keys...).Err()
}

// intakeHandler is the server under test: "copilot", the alerts handler
// queueing into store/redisdb, or "baseline", a bare handler doing one
// XADD of the body.
func intakeHandler(ctx context.Context, kind, redisURL, prefix string) (http.Handler, func(), error) {
	switch kind {
	case "copilot":
		red, err := redact.New(redact.Options{})
		if err != nil {
			return nil, nil, err
		}
		store, err := redisdb.Open(ctx, redisdb.Options{URL: redisURL, Prefix: prefix})
		if err != nil {
			return nil, nil, err
		}
		h, err := alerts.NewHandler(alerts.Options{
			Queue: store, Router: alerts.DefaultRoute{Channel: "C0BENCH"}, Token: benchToken, Deduper: store,
			// As serve logs: JSON lines at info, one per accepted alert,
			// through the redacting handler.
			Logger: slog.New(redact.LogHandler(slog.NewJSONHandler(io.Discard, nil), red)),
		})
		if err != nil {
			store.Close()
			return nil, nil, err
		}
		mux := http.NewServeMux()
		h.Register(mux)
		return mux, func() { store.Close() }, nil
	case "baseline":
		ropts, err := redis.ParseURL(redisURL)
		if err != nil {
			return nil, nil, errors.New("REDIS_URL is not a redis:// URL")
		}
		rdb := redis.NewClient(ropts)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, alerts.MaxBody))
			if err != nil {
				http.Error(w, "bad body", http.StatusBadRequest)
				return
			}
			if err := rdb.XAdd(r.Context(), &redis.XAddArgs{Stream: prefix + "baseline", Values: []any{"job", b}}).Err(); err != nil {
				http.Error(w, "queue unavailable", http.StatusServiceUnavailable)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusAccepted)
			_, _ = io.WriteString(w, `{"status":"accepted"}`)
		})
		return h, func() { rdb.Close() }, nil
	}
	return nil, nil, fmt.Errorf("unknown intake server %q", kind)
}

// runIntakeServer is the child process of startIntakeServer: it serves
// one intake handler on loopback, prints its URL, and stops when its
// standard input closes.
func runIntakeServer(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("serve-intake", flag.ContinueOnError)
	kind := fs.String("kind", "copilot", "copilot or baseline")
	redisURL := fs.String("redis", "", "Redis URL")
	prefix := fs.String("prefix", "", "key prefix")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the server to this file")
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
		defer f.Close()
		defer pprof.StopCPUProfile() // a second call does nothing
	}
	h, cleanup, err := intakeHandler(ctx, *kind, *redisURL, *prefix)
	if err != nil {
		return err
	}
	defer cleanup()
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	url, err := serve(ctx, h)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, url)
	_, _ = io.Copy(io.Discard, stdin)
	pprof.StopCPUProfile() // before the parent, done, stops this process
	return nil
}

// startIntakeServer runs an intake server in a child process of exe (this
// program when empty) until ctx ends and returns its URL and process.
func startIntakeServer(ctx context.Context, exe, kind, redisURL, prefix, profile string) (string, *os.Process, error) {
	if exe == "" {
		self, err := os.Executable()
		if err != nil {
			return "", nil, err
		}
		exe = self
	}
	args := []string{"serve-intake", "-kind", kind, "-redis", redisURL, "-prefix", prefix}
	if profile != "" {
		args = append(args, "-cpuprofile", profile)
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", nil, err
	}
	// When ctx ends the server is told by its standard input closing,
	// and killed only if it has not stopped a few seconds later (time to
	// write its profile).
	cmd.Cancel = stdin.Close
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start %s intake server: %w", kind, err)
	}
	go func() {
		<-ctx.Done()
		stdin.Close()
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		return "", nil, fmt.Errorf("%s intake server did not start: %w", kind, err)
	}
	go func() { _ = cmd.Wait() }()
	return strings.TrimSpace(line), cmd.Process, nil
}

// intakeFigures are the intake measurements of one server.
type intakeFigures struct {
	Sustained loadResult // closed loop: the most it takes
	AtTarget  loadResult // open loop at the target rate: its latency
	// Shape is the load: a fixed number of alerts over a few
	// groups through Conns connections, closed loop, round after round.
	Shape loadResult
	// CPU is the server process's CPU time over the closed-loop runs.
	CPU time.Duration
}

// intakeSettings shape the intake runs.
type intakeSettings struct {
	RedisURL   string
	AlertPath  string
	Conns      int
	Duration   time.Duration
	TargetRate float64
	// ShapeAlerts alerts over ShapeGroups groups make one run of the
	// issue's load shape (4,000 over 200).
	ShapeAlerts, ShapeGroups int
	// Before, when set, is a bench binary built from an earlier commit:
	// its copilot server runs in the same rounds as this one's, so a
	// change is measured against what it replaces under the same load.
	Before string
	// ProfileDir, when set, gets a CPU profile of each server.
	ProfileDir string
}

// intakeRun is the figures of every server of one intake measurement.
type intakeRun struct {
	Copilot, Baseline intakeFigures
	Before            *intakeFigures // nil without intakeSettings.Before
}

// benchIntake measures the webhook intake with the Redis backend (the
// alerts handler queueing into store/redisdb) and, as its baseline, a bare
// net/http handler doing one XADD of the body, under the same loads (and,
// with s.Before, the copilot server of an earlier build too).
func benchIntake(ctx context.Context, s intakeSettings) (intakeRun, error) {
	var run intakeRun
	body, err := alertBodies(s.AlertPath)
	if err != nil {
		return run, err
	}
	shapeBody, err := groupedAlertBodies(s.AlertPath, s.ShapeGroups)
	if err != nil {
		return run, err
	}
	ropts, err := redis.ParseURL(s.RedisURL)
	if err != nil {
		return run, errors.New("REDIS_URL is not a redis:// URL")
	}
	rdb := redis.NewClient(ropts)
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return run, fmt.Errorf("redis unreachable: %w", err)
	}
	prefix := randomPrefix("intake")
	defer func() { _ = dropKeys(context.WithoutCancel(ctx), rdb, prefix) }()
	profile := func(name string) string {
		if s.ProfileDir == "" {
			return ""
		}
		return filepath.Join(s.ProfileDir, "intake-"+name+".pprof")
	}
	// Each server runs in a process of its own, as serve would, so the
	// load generator's allocations and goroutines do not share its
	// runtime.
	type server struct {
		figures    *intakeFigures
		proc       *os.Process
		req, shape request
	}
	start := func(f *intakeFigures, exe, kind, name, prefix string) (server, error) {
		url, proc, err := startIntakeServer(ctx, exe, kind, s.RedisURL, prefix, profile(name))
		if err != nil {
			return server{}, err
		}
		return server{figures: f, proc: proc,
			req:   jsonPost(url+"/webhooks/alertmanager", benchToken, body),
			shape: jsonPost(url+"/webhooks/alertmanager", benchToken, shapeBody)}, nil
	}
	var servers []server
	if s.Before != "" {
		run.Before = &intakeFigures{}
		srv, err := start(run.Before, s.Before, "copilot", "before", prefix+"before:")
		if err != nil {
			return run, fmt.Errorf("earlier build: %w", err)
		}
		servers = append(servers, srv)
	}
	for _, k := range []struct {
		f    *intakeFigures
		kind string
	}{{&run.Copilot, "copilot"}, {&run.Baseline, "baseline"}} {
		srv, err := start(k.f, "", k.kind, k.kind, prefix)
		if err != nil {
			return run, err
		}
		servers = append(servers, srv)
	}
	clean := func() {
		_ = dropKeys(ctx, rdb, prefix+"baseline")
		_ = dropKeys(ctx, rdb, prefix+"jobs")
		_ = dropKeys(ctx, rdb, prefix+"before:")
	}

	maxReqs := int(s.TargetRate*4*s.Duration.Seconds()) + 1
	// Warm all up, then alternate in short rounds so that none gets a
	// quieter machine: other work on a shared box hits them alike. The
	// order turns each round, so none always follows the same one.
	const rounds = 4
	for _, srv := range servers {
		closedLoop(ctx, srv.req, http.StatusAccepted, s.Conns, s.Duration/5, maxReqs)
	}
	turn := func(r int) []server { // servers in the order of round r
		n := len(servers)
		out := make([]server, n)
		for i := range servers {
			out[i] = servers[(i+r)%n]
		}
		return out
	}
	for r := range rounds {
		for _, srv := range turn(r) {
			cpu0 := processCPU(srv.proc)
			srv.figures.Sustained.add(closedLoop(ctx, srv.req, http.StatusAccepted, s.Conns, s.Duration/rounds, maxReqs))
			srv.figures.CPU += processCPU(srv.proc) - cpu0
		}
		clean()
	}
	if s.ShapeAlerts > 0 {
		for r := range rounds {
			for _, srv := range turn(r) {
				srv.figures.Shape.add(closedLoop(ctx, srv.shape, http.StatusAccepted, s.Conns, time.Minute, s.ShapeAlerts))
			}
			clean()
		}
	}
	for r := range rounds {
		for _, srv := range turn(r) {
			srv.figures.AtTarget.add(openLoop(ctx, srv.req, http.StatusAccepted, 4*s.Conns, s.TargetRate, s.Duration/rounds))
		}
		clean()
	}
	if err := ctx.Err(); err != nil {
		return run, err
	}
	return run, nil
}

// processCPU is the user and system CPU time a process has used so far,
// from /proc (zero where it cannot be read).
func processCPU(p *os.Process) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may
	// hold spaces: state is field 3, utime 14 and stime 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	const ticks = 100 // USER_HZ, 100 on every Linux this runs on
	return time.Duration(ut+st) * time.Second / ticks
}

// CPUPerAlert is the server's CPU time per alert accepted in the closed
// loop.
func (f intakeFigures) CPUPerAlert() time.Duration {
	if n := len(f.Sustained.Latencies); n > 0 {
		return f.CPU / time.Duration(n)
	}
	return 0
}
