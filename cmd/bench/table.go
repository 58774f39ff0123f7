package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// row is one line of the results table.
type row struct {
	Figure   string
	Target   string
	Measured string
	Baseline string
	Ratio    string
	// Met is "yes", "no", or "" for figures without a target.
	Met  string
	Note string // why a target is missed, or how a figure was taken
}

func met(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}

// writeTable prints the rows aligned, then the notes.
func writeTable(w io.Writer, rows []row) {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "FIGURE\tTARGET\tMEASURED\tBASELINE\tRATIO\tMET")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Figure, r.Target, r.Measured, dash(r.Baseline), dash(r.Ratio), dash(r.Met))
	}
	tw.Flush()
	notes := 0
	for _, r := range rows {
		if r.Note != "" {
			if notes == 0 {
				fmt.Fprintln(w)
			}
			notes++
			fmt.Fprintf(w, "- %s: %s\n", r.Figure, r.Note)
		}
	}
}

// writeMarkdown prints the rows as a Markdown table, for BENCHMARKS.md.
func writeMarkdown(w io.Writer, rows []row) {
	fmt.Fprintln(w, "| Figure | Target | Measured | Baseline | Ratio | Met |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- |")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", r.Figure, r.Target, r.Measured, dash(r.Baseline), dash(r.Ratio), dash(r.Met))
	}
	for _, r := range rows {
		if r.Note != "" {
			fmt.Fprintf(w, "\n- **%s**: %s", r.Figure, r.Note)
		}
	}
	fmt.Fprintln(w)
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// machine describes where the figures were taken.
func machine() string {
	cpu := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	mem := ""
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var kb int64
			if n, _ := fmt.Sscanf(sc.Text(), "MemTotal: %d kB", &kb); n == 1 {
				mem = fmt.Sprintf(", %.1f GB RAM", float64(kb)/(1<<20))
				break
			}
		}
		f.Close()
	}
	load := ""
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			load = ", load average " + strings.Join(f[:3], " ")
		}
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("%s, %d cores%s, %s %s/%s, host %s%s, %s", cpu, runtime.NumCPU(), mem, runtime.Version(), runtime.GOOS, runtime.GOARCH,
		host, load, time.Now().UTC().Format("2006-01-02 15:04 MST"))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func ratio(a, b float64) string {
	if b == 0 {
		return ""
	}
	return fmt.Sprintf("%.2f", a/b)
}
