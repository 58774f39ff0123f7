package digest

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// DefaultSpec is the schedule of a digest that names none: daily at 09:00
// in the schedule's zone.
const DefaultSpec = "0 9 * * *"

// specParser reads five-field crontab specs and the fixed descriptors
// (@daily, @weekly, ...). Seconds are not accepted: a digest is not a
// per-second affair.
var specParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Schedule is when one digest is posted and where. Build it with
// ParseSchedule, then set Name, Channel and the optional fields; a
// Schedule is a value and safe to share once built.
type Schedule struct {
	// Name identifies the schedule; it is part of the idempotency key of
	// each fire, so it must be unique and stable across replicas and
	// restarts.
	Name    string
	Channel string // Slack channel id or name the digest is posted to
	Spec    string // cron spec as given, DefaultSpec when empty
	TZ      string // IANA zone the spec is read in, "UTC" when empty
	// Window is how far back a digest looks. Zero means since the
	// schedule's previous fire: a day for a daily digest, 23 or 25 hours
	// on the days clocks change, a week for a weekly one.
	Window time.Duration
	// SkipQuiet posts nothing when the window was quiet, instead of a
	// short "all quiet" digest.
	SkipQuiet bool

	sched cron.Schedule
	loc   *time.Location
}

// ParseSchedule checks a cron spec and a time zone and returns a Schedule
// for them. An empty spec is DefaultSpec, an empty zone UTC. Specs that
// name their own zone (CRON_TZ=...) and @every intervals are rejected:
// the zone belongs in tz, and an interval has no fixed fire times that
// replicas could agree on. It never panics, whatever the input.
func ParseSchedule(spec, tz string) (Schedule, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		spec = DefaultSpec
	}
	tz = strings.TrimSpace(tz)
	if tz == "" {
		tz = "UTC"
	}
	s := Schedule{Spec: spec, TZ: tz}
	var errs []error
	if strings.EqualFold(tz, "Local") {
		errs = append(errs, errors.New(`time zone "Local" depends on the host; name the zone, e.g. Europe/Paris`))
	} else if loc, err := time.LoadLocation(tz); err != nil {
		errs = append(errs, fmt.Errorf("unknown time zone %q (want an IANA name such as Europe/Paris or UTC)", tz))
	} else {
		s.loc = loc
	}
	upper := strings.ToUpper(spec)
	switch {
	case strings.HasPrefix(upper, "TZ=") || strings.HasPrefix(upper, "CRON_TZ="):
		errs = append(errs, fmt.Errorf("cron spec %q names a time zone; give the zone separately", spec))
	case strings.HasPrefix(spec, "@every"):
		errs = append(errs, fmt.Errorf("cron spec %q is an interval; use a crontab spec such as %q", spec, DefaultSpec))
	default:
		sched, err := parseSpec(spec)
		if err != nil {
			errs = append(errs, fmt.Errorf("invalid cron spec %q: %w (want five fields: minute hour day-of-month month day-of-week, e.g. %q)", spec, err, DefaultSpec))
		} else {
			s.sched = sched
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Schedule{}, err
	}
	if ss, ok := s.sched.(*cron.SpecSchedule); ok {
		ss.Location = s.loc
	}
	if s.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return Schedule{}, fmt.Errorf("cron spec %q never fires", spec)
	}
	return s, nil
}

// parseSpec runs robfig's parser, which panics on some malformed input,
// and turns a panic into an error.
func parseSpec(spec string) (sched cron.Schedule, err error) {
	defer func() {
		if r := recover(); r != nil {
			sched, err = nil, fmt.Errorf("unparseable: %v", r)
		}
	}()
	return specParser.Parse(spec)
}

// Location is the zone the schedule's times are read and shown in.
func (s Schedule) Location() *time.Location {
	if s.loc == nil {
		return time.UTC
	}
	return s.loc
}

// Next returns the first fire time after t, or the zero time when there
// is none (or the schedule was not built by ParseSchedule).
func (s Schedule) Next(t time.Time) time.Time {
	if s.sched == nil {
		return time.Time{}
	}
	return s.sched.Next(t)
}

// Latest returns the last fire time in [now-grace, now], and whether
// there is one: the fire a replica should still post at now.
func (s Schedule) Latest(now time.Time, grace time.Duration) (time.Time, bool) {
	var last time.Time
	// Next finds fires strictly after its argument, whole seconds only.
	t := now.Add(-grace).Add(-time.Nanosecond)
	for range maxScan {
		f := s.Next(t)
		if f.IsZero() || f.After(now) {
			break
		}
		last, t = f, f
	}
	return last, !last.IsZero()
}

// maxScan bounds the fires one lookup walks through.
const maxScan = 100_000

// Previous returns the last fire time before fire, looking back at most
// 32 days, and whether there is one.
func (s Schedule) Previous(fire time.Time) (time.Time, bool) {
	for _, back := range []time.Duration{time.Hour, 25 * time.Hour, 8 * 24 * time.Hour, 32 * 24 * time.Hour} {
		var last time.Time
		t := fire.Add(-back)
		for range maxScan {
			f := s.Next(t)
			if f.IsZero() || !f.Before(fire) {
				break
			}
			last, t = f, f
		}
		if !last.IsZero() {
			return last, true
		}
	}
	return time.Time{}, false
}

// WindowOf returns the window a digest fired at fire covers.
func (s Schedule) WindowOf(fire time.Time) (start, end time.Time) {
	if s.Window > 0 {
		return fire.Add(-s.Window), fire
	}
	prev, ok := s.Previous(fire)
	if !ok {
		return fire.Add(-24 * time.Hour), fire
	}
	// When clocks go back, a local time can fire twice; only the first
	// of the two posts (see key), so the window starts there.
	if first, ok := s.Previous(prev); ok && s.key(first) == s.key(prev) {
		prev = first
	}
	return prev, fire
}

// key is the idempotency key of the schedule's fire at fire. It uses the
// wall-clock time in the schedule's zone, so a local time that happens
// twice when clocks go back is still posted once.
func (s Schedule) key(fire time.Time) string {
	return "digest:" + s.Name + ":" + fire.In(s.Location()).Format("2006-01-02T15:04")
}
