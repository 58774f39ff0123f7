package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/eval/scenario"
	"github.com/oncall-copilot/oncall-copilot/tracesource/otlp"
	"github.com/oncall-copilot/oncall-copilot/triage"
)

// memorySettings shape the memory run.
type memorySettings struct {
	WorkDir  string
	MB       int
	Examples string
	Progress func(format string, a ...any)
	// Getenv reads the environment the child triage inherits PATH and
	// HOME from.
	Getenv func(string) string
}

// Generated data layout version: bump when the generator changes, so an
// old directory in the work dir is not reused.
const dataVersion = "v1"

// generateTraces writes about mb megabytes of JSONL traces into dir: the
// quick-start scenario's traces, then copies of them under new trace ids,
// one in four moved by a few seconds (they fall in the alert's windows,
// so far more traces match than triage reads) and the rest moved hours
// back (history a search streams past). It returns the alert to triage.
func generateTraces(dir string, mb int) (alertPath string, err error) {
	g, err := scenario.Generate(scenario.Quickstart())
	if err != nil {
		return "", err
	}
	alertPath = dir + ".alert.json"
	if err := os.WriteFile(alertPath, g.Alert, 0o640); err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(dir, "complete")); err == nil {
		return alertPath, nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", err
	}
	target := int64(mb) << 20
	const fileSize = 64 << 20
	var written int64
	var f *os.File
	var w *bufio.Writer
	var counter countingWriter
	closeFile := func() error {
		if f == nil {
			return nil
		}
		err := errors.Join(w.Flush(), f.Close())
		f = nil
		return err
	}
	for k := 0; written < target; k++ {
		if f == nil || counter.n >= fileSize {
			if err := closeFile(); err != nil {
				return "", err
			}
			f, err = os.Create(filepath.Join(dir, fmt.Sprintf("part-%04d.jsonl", k)))
			if err != nil {
				return "", err
			}
			counter = countingWriter{w: f}
			w = bufio.NewWriterSize(&counter, 1<<20)
		}
		before := counter.n + int64(w.Buffered())
		if err := otlp.WriteJSONL(w, replica(g.Wire, k)); err != nil {
			return "", err
		}
		written += counter.n + int64(w.Buffered()) - before
	}
	if err := closeFile(); err != nil {
		return "", err
	}
	return alertPath, os.WriteFile(filepath.Join(dir, "complete"), []byte(dataVersion), 0o640)
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// replica is copy k of traces: the originals for k = 0, else new trace
// ids and times moved as generateTraces says.
func replica(traces []oncall.Trace, k int) []oncall.Trace {
	if k == 0 {
		return traces
	}
	shift := -time.Duration(k) * 3 * time.Hour
	if k%4 == 0 {
		shift = time.Duration(k%120-60) * time.Second
	}
	prefix := fmt.Sprintf("%08x", k)
	out := make([]oncall.Trace, len(traces))
	for i, t := range traces {
		t.TraceID = prefix + t.TraceID[min(8, len(t.TraceID)):]
		t.Start, t.End = t.Start.Add(shift), t.End.Add(shift)
		spans := make([]oncall.Span, len(t.Spans))
		for j, s := range t.Spans {
			s.TraceID = t.TraceID
			s.Start, s.End = s.Start.Add(shift), s.End.Add(shift)
			if len(s.Events) > 0 {
				ev := make([]oncall.SpanEvent, len(s.Events))
				for e := range s.Events {
					ev[e] = s.Events[e]
					ev[e].Time = ev[e].Time.Add(shift)
				}
				s.Events = ev
			}
			spans[j] = s
		}
		t.Spans = spans
		out[i] = t
	}
	return out
}

// fakeModel is an OpenAI-compatible endpoint that counts the prompt
// tokens it receives and answers a minimal diagnosis.
type fakeModel struct {
	counter triage.TokenCounter
	mu      sync.Mutex
	prompts []int
}

func (m *fakeModel) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model    string `json:"model"`
		Messages []struct {
			Content string `json:"content"`
		} `json:"messages"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<20)).Decode(&req); err != nil {
		http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
		return
	}
	tokens := 0
	for _, msg := range req.Messages {
		tokens += m.counter.Count(msg.Content) + 4 // the chat format's per-message overhead
	}
	m.mu.Lock()
	m.prompts = append(m.prompts, tokens)
	m.mu.Unlock()
	content, _ := json.Marshal(map[string]any{"summary": "An upstream dependency fails.", "causes": []any{}, "fixes": []any{}, "next_steps": []string{"Check the dependency."}})
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"id": "chatcmpl-bench", "object": "chat.completion", "created": 1700000000, "model": req.Model,
		"choices": []map[string]any{{"index": 0, "finish_reason": "stop", "message": map[string]any{"role": "assistant", "content": string(content)}}},
		"usage":   map[string]int{"prompt_tokens": tokens, "completion_tokens": 40, "total_tokens": tokens + 40},
	})
}

func (m *fakeModel) maxPrompt() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	best := 0
	for _, p := range m.prompts {
		best = max(best, p)
	}
	return best
}

// triageRun is one `oncall-copilot triage` process.
type triageRun struct {
	PeakRSS  int64 // bytes
	Wall     time.Duration
	Examined int
	Baseline int
	Missing  []string
	Prompt   int // tokens the model received
}

// runTriage triages alertPath over traces in a child process and reads its
// peak resident set from the kernel's accounting of the child.
func runTriage(ctx context.Context, getenv func(string) string, bin, alertPath, traces string) (triageRun, error) {
	model := &fakeModel{counter: triage.NewTokenCounter("gpt-4o-mini")}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	url, err := serve(sctx, model)
	if err != nil {
		return triageRun{}, err
	}
	modelURL := url + "/v1"
	cmd := exec.CommandContext(ctx, bin, "triage", "--alert", alertPath, "--traces", traces, "--format", "json")
	cmd.Env = []string{"PATH=" + getenv("PATH"), "HOME=" + getenv("HOME"), "OPENAI_API_KEY=sk-bench-not-a-key",
		"OPENAI_BASE_URL=" + modelURL, "OPENAI_MODEL=gpt-4o-mini", "GOMAXPROCS=2"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return triageRun{}, fmt.Errorf("triage over %s: %w: %s", traces, err, tail(stderr.String(), 400))
	}
	run := triageRun{Wall: time.Since(start), Prompt: model.maxPrompt()}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		run.PeakRSS = ru.Maxrss << 10 // kilobytes on Linux
	}
	var rep struct {
		TracesExamined int      `json:"traces_examined"`
		BaselineTraces int      `json:"baseline_traces"`
		Missing        []string `json:"missing"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		return run, fmt.Errorf("triage report: %w", err)
	}
	run.Examined, run.Baseline, run.Missing = rep.TracesExamined, rep.BaselineTraces, rep.Missing
	return run, nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

func dirSize(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err == nil {
			total += info.Size()
		}
		return err
	})
	return total, err
}

// memoryRows builds the binary, generates the traces, and triages the big
// directory and, as the baseline, the quick-start example.
func memoryRows(ctx context.Context, s memorySettings) ([]row, error) {
	fig := fmt.Sprintf("Triage over %d MB of JSONL traces, peak RSS", s.MB)
	fail := func(err error) ([]row, error) {
		return []row{{Figure: fig, Target: "<= 300 MB", Measured: "not run", Met: "NO", Note: err.Error()}}, err
	}
	bin := filepath.Join(s.WorkDir, "oncall-copilot")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/oncall-copilot")
	if out, err := build.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("build oncall-copilot: %w: %s", err, out))
	}
	dir := filepath.Join(s.WorkDir, fmt.Sprintf("traces-%dmb-%s", s.MB, dataVersion))
	s.Progress("generating %s (kept for later runs)", dir)
	alertPath, err := generateTraces(dir, s.MB)
	if err != nil {
		return fail(fmt.Errorf("generate traces: %w", err))
	}
	size, err := dirSize(dir)
	if err != nil {
		return fail(err)
	}
	s.Progress("triaging %.0f MB in a child process, then decoding it bare", float64(size)/(1<<20))
	big, err := runTriage(ctx, s.Getenv, bin, alertPath, dir)
	if err != nil {
		return fail(err)
	}
	bare, _, err := bareDecode(ctx, dir)
	if err != nil {
		return fail(err)
	}
	small, err := runTriage(ctx, s.Getenv, bin, filepath.Join(s.Examples, "quickstart", "alert.json"), filepath.Join(s.Examples, "quickstart", "traces"))
	if err != nil {
		return fail(err)
	}
	mb := func(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/(1<<20)) }
	rss := row{Figure: fig, Target: "<= 300 MB", Measured: mb(big.PeakRSS), Baseline: mb(small.PeakRSS) + " (same over the 0.4 MB example)",
		Ratio: ratio(float64(big.PeakRSS), float64(small.PeakRSS)), Met: met(big.PeakRSS > 0 && big.PeakRSS <= 300<<20),
		Note: fmt.Sprintf("the triage took %.1f s over %.0f MB (both windows' searches share one pass over the files, and one more re-reads traces evicted to bound memory); its report counts %d incident and %d baseline runs (sampled traces weighted) and says: %s",
			big.Wall.Seconds(), float64(size)/(1<<20), big.Examined, big.Baseline, firstOr(big.Missing, "nothing missing"))}
	took := row{Figure: fmt.Sprintf("Triage over %d MB of JSONL traces, time", s.MB), Target: "<= 1.3x the bare decode",
		Measured: fmt.Sprintf("%.1f s", big.Wall.Seconds()), Baseline: fmt.Sprintf("%.1f s (a bare program decoding every line with encoding/json)", bare.Seconds()),
		Ratio: ratio(big.Wall.Seconds(), bare.Seconds()), Met: met(bare > 0 && big.Wall.Seconds() <= 1.3*bare.Seconds())}
	prompt := row{Figure: fmt.Sprintf("Prompt the model received at %d MB of traces", s.MB), Target: fmt.Sprintf("<= %d tokens (budget)", triage.DefaultEvidenceBudget),
		Measured: fmt.Sprintf("%d tokens", big.Prompt), Baseline: fmt.Sprintf("%d tokens (the 0.4 MB example)", small.Prompt),
		Ratio: ratio(float64(big.Prompt), float64(small.Prompt)), Met: met(big.Prompt > 0 && big.Prompt <= triage.DefaultEvidenceBudget)}
	return []row{rss, took, prompt}, nil
}

func firstOr(s []string, def string) string {
	if len(s) == 0 {
		return def
	}
	return s[0]
}
