package digest

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// Run, on synctest's fake clock: it catches up at start, then posts at
// each fire time, to the second.
func TestRunPostsOnSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now() // synctest's epoch: 2000-01-01 00:00 UTC
		midnight := mustSchedule(t, "0 0 * * *", "UTC")
		midnight.Name, midnight.Channel = "midnight", "C1"
		morning := mustSchedule(t, "0 9 * * *", "UTC")
		morning.Name, morning.Channel = "morning", "C2"
		p := &recordingPoster{now: time.Now}
		b := &builds{}
		s, err := NewScheduler(SchedulerOptions{Schedules: []Schedule{midnight, morning}, Store: newMemOnce(time.Now), Build: b.Build, Poster: p})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- s.Run(ctx) }()
		time.Sleep(2*24*time.Hour + time.Minute)
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
		var got []string
		for _, post := range p.all() {
			got = append(got, post.Channel+"@"+post.At.Sub(start).String())
		}
		// The midnight fire at start is caught up at once.
		want := "C1@0s C2@9h0m0s C1@24h0m0s C2@33h0m0s C1@48h0m0s"
		if strings.Join(got, " ") != want {
			t.Errorf("posts %v, want %s", got, want)
		}
	})
}

// A fire that comes while the schedule's previous digest is still being
// built is skipped (SkipIfStillRunning), and a panic is survived.
func TestRunSkipsWhileStillRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		every := mustSchedule(t, "* * * * *", "UTC")
		every.Name, every.Channel = "minutely", "C1"
		p := &recordingPoster{now: time.Now}
		calls := 0
		build := func(ctx context.Context, req Request) (Digest, error) {
			calls++
			switch calls {
			case 1:
				time.Sleep(150 * time.Second) // still building at the next two fires
			case 2:
				panic("build exploded")
			}
			return Digest{Name: req.Name, Start: req.Start, End: req.End, Buckets: buckets(req.Start, req.End)}, nil
		}
		s, err := NewScheduler(SchedulerOptions{Schedules: []Schedule{every}, Store: newMemOnce(time.Now), Build: build, Poster: p, Grace: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- s.Run(ctx) }()
		time.Sleep(5*time.Minute + time.Second)
		cancel()
		<-done
		var got []string
		for _, post := range p.all() {
			got = append(got, post.At.Sub(start).String())
		}
		// 00:00 builds until 02:30, so 01:00 and 02:00 are skipped; 03:00
		// panics, is released and retried after 5m, past its grace; 04:00
		// and 05:00 post.
		if want := "2m30s 4m0s 5m0s"; strings.Join(got, " ") != want {
			t.Errorf("posts at %v, want %s", got, want)
		}
	})
}
