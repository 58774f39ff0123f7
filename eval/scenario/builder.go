package scenario

import (
	"strconv"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// builder assembles the spans of one trace. Spans are addressed by index
// so that appending never invalidates a caller's handle.
type builder struct {
	r     *rng
	trace oncall.Trace
	genAI []bool // per span: written under the GenAI conventions
	pods  map[string]string
}

func newBuilder(r *rng) *builder {
	return &builder{r: r, trace: oncall.Trace{TraceID: r.hex(16)}, pods: map[string]string{}}
}

// open starts a span of agent a's service under parent (-1 for the root).
func (b *builder) open(parent int, a *agent, name string, kind oncall.SpanKind, genAI bool, at time.Time) int {
	s := oncall.Span{
		TraceID:    b.trace.TraceID,
		SpanID:     b.r.hex(8),
		Name:       name,
		Kind:       kind,
		Service:    a.Service,
		Start:      at.Truncate(time.Microsecond),
		Attributes: b.resource(a),
	}
	if parent >= 0 {
		s.ParentID = b.trace.Spans[parent].SpanID
	}
	b.trace.Spans = append(b.trace.Spans, s)
	b.genAI = append(b.genAI, genAI)
	return len(b.trace.Spans) - 1
}

// resource returns the resource attributes of a's service for this run:
// every span of the service carries them, so the encoder hoists them into
// the OTLP resource.
func (b *builder) resource(a *agent) map[string]string {
	pod, ok := b.pods[a.Service]
	if !ok {
		pod = pick(b.r, a.Pods)
		b.pods[a.Service] = pod
	}
	lang := a.FW.Lang
	if lang == "typescript" {
		lang = "nodejs"
	}
	return map[string]string{
		"service.version":        a.Version,
		a.EnvKey:                 a.Env,
		"cloud.region":           a.Region,
		"k8s.pod.name":           pod,
		"telemetry.sdk.language": lang,
	}
}

// pin makes the spans of a's service opened from now on run on pod.
func (b *builder) pin(a *agent, pod string) { b.pods[a.Service] = pod }

func (b *builder) span(i int) *oncall.Span { return &b.trace.Spans[i] }

func (b *builder) set(i int, kv ...string) {
	a := b.trace.Spans[i].Attributes
	for j := 0; j+1 < len(kv); j += 2 {
		if kv[j+1] != "" {
			a[kv[j]] = kv[j+1]
		}
	}
}

// ok ends span i successfully. OpenInference instrumentations set an OK
// status; GenAI ones usually leave it unset.
func (b *builder) ok(i int, at time.Time) {
	s := &b.trace.Spans[i]
	s.End = at.Truncate(time.Microsecond)
	if !b.genAI[i] && s.Kind != oncall.KindHTTP && s.Kind != oncall.KindSpan {
		s.Status = oncall.StatusOK
	}
}

// warn ends span i with a warning.
func (b *builder) warn(i int, at time.Time, msg string) {
	s := &b.trace.Spans[i]
	s.End = at.Truncate(time.Microsecond)
	s.Status = oncall.StatusWarning
	s.StatusMessage = msg
}

// fail ends span i in error and records the exception the way OTel SDKs
// do when an exception escapes a span.
func (b *builder) fail(i int, at time.Time, f failure) {
	s := &b.trace.Spans[i]
	s.End = at.Truncate(time.Microsecond)
	s.Status = oncall.StatusError
	s.StatusMessage = f.Exc.String()
	if b.genAI[i] || s.Kind == oncall.KindHTTP {
		s.Attributes["error.type"] = f.Exc.Type
	}
	ev := oncall.SpanEvent{Name: "exception", Time: s.End, Attributes: map[string]string{
		"exception.type":    f.Exc.Type,
		"exception.message": f.Exc.Message,
		"exception.escaped": "true",
	}}
	if f.Stack != "" {
		ev.Attributes["exception.stacktrace"] = f.Stack
	}
	s.Events = append(s.Events, ev)
}

// failHTTP ends an HTTP client span with an error status code: no
// exception is raised at this layer, the status code is the error.
func (b *builder) failHTTP(i int, at time.Time, code int) {
	s := &b.trace.Spans[i]
	s.End = at.Truncate(time.Microsecond)
	s.Status = oncall.StatusError
	s.Attributes["http.response.status_code"] = strconv.Itoa(code)
	s.Attributes["error.type"] = strconv.Itoa(code)
}

// finish returns the trace twice: as the analysis should read it after
// decoding (canonical fields filled) and as it goes on the wire (GenAI
// spans carry their fields as gen_ai.* attributes only). Both have the
// trace-level fields a trace source fills in.
func (b *builder) finish(attrs map[string]string) (truth, wire oncall.Trace) {
	truth = b.trace
	truth.Attributes = attrs
	wire = truth
	wire.Spans = make([]oncall.Span, len(truth.Spans))
	for i := range truth.Spans {
		wire.Spans[i] = wireSpan(truth.Spans[i], b.genAI[i])
	}
	wire.Attributes = make(map[string]string, len(attrs))
	for k, v := range attrs {
		wire.Attributes[k] = v
	}
	truth.Finish()
	wire.Finish()
	if r := truth.Root(); r != nil {
		truth.Attributes["service.name"] = r.Service
		for _, k := range []string{"service.version", "deployment.environment", "deployment.environment.name"} {
			if v := r.Attributes[k]; v != "" {
				truth.Attributes[k] = v
			}
		}
	}
	return truth, wire
}
