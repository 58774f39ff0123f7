package config

import (
	"strings"
	"testing"
	"time"
)

func TestQueueSettings(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string // empty: valid
		check   func(t *testing.T, q Queue)
	}{
		{"defaults: reclaim after the job timeout", nil, "", func(t *testing.T, q Queue) {
			if q.JobTimeout.D() != 10*time.Minute || q.ReclaimIdle.D() != 15*time.Minute || q.MaxAttempts != 8 {
				t.Errorf("defaults = %+v", q)
			}
		}},
		{"from the environment", map[string]string{"QUEUE_JOB_TIMEOUT": "4s", "QUEUE_RECLAIM_IDLE": "5s", "QUEUE_MAX_ATTEMPTS": "3"}, "", func(t *testing.T, q Queue) {
			if q.JobTimeout.D() != 4*time.Second || q.ReclaimIdle.D() != 5*time.Second || q.MaxAttempts != 3 {
				t.Errorf("queue = %+v", q)
			}
		}},
		{"reclaim before the job may end", map[string]string{"QUEUE_RECLAIM_IDLE": "5m"}, "queue.reclaim_idle: must be longer than queue.job_timeout", nil},
		{"no attempts", map[string]string{"QUEUE_MAX_ATTEMPTS": "0"}, "queue.max_attempts", nil},
		{"no job time", map[string]string{"QUEUE_JOB_TIMEOUT": "0s"}, "queue.job_timeout: must be positive", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load("", func(k string) string { return tt.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			err = cfg.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate = %v, want %q", err, tt.wantErr)
			}
			if tt.check != nil {
				tt.check(t, cfg.Queue)
			}
		})
	}
}
