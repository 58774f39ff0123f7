package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/bot"
	"github.com/oncall-copilot/oncall-copilot/bot/slacktest"
	"github.com/oncall-copilot/oncall-copilot/config"
	"github.com/oncall-copilot/oncall-copilot/digest"
	"github.com/oncall-copilot/oncall-copilot/store/boltdb"
	"github.com/oncall-copilot/oncall-copilot/tracesource/jsonl"
)

// exampleEnd returns half an hour after the last run of the example
// traces, so the digest's day holds them whenever they were generated.
func exampleEnd(t *testing.T) time.Time {
	t.Helper()
	src, err := jsonl.New(jsonl.Options{Path: exampleTraces})
	if err != nil {
		t.Fatal(err)
	}
	res, err := src.Search(t.Context(), oncall.TraceQuery{Start: time.Unix(0, 0), End: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), Limit: 100000})
	if err != nil || len(res.Traces) == 0 {
		t.Fatalf("example traces: %d, %v", len(res.Traces), err)
	}
	var last time.Time
	for _, tr := range res.Traces {
		if tr.Start.After(last) {
			last = tr.Start
		}
	}
	return last.Add(30 * time.Minute).Truncate(time.Minute)
}

// seedIncidents puts an incident opened and acknowledged in the last day
// into a fresh embedded store under dir.
func seedIncidents(t *testing.T, dir string, digestNow time.Time) {
	t.Helper()
	s, err := boltdb.Open(boltdb.Options{Path: filepath.Join(dir, "oncall.db"), Now: func() time.Time { return digestNow.Add(-30 * time.Minute) }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	inc := oncall.Incident{
		Key: "inc-1", Status: oncall.IncidentAcknowledged, Channel: channel,
		Alert:    oncall.Alert{Name: "AgentErrorRateHigh", Severity: "page", Status: oncall.AlertFiring},
		OpenedAt: digestNow.Add(-30 * time.Minute), AckedAt: digestNow.Add(-24 * time.Minute), TriagedAt: digestNow.Add(-29 * time.Minute),
		Fires: 2, Report: &oncall.Report{Usage: oncall.Usage{PromptTokens: 5000, CompletionTokens: 600, Cost: 0.0031, Calls: 1}},
		Feedback: []oncall.Feedback{{User: "U1", Helpful: true, At: digestNow.Add(-20 * time.Minute)}},
	}
	if _, _, err := s.CreateIncident(t.Context(), inc); err != nil {
		t.Fatal(err)
	}
}

func runDigestTest(t *testing.T, digestNow time.Time, env map[string]string, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := runDigestAt(t.Context(), args, func(k string) string { return env[k] }, &stdout, &stderr, func() time.Time { return digestNow })
	return stdout.String(), stderr.String(), err
}

func TestDigestCommandPrints(t *testing.T) {
	dir, now := t.TempDir(), exampleEnd(t)
	seedIncidents(t, dir, now)
	out, errOut, err := runDigestTest(t, now, map[string]string{"DIGEST_TZ": "Europe/Paris"}, "--since", "24h", "--data-dir", dir, "--traces", exampleTraces)
	if err != nil {
		t.Fatalf("digest: %v\n%s", err, errOut)
	}
	for _, want := range []string{
		"Daily digest · " + now.Add(-24*time.Hour).In(paris(t)).Format("Mon 2 Jan 15:04") + " – " + now.In(paris(t)).Format("Mon 2 Jan 2006 15:04") + " (Europe/Paris)",
		"1 opened · 0 resolved · 1 still open",
		"time to acknowledge: median 6m, max 6m (1)",
		"AgentErrorRateHigh: 2 fires in 1 incident",
		"Agent runs",
		"top failure clusters",
		"highest failure rates",
		"1 triage, 5,600 tokens, $0.0031 · feedback 👍 1 👎 0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("digest lacks %q:\n%s", want, out)
		}
	}

	js, _, err := runDigestTest(t, now, nil, "--since", "24h", "--data-dir", dir, "--traces", exampleTraces, "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var d digest.Digest
	if err := json.Unmarshal([]byte(js), &d); err != nil {
		t.Fatalf("decode json digest: %v\n%s", err, js)
	}
	if d.Incidents.Opened != 1 || d.Fleet.Runs == 0 || d.Fleet.Failing == 0 || d.Zone != "UTC" || !d.End.Equal(now) {
		t.Errorf("json digest: opened %d, runs %d, failing %d, zone %s, end %v", d.Incidents.Opened, d.Fleet.Runs, d.Fleet.Failing, d.Zone, d.End)
	}
}

func TestDigestCommandPosts(t *testing.T) {
	dir, now := t.TempDir(), exampleEnd(t)
	seedIncidents(t, dir, now)
	srv := slacktest.NewServer(t)
	env := map[string]string{"SLACK_BOT_TOKEN": slacktest.Token, "SLACK_API_URL": srv.URL, "SLACK_CHANNEL": channel, "DIGEST_CHANNEL": "C0DIGEST"}
	out, errOut, err := runDigestTest(t, now, env, "--post", "--data-dir", dir, "--traces", exampleTraces)
	if err != nil {
		t.Fatalf("digest --post: %v\n%s", err, errOut)
	}
	if out != "digest posted to C0DIGEST\n" {
		t.Errorf("stdout %q", out)
	}
	msgs, files := srv.Messages(), srv.Files()
	if len(msgs) != 1 || msgs[0].Channel != "C0DIGEST" || !strings.Contains(string(msgs[0].Blocks), "Top failure clusters") {
		t.Fatalf("messages = %+v, want the digest in C0DIGEST", msgs)
	}
	if len(files) != 1 || files[0].ThreadTS != msgs[0].TS || !bytes.HasPrefix(files[0].Content, []byte("\x89PNG")) {
		t.Errorf("files = %+v, want the PNG chart in the digest's thread", files)
	}
	if strings.Contains(errOut, slacktest.Token) {
		t.Error("the token reached stderr")
	}
}

func TestDigestCommandRejects(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		args    []string
		usage   bool
		wantErr string
	}{
		{name: "bad format", args: []string{"--format", "xml"}, usage: true},
		{name: "bad since", args: []string{"--since", "-1h"}, usage: true},
		{name: "stray argument", args: []string{"now"}, usage: true},
		{name: "post without slack", args: []string{"--post"}, wantErr: "needs SLACK_BOT_TOKEN"},
		{name: "bad schedule", env: map[string]string{"DIGEST_TZ": "Nowhere/Town"}, wantErr: `unknown time zone "Nowhere/Town"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runDigestTest(t, time.Now(), tc.env, append(tc.args, "--data-dir", t.TempDir())...)
			switch {
			case tc.usage && !errors.Is(err, errUsage):
				t.Errorf("error %v, want a usage error", err)
			case !tc.usage && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("error %v, want one saying %q", err, tc.wantErr)
			}
		})
	}
}

func paris(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestDigestWiring(t *testing.T) {
	dir, now := t.TempDir(), exampleEnd(t)
	seedIncidents(t, dir, now)
	cfg := config.Default()
	cfg.DataDir, cfg.Slack.Channel = dir, channel
	cfg.Traces.JSONL.Path = exampleTraces
	store, _, err := openStore(t.Context(), cfg, newLogger("error", &bytes.Buffer{}))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	srv := slacktest.NewServer(t)
	slack, err := bot.New(bot.Options{Token: slacktest.Token, APIURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	withEnv := func(env config.DigestEnv) config.Config { c := cfg; c.Digests.Env = env; return c }
	d := testDeps(t, cfg, nil)

	off, err := newDigestScheduler(withEnv(config.DigestEnv{Schedule: "off"}), store, slack, d, nil)
	if err != nil || off != nil {
		t.Errorf("DIGEST_SCHEDULE=off: scheduler %v, %v; want none", off, err)
	}
	if _, err := newDigestScheduler(withEnv(config.DigestEnv{TZ: "Nowhere/Town"}), store, slack, d, nil); err == nil {
		t.Error("a bad zone made a scheduler")
	}
	sched, err := newDigestScheduler(cfg, store, slack, d, nil)
	if err != nil || sched == nil {
		t.Fatalf("scheduler: %v", err)
	}
	if res := sched.Tick(t.Context(), now.Truncate(24*time.Hour).Add(9*time.Hour+time.Minute)); len(res) != 1 || res[0].Outcome != digest.Posted {
		t.Errorf("tick at 09:01 UTC: %+v, want the digest posted", res)
	}

	od, err := newDigestOnDemand(withEnv(config.DigestEnv{Channel: "C0OTHER"}), store, slack, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := od.PostDigest(t.Context(), "C0ASKED"); err != nil {
		t.Fatalf("on demand: %v", err)
	}
	var chans []string
	for _, m := range srv.Messages() {
		chans = append(chans, m.Channel)
	}
	if got := strings.Join(chans, ","); got != channel+",C0ASKED" {
		t.Errorf("digests went to %s, want the scheduled one to %s and the asked one to C0ASKED", got, channel)
	}
}
