package main

// Helpers of the tests that run oncall-copilot as real processes: the
// binary built once per test run, processes started and killed, a private
// redis-server, alert payloads and a sender that retries like Alertmanager.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/bot/slacktest"
	"github.com/oncall-copilot/oncall-copilot/internal/testenv"
)

// testBinary is the oncall-copilot binary, built on first use.
var testBinary struct {
	once      sync.Once
	dir, path string
	err       error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if testBinary.dir != "" {
		os.RemoveAll(testBinary.dir)
	}
	os.Exit(code)
}

// binary builds the command once per test run and returns its path.
func binary(t *testing.T) string {
	t.Helper()
	testBinary.once.Do(func() {
		dir, err := os.MkdirTemp("", "oncall-copilot-test-")
		if err != nil {
			testBinary.err = err
			return
		}
		testBinary.dir = dir
		gobin, err := exec.LookPath("go")
		if err != nil {
			gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		path := filepath.Join(dir, "oncall-copilot")
		out, err := exec.Command(gobin, "build", "-o", path, ".").CombinedOutput()
		if err != nil {
			testBinary.err = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		testBinary.path = path
	})
	if testBinary.err != nil {
		t.Fatal(testBinary.err)
	}
	return testBinary.path
}

// absPath resolves a path relative to this package for a process that
// runs elsewhere.
func absPath(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(rel)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// proc is one oncall-copilot serve process.
type proc struct {
	cmd    *exec.Cmd
	addr   string // http://host:port
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{}
	err    error // the exit, once done is closed
}

// startProc runs "oncall-copilot serve" with exactly env (plus PATH and
// HOME) and waits until it is ready.
func startProc(t *testing.T, env map[string]string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary(t), append([]string{"serve"}, args...)...)
	cmd.Dir = t.TempDir()
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir()}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &proc{cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("serve %d logs:\n%s", cmd.Process.Pid, tail(p.stderr.String(), 60))
		}
	})
	re := regexp.MustCompile(`listening on (\S+)`)
	deadline := time.Now().Add(20 * time.Second)
	for p.addr == "" {
		if m := re.FindStringSubmatch(p.stdout.String()); m != nil {
			p.addr = "http://" + m[1]
			break
		}
		select {
		case <-p.done:
			t.Fatalf("serve exited: %v\n%s", p.err, p.stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s", p.stderr)
		}
	}
	slacktest.WaitFor(t, func() bool { return p.ready() }, 20*time.Second)
	return p
}

// ready reports whether /readyz answers 200.
func (p *proc) ready() bool {
	resp, err := http.Get(p.addr + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// kill sends SIGKILL, as a crash or an OOM kill would, and waits.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop sends SIGTERM and waits up to timeout for a clean exit.
func (p *proc) stop(t *testing.T, timeout time.Duration) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			t.Errorf("serve exited with %v after SIGTERM", p.err)
		}
	case <-time.After(timeout):
		t.Errorf("serve did not stop within %v of SIGTERM", timeout)
		p.kill()
	}
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// redisServer is a private redis-server. By default it keeps its data
// across restarts (append-only file, fsync on every write).
type redisServer struct {
	port, dir string
	persist   []string // persistence arguments
	cmd       *exec.Cmd
	done      chan struct{}
}

// aofAlways keeps every write across a restart.
var aofAlways = []string{"--save", "", "--appendonly", "yes", "--appendfsync", "always"}

// noPersistence keeps nothing across a restart.
var noPersistence = []string{"--save", "", "--appendonly", "no"}

func startRedis(t *testing.T) *redisServer {
	t.Helper()
	return startRedisWith(t, aofAlways)
}

// startRedisWith starts a private redis-server with persist as its
// persistence arguments.
func startRedisWith(t *testing.T, persist []string) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		testenv.Missing(t, os.Getenv, "redis-server is not installed")
	}
	_, port, _ := net.SplitHostPort(freePort(t))
	r := &redisServer{port: port, dir: t.TempDir(), persist: persist}
	r.start(t, bin)
	t.Cleanup(r.kill)
	return r
}

func (r *redisServer) url() string { return "redis://127.0.0.1:" + r.port + "/0" }

func (r *redisServer) start(t *testing.T, bin string) {
	t.Helper()
	args := append([]string{"--port", r.port, "--bind", "127.0.0.1", "--dir", r.dir, "--protected-mode", "no"}, r.persist...)
	r.cmd = exec.Command(bin, args...)
	r.done = make(chan struct{})
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = r.cmd.Wait(); close(r.done) }()
	slacktest.WaitFor(t, func() bool { return redisReachable(r.url()) }, 10*time.Second)
}

// restart kills the server (SIGKILL: no shutdown save) and starts it again
// on the same port and data.
func (r *redisServer) restart(t *testing.T) {
	t.Helper()
	r.kill()
	r.start(t, r.cmd.Path)
}

func (r *redisServer) kill() {
	select {
	case <-r.done:
		return
	default:
	}
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.done
}

// group is one alert group of a test: its unique alert name and the team
// label that routes it to a channel.
type group struct {
	Name string
	Team string
}

// alertPayload is an Alertmanager webhook (v4) of one group, built on the
// bundled example so that triage finds the example traces.
func alertPayload(t testing.TB, g group, status string) []byte {
	t.Helper()
	raw, err := os.ReadFile(exampleAlert)
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	p["status"] = status
	p["groupKey"] = fmt.Sprintf(`{}/{team=%q}:{alertname=%q}`, g.Team, g.Name)
	p["groupLabels"] = map[string]any{"alertname": g.Name}
	a := p["alerts"].([]any)[0].(map[string]any)
	a["status"] = status
	labels := a["labels"].(map[string]any)
	labels["alertname"], labels["team"] = g.Name, g.Team
	a["fingerprint"] = oncall.LabelFingerprint(map[string]string{"alertname": g.Name, "team": g.Team})
	if status == "resolved" {
		starts, _ := time.Parse(time.RFC3339, a["startsAt"].(string))
		a["endsAt"] = starts.Add(42 * time.Minute).Format(time.RFC3339)
	}
	common := p["commonLabels"].(map[string]any)
	common["alertname"], common["team"] = g.Name, g.Team
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sendResult is what a sender saw of one webhook.
type sendResult struct {
	accepted bool
	answers  []int // HTTP statuses in order; 0 for a refused connection
}

// sendUntilAccepted posts body as Alertmanager does: a 5xx or a refused
// connection is retried after a short pause until it is accepted or ctx
// ends.
func sendUntilAccepted(ctx context.Context, addr string, body []byte) sendResult {
	var res sendResult
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, addr+"/webhooks/alertmanager", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+webhookToken)
		resp, err := http.DefaultClient.Do(req)
		status := 0
		if err == nil {
			status = resp.StatusCode
			resp.Body.Close()
		}
		res.answers = append(res.answers, status)
		if status == http.StatusAccepted {
			res.accepted = true
			return res
		}
		if status >= 400 && status < 500 {
			return res
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	return res
}

// routesConfig writes a configuration file routing team label t<i> to
// channel C<i> for i below channels.
func routesConfig(t *testing.T, channels int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("routes:\n")
	for i := range channels {
		fmt.Fprintf(&b, "  - name: team-%03d\n    matchers: ['team=\"t%03d\"']\n    channel: C%03d\n", i, i, i)
	}
	path := filepath.Join(t.TempDir(), "oncall.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// threadCount is what Slack received for each alert group.
type threadCount struct {
	parents   map[string]int  // alert name → parent messages naming it
	diagnoses map[string]int  // alert name → triage replies in its threads
	updated   map[string]bool // alert name → its parent was updated after triage
}

// countThreads reads the fake Slack: the parent messages of each alert
// name in names and the triage replies in their threads.
func countThreads(s *slacktest.Server, names []string) threadCount {
	c := threadCount{parents: map[string]int{}, diagnoses: map[string]int{}, updated: map[string]bool{}}
	msgs := s.Messages()
	updated := map[string]bool{}
	for _, u := range s.Updates() {
		updated[u.Channel+"/"+u.TS] = true
	}
	byThread := map[string][]slacktest.Message{}
	for _, m := range msgs {
		if m.ThreadTS != "" && m.ThreadTS != m.TS {
			byThread[m.Channel+"/"+m.ThreadTS] = append(byThread[m.Channel+"/"+m.ThreadTS], m)
		}
	}
	for _, m := range msgs {
		if m.ThreadTS != "" && m.ThreadTS != m.TS {
			continue
		}
		for _, n := range names {
			if !mentions(m, n) {
				continue
			}
			c.parents[n]++
			c.updated[n] = updated[m.Channel+"/"+m.TS]
			for _, r := range byThread[m.Channel+"/"+m.TS] {
				if strings.Contains(string(r.Blocks), "Triage of") {
					c.diagnoses[n]++
				}
			}
		}
	}
	return c
}

// mentions reports whether a message names an alert as a whole word.
func mentions(m slacktest.Message, name string) bool {
	return regexp.MustCompile(`\b` + regexp.QuoteMeta(name) + `\b`).MatchString(m.Text + string(m.Blocks))
}

// exactlyOnce reports the groups whose thread is missing or repeated, or
// whose diagnosis is, or whose parent was not updated after its triage;
// empty when every group has one thread with one diagnosis.
func (c threadCount) exactlyOnce(names []string) []string {
	var bad []string
	for _, n := range names {
		if c.parents[n] != 1 || c.diagnoses[n] != 1 || !c.updated[n] {
			bad = append(bad, fmt.Sprintf("%s: %d parents, %d diagnoses, updated %v", n, c.parents[n], c.diagnoses[n], c.updated[n]))
		}
	}
	return bad
}
