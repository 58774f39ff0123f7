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
		{"defaults: a dead worker's job is reclaimed within seconds", nil, "", func(t *testing.T, q Queue) {
			if q.JobTimeout.D() != 10*time.Minute || q.ReclaimIdle.D() != 20*time.Second || q.MaxAttempts != 8 {
				t.Errorf("defaults = %+v", q)
			}
		}},
		{"from the environment", map[string]string{"QUEUE_JOB_TIMEOUT": "4s", "QUEUE_RECLAIM_IDLE": "5s", "QUEUE_MAX_ATTEMPTS": "3"}, "", func(t *testing.T, q Queue) {
			if q.JobTimeout.D() != 4*time.Second || q.ReclaimIdle.D() != 5*time.Second || q.MaxAttempts != 3 {
				t.Errorf("queue = %+v", q)
			}
		}},
		{"a lease longer than the job timeout is fine", map[string]string{"QUEUE_RECLAIM_IDLE": "30m"}, "", nil},
		{"a lease too short to renew", map[string]string{"QUEUE_RECLAIM_IDLE": "1500ms"}, "queue.reclaim_idle: must be at least 2s", nil},
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

func TestRedisRequirePersistence(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    bool
		wantErr string
	}{
		{"off by default", map[string]string{"REDIS_URL": "redis://127.0.0.1:6379/0"}, false, ""},
		{"on", map[string]string{"REDIS_URL": "redis://127.0.0.1:6379/0", "REDIS_REQUIRE_PERSISTENCE": "true"}, true, ""},
		{"without redis", map[string]string{"REDIS_REQUIRE_PERSISTENCE": "1"}, true, "redis_require_persistence: is set but redis_url is not"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load("", func(k string) string { return tt.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			if cfg.RedisRequirePersistence != tt.want {
				t.Errorf("RedisRequirePersistence = %v, want %v", cfg.RedisRequirePersistence, tt.want)
			}
			err = cfg.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate = %v, want %q", err, tt.wantErr)
			}
		})
	}
	if _, err := Load("", func(k string) string {
		return map[string]string{"REDIS_REQUIRE_PERSISTENCE": "sure"}[k]
	}); err == nil || !strings.Contains(err.Error(), "REDIS_REQUIRE_PERSISTENCE") {
		t.Errorf("Load with a non-boolean = %v, want an error naming the variable", err)
	}
}
