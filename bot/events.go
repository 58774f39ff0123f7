package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/slack-go/slack"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// Job kinds of the interactive Slack side. Their payloads are this
// package's business; App.Handle runs them.
const (
	JobSlackEvent   oncall.JobKind = "slack_event"   // a message the copilot may answer
	JobSlackAction  oncall.JobKind = "slack_action"  // a button pressed on a diagnosis
	JobSlackCommand oncall.JobKind = "slack_command" // a /oncall command
)

// IsSlackJob reports whether App.Handle runs jobs of kind k.
func IsSlackJob(k oncall.JobKind) bool {
	return k == JobSlackEvent || k == JobSlackAction || k == JobSlackCommand
}

// DedupeTTL is how long an event id, a message or a request signature is
// remembered. Slack retries an event after about 1 and 5 minutes.
const DedupeTTL = time.Hour

// maxBody caps a request body from Slack.
const maxBody = 1 << 20

// ErrMalformed marks a payload that cannot be what Slack sends. It is
// answered 400 and not processed.
var ErrMalformed = errors.New("malformed slack payload")

// Queue takes jobs for the workers.
type Queue interface {
	Enqueue(ctx context.Context, job oncall.Job) error
}

// OnceStore remembers keys across replicas: Once is true for the first
// caller within ttl, Forget lets the key be claimed again.
type OnceStore interface {
	Once(ctx context.Context, key string, ttl time.Duration) (bool, error)
	Forget(ctx context.Context, key string) error
}

// IntakeOptions configure an Intake.
type IntakeOptions struct {
	Queue Queue     // required
	Once  OnceStore // required: deduplication across retries and replicas
	// SigningSecret verifies HTTP requests; Register refuses to serve
	// without it unless AllowUnsigned. Socket Mode does not use it.
	SigningSecret string
	// AllowUnsigned accepts unsigned HTTP requests when no signing
	// secret is set. Never in production.
	AllowUnsigned bool
	// BotUserID is the copilot's own user; events that carry an
	// authorization for the bot user are understood without it.
	BotUserID string
	// Command is the slash command's name; "/oncall" when empty.
	Command string
	Now     func() time.Time
	Logger  *slog.Logger
}

// Intake receives Slack events, interactions and slash commands from
// either transport (HTTP or Socket Mode), checks and deduplicates them and
// queues the work, so that Slack is answered within its 3 seconds. It is
// safe for concurrent use.
type Intake struct {
	opts IntakeOptions
	log  *slog.Logger
}

// NewIntake checks opts and returns an Intake.
func NewIntake(opts IntakeOptions) (*Intake, error) {
	var errs []error
	if opts.Queue == nil {
		errs = append(errs, errors.New("a queue is required"))
	}
	if opts.Once == nil {
		errs = append(errs, errors.New("a once store is required"))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("bot: intake: %w", errors.Join(errs...))
	}
	if opts.Command == "" {
		opts.Command = "/oncall"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Intake{opts: opts, log: opts.Logger.With("component", "slack-intake")}, nil
}

// Register serves the HTTP Events API on mux: POST /slack/events,
// /slack/interactions and /slack/commands. It refuses without a signing
// secret unless unsigned requests were explicitly allowed.
func (in *Intake) Register(mux *http.ServeMux) error {
	if in.opts.SigningSecret == "" && !in.opts.AllowUnsigned {
		return errors.New("bot: the Slack HTTP endpoints need a signing secret (SLACK_SIGNING_SECRET)")
	}
	mux.Handle("POST /slack/events", in.signed(in.serveEvent))
	mux.Handle("POST /slack/interactions", in.signed(in.serveInteraction))
	mux.Handle("POST /slack/commands", in.signed(in.serveCommand))
	return nil
}

// signed reads the body, verifies the signature and refuses replays
// before fn sees the request.
func (in *Intake) signed(fn func(w http.ResponseWriter, r *http.Request, body []byte)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "read body", http.StatusBadRequest)
			return
		}
		if in.opts.SigningSecret != "" {
			sig, err := verifySignature(in.opts.SigningSecret, r.Header, body, in.opts.Now())
			if err != nil {
				in.log.Warn("slack request refused", "path", r.URL.Path, "err", err)
				http.Error(w, "invalid signature", http.StatusUnauthorized)
				return
			}
			// A signature is only valid once: a captured request sent
			// again within the window is a replay, however its header
			// is spelled. The canonical signature stands for the
			// timestamp and body it signs.
			first, err := in.opts.Once.Once(r.Context(), "slack:signature:"+sig, 2*SignatureWindow+time.Minute)
			if err != nil {
				in.log.Error("record request signature", "err", err)
				http.Error(w, "temporarily unavailable", http.StatusInternalServerError)
				return
			}
			if !first {
				in.log.Warn("slack request refused", "path", r.URL.Path, "err", "replayed signature")
				http.Error(w, "replayed request", http.StatusUnauthorized)
				return
			}
		}
		fn(w, r, body)
	})
}

// fail answers an error from the transport-neutral handlers: 400 for a
// malformed payload (which Slack is told not to retry), 500 otherwise
// (which Slack retries).
func (in *Intake) fail(w http.ResponseWriter, what string, err error) {
	if errors.Is(err, ErrMalformed) {
		in.log.Warn("malformed slack payload", "what", what, "err", err)
		w.Header().Set("X-Slack-No-Retry", "1")
		http.Error(w, "malformed payload", http.StatusBadRequest)
		return
	}
	in.log.Error("slack payload not queued", "what", what, "err", err)
	http.Error(w, "temporarily unavailable", http.StatusInternalServerError)
}

func (in *Intake) serveEvent(w http.ResponseWriter, r *http.Request, body []byte) {
	challenge, err := in.HandleEvent(r.Context(), body)
	if err != nil {
		in.fail(w, "event", err)
		return
	}
	if challenge != "" {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"challenge": challenge})
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (in *Intake) serveInteraction(w http.ResponseWriter, r *http.Request, body []byte) {
	form, err := url.ParseQuery(string(body))
	if err != nil || form.Get("payload") == "" {
		in.fail(w, "interaction", fmt.Errorf("%w: no payload field", ErrMalformed))
		return
	}
	if err := in.HandleInteraction(r.Context(), []byte(form.Get("payload"))); err != nil {
		in.fail(w, "interaction", err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (in *Intake) serveCommand(w http.ResponseWriter, r *http.Request, body []byte) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		in.fail(w, "command", fmt.Errorf("%w: %v", ErrMalformed, err))
		return
	}
	cmd := slack.SlashCommand{
		TeamID: form.Get("team_id"), TeamDomain: form.Get("team_domain"), ChannelID: form.Get("channel_id"),
		ChannelName: form.Get("channel_name"), UserID: form.Get("user_id"), UserName: form.Get("user_name"),
		Command: form.Get("command"), Text: form.Get("text"), ResponseURL: form.Get("response_url"),
		TriggerID: form.Get("trigger_id"), APIAppID: form.Get("api_app_id"),
	}
	reply, err := in.HandleCommand(r.Context(), cmd)
	if err != nil {
		in.fail(w, "command", err)
		return
	}
	if reply == nil {
		w.WriteHeader(http.StatusOK)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(reply)
}

// enqueueOnce queues job unless one of keys was already claimed, in which
// case the payload is a duplicate and dropped. When queueing fails the
// keys are forgotten again, so that Slack's retry is processed.
func (in *Intake) enqueueOnce(ctx context.Context, keys []string, job oncall.Job) (bool, error) {
	var claimed []string
	forget := func() {
		for _, k := range claimed {
			if err := in.opts.Once.Forget(context.WithoutCancel(ctx), k); err != nil {
				in.log.Error("forget dedupe key", "key", k, "err", err)
			}
		}
	}
	for _, k := range keys {
		first, err := in.opts.Once.Once(ctx, k, DedupeTTL)
		if err != nil {
			forget()
			return false, fmt.Errorf("deduplicate %s: %w", k, err)
		}
		if !first {
			return false, nil
		}
		claimed = append(claimed, k)
	}
	job.EnqueuedAt = in.opts.Now().UTC()
	if err := in.opts.Queue.Enqueue(ctx, job); err != nil {
		forget()
		return false, fmt.Errorf("enqueue %s job: %w", job.Kind, err)
	}
	return true, nil
}
