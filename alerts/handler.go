package alerts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/redact"
)

// Enqueuer accepts jobs; the queue of a store backend satisfies it.
type Enqueuer interface {
	Enqueue(ctx context.Context, job oncall.Job) error
}

// pendingDedupeTTL is how long a delivery id is held while its jobs are
// being queued.
const pendingDedupeTTL = 2 * time.Minute

// Deduper records keys once; the stores satisfy it. Once reports whether
// this call recorded key (false while an earlier record lives), Forget
// removes it.
type Deduper interface {
	Once(ctx context.Context, key string, ttl time.Duration) (bool, error)
	Forget(ctx context.Context, key string) error
}

// Router picks where a notification goes: one destination per matching
// route, in order. No destination means the notification is dropped (and
// acknowledged).
type Router interface {
	Route(alert oncall.Alert) []Destination
}

// DefaultRoute sends everything to one channel.
type DefaultRoute struct{ Channel string }

// Route implements Router.
func (d DefaultRoute) Route(oncall.Alert) []Destination {
	return []Destination{{Route: DefaultRouteName, Channel: d.Channel}}
}

// Decoder turns one source's webhook body into a notification.
type Decoder func(body []byte, now time.Time) (Notification, error)

// MaxBody is the largest webhook body accepted.
const MaxBody = 1 << 20

// DefaultDedupeTTL is how long a delivery's event id is remembered.
// PagerDuty retries a failed delivery for far less than this.
const DefaultDedupeTTL = 72 * time.Hour

// Options configure the webhook handler.
type Options struct {
	Queue  Enqueuer // required
	Router Router   // required
	// Token is the bearer token senders must present, for every source
	// without its own entry in Sources. A source without any
	// authentication is refused, which only AllowNoAuth permits.
	Token       string
	AllowNoAuth bool
	// Sources configures authentication per source name (alertmanager,
	// grafana, pagerduty, langsmith, generic), such as PagerDuty's
	// signing secrets, or turns a source off.
	Sources map[string]SourceAuth
	// Generic maps generic JSON webhooks onto alerts; nil means
	// DefaultGenericMapping.
	Generic *GenericMapping
	// Deduper, when set, makes replayed deliveries with an event id
	// (PagerDuty events) answer 200 without a job. Without it a replay
	// enqueues again, which the incident's idempotence absorbs.
	Deduper   Deduper
	DedupeTTL time.Duration // default DefaultDedupeTTL
	Now       func() time.Time
	Logger    *slog.Logger
	// EnqueueTimeout bounds how long a request waits on the queue.
	EnqueueTimeout time.Duration
	// Observer is told how each webhook was answered; nil observes
	// nothing.
	Observer Observer
}

// Observer is told how each webhook was answered: the source (or
// "unknown" for an unknown source name), the outcome (accepted,
// duplicate, ignored, invalid, unauthorized, unsupported, too_large,
// unavailable, error, unknown_source) and how many alerts it carried
// (zero when it was not decoded). Metrics implement it.
type Observer interface {
	WebhookHandled(source, outcome string, alerts int)
}

type nopObserver struct{}

func (nopObserver) WebhookHandled(string, string, int) {}

// source is one served endpoint.
type source struct {
	decode Decoder
	auth   sourceAuth
	log    *slog.Logger // the handler's, with the source's name
}

// Handler serves POST /webhooks/{source}. It is safe for concurrent use.
type Handler struct {
	opts    Options
	sources map[string]source
	log     *slog.Logger
}

// NewHandler checks opts and returns a handler for every enabled source.
func NewHandler(opts Options) (*Handler, error) {
	if opts.Queue == nil {
		return nil, errors.New("alerts: a queue is required")
	}
	if opts.Router == nil {
		return nil, errors.New("alerts: a router is required")
	}
	mapping := DefaultGenericMapping()
	if opts.Generic != nil {
		mapping = *opts.Generic
	}
	generic, err := NewGenericDecoder(mapping)
	if err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	decoders := map[string]Decoder{
		"alertmanager": DecodeAlertmanager,
		"grafana":      DecodeGrafana,
		"pagerduty":    DecodePagerDuty,
		"langsmith":    DecodeLangSmith,
		"generic":      generic,
	}
	var errs []error
	for name, a := range opts.Sources {
		if _, ok := decoders[name]; !ok {
			errs = append(errs, fmt.Errorf("alerts: unknown source %q in source auth (want one of %s)", name, strings.Join(SourceNames(), ", ")))
		}
		for i, s := range a.HMACSecrets {
			if s == "" {
				errs = append(errs, fmt.Errorf("alerts: source %s: HMAC secret %d is empty", name, i))
			}
		}
	}
	sources := map[string]source{}
	var open []string
	for _, name := range SourceNames() {
		a := opts.Sources[name]
		if a.Disabled {
			continue
		}
		auth := resolveAuth(name, a, opts.Token)
		if auth.none() && !opts.AllowNoAuth {
			open = append(open, name)
		}
		sources[name] = source{decode: decoders[name], auth: auth}
	}
	if len(open) > 0 {
		errs = append(errs, fmt.Errorf("alerts: a webhook token is required (set WEBHOOK_TOKEN, or pass --insecure-no-auth to accept unauthenticated alerts); no authentication for %s", strings.Join(open, ", ")))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.EnqueueTimeout <= 0 {
		opts.EnqueueTimeout = 5 * time.Second
	}
	if opts.DedupeTTL <= 0 {
		opts.DedupeTTL = DefaultDedupeTTL
	}
	if opts.Observer == nil {
		opts.Observer = nopObserver{}
	}
	log := opts.Logger.With("component", "alerts")
	for name, src := range sources {
		src.log = log.With("source", name)
		sources[name] = src
	}
	return &Handler{
		opts:    opts,
		log:     log,
		sources: sources,
	}, nil
}

// Register mounts the webhook endpoints on mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle("POST /webhooks/{source}", h)
}

// apiError is the JSON body of every error answer.
type apiError struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// ServeHTTP authenticates, validates, decodes, routes and enqueues one
// webhook.
//
// A notification that matches several routes becomes one job per route.
// The jobs are enqueued in one step when the queue can (BatchEnqueuer),
// else one after another; if one fails the answer is 503
// and the sender retries the whole notification. Jobs already enqueued
// then arrive twice, which is harmless: the incident a job drives is keyed
// by route and group (oncall.IncidentKey) and every step is idempotent,
// so a retry cannot open a second thread.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("source")
	src, ok := h.sources[name]
	outcome, alerts := "error", 0
	defer func() {
		label := name
		if !ok {
			label = "unknown"
		}
		h.opts.Observer.WebhookHandled(label, outcome, alerts)
	}()
	if !ok {
		outcome = "unknown_source"
		writeJSON(w, http.StatusNotFound, apiError{Error: fmt.Sprintf("unknown alert source %q", clip(name, 64))})
		return
	}
	log := src.log
	if !src.auth.bearerOK(r) {
		log.Warn("webhook rejected", "reason", "unauthorized", "remote", r.RemoteAddr)
		outcome = "unauthorized"
		w.Header().Set("WWW-Authenticate", `Bearer realm="oncall-copilot"`)
		writeJSON(w, http.StatusUnauthorized, apiError{Error: "missing or wrong bearer token"})
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		outcome = "unsupported"
		writeJSON(w, http.StatusUnsupportedMediaType, apiError{Error: "Content-Type must be application/json"})
		return
	}
	body, err := readBody(http.MaxBytesReader(w, r.Body, MaxBody), r.ContentLength)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			outcome = "too_large"
			writeJSON(w, http.StatusRequestEntityTooLarge, apiError{Error: fmt.Sprintf("body larger than %d bytes", MaxBody)})
			return
		}
		outcome = "invalid"
		writeJSON(w, http.StatusBadRequest, apiError{Error: "could not read body"})
		return
	}
	now := h.opts.Now().UTC()
	if !src.auth.signatureOK(r.Header, body, now) {
		log.Warn("webhook rejected", "reason", "bad signature", "remote", r.RemoteAddr)
		outcome = "unauthorized"
		writeJSON(w, http.StatusUnauthorized, apiError{Error: "missing or wrong signature in " + src.auth.header})
		return
	}
	n, err := src.decode(body, now)
	alerts = len(n.Alerts)
	if err != nil {
		outcome = "invalid"
		var ignored *IgnoredError
		if errors.As(err, &ignored) {
			log.Info("webhook ignored", "reason", ignored.Reason)
			outcome = "ignored"
			writeJSON(w, http.StatusOK, map[string]any{"status": "ignored", "reason": ignored.Reason})
			return
		}
		var in *InputError
		if errors.As(err, &in) {
			log.Info("webhook rejected", "reason", "invalid", "field", in.Field)
			writeJSON(w, http.StatusBadRequest, apiError{Error: in.Error(), Field: in.Field})
			return
		}
		log.Info("webhook rejected", "reason", "invalid", "err", err)
		writeJSON(w, http.StatusBadRequest, apiError{Error: "invalid payload"})
		return
	}
	dests := h.opts.Router.Route(n.Alerts[0])
	if len(dests) == 0 {
		log.Info("webhook ignored", "reason", "no route")
		outcome = "ignored"
		writeJSON(w, http.StatusOK, map[string]any{"status": "ignored", "reason": "no route takes this alert"})
		return
	}
	jobs, err := h.jobs(n, dests, now)
	if err != nil {
		log.Error("build jobs", "err", err)
		writeJSON(w, http.StatusInternalServerError, apiError{Error: "could not build jobs"})
		return
	}

	ctx, cancel := context.WithTimeout(r.Context(), h.opts.EnqueueTimeout)
	defer cancel()
	var onceKey string
	if n.DedupeKey != "" && h.opts.Deduper != nil {
		onceKey = dedupeKey(name, n.DedupeKey)
		if oq, ok := h.onceQueue(); ok {
			h.enqueueOnce(ctx, w, log, oq, onceKey, n, jobs, &outcome)
			return
		}
		// Recorded briefly until the jobs are queued, then for the full
		// TTL: if the enqueue fails and the key cannot be forgotten
		// either (the store just went away), the sender's retry gets
		// through once the short record expires, and is not lost.
		first, err := h.opts.Deduper.Once(ctx, onceKey, pendingDedupeTTL)
		if err != nil {
			log.Error("dedupe failed", "err", err)
			outcome = "unavailable"
			unavailable(w)
			return
		}
		if !first {
			log.Info("webhook replay ignored", "group", n.GroupKey)
			outcome = "duplicate"
			writeJSON(w, http.StatusOK, map[string]any{"status": "duplicate"})
			return
		}
	}
	if err := h.enqueue(ctx, jobs); err != nil {
		log.Error("enqueue failed", "route", jobs[0].Route, "jobs", len(jobs), "err", err)
		if onceKey != "" {
			// Let the sender's retry through.
			fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), h.opts.EnqueueTimeout)
			if err := h.opts.Deduper.Forget(fctx, onceKey); err != nil {
				log.Error("forget dedupe key", "err", err)
			}
			fcancel()
		}
		outcome = "unavailable"
		unavailable(w)
		return
	}
	if onceKey != "" {
		if err := h.opts.Deduper.Forget(ctx, onceKey); err == nil {
			if _, err := h.opts.Deduper.Once(ctx, onceKey, h.opts.DedupeTTL); err != nil {
				log.Warn("record dedupe key", "err", err) // a replay would be queued again: harmless, incidents are idempotent
			}
		}
	}
	outcome = "accepted"
	accepted(w, log, n, jobs)
}

// accepted logs each queued job and answers 202 naming them.
func accepted(w http.ResponseWriter, log *slog.Logger, n Notification, jobs []oncall.Job) {
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
		// Every value here is the product's own (a generated id, a
		// configured route, a count, a normalised status), so the
		// redactor, microseconds a value, is spared them.
		log.Info("alert accepted", "job", redact.Generated(j.ID), "route", redact.Generated(j.Route), "alerts", len(n.Alerts), "status", statusAttr(n.Status))
	}
	writeAccepted(w, ids, len(n.Alerts))
}

// statusAttr logs a notification's status: one of the product's words,
// or, should a decoder ever pass anything else, the text for the
// redactor.
func statusAttr(s oncall.AlertStatus) any {
	switch s {
	case oncall.AlertFiring, oncall.AlertResolved:
		return redact.Generated(s)
	}
	return string(s)
}

// jobs builds one job per destination.
func (h *Handler) jobs(n Notification, dests []Destination, now time.Time) ([]oncall.Job, error) {
	jobs := make([]oncall.Job, 0, len(dests))
	for _, d := range dests {
		job := oncall.Job{
			ID:         newID(),
			Kind:       oncall.JobAlert,
			Alerts:     n.Alerts,
			GroupKey:   n.GroupKey,
			Route:      d.Route,
			Channel:    d.Channel,
			EnqueuedAt: now,
		}
		if !d.Options.IsZero() {
			b, err := json.Marshal(d.Options)
			if err != nil {
				return nil, fmt.Errorf("route %s options: %w", d.Route, err)
			}
			job.Payload = b
		}
		jobs = append(jobs, job)
	}
	return jobs, nil
}

// BatchEnqueuer is a queue that can queue several jobs in one step
// (store/redisdb: one round trip, in a transaction).
type BatchEnqueuer interface {
	EnqueueAll(ctx context.Context, jobs []oncall.Job) error
}

// enqueue queues the jobs of one delivery: in one step when it has several
// and the queue can, else one after another.
func (h *Handler) enqueue(ctx context.Context, jobs []oncall.Job) error {
	if bq, ok := h.opts.Queue.(BatchEnqueuer); ok && len(jobs) > 1 {
		return bq.EnqueueAll(ctx, jobs)
	}
	for _, job := range jobs {
		if err := h.opts.Queue.Enqueue(ctx, job); err != nil {
			return fmt.Errorf("job %s: %w", job.ID, err)
		}
	}
	return nil
}

// unavailable answers 503: nothing was enqueued that a retry would not
// make whole, and the sender retries on 5xx.
func unavailable(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "5")
	writeJSON(w, http.StatusServiceUnavailable, apiError{Error: "queue unavailable, retry later"})
}

// dedupeKey bounds the once-key of a delivery whatever the sender's id.
func dedupeKey(source, id string) string {
	sum := sha256.Sum256([]byte(id))
	return "webhook:" + source + ":" + hex.EncodeToString(sum[:16])
}

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
