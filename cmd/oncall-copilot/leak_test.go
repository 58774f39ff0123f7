package main

// The leak test plants a different credential or personal datum in every
// field of an alert and of the traces it names, and in every configured
// secret, runs the whole product on them (serve with the model and Slack,
// the triage CLI in both formats, config check) and looks for each planted
// value in everything that leaves: the model's requests, every Slack call,
// the logs and the CLI's output.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/bot/slacktest"
	"github.com/oncall-copilot/oncall-copilot/llm/llmtest"
	"github.com/oncall-copilot/oncall-copilot/tracesource/otlp"
)

// plantedSecret is one value planted in one field: Plant is written
// there, Core is the part that must never leave.
type plantedSecret struct {
	Field, Plant, Core string
}

// secretPlanter hands out a distinct secret of a rotating kind for each
// field, so a leak names the field it came from.
type secretPlanter struct {
	n       int
	planted []plantedSecret
}

// alnum returns n letters and digits of mixed case, unique to seed.
func alnum(seed, n int) string {
	const chars = "aB3dE5gH7jK9mN1pQ2rS4tU6vW8xY0zCfLhPt"
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		b.WriteByte(chars[(seed*7+i*13+i*i)%len(chars)])
	}
	s := fmt.Sprintf("%s%02d", b.String(), seed)
	return s[len(s)-n:]
}

// luhn completes a card number with its check digit.
func luhn(digits string) string {
	sum := 0
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if (len(digits)-i)%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return digits + fmt.Sprint((10-sum%10)%10)
}

func (p *secretPlanter) next(field string) string {
	i := p.n
	p.n++
	var plant, core string
	switch i % 12 {
	case 0:
		core = "sk-proj-" + alnum(i, 40)
	case 1:
		core = "AKIA" + strings.ToUpper(alnum(i, 16))
		core = strings.Map(func(r rune) rune {
			if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
				return r
			}
			return 'Q'
		}, core)
	case 2:
		core = "ghp_" + alnum(i, 36)
	case 3:
		core = fmt.Sprintf("xoxb-%d-%d-%s", 100000000000+i, 2000000000000+i, alnum(i, 24))
	case 4:
		core = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJsZWFr" + alnum(i, 12) + "In0." + alnum(i+1, 43)
	case 5:
		core = fmt.Sprintf("leak.person%02d@example.com", i)
	case 6:
		core = luhn(fmt.Sprintf("41111111111%04d", i))
	case 7:
		core = "Tr0ub4dor" + alnum(i, 10)
		plant = "password=" + core
	case 8:
		core = "Pg" + alnum(i, 14)
		plant = "postgres://app_user:" + core + "@db.internal:5432/orders"
	case 9:
		core = alnum(i, 32)
		plant = "Authorization: Bearer " + core
	case 10:
		core = "MIIEow" + alnum(i, 40)
		plant = "-----BEGIN RSA PRIVATE KEY-----\n" + core + "\n-----END RSA PRIVATE KEY-----"
	case 11:
		core = "hf_" + alnum(i, 34)
	}
	if plant == "" {
		plant = core
	}
	p.planted = append(p.planted, plantedSecret{Field: field, Plant: plant, Core: core})
	return plant
}

// in wraps a planted value in ordinary words, as it would appear.
func (p *secretPlanter) in(field, before, after string) string {
	return before + " " + p.next(field) + " " + after
}

// leaks returns the planted values found in text, with where.
func (p *secretPlanter) leaks(where, text string) []string {
	var out []string
	for _, s := range p.planted {
		if strings.Contains(text, s.Core) {
			out = append(out, fmt.Sprintf("%s: the secret planted in %s", where, s.Field))
		}
	}
	return out
}

const leakTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"

// plantTrace writes a failing agent run with a secret in every field
// except its ids.
func plantTrace(t *testing.T, p *secretPlanter, start time.Time) string {
	t.Helper()
	span := func(id, parent string, kind oncall.SpanKind, name string, at time.Duration) oncall.Span {
		return oncall.Span{
			TraceID: leakTraceID, SpanID: id, ParentID: parent, Kind: kind,
			Name:    p.in(name+".name", name, "step"),
			Service: p.next(name + ".service"),
			Start:   start.Add(at), End: start.Add(at + 2*time.Second),
			Status: oncall.StatusOK,
			Attributes: map[string]string{
				"session.id":             p.next(name + ".attributes[session.id]"),
				"user.id":                p.next(name + ".attributes[user.id]"),
				"http.url":               "https://api.internal/v1?" + p.next(name+".attributes[http.url]"),
				"custom.note":            p.in(name+".attributes[custom.note]", "note", "end"),
				"db.statement":           "SELECT * FROM users WHERE email = '" + p.next(name+".attributes[db.statement]") + "'",
				p.next(name + ".key"):    "value",
				"deployment.environment": "production",
			},
			Events: []oncall.SpanEvent{{Name: "log", Time: start.Add(at + time.Second), Attributes: map[string]string{
				"message": p.in(name+".events[log].message", "retrying with", "now"),
			}}},
		}
	}
	root := span("00f067aa0ba90201", "", oncall.KindAgent, "agent", 0)
	root.Input = p.in("agent.input", "Customer asks:", "please help")
	root.Output = p.in("agent.output", "I could not finish:", "sorry")
	root.Status, root.StatusMessage = oncall.StatusError, p.in("agent.status_message", "run failed for", "after 3 tries")
	llmSpan := span("00f067aa0ba90202", root.SpanID, oncall.KindLLM, "llm", time.Second)
	llmSpan.Model, llmSpan.Provider = p.next("llm.model"), p.next("llm.provider")
	llmSpan.Input = p.in("llm.input", `[{"role":"user","content":"my key is`, `"}]`)
	llmSpan.Output = p.in("llm.output", "Calling the tool with", "as asked")
	llmSpan.InputTokens, llmSpan.OutputTokens = 1200, 80
	tool := span("00f067aa0ba90203", root.SpanID, oncall.KindTool, "tool", 3*time.Second)
	tool.ToolName = "lookup_" + alnum(90, 6)
	tool.ToolArgs = `{"customer":"` + p.next("tool.tool_args") + `"}`
	tool.Output = p.in("tool.output", "upstream said", "denied")
	tool.Status = oncall.StatusError
	tool.StatusMessage = p.in("tool.status_message", "HTTP 401 from upstream: invalid credentials", "rejected")
	tool.Events = append(tool.Events, oncall.SpanEvent{Name: "exception", Time: start.Add(4 * time.Second), Attributes: map[string]string{
		"exception.type":       "UpstreamAuthError",
		"exception.message":    p.in("tool.exception.message", "rejected credential", "for tenant"),
		"exception.stacktrace": p.in("tool.exception.stacktrace", "Traceback (most recent call last):\n  File \"tool.py\", line 3, in call\n    key =", "\nUpstreamAuthError"),
	}})
	trace := oncall.Trace{TraceID: leakTraceID, Spans: []oncall.Span{root, llmSpan, tool},
		Attributes: map[string]string{"user.email": p.next("trace.attributes[user.email]"), "tag.customer": p.next("trace.attributes[tag.customer]")}}
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "traces.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := otlp.WriteJSONL(f, []oncall.Trace{trace}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// plantAlert writes an Alertmanager notification with a secret in every
// field; it names the planted trace, as alerts carrying an exemplar do.
func plantAlert(t *testing.T, p *secretPlanter, startsAt time.Time) []byte {
	t.Helper()
	labels := map[string]any{
		"alertname": "AgentAuthFailures",
		"service":   p.next("alert.labels[service]"),
		"agent":     p.next("alert.labels[agent]"),
		"severity":  "critical",
		"tenant":    p.next("alert.labels[tenant]"),
		"instance":  p.next("alert.labels[instance]"),
	}
	annotations := map[string]any{
		"summary":           p.in("alert.annotations[summary]", "auth failures for", "rising"),
		"description":       p.in("alert.annotations[description]", "The agent calls the tool with", "and is refused."),
		"runbook_url":       "https://runbooks.example.com/auth?" + p.next("alert.annotations[runbook_url]"),
		"dashboard":         "https://grafana.example.com/d/x?auth_token=" + p.next("alert.annotations[dashboard]"),
		"exemplar_trace_id": leakTraceID,
	}
	body := map[string]any{
		"version": "4", "status": "firing",
		"receiver":          p.next("alert.receiver"),
		"groupKey":          `{}:{alertname="AgentAuthFailures", tenant="` + p.next("alert.group_key") + `"}`,
		"groupLabels":       map[string]any{"alertname": "AgentAuthFailures"},
		"commonLabels":      labels,
		"commonAnnotations": annotations,
		"externalURL":       "http://" + p.next("alert.external_url") + ".alertmanager.internal",
		"alerts": []map[string]any{{
			"status": "firing", "labels": labels, "annotations": annotations,
			"startsAt": startsAt.Format(time.RFC3339), "endsAt": "0001-01-01T00:00:00Z",
			"generatorURL": "http://prometheus.internal/graph?g0.expr=up&token=" + p.next("alert.generator_url"),
			"fingerprint":  "fa8f56adb43297c3",
		}},
	}
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNoPlantedSecretLeaves(t *testing.T) {
	p := &secretPlanter{}
	startsAt := time.Now().UTC().Add(-2 * time.Minute).Truncate(time.Second)
	traces := plantTrace(t, p, startsAt.Add(-10*time.Minute))
	alert := plantAlert(t, p, startsAt)
	alertFile := filepath.Join(t.TempDir(), "alert.json")
	if err := os.WriteFile(alertFile, alert, 0o600); err != nil {
		t.Fatal(err)
	}

	// The configured secrets are planted too.
	slack := slacktest.NewServer(t)
	slack.Token = p.next("config SLACK_BOT_TOKEN")
	apiKey := p.next("config OPENAI_API_KEY")
	hook := p.next("config WEBHOOK_TOKEN")
	// A model that repeats its whole prompt back as the diagnosis: what
	// it was shown is what Slack would show.
	model := llmtest.NewServer(t)
	model.RequireAPIKey(apiKey)
	model.Handle(func(req llmtest.Request) llmtest.Reply {
		var prompt strings.Builder
		for _, m := range req.Messages {
			prompt.WriteString(m.Content + "\n")
		}
		return llmtest.JSON(map[string]any{
			"summary": "Echo: " + prompt.String(),
			"causes": []map[string]any{{"title": "Echo", "detail": prompt.String(), "confidence": "low",
				"evidence": []map[string]any{{"trace_id": leakTraceID, "span_id": "00f067aa0ba90203", "note": prompt.String()}}}},
			"fixes": []map[string]any{}, "next_steps": []string{prompt.String()},
		})
	})
	env := map[string]string{
		"LISTEN_ADDR":          "127.0.0.1:0",
		"DATA_DIR":             t.TempDir(),
		"WEBHOOK_TOKEN":        hook,
		"SLACK_BOT_TOKEN":      slack.Token,
		"SLACK_SIGNING_SECRET": p.next("config SLACK_SIGNING_SECRET"),
		"SLACK_API_URL":        slack.URL + "/",
		"SLACK_CHANNEL":        channel,
		"TRACE_JSONL_PATH":     traces,
		"OPENAI_API_KEY":       apiKey,
		"OPENAI_BASE_URL":      model.URL,
		"OPENAI_MODEL":         "gpt-4o-mini",
		"LOG_LEVEL":            "debug",
		"DIGEST_SCHEDULE":      "off",
	}
	var leaks []string

	// Serve: the webhook in, the thread and the diagnosis out.
	srv := startServer(t, env)
	req, _ := http.NewRequest(http.MethodPost, srv.addr+"/webhooks/alertmanager", strings.NewReader(string(alert)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+hook)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("webhook answered %d", resp.StatusCode)
	}
	slacktest.WaitFor(t, func() bool { return len(slack.Updates()) >= 1 }, 30*time.Second)
	if err := srv.stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}
	if len(model.Requests()) == 0 {
		t.Fatal("the model was not asked: the test proves nothing about prompts")
	}
	replies := 0
	for _, m := range slack.Messages() {
		if m.ThreadTS != "" {
			replies++
		}
	}
	if replies == 0 || !strings.Contains(fmt.Sprint(slack.Messages()), "Echo") {
		t.Fatal("the model's diagnosis was not posted: the test proves nothing about Slack")
	}
	// The prompt shows the failing run, its secrets replaced: the test
	// would prove nothing if the content never reached the model.
	prompt := string(model.Requests()[0].Raw)
	for _, want := range []string{"rejected credential", "upstream said", "[SECRET_", "[EMAIL_"} {
		if !strings.Contains(prompt, want) {
			t.Errorf("the model's prompt lacks %q", want)
		}
	}
	for i, r := range model.Requests() {
		leaks = append(leaks, p.leaks(fmt.Sprintf("model request %d", i+1), string(r.Raw))...)
	}
	for _, c := range slack.Calls() {
		leaks = append(leaks, p.leaks("Slack "+c.Method, fmt.Sprint(c.Params))...)
	}
	leaks = append(leaks, p.leaks("serve stdout", srv.stdout.String())...)
	leaks = append(leaks, p.leaks("serve logs", srv.stderr.String())...)

	// The triage CLI, with the model and offline, in both formats.
	for _, args := range [][]string{
		{"triage", "--alert", alertFile, "--traces", traces},
		{"triage", "--alert", alertFile, "--traces", traces, "--format", "json"},
		{"triage", "--alert", alertFile, "--traces", traces, "--offline"},
		{"config", "check"},
	} {
		var out, errOut strings.Builder
		err := run(context.Background(), args, func(k string) string { return env[k] }, &out, &errOut)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, errOut.String())
		}
		if args[0] == "triage" && !strings.Contains(out.String(), leakTraceID) {
			t.Fatalf("%v did not report the planted trace:\n%s", args, out.String())
		}
		name := strings.Join(args[:1], " ")
		if len(args) > 5 {
			name += " " + strings.Join(args[5:], " ")
		}
		leaks = append(leaks, p.leaks(name+" output", out.String())...)
		leaks = append(leaks, p.leaks(name+" stderr", errOut.String())...)
	}
	// A Redis password in the URL stays out of the error of a store that
	// cannot be reached.
	_, port, _ := strings.Cut(freePort(t), ":")
	password := "Rp" + alnum(77, 22)
	p.planted = append(p.planted, plantedSecret{Field: "config REDIS_URL password", Plant: password, Core: password})
	redisEnv := map[string]string{"REDIS_URL": "redis://default:" + password + "@127.0.0.1:" + port + "/0"}
	out, errOut, err := runJobsCmd(redisEnv, "list")
	if err == nil {
		t.Fatal("jobs list reached a redis that is not there")
	}
	leaks = append(leaks, p.leaks("jobs list error", err.Error()+out+errOut)...)

	for _, l := range leaks {
		t.Error(l)
	}
	t.Logf("%d planted values checked", len(p.planted))
}
