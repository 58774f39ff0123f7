package alerts

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// DefaultRouteName names the route of alerts no configured route matched.
const DefaultRouteName = "default"

// Destination is where one routed copy of a notification goes: a route
// name (part of the incident's identity), a Slack channel, and what the
// route asks of triage.
type Destination struct {
	Route   string
	Channel string
	Options RouteOptions
}

// RouteOptions is what a route asks of the triage of its alerts; the
// handler stores it as JSON in Job.Payload (see oncall.TriageOptions).
type RouteOptions = oncall.TriageOptions

// DecodeRouteOptions reads the options a job's Payload carries.
func DecodeRouteOptions(payload []byte) (RouteOptions, error) {
	return oncall.DecodeTriageOptions(payload)
}

// Route is one routing rule, in a shape YAML configuration decodes into.
// All its matchers must match an alert's labels for the route to match.
type Route struct {
	Name string `yaml:"name" json:"name"`
	// Matchers use Alertmanager's syntax, one or more per entry:
	// `severity=~"critical|warning"`, `team="agents", env!="dev"`.
	Matchers []string `yaml:"matchers" json:"matchers"`
	// Match and MatchRE are Alertmanager's older forms: label equality
	// and anchored regular expressions.
	Match   map[string]string `yaml:"match" json:"match"`
	MatchRE map[string]string `yaml:"match_re" json:"match_re"`
	// Sources limits the route to alerts from these sources
	// (alertmanager, grafana, pagerduty, langsmith, generic); empty
	// means all.
	Sources []string `yaml:"sources" json:"sources"`
	// Continue lets later routes match the alert too; without it the
	// first matching route is the only one.
	Continue bool `yaml:"continue" json:"continue"`
	// Channel is the Slack channel; empty means the default channel.
	Channel     string            `yaml:"channel" json:"channel"`
	TraceSource string            `yaml:"trace_source" json:"trace_source"`
	LabelMap    map[string]string `yaml:"label_map" json:"label_map"`
	Window      time.Duration     `yaml:"window" json:"window"`
	Baseline    time.Duration     `yaml:"baseline" json:"baseline"`
	// Model false means deterministic analysis only (no model call),
	// for example for severity="info".
	Model *bool `yaml:"model" json:"model"`
}

// Routes are routing rules in the order they are tried.
type Routes []Route

// SourceNames lists the alert sources the handler serves.
func SourceNames() []string {
	return []string{"alertmanager", "grafana", "pagerduty", "langsmith", "generic"}
}

// Validate reports every problem of every route at once: missing or
// repeated names, matchers that do not parse, bad regular expressions,
// unknown sources and negative windows.
func (rs Routes) Validate() error {
	_, err := rs.compile()
	return err
}

type compiledRoute struct {
	name     string
	matchers []*Matcher
	sources  []string
	cont     bool
	channel  string
	options  RouteOptions
}

func (rs Routes) compile() ([]compiledRoute, error) {
	var errs []error
	seen := map[string]int{}
	out := make([]compiledRoute, 0, len(rs))
	for i, r := range rs {
		where := fmt.Sprintf("routes[%d]", i)
		if r.Name != "" {
			where += " (" + r.Name + ")"
		}
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s: %s", where, fmt.Sprintf(format, args...)))
		}
		name := strings.TrimSpace(r.Name)
		if name == "" {
			bad("name is required")
		} else if j, dup := seen[name]; dup {
			bad("name repeats routes[%d]", j)
		} else {
			seen[name] = i
		}
		c := compiledRoute{name: name, cont: r.Continue, channel: strings.TrimSpace(r.Channel), sources: r.Sources}
		for j, s := range r.Matchers {
			ms, err := ParseMatchers(s)
			if err != nil {
				bad("matchers[%d]: %v", j, err)
				continue
			}
			c.matchers = append(c.matchers, ms...)
		}
		for _, k := range sortedKeys(r.Match) {
			m, err := NewMatcher(MatchEqual, k, r.Match[k])
			if err != nil {
				bad("match %q: %v", k, err)
				continue
			}
			c.matchers = append(c.matchers, m)
		}
		for _, k := range sortedKeys(r.MatchRE) {
			m, err := NewMatcher(MatchRegexp, k, r.MatchRE[k])
			if err != nil {
				bad("match_re %q: %v", k, err)
				continue
			}
			c.matchers = append(c.matchers, m)
		}
		for _, s := range r.Sources {
			if !slices.Contains(SourceNames(), s) {
				bad("unknown source %q (want one of %s)", s, strings.Join(SourceNames(), ", "))
			}
		}
		if r.Window < 0 {
			bad("window %v is negative", r.Window)
		}
		if r.Baseline < 0 {
			bad("baseline %v is negative", r.Baseline)
		}
		for k := range r.LabelMap {
			if strings.TrimSpace(k) == "" {
				bad("label_map has an empty label name")
			}
		}
		c.options = RouteOptions{
			TraceSource: strings.TrimSpace(r.TraceSource),
			LabelMap:    r.LabelMap,
			Window:      r.Window,
			Baseline:    r.Baseline,
			Model:       r.Model,
		}
		out = append(out, c)
	}
	return out, errors.Join(errs...)
}

func (c *compiledRoute) matches(a oncall.Alert) bool {
	if len(c.sources) > 0 && !slices.Contains(c.sources, a.Source) {
		return false
	}
	for _, m := range c.matchers {
		if !m.Matches(a.Labels[m.Name]) {
			return false
		}
	}
	return true
}

// RouteTable routes alerts by label matchers, Alertmanager style: routes
// are tried in order, the first match wins unless it has Continue, and
// alerts no route matched go to the default route. It is immutable and
// safe for concurrent use.
type RouteTable struct {
	routes         []compiledRoute
	defaultChannel string
}

// NewRouteTable validates routes and returns their table; alerts no route
// matches go to the route "default" in defaultChannel, as do routes
// without a channel.
func NewRouteTable(routes Routes, defaultChannel string) (*RouteTable, error) {
	compiled, err := routes.compile()
	if err != nil {
		return nil, fmt.Errorf("routes: %w", err)
	}
	return &RouteTable{routes: compiled, defaultChannel: defaultChannel}, nil
}

// Channel returns the channel the route named route posts to now: its
// own, or the default channel. ok is false for a route the table does not
// have. Jobs queued before a configuration change use it, so that a fixed
// channel takes effect on them too.
func (t *RouteTable) Channel(route string) (channel string, ok bool) {
	if route == DefaultRouteName {
		return t.defaultChannel, true
	}
	for _, r := range t.routes {
		if r.name == route {
			if r.channel == "" {
				return t.defaultChannel, true
			}
			return r.channel, true
		}
	}
	return "", false
}

// Route implements Router: the destinations of every matching route, in
// order, or the default route's when none matches.
func (t *RouteTable) Route(a oncall.Alert) []Destination {
	var out []Destination
	for i := range t.routes {
		r := &t.routes[i]
		if !r.matches(a) {
			continue
		}
		ch := r.channel
		if ch == "" {
			ch = t.defaultChannel
		}
		out = append(out, Destination{Route: r.name, Channel: ch, Options: r.options})
		if !r.cont {
			break
		}
	}
	if len(out) == 0 {
		out = append(out, Destination{Route: DefaultRouteName, Channel: t.defaultChannel})
	}
	return out
}
