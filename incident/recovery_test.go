package incident

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/store/boltdb"
)

// After the store lost its data, an alert of a group that already has a
// thread goes back to that thread, found in Slack by the incident key in
// the parent's metadata, and its report is not posted twice.
func TestThreadsTheStoreForgotAreFoundInSlack(t *testing.T) {
	for _, tc := range []struct {
		name        string
		toldOfLoss  bool
		wantParents int
	}{
		{"store reports the loss", true, 1},
		{"store says nothing", false, 2}, // what happened before: a duplicate thread
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &clock{now: t0.Add(time.Hour)}
			f := newFixtureWith(t, nil, Options{Now: c.Now})
			ctx := context.Background()
			if err := f.svc.Handle(ctx, alertJob("before", oncall.AlertFiring)); err != nil {
				t.Fatal(err)
			}
			first := parents(f.slack)
			if len(first) != 1 {
				t.Fatalf("parents = %d before the loss, want 1", len(first))
			}
			repliesBefore := len(f.slack.Replies("C1", first[0].TS))

			// The store comes back empty an hour later.
			c.now = c.now.Add(time.Hour)
			lostAt := c.now
			empty, err := boltdb.Open(boltdb.Options{Path: filepath.Join(t.TempDir(), "empty.db")})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { empty.Close() })
			opts := f.svc.opts
			opts.Store = empty
			opts.StoreLostAt = nil
			if tc.toldOfLoss {
				opts.StoreLostAt = func() time.Time { return lostAt }
			}
			after, err := New(opts)
			if err != nil {
				t.Fatal(err)
			}
			c.now = c.now.Add(time.Minute)
			if err := after.Handle(ctx, alertJob("resent", oncall.AlertFiring)); err != nil {
				t.Fatal(err)
			}
			if got := len(parents(f.slack)); got != tc.wantParents {
				t.Fatalf("parents after the re-send = %d, want %d", got, tc.wantParents)
			}
			if !tc.toldOfLoss {
				return
			}
			inc, err := empty.GetIncident(ctx, oncall.IncidentKey("default", "g1"))
			if err != nil {
				t.Fatal(err)
			}
			if inc.ThreadTS != first[0].TS {
				t.Errorf("recovered incident thread = %q, want the existing %q", inc.ThreadTS, first[0].TS)
			}
			if got := len(f.slack.Replies("C1", first[0].TS)); got != repliesBefore {
				t.Errorf("thread replies %d → %d: the report was posted again", repliesBefore, got)
			}
		})
	}
}
