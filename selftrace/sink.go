package selftrace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/retry"
	"github.com/oncall-copilot/oncall-copilot/tracesource/otlp"
)

// FileSink appends traces to a JSONL file, one OTLP/JSON export request
// per trace, as tracesource/otlp.WriteJSONL writes them, so the JSONL
// trace source reads them back. It is safe for concurrent use.
type FileSink struct {
	path string
	mu   sync.Mutex
}

// NewFileSink returns a sink appending to path, creating it and its
// directory on the first export.
func NewFileSink(path string) (*FileSink, error) {
	if strings.TrimSpace(path) == "" {
		return nil, errors.New("selftrace: a file path is required")
	}
	return &FileSink{path: path}, nil
}

// Export appends the traces in one write, so a reader never sees half a
// batch's line.
func (f *FileSink) Export(_ context.Context, traces []oncall.Trace) error {
	var buf bytes.Buffer
	if err := otlp.WriteJSONL(&buf, traces); err != nil {
		return fmt.Errorf("write self traces: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(f.path), 0o750); err != nil {
		return fmt.Errorf("write self traces: %w", err)
	}
	fh, err := os.OpenFile(f.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("write self traces: %w", err)
	}
	_, werr := fh.Write(buf.Bytes())
	cerr := fh.Close()
	if err := errors.Join(werr, cerr); err != nil {
		return fmt.Errorf("write self traces to %s: %w", f.path, err)
	}
	return nil
}

// OTLPOptions configure an OTLPSink.
type OTLPOptions struct {
	// Endpoint is the collector's base URL, as OTEL_EXPORTER_OTLP_ENDPOINT
	// gives it (http://collector:4318); traces are posted to its
	// v1/traces path.
	Endpoint string
	// TracesEndpoint, when set, is the full URL traces are posted to, as
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT gives it; it wins over Endpoint.
	TracesEndpoint string
	// Headers are sent with every export (authentication, tenant); their
	// values are never logged.
	Headers    map[string]string
	HTTPClient *http.Client // default: a client with a 10s timeout
	Retry      retry.Policy // default: 3 attempts from 500ms
}

// OTLPSink posts traces to an OpenTelemetry collector over OTLP/HTTP with
// the JSON encoding (Content-Type application/json, hex ids). It is safe
// for concurrent use.
type OTLPSink struct {
	url      string
	endpoint string // the URL without credentials or query, for errors
	headers  map[string]string
	hc       *http.Client
	retry    retry.Policy
}

// NewOTLPSink checks opts and returns a sink. It makes no network call.
func NewOTLPSink(opts OTLPOptions) (*OTLPSink, error) {
	raw := opts.TracesEndpoint
	if raw == "" {
		if opts.Endpoint == "" {
			return nil, errors.New("selftrace: an OTLP endpoint is required")
		}
		raw = strings.TrimRight(opts.Endpoint, "/") + "/v1/traces"
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// Never echo the URL: it may carry credentials.
		return nil, errors.New("selftrace: the OTLP endpoint must be an absolute http or https URL")
	}
	for k := range opts.Headers {
		if strings.TrimSpace(k) == "" {
			return nil, errors.New("selftrace: OTLP header names must not be empty")
		}
	}
	safe := *u
	safe.User, safe.RawQuery, safe.Fragment = nil, "", ""
	s := &OTLPSink{url: raw, endpoint: "POST " + safe.String(), headers: opts.Headers, hc: opts.HTTPClient, retry: opts.Retry}
	if s.hc == nil {
		s.hc = &http.Client{Timeout: 10 * time.Second}
	}
	if s.retry.Attempts == 0 {
		s.retry = retry.Policy{Attempts: 3, Initial: 500 * time.Millisecond, Max: 5 * time.Second}
	}
	return s, nil
}

// Export posts the traces as one ExportTraceServiceRequest, retrying 429
// and 5xx answers (honouring Retry-After) within ctx.
func (s *OTLPSink) Export(ctx context.Context, traces []oncall.Trace) error {
	body, err := otlp.Encode(traces)
	if err != nil {
		return fmt.Errorf("export self traces: %w", err)
	}
	return retry.Do(ctx, s.retry, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
		if err != nil {
			return retry.Permanent(fmt.Errorf("export self traces to %s: build request", s.endpoint))
		}
		req.Header.Set("Content-Type", "application/json")
		for k, v := range s.headers {
			req.Header.Set(k, v)
		}
		resp, err := s.hc.Do(req)
		if err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err // url.Error prints the full URL
			}
			return fmt.Errorf("export self traces to %s: %w", s.endpoint, err)
		}
		defer resp.Body.Close()
		excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		if err := retry.CheckResponse("otlp", s.endpoint, resp, excerpt); err != nil {
			return fmt.Errorf("export self traces: %w", err)
		}
		return nil
	})
}

// ParseHeaders reads OTEL_EXPORTER_OTLP_HEADERS: comma-separated
// key=value pairs with URL-encoded values. The error never quotes a value.
func ParseHeaders(s string) (map[string]string, error) {
	out := map[string]string{}
	for i, pair := range strings.Split(s, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("OTLP header %d: want key=value", i+1)
		}
		dv, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("OTLP header %s: value is not URL-encoded", k)
		}
		out[k] = dv
	}
	return out, nil
}

// Tee returns a sink exporting to every sink given, in order; it fails
// when any of them fails, after trying them all.
func Tee(sinks ...Sink) Sink { return tee(sinks) }

type tee []Sink

func (t tee) Export(ctx context.Context, traces []oncall.Trace) error {
	var errs []error
	for _, s := range t {
		if err := s.Export(ctx, traces); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
