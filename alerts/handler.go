package alerts

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// Enqueuer accepts jobs; the queue of a store backend satisfies it.
type Enqueuer interface {
	Enqueue(ctx context.Context, job oncall.Job) error
}

// Router picks the route and Slack channel of a notification.
type Router interface {
	Route(alert oncall.Alert) (route, channel string)
}

// DefaultRoute sends everything to one channel.
type DefaultRoute struct{ Channel string }

// Route implements Router.
func (d DefaultRoute) Route(oncall.Alert) (string, string) { return "default", d.Channel }

// Decoder turns one source's webhook body into a notification.
type Decoder func(body []byte, now time.Time) (Notification, error)

// MaxBody is the largest webhook body accepted.
const MaxBody = 1 << 20

// Options configure the webhook handler.
type Options struct {
	Queue  Enqueuer // required
	Router Router   // required
	// Token is the bearer token senders must present. Empty disables
	// authentication, which only AllowNoAuth permits.
	Token       string
	AllowNoAuth bool
	Now         func() time.Time
	Logger      *slog.Logger
	// EnqueueTimeout bounds how long a request waits on the queue.
	EnqueueTimeout time.Duration
}

// Handler serves POST /webhooks/{source}.
type Handler struct {
	opts     Options
	decoders map[string]Decoder
	log      *slog.Logger
}

// NewHandler checks opts and returns a handler for every known source.
func NewHandler(opts Options) (*Handler, error) {
	if opts.Queue == nil {
		return nil, errors.New("alerts: a queue is required")
	}
	if opts.Router == nil {
		return nil, errors.New("alerts: a router is required")
	}
	if opts.Token == "" && !opts.AllowNoAuth {
		return nil, errors.New("alerts: a webhook token is required (set WEBHOOK_TOKEN, or pass --insecure-no-auth to accept unauthenticated alerts)")
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
	return &Handler{
		opts: opts,
		log:  opts.Logger.With("component", "alerts"),
		decoders: map[string]Decoder{
			"alertmanager": DecodeAlertmanager,
		},
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

// ServeHTTP authenticates, validates, decodes and enqueues one webhook.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	source := r.PathValue("source")
	decode, ok := h.decoders[source]
	if !ok {
		writeJSON(w, http.StatusNotFound, apiError{Error: fmt.Sprintf("unknown alert source %q", source)})
		return
	}
	log := h.log.With("source", source)
	if !h.authorized(r) {
		log.Warn("webhook rejected", "reason", "unauthorized", "remote", r.RemoteAddr)
		w.Header().Set("WWW-Authenticate", `Bearer realm="oncall-copilot"`)
		writeJSON(w, http.StatusUnauthorized, apiError{Error: "missing or wrong bearer token"})
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeJSON(w, http.StatusUnsupportedMediaType, apiError{Error: "Content-Type must be application/json"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeJSON(w, http.StatusRequestEntityTooLarge, apiError{Error: fmt.Sprintf("body larger than %d bytes", MaxBody)})
			return
		}
		writeJSON(w, http.StatusBadRequest, apiError{Error: "could not read body"})
		return
	}
	n, err := decode(body, h.opts.Now().UTC())
	if err != nil {
		var in *InputError
		if errors.As(err, &in) {
			log.Info("webhook rejected", "reason", "invalid", "field", in.Field)
			writeJSON(w, http.StatusBadRequest, apiError{Error: in.Error(), Field: in.Field})
			return
		}
		writeJSON(w, http.StatusBadRequest, apiError{Error: "invalid payload"})
		return
	}
	route, channel := h.opts.Router.Route(n.Alerts[0])
	job := oncall.Job{
		ID:         newID(),
		Kind:       oncall.JobAlert,
		Alerts:     n.Alerts,
		GroupKey:   n.GroupKey,
		Route:      route,
		Channel:    channel,
		EnqueuedAt: h.opts.Now().UTC(),
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.EnqueueTimeout)
	defer cancel()
	if err := h.opts.Queue.Enqueue(ctx, job); err != nil {
		// The sender retries on 5xx; nothing was enqueued.
		log.Error("enqueue failed", "err", err)
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, apiError{Error: "queue unavailable, retry later"})
		return
	}
	log.Info("alert accepted", "job", job.ID, "alerts", len(n.Alerts), "status", n.Status)
	writeJSON(w, http.StatusAccepted, map[string]any{"status": "accepted", "job_id": job.ID, "alerts": len(n.Alerts)})
}

func (h *Handler) authorized(r *http.Request) bool {
	if h.opts.Token == "" {
		return true
	}
	const prefix = "Bearer "
	got := r.Header.Get("Authorization")
	if len(got) < len(prefix) || got[:len(prefix)] != prefix {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(got[len(prefix):]), []byte(h.opts.Token)) == 1
}

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
