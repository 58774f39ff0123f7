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
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/oncall-copilot/oncall-copilot/alerts"
	"github.com/oncall-copilot/oncall-copilot/store/redisdb"
)

const benchToken = "bench-webhook-token"

// alertBodies turns an Alertmanager webhook payload into a generator of
// payloads of one alert each, every one its own group: the i-th carries
// i in its group key and a bench_id label.
func alertBodies(path string) (func(i int) []byte, error) {
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
	p["groupKey"] = fmt.Sprint(p["groupKey"]) + ":BENCHID"
	tpl, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return func(i int) []byte { return bytes.ReplaceAll(tpl, []byte("BENCHID"), []byte(strconv.Itoa(i))) }, nil
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
		store, err := redisdb.Open(ctx, redisdb.Options{URL: redisURL, Prefix: prefix})
		if err != nil {
			return nil, nil, err
		}
		h, err := alerts.NewHandler(alerts.Options{
			Queue: store, Router: alerts.DefaultRoute{Channel: "C0BENCH"}, Token: benchToken, Deduper: store,
			// As serve logs: JSON lines at info, one per accepted alert.
			Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
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
	if err := fs.Parse(args); err != nil {
		return err
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
	return nil
}

// startIntakeServer runs an intake server in a child process until ctx
// ends and returns its URL and process.
func startIntakeServer(ctx context.Context, kind, redisURL, prefix string) (string, *os.Process, error) {
	self, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.CommandContext(ctx, self, "serve-intake", "-kind", kind, "-redis", redisURL, "-prefix", prefix)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", nil, err
	}
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
}

// benchIntake measures the webhook intake with the Redis backend (the
// alerts handler queueing into store/redisdb) and, as its baseline, a bare
// net/http handler doing one XADD of the body, under the same loads.
func benchIntake(ctx context.Context, s intakeSettings) (copilot, baseline intakeFigures, err error) {
	body, err := alertBodies(s.AlertPath)
	if err != nil {
		return copilot, baseline, err
	}
	ropts, err := redis.ParseURL(s.RedisURL)
	if err != nil {
		return copilot, baseline, errors.New("REDIS_URL is not a redis:// URL")
	}
	rdb := redis.NewClient(ropts)
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return copilot, baseline, fmt.Errorf("redis unreachable: %w", err)
	}
	prefix := randomPrefix("intake")
	defer func() { _ = dropKeys(context.WithoutCancel(ctx), rdb, prefix) }()
	// Each server runs in a process of its own, as serve would, so the
	// load generator's allocations and goroutines do not share its
	// runtime.
	copilotURL, copilotProc, err := startIntakeServer(ctx, "copilot", s.RedisURL, prefix)
	if err != nil {
		return copilot, baseline, err
	}
	baselineURL, baselineProc, err := startIntakeServer(ctx, "baseline", s.RedisURL, prefix)
	if err != nil {
		return copilot, baseline, err
	}

	copilotReq := jsonPost(copilotURL+"/webhooks/alertmanager", benchToken, body)
	baselineReq := jsonPost(baselineURL+"/webhooks/alertmanager", benchToken, body)
	maxReqs := int(s.TargetRate*4*s.Duration.Seconds()) + 1
	// Warm both up, then alternate in short rounds so that neither gets a
	// quieter machine: other work on a shared box hits both alike.
	const rounds = 4
	closedLoop(ctx, copilotReq, http.StatusAccepted, s.Conns, s.Duration/5, maxReqs)
	closedLoop(ctx, baselineReq, http.StatusAccepted, s.Conns, s.Duration/5, maxReqs)
	for range rounds {
		cpu0 := processCPU(copilotProc)
		copilot.Sustained.add(closedLoop(ctx, copilotReq, http.StatusAccepted, s.Conns, s.Duration/rounds, maxReqs))
		cpu1 := processCPU(copilotProc)
		copilot.CPU += cpu1 - cpu0
		cpu0 = processCPU(baselineProc)
		baseline.Sustained.add(closedLoop(ctx, baselineReq, http.StatusAccepted, s.Conns, s.Duration/rounds, maxReqs))
		baseline.CPU += processCPU(baselineProc) - cpu0
		_ = dropKeys(ctx, rdb, prefix+"baseline")
		_ = dropKeys(ctx, rdb, prefix+"jobs")
	}
	for range rounds {
		copilot.AtTarget.add(openLoop(ctx, copilotReq, http.StatusAccepted, 4*s.Conns, s.TargetRate, s.Duration/rounds))
		baseline.AtTarget.add(openLoop(ctx, baselineReq, http.StatusAccepted, 4*s.Conns, s.TargetRate, s.Duration/rounds))
		_ = dropKeys(ctx, rdb, prefix+"baseline")
		_ = dropKeys(ctx, rdb, prefix+"jobs")
	}
	if err := ctx.Err(); err != nil {
		return copilot, baseline, err
	}
	return copilot, baseline, nil
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
