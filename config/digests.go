package config

// Digests configures the scheduled digests. Without schedules, one daily
// digest goes to slack.channel, shaped by the DIGEST_* variables.
type Digests struct {
	Schedules []DigestSchedule `yaml:"schedules"`
	Grace     Duration         `yaml:"grace"` // how late a missed fire may still be posted; default 1h
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
