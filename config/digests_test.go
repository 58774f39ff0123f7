package config

import (
	"strings"
	"testing"
	"time"

	"github.com/oncall-copilot/oncall-copilot/digest"
)

func TestDigestSettings(t *testing.T) {
	cfg := Default()
	cfg.Slack.Channel = "C0INCIDENTS"
	cases := []struct {
		name    string
		env     map[string]string
		wantErr []string
		check   func(t *testing.T, s DigestSettings)
	}{
		{name: "defaults", check: func(t *testing.T, s DigestSettings) {
			if !s.Enabled || s.Schedule.Spec != digest.DefaultSpec || s.Schedule.TZ != "UTC" || s.Schedule.Channel != "C0INCIDENTS" || s.Grace != time.Hour || s.Schedule.Name != "default" {
				t.Errorf("settings %+v", s)
			}
		}},
		{name: "everything set", env: map[string]string{"DIGEST_SCHEDULE": "30 8 * * 1-5", "DIGEST_TZ": "Europe/Paris", "DIGEST_CHANNEL": "C0DIGEST", "DIGEST_WINDOW": "72h", "DIGEST_GRACE": "2h", "DIGEST_SKIP_QUIET": "true"},
			check: func(t *testing.T, s DigestSettings) {
				sc := s.Schedule
				if sc.Spec != "30 8 * * 1-5" || sc.Location().String() != "Europe/Paris" || sc.Channel != "C0DIGEST" || sc.Window != 72*time.Hour || s.Grace != 2*time.Hour || !sc.SkipQuiet {
					t.Errorf("settings %+v", s)
				}
			}},
		{name: "off", env: map[string]string{"DIGEST_SCHEDULE": "off"}, check: func(t *testing.T, s DigestSettings) {
			if s.Enabled {
				t.Error("DIGEST_SCHEDULE=off left the digest enabled")
			}
		}},
		{name: "every problem at once", env: map[string]string{"DIGEST_SCHEDULE": "TZ=UTC", "DIGEST_TZ": "Mars/Base", "DIGEST_WINDOW": "a day", "DIGEST_GRACE": "-1h", "DIGEST_SKIP_QUIET": "maybe"},
			wantErr: []string{"names a time zone", `unknown time zone "Mars/Base"`, "DIGEST_WINDOW", "DIGEST_GRACE", "DIGEST_SKIP_QUIET"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := cfg
			if err := applyEnv(&cfg, func(k string) string { return tc.env[k] }); err != nil {
				t.Fatal(err)
			}
			s, err := cfg.DigestSettings()
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatal("no error")
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				if cfg.Validate() == nil {
					t.Error("Validate passed what DigestSettings rejects")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, s)
		})
	}
}

func TestDigestSchedulesFromConfig(t *testing.T) {
	cfg := Default()
	cfg.Slack.Channel = "C-DEFAULT"
	cfg.Digests.Schedules = []DigestSchedule{
		{Name: "support", Channel: "C-SUPPORT", Schedule: "30 8 * * 1-5", TZ: "Europe/Paris"},
		{Name: "billing", Schedule: "0 9 * * *", TZ: "America/New_York", SkipQuiet: true},
	}
	s, err := cfg.DigestSettings()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Schedules) != 2 || s.Schedules[0].Channel != "C-SUPPORT" || s.Schedules[1].Channel != "C-DEFAULT" || !s.Schedules[1].SkipQuiet {
		t.Fatalf("schedules = %+v", s.Schedules)
	}
	if s.Schedules[0].Location().String() != "Europe/Paris" {
		t.Errorf("zone = %v", s.Schedules[0].Location())
	}
	cfg.Digests.Schedules = []DigestSchedule{{Name: "a", Schedule: "61 * * * *"}, {Name: "a", TZ: "Mars/Olympus"}}
	_, err = cfg.DigestSettings()
	if err == nil || !strings.Contains(err.Error(), "digests.schedules[0]") || !strings.Contains(err.Error(), "digests.schedules[1]") || !strings.Contains(err.Error(), "used twice") {
		t.Fatalf("want every problem named, got %v", err)
	}
}
