package view

import (
	"fmt"
	"strings"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// RenderText renders the digest as plain text for a terminal or a log.
// Untrusted text is kept to one line each and stripped of control
// characters; it is redacted already.
func RenderText(d Digest) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s · %s\n", title(d), windowLabel(d))
	if d.Name != "" {
		fmt.Fprintf(&b, "schedule: %s\n", oneLine(d.Name))
	}
	if n := d.Narrative; n != nil {
		fmt.Fprintf(&b, "\n%s\n", oneLine(n.Text))
		if n.Model != "" {
			fmt.Fprintf(&b, "(written by %s)\n", oneLine(n.Model))
		}
	}
	if d.Quiet {
		fmt.Fprintf(&b, "\n%s\n", quietLine(d))
		textCopilot(&b, d)
		textMissing(&b, d)
		return b.String()
	}

	in := d.Incidents
	fmt.Fprintf(&b, "\nIncidents\n  %d opened · %d resolved · %d still open\n", in.Opened, in.Resolved, in.StillOpen)
	if s := durations(in.TimeToAck); s != "" {
		fmt.Fprintf(&b, "  time to acknowledge: %s\n", s)
	}
	if s := durations(in.TimeToResolve); s != "" {
		fmt.Fprintf(&b, "  time to resolve: %s\n", s)
	}
	if len(in.Noisiest) > 0 {
		b.WriteString("  noisiest alerts:\n")
		for _, n := range in.Noisiest {
			fmt.Fprintf(&b, "    %s: %s in %s\n", clip(oneLine(n.Name), 80), plural(n.Fires, "fire", "fires"), plural(n.Incidents, "incident", "incidents"))
		}
	}
	if len(in.Open) > 0 {
		b.WriteString("  still open:\n")
		for _, o := range in.Open {
			fmt.Fprintf(&b, "    %s%s since %s%s\n", clip(oneLine(o.Name), 80), severity(o.Severity), when(d, o.OpenedAt), ackedLabel(o.Acked))
		}
		if more := in.StillOpen - len(in.Open); more > 0 {
			fmt.Fprintf(&b, "    and %d more\n", more)
		}
	}

	f := d.Fleet
	if f.Runs > 0 || f.PrevRuns > 0 {
		fmt.Fprintf(&b, "\nAgent runs\n  %s; previous window: %s\n", runsLine(f.Runs, f.Failing), prevLine(f))
		if len(f.Clusters) > 0 {
			fmt.Fprintf(&b, "  top failure clusters (%d new):\n", f.NewClusters)
			for i, c := range f.Clusters {
				b.WriteString("    " + textCluster(i, c) + "\n")
			}
		}
		if len(f.Agents) > 0 {
			b.WriteString("  highest failure rates:\n")
			for _, a := range f.Agents {
				fmt.Fprintf(&b, "    %s: %s (%d of %d), %s\n", clip(oneLine(a.Agent), 60), percent(a.Rate), a.Failing, a.Runs, trendLabel(a))
			}
		}
	}
	textCopilot(&b, d)
	textMissing(&b, d)
	return b.String()
}

func textCluster(i int, c oncall.Cluster) string {
	badge := ""
	if c.New {
		badge = "[new] "
	}
	s := fmt.Sprintf("%d. %s%s at %s: %s — %s (previous window %d)", i+1, badge, kindLabel(c.Kind), clip(oneLine(where(c)), 60),
		clip(oneLine(c.Error), 120), plural(c.Count, "run", "runs"), c.BaselineCount)
	if len(c.TraceIDs) > 0 {
		s += ", e.g. trace " + oneLine(c.TraceIDs[0])
		if len(c.SpanIDs) > 0 && c.SpanIDs[0] != "" {
			s += " span " + oneLine(c.SpanIDs[0])
		}
	}
	return s
}

func textCopilot(b *strings.Builder, d Digest) {
	c := d.Copilot
	fmt.Fprintf(b, "\nCopilot\n  %s, %s tokens, %s · feedback 👍 %d 👎 %d\n", plural(c.Triages, "triage", "triages"),
		count(c.Usage.PromptTokens+c.Usage.CompletionTokens), money(c.Usage.Cost), c.Helpful, c.Unhelpful)
	if n := d.Narrative; n != nil && n.Usage.Calls+n.Usage.PromptTokens > 0 {
		fmt.Fprintf(b, "  this summary: %s tokens, %s\n", count(n.Usage.PromptTokens+n.Usage.CompletionTokens), money(n.Usage.Cost))
	}
}

func textMissing(b *strings.Builder, d Digest) {
	if len(d.Missing) == 0 {
		return
	}
	b.WriteString("\nNot included\n")
	for _, m := range d.Missing {
		fmt.Fprintf(b, "  %s\n", clip(oneLine(m), 300))
	}
}

func severity(s string) string {
	if s == "" {
		return ""
	}
	return " (" + clip(oneLine(s), 20) + ")"
}

func ackedLabel(acked bool) string {
	if acked {
		return ", acknowledged"
	}
	return ", not acknowledged"
}
