package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/redact"
)

// DeadLetter is what "jobs list" shows of one dead letter: enough to
// recognise it, never the alerts' full content.
type DeadLetter struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`
	Attempts   int       `json:"attempts"`
	EnqueuedAt time.Time `json:"enqueued_at"`
	Route      string    `json:"route,omitempty"`
	Channel    string    `json:"channel,omitempty"`
	Alert      string    `json:"alert,omitempty"`
	Alerts     int       `json:"alerts"`
	LastError  string    `json:"last_error,omitempty"`
}

// maxErrorChars caps the last error shown of a dead letter.
const maxErrorChars = 160

// DeadLetterRows are the dead letters as "jobs list" shows them, their
// alert names and errors redacted, on one line and clipped.
func DeadLetterRows(jobs []oncall.Job, red *redact.Redactor) []DeadLetter {
	rows := make([]DeadLetter, 0, len(jobs))
	for _, j := range jobs {
		r := DeadLetter{
			ID: j.ID, Kind: string(j.Kind), Attempts: j.Attempts, EnqueuedAt: j.EnqueuedAt.UTC(),
			Route: j.Route, Channel: j.Channel, Alerts: len(j.Alerts),
			LastError: clipText(red.String(oneLine(j.LastError)), maxErrorChars),
		}
		if len(j.Alerts) > 0 {
			r.Alert = clipText(red.String(oneLine(j.Alerts[0].Name)), 60)
		}
		rows = append(rows, r)
	}
	return rows
}

// WriteJobs writes the queue's figures and the dead letters as a table.
func WriteJobs(w io.Writer, stats oncall.QueueStats, rows []DeadLetter) {
	fmt.Fprintln(w, QueueLine(stats))
	if len(rows) == 0 {
		fmt.Fprintln(w, "No dead letters.")
		return
	}
	fmt.Fprintf(w, "\nDead letters (%d), oldest first:\n", len(rows))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tATTEMPTS\tENQUEUED\tROUTE\tALERT\tLAST ERROR")
	for _, r := range rows {
		alert := r.Alert
		if r.Alerts > 1 {
			alert += fmt.Sprintf(" (+%d)", r.Alerts-1)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", r.ID, r.Kind, r.Attempts,
			r.EnqueuedAt.Format("2006-01-02 15:04 UTC"), dash(r.Route), dash(alert), dash(r.LastError))
	}
	tw.Flush()
	fmt.Fprintln(w, "\nRun \"oncall-copilot jobs retry ID\" to queue one again, \"oncall-copilot jobs drop ID\" to delete it.")
}

// QueueLine sums the queue up in one line.
func QueueLine(s oncall.QueueStats) string {
	line := fmt.Sprintf("Queue: %d ready, %d delayed, %d in flight, %d dead", s.Ready, s.Delayed, s.InFlight, s.Dead)
	if s.OldestAge > 0 {
		line += "; the next job has waited " + s.OldestAge.Round(time.Second).String()
	}
	return line
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func clipText(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
