package view

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/redact"
)

// Formatting shared by the text and Block Kit renderings. Nothing here
// escapes: each rendering makes untrusted text safe its own way.

// title names the digest by its window: daily, weekly, or neither.
func title(d Digest) string {
	switch w := d.End.Sub(d.Start); {
	case w >= 23*time.Hour && w <= 25*time.Hour:
		return "Daily digest"
	case w >= 167*time.Hour && w <= 169*time.Hour:
		return "Weekly digest"
	default:
		return "Digest of the last " + duration(w)
	}
}

// windowLabel is the window in the digest's zone:
// "Mon 2 Mar 09:00 – Tue 3 Mar 09:00 (Europe/Paris)".
func windowLabel(d Digest) string {
	loc := zone(d)
	return d.Start.In(loc).Format("Mon 2 Jan 15:04") + " – " + d.End.In(loc).Format("Mon 2 Jan 2006 15:04") + " (" + loc.String() + ")"
}

func zone(d Digest) *time.Location {
	if loc, err := time.LoadLocation(d.Zone); err == nil && d.Zone != "" {
		return loc
	}
	return time.UTC
}

// when is a time in the digest's zone, short.
func when(d Digest, t time.Time) string { return t.In(zone(d)).Format("Mon 2 Jan 15:04") }

// duration is a short human duration: 45s, 4m, 1h 10m, 2d 3h.
func duration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d.Round(time.Second)/time.Second)) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d.Round(time.Minute)/time.Minute)) + "m"
	case d < 48*time.Hour:
		d = d.Round(time.Minute)
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return strconv.Itoa(h) + "h"
		}
		return fmt.Sprintf("%dh %dm", h, m)
	default:
		d = d.Round(time.Hour)
		days, h := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
		if h == 0 {
			return strconv.Itoa(days) + "d"
		}
		return fmt.Sprintf("%dd %dh", days, h)
	}
}

// count writes n with thousands separators.
func count(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// plural is "1 run", "2 runs".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return count(n) + " " + many
}

// percent writes a rate; small rates keep two decimals so they do not
// read as zero. It never writes '<', which mrkdwn would take as markup.
func percent(r float64) string {
	p := r * 100
	switch {
	case p == 0:
		return "0%"
	case p < 1:
		return strconv.FormatFloat(p, 'f', 2, 64) + "%"
	default:
		return strconv.FormatFloat(p, 'f', 1, 64) + "%"
	}
}

// money writes US dollars with the precision small model bills need.
func money(usd float64) string {
	switch {
	case usd == 0:
		return "$0"
	case usd < 0.0001:
		return "under $0.0001"
	case usd < 0.01:
		return "$" + strconv.FormatFloat(usd, 'f', 4, 64)
	case usd < 1:
		return "$" + strconv.FormatFloat(usd, 'f', 3, 64)
	default:
		return "$" + strconv.FormatFloat(usd, 'f', 2, 64)
	}
}

// durations is "median 4m, max 12m over 3", or "" when there are none.
func durations(ds Durations) string {
	if ds.Count == 0 {
		return ""
	}
	return fmt.Sprintf("median %s, max %s (%d)", duration(ds.Median), duration(ds.Max), ds.Count)
}

// runsLine is "1,240 runs, 86 failing (6.9%)".
func runsLine(runs, failing int) string {
	return fmt.Sprintf("%s, %s failing (%s)", plural(runs, "run", "runs"), count(failing), percent(ratio(failing, runs)))
}

// prevLine is the previous window's runs, or says there were none.
func prevLine(f FleetStats) string {
	if f.PrevRuns == 0 {
		return "no runs"
	}
	return runsLine(f.PrevRuns, f.PrevFailing)
}

// where names the span a cluster is blamed on: "tool search", "llm chat".
func where(c oncall.Cluster) string {
	name := c.ToolName
	if name == "" {
		name = c.SpanName
	}
	kind := string(c.SpanKind)
	if kind == "" {
		kind = "span"
	}
	if name == "" {
		return kind
	}
	return kind + " " + name
}

// kindLabel is how a cluster kind reads in a sentence.
func kindLabel(kind string) string {
	return strings.ReplaceAll(kind, "_", " ")
}

// trendLabel is an agent's trend in words: "up from 3.1%".
func trendLabel(a AgentRate) string {
	switch a.Trend {
	case TrendNew:
		return "no runs before"
	case TrendUp:
		return "up from " + percent(a.PrevRate)
	case TrendDown:
		return "down from " + percent(a.PrevRate)
	default:
		return "steady"
	}
}

// oneLine collapses whitespace and shows control and format characters
// as code points (redact.Printable), so untrusted text cannot break a
// line, steer a terminal or reorder what is read.
func oneLine(s string) string {
	return strings.Join(strings.Fields(redact.Printable(s)), " ")
}

// clip shortens s to max runes, saying how much it cut.
func clip(s string, max int) string {
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	return strings.TrimSpace(string(r[:max])) + "…"
}

// quietLine is the one sentence of a quiet digest.
func quietLine(d Digest) string {
	s := "All quiet: no incident opened, resolved or left open, and no new failure pattern."
	if d.Fleet.Runs > 0 {
		s += " " + runsLine(d.Fleet.Runs, d.Fleet.Failing) + "."
	}
	return s
}

// ratio is n of total, rounded to four decimals; 0 of nothing.
func ratio(n, total int) float64 {
	if total == 0 {
		return 0
	}
	return math.Round(float64(n)/float64(total)*10000) / 10000
}

// headline is the digest in one line, for notifications.
func headline(d Digest) string {
	if d.Quiet {
		return title(d) + ": all quiet"
	}
	parts := []string{
		fmt.Sprintf("%d opened, %d resolved, %d still open", d.Incidents.Opened, d.Incidents.Resolved, d.Incidents.StillOpen),
	}
	if d.Fleet.Runs > 0 {
		parts = append(parts, percent(ratio(d.Fleet.Failing, d.Fleet.Runs))+" of runs failing")
	}
	if d.Fleet.NewClusters > 0 {
		parts = append(parts, plural(d.Fleet.NewClusters, "new failure pattern", "new failure patterns"))
	}
	return title(d) + ": " + strings.Join(parts, ", ")
}
