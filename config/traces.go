package config

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// Traces configures the trace sources. Several can be configured at once;
// Default names the one used when a route names none.
type Traces struct {
	Default string `yaml:"default"`
	// UIURL is a link template for traces in Slack, with {trace_id} and
	// {span_id} placeholders; empty derives one from the default source.
	UIURL    URL      `yaml:"ui_url"`
	JSONL    JSONL    `yaml:"jsonl"`
	Langfuse Langfuse `yaml:"langfuse"`
	Phoenix  Phoenix  `yaml:"phoenix"`
	Jaeger   Jaeger   `yaml:"jaeger"`
	Tempo    Tempo    `yaml:"tempo"`
}

// JSONL reads OTLP/JSON lines, Langfuse exports and OpenInference spans
// from a file or a directory.
type JSONL struct {
	Path string `yaml:"path"`
}

// Langfuse is the Langfuse public API.
type Langfuse struct {
	Host      URL    `yaml:"host"`
	PublicKey string `yaml:"public_key"`
	SecretKey Secret `yaml:"secret_key"`
	// Concurrency bounds the requests in flight to Langfuse; zero takes
	// the client's default (4). Small plans allow about 30 requests a
	// minute.
	Concurrency int `yaml:"concurrency"`
}

// Phoenix is Arize Phoenix's REST API.
type Phoenix struct {
	BaseURL URL    `yaml:"base_url"`
	APIKey  Secret `yaml:"api_key"`
	Project string `yaml:"project"`
}

// Jaeger is Jaeger's query API v3.
type Jaeger struct {
	QueryURL URL    `yaml:"query_url"`
	Service  string `yaml:"service"` // searched when the alert names none
}

// Tempo is Grafana Tempo's HTTP API.
type Tempo struct {
	URL           URL    `yaml:"url"`
	BearerToken   Secret `yaml:"bearer_token"`
	BasicUser     string `yaml:"basic_user"`
	BasicPassword Secret `yaml:"basic_password"`
	OrgID         string `yaml:"org_id"`
	// Concurrency bounds the trace fetches in flight; zero takes the
	// client's default (4).
	Concurrency int `yaml:"concurrency"`
}

// maxConcurrency bounds a trace source's requests in flight: more would
// only trade rate-limit answers for speed.
const maxConcurrency = 32

// Configured lists the names of the trace sources that are set, sorted.
func (t Traces) Configured() []string {
	var names []string
	if t.JSONL.Path != "" {
		names = append(names, "jsonl")
	}
	if t.Langfuse.Host != "" {
		names = append(names, "langfuse")
	}
	if t.Phoenix.BaseURL != "" {
		names = append(names, "phoenix")
	}
	if t.Jaeger.QueryURL != "" {
		names = append(names, "jaeger")
	}
	if t.Tempo.URL != "" {
		names = append(names, "tempo")
	}
	sort.Strings(names)
	return names
}

// DefaultSource is the configured default, or the only configured source.
func (t Traces) DefaultSource() string {
	if t.Default != "" {
		return t.Default
	}
	if names := t.Configured(); len(names) >= 1 {
		return names[0]
	}
	return ""
}

func (t Traces) validate() []error {
	var errs []error
	if t.Langfuse.Host != "" {
		checkURL(&errs, "traces.langfuse.host", t.Langfuse.Host)
		if t.Langfuse.PublicKey == "" || !t.Langfuse.SecretKey.IsSet() {
			errs = append(errs, errors.New("traces.langfuse: public_key and secret_key (LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY) are required with a host"))
		}
	}
	if t.Phoenix.BaseURL != "" {
		checkURL(&errs, "traces.phoenix.base_url", t.Phoenix.BaseURL)
		if t.Phoenix.Project == "" {
			errs = append(errs, errors.New("traces.phoenix.project: required (PHOENIX_PROJECT), the project name or id"))
		}
	}
	if t.Jaeger.QueryURL != "" {
		checkURL(&errs, "traces.jaeger.query_url", t.Jaeger.QueryURL)
	}
	if t.Tempo.URL != "" {
		checkURL(&errs, "traces.tempo.url", t.Tempo.URL)
	}
	for _, c := range []struct {
		field string
		n     int
	}{{"traces.langfuse.concurrency", t.Langfuse.Concurrency}, {"traces.tempo.concurrency", t.Tempo.Concurrency}} {
		if c.n < 0 || c.n > maxConcurrency {
			errs = append(errs, fmt.Errorf("%s: must be between 0 (the default) and %d, got %d", c.field, maxConcurrency, c.n))
		}
	}
	names := t.Configured()
	if t.Default != "" {
		found := false
		for _, n := range names {
			found = found || n == t.Default
		}
		if !found {
			errs = append(errs, fmt.Errorf("traces.default: %q is not a configured trace source (configured: %v)", t.Default, names))
		}
	}
	return errs
}

// TraceURL links trace and span ids to the trace UI: the configured
// template, or the default source's own UI (Langfuse, Jaeger, Phoenix).
// Nil when there is neither.
func (t Traces) TraceURL() func(traceID, spanID string) string {
	// Links are posted to Slack: credentials in a source's URL stay out.
	tmpl := t.UIURL.WithoutUserInfo()
	if tmpl == "" {
		switch t.DefaultSource() {
		case "langfuse":
			tmpl = strings.TrimRight(t.Langfuse.Host.WithoutUserInfo(), "/") + "/trace/{trace_id}"
		case "jaeger":
			tmpl = strings.TrimRight(t.Jaeger.QueryURL.WithoutUserInfo(), "/") + "/trace/{trace_id}?uiFind={span_id}"
		case "phoenix":
			tmpl = strings.TrimRight(t.Phoenix.BaseURL.WithoutUserInfo(), "/") + "/projects/" + url.PathEscape(t.Phoenix.Project) + "/traces/{trace_id}"
		}
	}
	if tmpl == "" {
		return nil
	}
	return func(traceID, spanID string) string {
		return strings.NewReplacer("{trace_id}", url.PathEscape(traceID), "{span_id}", url.QueryEscape(spanID)).Replace(tmpl)
	}
}
