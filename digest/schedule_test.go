package digest

import (
	"strings"
	"testing"
	"time"
)

func TestParseSchedule(t *testing.T) {
	cases := []struct {
		name, spec, tz string
		wantErr        []string // every part the error must say; none for a valid schedule
		wantSpec       string
		wantTZ         string
	}{
		{name: "defaults", wantSpec: DefaultSpec, wantTZ: "UTC"},
		{name: "weekdays in Paris", spec: "30 8 * * MON-FRI", tz: "Europe/Paris", wantSpec: "30 8 * * MON-FRI", wantTZ: "Europe/Paris"},
		{name: "descriptor", spec: "@weekly", tz: "America/New_York", wantSpec: "@weekly", wantTZ: "America/New_York"},
		{name: "out of range", spec: "61 9 * * *", wantErr: []string{`invalid cron spec "61 9 * * *"`, "five fields"}},
		{name: "seconds field", spec: "0 0 9 * * *", wantErr: []string{"invalid cron spec"}},
		{name: "zone in spec would panic the parser", spec: "TZ=UTC", wantErr: []string{"names a time zone"}},
		{name: "cron zone in spec", spec: "CRON_TZ=Europe/Paris 0 9 * * *", wantErr: []string{"names a time zone"}},
		{name: "interval", spec: "@every 1h", wantErr: []string{"is an interval"}},
		{name: "never fires", spec: "0 9 31 2 *", wantErr: []string{"never fires"}},
		{name: "unknown zone", tz: "Mars/Olympus_Mons", wantErr: []string{`unknown time zone "Mars/Olympus_Mons"`}},
		{name: "host zone", tz: "Local", wantErr: []string{"depends on the host"}},
		{name: "every problem at once", spec: "banana", tz: "Nowhere/City", wantErr: []string{"invalid cron spec", "unknown time zone"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseSchedule(tc.spec, tc.tz)
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("ParseSchedule(%q, %q) succeeded", tc.spec, tc.tz)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSchedule: %v", err)
			}
			if s.Spec != tc.wantSpec || s.TZ != tc.wantTZ || s.Location().String() != tc.wantTZ {
				t.Errorf("spec %q tz %q location %v, want %q %q", s.Spec, s.TZ, s.Location(), tc.wantSpec, tc.wantTZ)
			}
		})
	}
}

// robfig's parser panics on a zone prefix without a schedule; the guard
// turns that into an error.
func TestParseSpecRecovers(t *testing.T) {
	for _, spec := range []string{"TZ=UTC", "CRON_TZ="} {
		if _, err := parseSpec(spec); err == nil || !strings.Contains(err.Error(), "unparseable") {
			t.Errorf("parseSpec(%q) = %v, want an unparseable error", spec, err)
		}
	}
}

func mustSchedule(t testing.TB, spec, tz string) Schedule {
	t.Helper()
	s, err := ParseSchedule(spec, tz)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func fires(s Schedule, from time.Time, n int) []time.Time {
	var out []time.Time
	for range n {
		from = s.Next(from)
		out = append(out, from)
	}
	return out
}

func TestFireTimesAcrossDST(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	cases := []struct {
		name     string
		spec, tz string
		from     time.Time
		wantUTC  []string
	}{
		{
			name: "Paris spring forward keeps 09:00 local", spec: "0 9 * * *", tz: "Europe/Paris",
			from:    time.Date(2026, 3, 27, 12, 0, 0, 0, time.UTC),
			wantUTC: []string{"2026-03-28T08:00:00Z", "2026-03-29T07:00:00Z", "2026-03-30T07:00:00Z"},
		},
		{
			name: "New York fall back keeps 09:00 local", spec: "0 9 * * *", tz: "America/New_York",
			from:    time.Date(2026, 10, 31, 0, 0, 0, 0, ny),
			wantUTC: []string{"2026-10-31T13:00:00Z", "2026-11-01T14:00:00Z", "2026-11-02T14:00:00Z"},
		},
		{
			// 02:30 does not exist in Paris on 29 March: that day has no fire.
			name: "a local time skipped by spring forward does not fire", spec: "30 2 * * *", tz: "Europe/Paris",
			from:    time.Date(2026, 3, 27, 12, 0, 0, 0, time.UTC),
			wantUTC: []string{"2026-03-28T01:30:00Z", "2026-03-30T00:30:00Z"},
		},
		{
			// 02:30 happens twice in Paris on 25 October; robfig fires at both,
			// and the idempotency key (local wall time) makes it post once.
			name: "a local time repeated by fall back fires twice", spec: "30 2 * * *", tz: "Europe/Paris",
			from:    time.Date(2026, 10, 24, 12, 0, 0, 0, time.UTC),
			wantUTC: []string{"2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z", "2026-10-26T01:30:00Z"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := mustSchedule(t, tc.spec, tc.tz)
			var got []string
			for _, f := range fires(s, tc.from, len(tc.wantUTC)) {
				got = append(got, f.UTC().Format(time.RFC3339))
			}
			if strings.Join(got, " ") != strings.Join(tc.wantUTC, " ") {
				t.Errorf("fires %v, want %v", got, tc.wantUTC)
			}
		})
	}
}

func TestWindowAcrossDST(t *testing.T) {
	paris := mustSchedule(t, "0 9 * * *", "Europe/Paris")
	fallback := mustSchedule(t, "30 2 * * *", "Europe/Paris")
	fixed := paris
	fixed.Window = 24 * time.Hour
	cases := []struct {
		name string
		s    Schedule
		fire time.Time
		want time.Duration
	}{
		{"ordinary day", paris, time.Date(2026, 3, 28, 8, 0, 0, 0, time.UTC), 24 * time.Hour},
		{"spring forward day is 23h", paris, time.Date(2026, 3, 29, 7, 0, 0, 0, time.UTC), 23 * time.Hour},
		{"fixed window ignores the clock change", fixed, time.Date(2026, 3, 29, 7, 0, 0, 0, time.UTC), 24 * time.Hour},
		// The day after the repeated 02:30 starts at the first of the two,
		// the one that posted.
		{"after a repeated local time", fallback, time.Date(2026, 10, 26, 1, 30, 0, 0, time.UTC), 25 * time.Hour},
		{"weekly", mustSchedule(t, "0 9 * * MON", "UTC"), time.Date(2026, 3, 9, 9, 0, 0, 0, time.UTC), 7 * 24 * time.Hour},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start, end := tc.s.WindowOf(tc.fire)
			if !end.Equal(tc.fire) || end.Sub(start) != tc.want {
				t.Errorf("window %v – %v (%v), want %v ending at the fire", start, end, end.Sub(start), tc.want)
			}
		})
	}
}

func TestLatest(t *testing.T) {
	s := mustSchedule(t, "0 9 * * *", "UTC")
	fire := time.Date(2026, 3, 3, 9, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		now  time.Time
		ok   bool
	}{
		{"just before", fire.Add(-time.Second), false},
		{"at the fire", fire, true},
		{"within grace", fire.Add(59 * time.Minute), true},
		{"at the end of grace", fire.Add(time.Hour), true},
		{"after grace", fire.Add(time.Hour + time.Second), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := s.Latest(tc.now, time.Hour)
			if ok != tc.ok || (ok && !got.Equal(fire)) {
				t.Errorf("Latest(%v) = %v, %v; want %v", tc.now, got, ok, tc.ok)
			}
		})
	}
}
