package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/oncall-copilot/oncall-copilot/digest"
)

// Digests configures the scheduled digests. Without schedules, one daily
// digest goes to slack.channel, shaped by the DIGEST_* variables.
type Digests struct {
	Schedules []DigestSchedule `yaml:"schedules"`
	Grace     Duration         `yaml:"grace"` // how late a missed fire may still be posted; default 1h
	// Env is the default digest as the DIGEST_* variables shape it,
	// kept as given so that Validate names every bad value at once.
	Env DigestEnv `yaml:"-"`
}

// DigestEnv holds the DIGEST_* variables:
//
//	DIGEST_SCHEDULE    cron spec, default "0 9 * * *"; "off" disables the scheduled digest
//	DIGEST_TZ          IANA zone of the spec and of the times shown, default UTC
//	DIGEST_CHANNEL     channel the digest goes to, default slack.channel
//	DIGEST_WINDOW      how far back a digest looks, default since the previous fire
//	DIGEST_GRACE       how late a missed fire may still be posted, default 1h
//	DIGEST_SKIP_QUIET  true posts nothing on a quiet day instead of "all quiet"
type DigestEnv struct {
	Schedule, TZ, Channel, Window, Grace, SkipQuiet string
}

// DigestSettings are the digests as serve runs them.
type DigestSettings struct {
	Enabled   bool
	Schedule  digest.Schedule   // the first schedule: /oncall digest and the CLI use its zone and window
	Schedules []digest.Schedule // every scheduled digest, Name and Channel set
	Grace     time.Duration
}

// DigestSettings reads and checks the digests' settings, returning every
// problem at once. Schedules in the configuration file replace the
// DIGEST_* default.
func (c Config) DigestSettings() (DigestSettings, error) {
	var errs []error
	env := c.Digests.Env
	spec := strings.TrimSpace(env.Schedule)
	st := DigestSettings{Enabled: !strings.EqualFold(spec, "off"), Grace: time.Hour}
	if !st.Enabled {
		spec = ""
	}
	s, err := digest.ParseSchedule(spec, env.TZ)
	if err != nil {
		errs = append(errs, fmt.Errorf("DIGEST_SCHEDULE/DIGEST_TZ: %w", err))
	}
	s.Name = "default"
	s.Channel = c.Slack.Channel
	if ch := strings.TrimSpace(env.Channel); ch != "" {
		s.Channel = ch
	}
	if v := env.Window; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("DIGEST_WINDOW: want a positive duration such as 24h, got %q", v))
		}
		s.Window = d
	}
	if v := env.Grace; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("DIGEST_GRACE: want a positive duration such as 1h, got %q", v))
		}
		st.Grace = d
	}
	if v := env.SkipQuiet; v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("DIGEST_SKIP_QUIET: want true or false, got %q", v))
		}
		s.SkipQuiet = b
	}
	st.Schedule = s
	st.Schedules = []digest.Schedule{s}
	if g := c.Digests.Grace.D(); g > 0 {
		st.Grace = g
	}
	if len(c.Digests.Schedules) > 0 {
		st.Schedules = nil
		seen := map[string]bool{}
		for i, sc := range c.Digests.Schedules {
			field := fmt.Sprintf("digests.schedules[%d]", i)
			ds, err := digest.ParseSchedule(sc.Schedule, sc.TZ)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", field, err))
			}
			ds.Name, ds.Channel, ds.Window, ds.SkipQuiet = sc.Name, sc.Channel, sc.Window.D(), sc.SkipQuiet
			if ds.Name == "" {
				ds.Name = fmt.Sprintf("digest-%d", i+1)
			}
			if seen[ds.Name] {
				errs = append(errs, fmt.Errorf("%s.name: %q is used twice (names key the exactly-once record)", field, ds.Name))
			}
			seen[ds.Name] = true
			if ds.Channel == "" {
				ds.Channel = c.Slack.Channel
			}
			st.Schedules = append(st.Schedules, ds)
		}
		st.Schedule = st.Schedules[0]
	}
	return st, errors.Join(errs...)
}

// DigestSchedule is one digest: a cron spec in a time zone, posted to a
// channel.
type DigestSchedule struct {
	Name      string   `yaml:"name"`
	Channel   string   `yaml:"channel"`  // default slack.channel
	Schedule  string   `yaml:"schedule"` // cron spec, default "0 9 * * *"
	TZ        string   `yaml:"tz"`       // IANA zone, default UTC
	Window    Duration `yaml:"window"`   // default: since the previous fire
	SkipQuiet bool     `yaml:"skip_quiet"`
}
