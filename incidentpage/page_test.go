package incidentpage

import (
	"bytes"
	"context"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

var dump = flag.String("dump", "", "write the rendered test page to this file, to look at")

// serve serves the pages over a store holding the incident.
func serve(t *testing.T, st *memStore, opts Options) *httptest.Server {
	t.Helper()
	opts.Store = st
	if opts.Redact == nil {
		opts.Redact = redactor(t).String
	}
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

var (
	hrefAnchor = regexp.MustCompile(`href="#([^"]+)"`)
	idAttr     = regexp.MustCompile(`id="([^"]+)"`)
)

func TestPageShowsTheInvestigation(t *testing.T) {
	inc, inv := triaged(t, "tool-timeout-3")
	inc.Answers = []oncall.ThreadAnswer{{User: "U012ABCDEF", Question: "Which tool failed first?", Answer: "crm_lookup timed out first.", At: inc.TriagedAt.Add(time.Minute)}}
	st := newMemStore()
	st.put(inc, inv)
	srv := serve(t, st, Options{Auth: AuthProxy})
	resp, body := get(t, srv.URL+"/incidents/"+inc.Key)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", resp.StatusCode, body)
	}
	if *dump != "" {
		os.WriteFile(*dump, []byte(body), 0o644)
	}
	for name, want := range map[string]string{
		"Content-Security-Policy": "default-src 'none'",
		"Referrer-Policy":         "no-referrer",
		"Cache-Control":           "no-store",
	} {
		if got := resp.Header.Get(name); !strings.Contains(got, want) {
			t.Errorf("%s = %q, want it to contain %q", name, got, want)
		}
	}
	if len(body) >= 2<<20 {
		t.Errorf("page is %d bytes, want under 2 MB", len(body))
	}
	// It works with JavaScript off: there is none.
	if strings.Contains(body, "<script") || strings.Contains(body, "javascript:") || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Error("the page carries script, or its policy lets script run")
	}
	if !strings.Contains(body, `href="/incidents"`) {
		t.Error("behind a proxy, the page does not link the list of incidents")
	}

	rep := inc.Report
	var ranked, ruled int
	for _, c := range rep.Clusters {
		if c.Score > 0 {
			ranked++
		} else {
			ruled++
		}
	}
	if ranked == 0 || ruled == 0 {
		t.Fatalf("fixture has %d ranked and %d ruled-out clusters, want some of each", ranked, ruled)
	}
	count := func(s string) int { return strings.Count(body, s) }
	if got := count(`<tr class="cluster">`); got != ranked {
		t.Errorf("%d ranked cluster rows, want %d", got, ranked)
	}
	if got := count(`<tr class="cluster-ruled">`); got != ruled {
		t.Errorf("%d ruled-out rows, want %d", got, ruled)
	}
	if got := count("steady background: in "); got != ruled {
		t.Errorf("%d ruled-out rows say they are steady background, want %d", got, ruled)
	}
	if got := count(`<article class="wf"`); got != len(inv.Traces) {
		t.Errorf("%d waterfalls, want one per kept trace (%d)", got, len(inv.Traces))
	}
	spans := 0
	for _, tr := range inv.Traces {
		spans += min(len(tr.Spans), maxRows)
	}
	if got := count(`<div class="row`); got != spans {
		t.Errorf("%d waterfall rows, want %d", got, spans)
	}
	if !strings.Contains(body, `id="onset-chart"`) || count(`<rect class="c0"`) == 0 {
		t.Error("onset chart missing or without bars of the top cluster")
	}
	for _, mark := range []string{`<line class="onset"`, `<line class="firing"`, `<rect class="baseline"`} {
		if !strings.Contains(body, mark) {
			t.Errorf("onset chart lacks %s", mark)
		}
	}
	if !strings.Contains(body, `id="first-divergence"`) {
		t.Error("the failing and healthy runs are not compared, or no divergence is marked")
	}
	if !strings.Contains(body, "Which tool failed first?") || !strings.Contains(body, "crm_lookup timed out first.") {
		t.Error("the thread's question and answer are missing")
	}
	for _, s := range rep.Suspects {
		if !strings.Contains(body, s.Value) {
			t.Errorf("suspect %s=%s missing", s.Attribute, s.Value)
		}
	}

	// Every in-page link lands on an element of the page, and the
	// diagnosis cites spans.
	ids := map[string]bool{}
	for _, m := range idAttr.FindAllStringSubmatch(body, -1) {
		if ids[m[1]] {
			t.Errorf("id %q appears twice", m[1])
		}
		ids[m[1]] = true
	}
	for _, m := range hrefAnchor.FindAllStringSubmatch(body, -1) {
		if !ids[m[1]] {
			t.Errorf("link to #%s has no target on the page", m[1])
		}
	}
	cites := regexp.MustCompile(`class="cite mono" href="#(span-[^"]+)"`).FindAllStringSubmatch(body, -1)
	if len(cites) == 0 {
		t.Fatal("the diagnosis cites no span on the page")
	}
	for _, c := range rep.Diagnosis.Causes {
		for _, e := range c.Evidence {
			if e.SpanID != "" && !ids[spanAnchor(e.TraceID, e.SpanID)] {
				t.Errorf("cited span %s/%s is not on the page", e.TraceID, e.SpanID)
			}
		}
	}
}

func TestPageEscapesAndRedactsTraceContent(t *testing.T) {
	inc, inv := triaged(t, "tool-timeout-3")
	const email = "jane.doe@example.com"
	tr := &inv.Traces[0]
	sp := &tr.Spans[len(tr.Spans)-1]
	sp.Name = `<script>alert("name")</script>`
	sp.StatusMessage = `"><img src=x onerror=alert(1)> contact ` + email
	sp.Input = `</pre><script>fetch("https://evil.example/")</script>`
	sp.Output = "reply to " + email
	sp.Kind = `x" onmouseover="alert(1)`
	sp.SpanID = `"><b>bad-id</b>`
	inc.Alert.Summary = `<iframe src="https://evil.example/"></iframe> ` + email
	inc.Answers = []oncall.ThreadAnswer{{Question: "mail " + email + "?", Answer: "<script>x</script>", At: inc.TriagedAt}}
	inc.Alert.SourceURL = "javascript:alert(1)"
	st := newMemStore()
	st.put(inc, inv)
	srv := serve(t, st, Options{Auth: AuthProxy})
	_, body := get(t, srv.URL+"/incidents/"+inc.Key)
	for _, bad := range []string{"<script", "<img", "<iframe", "<b>bad-id", email, "javascript:", `onmouseover="`} {
		if strings.Contains(body, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	if !strings.Contains(body, "&lt;script&gt;alert(&#34;name&#34;)&lt;/script&gt;") {
		t.Error("the span name is not shown escaped")
	}
}

func TestAccess(t *testing.T) {
	inc, inv := triaged(t, "tool-timeout-3")
	st := newMemStore()
	st.put(inc, inv)
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	oldKey, newKey := strings.Repeat("o", 32), strings.Repeat("n", 32)
	signer, err := NewSigner([]string{newKey, oldKey})
	if err != nil {
		t.Fatal(err)
	}
	old, _ := NewSigner([]string{oldKey})
	stranger, _ := NewSigner([]string{strings.Repeat("s", 32)})
	var logs bytes.Buffer
	srv := serve(t, st, Options{Auth: AuthToken, Signer: signer, Now: func() time.Time { return now }, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	page := srv.URL + "/incidents/" + inc.Key
	_, absent := get(t, srv.URL+"/incidents/0123abcd")

	scope := incidentScope(inc.Key)
	valid := signer.Sign(scope, now.Add(time.Hour))
	cases := []struct {
		name, url string
		want      int
	}{
		{"signed link", page + "?t=" + valid, 200},
		{"signed by the previous key", page + "?t=" + old.Sign(scope, now.Add(time.Hour)), 200},
		{"no token", page, 404},
		{"empty token", page + "?t=", 404},
		{"garbage", page + "?t=abc.def", 404},
		{"another key", page + "?t=" + stranger.Sign(scope, now.Add(time.Hour)), 404},
		{"expired", page + "?t=" + signer.Sign(scope, now.Add(-time.Second)), 404},
		{"expiring now", page + "?t=" + signer.Sign(scope, now), 404},
		{"another incident's token", page + "?t=" + signer.Sign(incidentScope("0123abcd"), now.Add(time.Hour)), 404},
		{"the list's token", page + "?t=" + signer.Sign(listScope, now.Add(time.Hour)), 404},
		{"expiry changed", page + "?t=" + strings.Replace(valid, valid[:1], string(valid[0]+1), 1), 404},
		{"list without token", srv.URL + "/incidents", 404},
		{"list with an incident's token", srv.URL + "/incidents?t=" + valid, 404},
		{"list signed", srv.URL + "/incidents?t=" + signer.Sign(listScope, now.Add(time.Hour)), 200},
		{"key that is no incident key", srv.URL + "/incidents/..%2f..%2fetc?t=" + valid, 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, tc.url)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if tc.want == 404 && body != absent {
				t.Errorf("refusal %q differs from an absent incident's %q", body, absent)
			}
		})
	}
	if strings.Contains(logs.String(), valid) || strings.Contains(logs.String(), "?t=") {
		t.Errorf("a token reached the log:\n%s", logs.String())
	}
}

func TestListLinksToEachIncident(t *testing.T) {
	first, inv1 := triaged(t, "tool-timeout-3")
	second, inv2 := triaged(t, "llm-rate-limit-1")
	second.Status, second.AckedAt, second.ResolvedAt = oncall.IncidentResolved, time.Time{}, second.OpenedAt.Add(42*time.Minute)
	st := newMemStore()
	st.put(first, inv1)
	st.put(second, inv2)
	now := first.UpdatedAt.Add(time.Hour)
	signer, _ := NewSigner([]string{strings.Repeat("k", 40)})
	h, err := New(Options{Store: st, Auth: AuthToken, Signer: signer, Redact: redactor(t).String, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, body := get(t, srv.URL+h.ListPath())
	if resp.StatusCode != 200 {
		t.Fatalf("list: status %d", resp.StatusCode)
	}
	for _, want := range []string{"acknowledged", "resolved", "3m0s", "42m0s", "sales-assistant-api", "tool crm_lookup: "} {
		if !strings.Contains(body, want) {
			t.Errorf("list lacks %q", want)
		}
	}
	links := regexp.MustCompile(`href="(/incidents/[0-9a-f]+\?t=[^"]+)"`).FindAllStringSubmatch(body, -1)
	if len(links) != 2 {
		t.Fatalf("%d incident links in the list, want 2", len(links))
	}
	for _, l := range links {
		resp, _ := get(t, srv.URL+strings.ReplaceAll(l[1], "&amp;", "&"))
		if resp.StatusCode != 200 {
			t.Errorf("link %s: status %d", l[1], resp.StatusCode)
		}
	}
}

func TestPageBeforeTriageAndWithoutInvestigation(t *testing.T) {
	inc, _ := triaged(t, "tool-timeout-3")
	fresh := inc
	fresh.Key, fresh.Report, fresh.Diagnosis, fresh.TriagedAt = "0aa1", nil, nil, time.Time{}
	bare := inc
	bare.Key = "0bb2"
	st := newMemStore()
	st.put(fresh, nil)
	st.put(bare, nil)
	srv := serve(t, st, Options{Auth: AuthProxy})
	if _, body := get(t, srv.URL+"/incidents/0aa1"); !strings.Contains(body, `id="not-triaged"`) {
		t.Error("an untriaged incident's page does not say so")
	}
	resp, body := get(t, srv.URL+"/incidents/0bb2")
	if resp.StatusCode != 200 || !strings.Contains(body, "were not kept") || !strings.Contains(body, `<tr class="cluster">`) {
		t.Errorf("a triage without investigation: status %d; want the report's clusters and a note that traces were not kept", resp.StatusCode)
	}
}

func TestNewRefusesPagesWithoutAccess(t *testing.T) {
	st := newMemStore()
	red := func(s string) string { return s }
	for name, opts := range map[string]Options{
		"no access mode":      {Store: st, Redact: red},
		"token without a key": {Store: st, Redact: red, Auth: AuthToken},
		"unknown mode":        {Store: st, Redact: red, Auth: "open"},
		"no redactor":         {Store: st, Auth: AuthProxy},
	} {
		if _, err := New(opts); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	if _, err := NewSigner([]string{"short"}); err == nil {
		t.Error("NewSigner took a 5-byte key")
	}
	if _, err := NewSigner(nil); err == nil {
		t.Error("NewSigner took no key")
	}
}

func TestRenderAbsentIncident(t *testing.T) {
	h, _ := New(Options{Store: newMemStore(), Auth: AuthProxy, Redact: func(s string) string { return s }})
	if _, err := h.Render(context.Background(), "ffff"); err == nil {
		t.Fatal("Render of an absent incident succeeded")
	}
}
