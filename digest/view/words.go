package view

import (
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// The words of a digest, for renderings outside this package (the Block
// Kit one in bot) and for digest's chart. Nothing here escapes: each
// rendering makes untrusted text safe its own way.

// NarrativeMaxRunes is the longest narrative a digest keeps.
const NarrativeMaxRunes = 700

// Title names the digest by its window: "Daily digest", "Weekly digest".
func Title(d Digest) string { return title(d) }

// WindowLabel is the window in the digest's zone.
func WindowLabel(d Digest) string { return windowLabel(d) }

// Headline is the digest in one line, for notifications.
func Headline(d Digest) string { return headline(d) }

// QuietLine is the one sentence of a quiet digest.
func QuietLine(d Digest) string { return quietLine(d) }

// When is a time in the digest's zone, short.
func When(d Digest, t time.Time) string { return when(d, t) }

// FormatDurations sums durations up: "median 4m, max 1h 10m (12)".
func FormatDurations(ds Durations) string { return durations(ds) }

// RunsLine is "1,240 runs, 86 failing (6.9%)".
func RunsLine(runs, failing int) string { return runsLine(runs, failing) }

// PrevLine is the previous window's runs, or says there were none.
func PrevLine(f FleetStats) string { return prevLine(f) }

// Where names the span a cluster is blamed on: "tool search".
func Where(c oncall.Cluster) string { return where(c) }

// KindLabel is how a cluster kind reads in a sentence.
func KindLabel(kind string) string { return kindLabel(kind) }

// TrendLabel is an agent's trend in words: "up from 3.1%".
func TrendLabel(a AgentRate) string { return trendLabel(a) }

// AckedLabel says whether an open incident was acknowledged.
func AckedLabel(acked bool) string { return ackedLabel(acked) }

// Plural is n with the word that fits it: "1 run", "2 runs".
func Plural(n int, one, many string) string { return plural(n, one, many) }

// Count is n with thousands separators.
func Count(n int) string { return count(n) }

// Percent is a ratio as a percentage.
func Percent(r float64) string { return percent(r) }

// Money is an amount in US dollars.
func Money(usd float64) string { return money(usd) }

// OneLine collapses whitespace and shows control and format characters
// as code points.
func OneLine(s string) string { return oneLine(s) }

// Clip shortens s to max runes, saying that it cut.
func Clip(s string, max int) string { return clip(s, max) }

// Zone is the zone the digest shows times in; UTC when it names none.
func Zone(d Digest) *time.Location { return zone(d) }

// Duration is a short human duration: 45s, 4m, 1h 10m, 2d 3h.
func Duration(d time.Duration) string { return duration(d) }

// Ratio is n of total, rounded to four decimals; 0 of nothing.
func Ratio(n, total int) float64 { return ratio(n, total) }
