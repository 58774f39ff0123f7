// Package report renders triage reports and the job queue's dead letters
// for people at a terminal.
package report

import (
	"fmt"
	"strings"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/redact"
)

// RenderText renders a triage report for a terminal. Control and format
// characters in the report's text (escape sequences, carriage returns,
// bidi overrides) are shown as code points, never sent to the terminal.
func RenderText(rep oncall.Report) string {
	return redact.Printable(renderText(rep))
}

func renderText(rep oncall.Report) string {
	var b strings.Builder
	a := rep.Alert
	fmt.Fprintf(&b, "ALERT   %s [%s] %s\n", a.Name, a.Status, a.Severity)
	if a.Summary != "" {
		fmt.Fprintf(&b, "        %s\n", a.Summary)
	}
	asks := question(rep.AlertKind)
	if rep.AlertKindFrom != "" {
		asks += " (from " + rep.AlertKindFrom + ")"
	}
	fmt.Fprintf(&b, "ASKS    %s\n", asks)
	fmt.Fprintf(&b, "WINDOW  %s – %s (baseline from %s)\n", ts(rep.WindowStart), ts(rep.WindowEnd), ts(rep.BaselineStart))
	if o := rep.OnsetText(); o != "" {
		fmt.Fprintf(&b, "ONSET   %s (when the top cluster's rate changed; runs before it are the baseline)\n", o)
	}
	fmt.Fprintf(&b, "TRACES  %d in the incident window (%d failing, %.1f failures/min), %d in the baseline\n",
		rep.TracesExamined, rep.FailingTraces, rep.FailuresPerMinute, rep.BaselineTraces)
	if d := rep.Selection.Describe(); d != "" {
		fmt.Fprintf(&b, "        %s\n", d)
	}

	b.WriteString("\nFAILURE CLUSTERS (ranked by change against the baseline)\n")
	if len(rep.Clusters) == 0 {
		b.WriteString("  none\n")
	}
	for i, c := range rep.Clusters {
		change := "new"
		if !c.New {
			change = fmt.Sprintf("baseline %d", c.BaselineCount)
		}
		fmt.Fprintf(&b, "%2d. [%s] %s %s — %d traces (%s)\n", i+1, c.Kind, c.SpanKind, name(c), c.Count, change)
		if c.Error != "" {
			fmt.Fprintf(&b, "    %s\n", c.Error)
		}
		if c.Detail != "" {
			fmt.Fprintf(&b, "    %s\n", c.Detail)
		}
		if len(c.TraceIDs) > 0 {
			ex := fmt.Sprintf("trace %s", c.TraceIDs[0])
			if len(c.SpanIDs) > 0 && c.SpanIDs[0] != "" {
				ex += " span " + c.SpanIDs[0]
			}
			fmt.Fprintf(&b, "    e.g. %s\n", ex)
		}
	}
	if len(rep.Suspects) > 0 {
		b.WriteString("\nWHAT CHANGED (failing vs healthy traces)\n")
		for _, s := range rep.Suspects {
			was := ""
			if s.BaselineValue != "" {
				was = fmt.Sprintf(", healthy mostly %q", s.BaselineValue)
			}
			fmt.Fprintf(&b, "  %s = %q: failing %d/%d, healthy %d/%d%s\n", s.Attribute, s.Value, s.FailingCount, s.FailingTotal, s.HealthyCount, s.HealthyTotal, was)
		}
	}
	if d := rep.Diagnosis; d != nil {
		b.WriteString("\nDIAGNOSIS")
		if d.Offline != "" {
			fmt.Fprintf(&b, " (deterministic analysis: %s)", d.Offline)
		} else if d.Model != "" {
			fmt.Fprintf(&b, " (%s)", d.Model)
		}
		b.WriteString("\n")
		if d.Summary != "" {
			fmt.Fprintf(&b, "  %s\n", d.Summary)
		}
		for i, c := range d.Causes {
			fmt.Fprintf(&b, "  cause %d [%s]: %s\n", i+1, c.Confidence, c.Title)
			if c.Detail != "" {
				fmt.Fprintf(&b, "    %s\n", c.Detail)
			}
			for _, e := range c.Evidence {
				fmt.Fprintf(&b, "    evidence: trace %s", e.TraceID)
				if e.SpanID != "" {
					fmt.Fprintf(&b, " span %s", e.SpanID)
				}
				if e.Note != "" {
					fmt.Fprintf(&b, " — %s", e.Note)
				}
				b.WriteString("\n")
			}
		}
		if len(d.Fixes) > 0 {
			b.WriteString("  suggested fixes:\n")
			for _, f := range d.Fixes {
				where := ""
				if f.Where != "" {
					where = " (" + f.Where + ")"
				}
				fmt.Fprintf(&b, "    - [%s] %s%s\n", f.Type, f.Change, where)
			}
		}
		if len(d.NextSteps) > 0 {
			b.WriteString("  next steps:\n")
			for _, s := range d.NextSteps {
				fmt.Fprintf(&b, "    - %s\n", s)
			}
		}
	}
	for _, m := range rep.Missing {
		fmt.Fprintf(&b, "\nMISSING  %s", m)
	}
	for _, c := range rep.EvidenceCut {
		fmt.Fprintf(&b, "\nCUT      %s", c)
	}
	if len(rep.Missing)+len(rep.EvidenceCut) > 0 {
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "\nmodel calls %d, tokens %d in / %d out, cost $%.4f\n", rep.Usage.Calls, rep.Usage.PromptTokens, rep.Usage.CompletionTokens, rep.Usage.Cost)
	return b.String()
}

func question(k oncall.AlertKind) string {
	switch k {
	case oncall.AlertKindLatency:
		return "what got slower?"
	case oncall.AlertKindCost:
		return "what spends more tokens?"
	default:
		return "what started failing?"
	}
}

func name(c oncall.Cluster) string {
	if c.ToolName != "" && c.ToolName != c.SpanName {
		return c.SpanName + " (tool " + c.ToolName + ")"
	}
	return c.SpanName
}

func ts(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04Z")
}
