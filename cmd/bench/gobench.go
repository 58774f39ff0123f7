package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// benchResults are the metrics of `go test -bench` output, by benchmark
// name without the -GOMAXPROCS suffix: ns/op, MB/s and every custom
// metric the benchmark reported, one value per run (-count).
type benchResults map[string]map[string][]float64

// parseBench reads `go test -bench` output; other lines are ignored.
func parseBench(r io.Reader) (benchResults, error) {
	out := benchResults{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		name = strings.TrimPrefix(name, "Benchmark")
		m := out[name]
		if m == nil {
			m = map[string][]float64{}
			out[name] = m
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			m[f[i+1]] = append(m[f[i+1]], v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read benchmark output: %w", err)
	}
	return out, nil
}

// get returns the median of a metric over the runs, and whether the
// benchmark reported it.
func (b benchResults) get(name, unit string) (float64, bool) {
	vs := slices.Clone(b[name][unit])
	if len(vs) == 0 {
		return 0, false
	}
	slices.Sort(vs)
	if len(vs)%2 == 1 {
		return vs[len(vs)/2], true
	}
	return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2, true
}

// benchRows turns the Go benchmarks into table rows; a benchmark that did
// not run gives a row saying so.
func benchRows(b benchResults) []row {
	var rows []row
	missing := func(fig, target, bench string) row {
		return row{Figure: fig, Target: target, Measured: "not run", Met: "NO", Note: "benchmark " + bench + " did not report"}
	}

	fig := "Triage overhead, 200 traces x 100 spans (model and trace store excluded)"
	if v, ok := b.get("TriageOverhead", "ms/triage"); ok {
		r := row{Figure: fig, Target: "<= 150 ms", Measured: fmt.Sprintf("%.1f ms", v), Met: met(v <= 150)}
		if base, ok := b.get("MarshalBaseline", "ns/op"); ok {
			r.Baseline = fmt.Sprintf("%.1f ms (encoding/json of the traces)", base/1e6)
			r.Ratio = ratio(v, base/1e6)
		}
		rows = append(rows, r)
	} else {
		rows = append(rows, missing(fig, "<= 150 ms", "TriageOverhead"))
	}

	fig = "Analysis throughput"
	if v, ok := b.get("Analyze", "spans/s"); ok {
		r := row{Figure: fig, Target: ">= 500k spans/s", Measured: fmt.Sprintf("%.0fk spans/s", v/1e3), Met: met(v >= 500e3)}
		if base, ok := b.get("MarshalBaseline", "spans/s"); ok {
			r.Baseline = fmt.Sprintf("%.0fk spans/s (encoding/json of the traces)", base/1e3)
			r.Ratio = ratio(v, base)
		}
		rows = append(rows, r)
	} else {
		rows = append(rows, missing(fig, ">= 500k spans/s", "Analyze"))
	}

	fig = "JSONL decoding (example scenarios, OTLP/JSON lines)"
	if v, ok := b.get("DecodeLines", "MB/s"); ok {
		r := row{Figure: fig, Target: ">= 100 MB/s", Measured: fmt.Sprintf("%.0f MB/s", v), Met: met(v >= 100)}
		if base, ok := b.get("DecodeLinesMapBaseline", "MB/s"); ok {
			r.Baseline = fmt.Sprintf("%.0f MB/s (encoding/json into map[string]any)", base)
			r.Ratio = ratio(v, base)
		}
		rows = append(rows, r)
	} else {
		rows = append(rows, missing(fig, ">= 100 MB/s", "DecodeLines"))
	}

	fig = "Alertmanager payload decoding (the intake's largest own cost)"
	if v, ok := b.get("DecodeAlertmanagerPayload/scan", "ns/op"); ok {
		r := row{Figure: fig, Measured: fmt.Sprintf("%.1f µs", v/1e3)}
		if base, ok := b.get("DecodeAlertmanagerPayload/encoding-json", "ns/op"); ok {
			r.Baseline = fmt.Sprintf("%.1f µs (encoding/json into the same structs)", base/1e3)
			r.Ratio = ratio(v, base)
		}
		if w, ok := b.get("Webhook", "ns/op"); ok {
			r.Note = fmt.Sprintf("the whole handler's own work per webhook (decode, validate, route, encode the job, log, answer) is %.1f µs", w/1e3)
		}
		rows = append(rows, r)
	}

	fig = "Prompt size at 20, 200 and 1000 traces x 100 spans"
	worst, budget, seen := 0.0, 0.0, 0
	for name := range b {
		if strings.HasPrefix(name, "PromptAtVolume/") {
			seen++
			tokens, _ := b.get(name, "prompt-tokens")
			limit, _ := b.get(name, "budget-tokens")
			worst, budget = math.Max(worst, tokens), math.Max(budget, limit)
		}
	}
	if seen > 0 {
		rows = append(rows, row{Figure: fig, Target: fmt.Sprintf("<= %.0f tokens (budget)", budget), Measured: fmt.Sprintf("max %.0f tokens", worst),
			Ratio: ratio(worst, budget), Met: met(worst <= budget)})
	} else {
		rows = append(rows, missing(fig, "<= budget", "PromptAtVolume"))
	}

	for _, v := range []struct{ bench, what string }{
		{"WebhookToSlackParent", "at 100 alerts/s, 1 in 10 opening a group"},
		{"WebhookToSlackParentAllNew", "at 100 alerts/s, every one opening a group"},
	} {
		for _, q := range []struct {
			unit, target string
			limit        time.Duration
		}{{"p50-ms", "<= 50 ms", 50 * time.Millisecond}, {"p99-ms", "<= 250 ms", 250 * time.Millisecond}} {
			fig := "Webhook to parent Slack message " + v.what + ", " + strings.TrimSuffix(q.unit, "-ms")
			val, ok := b.get(v.bench, q.unit)
			if !ok {
				rows = append(rows, missing(fig, q.target, v.bench))
				continue
			}
			d := time.Duration(val * float64(time.Millisecond))
			r := row{Figure: fig, Target: q.target, Measured: ms(d), Met: met(d <= q.limit)}
			if base, ok := b.get("WebhookToSlackParentBaseline", q.unit); ok {
				r.Baseline = fmt.Sprintf("%.1f ms (handler posting to Slack inline)", base)
				r.Ratio = ratio(val, base)
			}
			if lost, ok := b.get(v.bench, "lost"); ok && lost > 0 {
				r.Met, r.Note = "NO", fmt.Sprintf("%.0f groups got no parent message within the wait", lost)
			}
			if cpu, ok := b.get(v.bench, "cpu-ms/alert"); ok && q.unit == "p99-ms" {
				if r.Note != "" {
					r.Note += "; "
				}
				r.Note += fmt.Sprintf("the process spent %.1f ms of CPU per alert (intake, workers, triage, fake Slack and load generator), %.2f cores at 100 alerts/s on this %d-core machine", cpu, cpu/10, runtime.NumCPU())
			}
			rows = append(rows, r)
		}
	}
	return rows
}
