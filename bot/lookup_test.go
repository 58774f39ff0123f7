package bot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/slack-go/slack"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/bot/slacktest"
	"github.com/oncall-copilot/oncall-copilot/retry"
)

func TestFindParent(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		setup func(t *testing.T, f fixture) (want string)
		key   string // the incident looked for; testIncident's when empty
	}{
		{"found among other messages", func(t *testing.T, f fixture) string {
			other := testIncident()
			other.Key = "inc-other"
			if _, _, err := f.bot.PostParent(ctx, other); err != nil {
				t.Fatal(err)
			}
			_, ts, err := f.bot.PostParent(ctx, testIncident())
			if err != nil {
				t.Fatal(err)
			}
			postChatter(t, f, 5)
			return ts
		}, ""},
		{"never posted", func(t *testing.T, f fixture) string {
			postChatter(t, f, 3)
			return ""
		}, ""},
		{"another incident's key", func(t *testing.T, f fixture) string {
			if _, _, err := f.bot.PostParent(ctx, testIncident()); err != nil {
				t.Fatal(err)
			}
			return ""
		}, "inc-unrelated"},
		{"beyond the first page", func(t *testing.T, f fixture) string {
			_, ts, err := f.bot.PostParent(ctx, testIncident())
			if err != nil {
				t.Fatal(err)
			}
			postChatter(t, f, lookupPageSize+20)
			return ts
		}, ""},
		{"after transient failures", func(t *testing.T, f fixture) string {
			_, ts, err := f.bot.PostParent(ctx, testIncident())
			if err != nil {
				t.Fatal(err)
			}
			f.srv.Fail("conversations.history", 1, slacktest.RateLimited(2*time.Second))
			f.srv.Fail("conversations.history", 1, slacktest.HTTPStatus(http.StatusInternalServerError))
			return ts
		}, ""},
		{"updated parent keeps its metadata", func(t *testing.T, f fixture) string {
			inc := testIncident()
			_, ts, err := f.bot.PostParent(ctx, inc)
			if err != nil {
				t.Fatal(err)
			}
			inc.ThreadTS, inc.Headline = ts, "triaged"
			if err := f.bot.UpdateParent(ctx, inc); err != nil {
				t.Fatal(err)
			}
			return ts
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.srv.UseClock(f.clock.Now)
			want := tt.setup(t, f)
			inc := testIncident()
			if tt.key != "" {
				inc.Key = tt.key
			}
			got, err := f.bot.FindParent(ctx, inc)
			if err != nil {
				t.Fatalf("FindParent: %v", err)
			}
			if got != want {
				t.Errorf("FindParent = %q, want %q", got, want)
			}
		})
	}
}

// postChatter posts n top-level messages that are not incidents.
func postChatter(t *testing.T, f fixture, n int) {
	t.Helper()
	api := slack.New(slacktest.Token, slack.OptionAPIURL(f.srv.URL+"/"))
	for i := range n {
		if _, _, err := api.PostMessageContext(context.Background(), "C0INCIDENTS", slack.MsgOptionText(fmt.Sprintf("chatter %d", i), false)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFindParentSearchesSinceTheIncidentOpened(t *testing.T) {
	f := newFixture(t)
	f.srv.UseClock(f.clock.Now)
	ctx := context.Background()
	inc := testIncident()
	inc.OpenedAt = f.clock.Now()
	if _, _, err := f.bot.PostParent(ctx, inc); err != nil {
		t.Fatal(err)
	}
	// The incident key reused for an incident opened a day later: the old
	// parent is not its thread.
	later := inc
	later.OpenedAt = inc.OpenedAt.Add(24 * time.Hour)
	if got, err := f.bot.FindParent(ctx, later); err != nil || got != "" {
		t.Errorf("FindParent of the later incident = %q, %v; want none", got, err)
	}
	calls := f.srv.Calls()
	last := calls[len(calls)-1]
	if last.Method != "conversations.history" || last.Params.Get("oldest") != slackTS(later.OpenedAt.Add(-lookupSkew)) ||
		last.Params.Get("include_all_metadata") != "1" {
		t.Errorf("history asked with %v", last.Params)
	}
}

func TestFindParentRefused(t *testing.T) {
	f := newFixture(t)
	f.srv.Fail("conversations.history", 1, slacktest.APIError("missing_scope"))
	_, err := f.bot.FindParent(context.Background(), testIncident())
	if !errors.Is(err, ErrPermanent) || !retry.IsPermanent(err) {
		t.Fatalf("want ErrPermanent marked permanent, got %v", err)
	}
	if n := f.srv.CallCount("conversations.history"); n != 1 {
		t.Errorf("a refused read was tried %d times", n)
	}
}

func TestFindReport(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	inc := testIncident()
	_, ts, err := f.bot.PostParent(ctx, inc)
	if err != nil {
		t.Fatal(err)
	}
	inc.ThreadTS = ts
	if found, err := f.bot.FindReport(ctx, inc); err != nil || found {
		t.Fatalf("before the report: FindReport = %v, %v", found, err)
	}
	if err := f.bot.PostNote(ctx, inc, "a note is not a report"); err != nil {
		t.Fatal(err)
	}
	if err := f.bot.PostReport(ctx, inc, testReport()); err != nil {
		t.Fatal(err)
	}
	refired := inc
	refired.Fires = 2
	other := inc
	other.Key = "inc-other"
	for _, tt := range []struct {
		name string
		inc  oncall.Incident
		want bool
	}{
		{"this fire's report", inc, true},
		{"a re-fire not yet reported", refired, false},
		{"another incident", other, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			found, err := f.bot.FindReport(ctx, tt.inc)
			if err != nil || found != tt.want {
				t.Errorf("FindReport = %v, %v; want %v", found, err, tt.want)
			}
		})
	}
	f.srv.Fail("conversations.replies", 1, slacktest.APIError("missing_scope"))
	if _, err := f.bot.FindReport(ctx, inc); !retry.IsPermanent(err) || !errors.Is(err, ErrPermanent) {
		t.Errorf("a refused read: %v", err)
	}
}

func TestRefusalsStayPermanent(t *testing.T) {
	for _, tt := range []struct {
		name      string
		fault     slacktest.Fault
		times     int
		permanent bool
	}{
		{"channel not found", slacktest.APIError("channel_not_found"), 1, true},
		{"token revoked", slacktest.APIError("token_revoked"), 1, true},
		{"server errors past the retries", slacktest.HTTPStatus(http.StatusBadGateway), 4, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.srv.Fail("chat.postMessage", tt.times, tt.fault)
			_, _, err := f.bot.PostParent(context.Background(), testIncident())
			if err == nil {
				t.Fatal("want an error")
			}
			if retry.IsPermanent(err) != tt.permanent || errors.Is(err, ErrPermanent) != tt.permanent {
				t.Errorf("permanent = %v (ErrPermanent %v), want %v: %v", retry.IsPermanent(err), errors.Is(err, ErrPermanent), tt.permanent, err)
			}
		})
	}
}
