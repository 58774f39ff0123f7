package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// SocketOptions configure a Socket Mode connection.
type SocketOptions struct {
	AppToken   string       // app-level token (xapp-…) with connections:write; required, never logged
	APIURL     string       // Web API base; DefaultAPIURL when empty
	Intake     *Intake      // required: what the envelopes are handed to
	HTTPClient *http.Client // nil: a client with a 30s timeout
	Logger     *slog.Logger
}

// Socket receives events, interactions and slash commands over Socket
// Mode: the copilot opens a WebSocket to Slack, so it needs no public
// URL. Each envelope is handed to the Intake and acknowledged once it is
// queued (or found to be a duplicate or malformed); an envelope that could
// not be queued is not acknowledged, so Slack delivers it again.
type Socket struct {
	opts SocketOptions
	log  *slog.Logger
}

// NewSocket checks opts and returns a Socket. It connects nothing.
func NewSocket(opts SocketOptions) (*Socket, error) {
	var errs []error
	if !strings.HasPrefix(opts.AppToken, "xapp-") {
		errs = append(errs, errors.New("an app-level token (xapp-…) is required"))
	}
	if opts.Intake == nil {
		errs = append(errs, errors.New("an intake is required"))
	}
	if opts.APIURL == "" {
		opts.APIURL = DefaultAPIURL
	}
	if u, err := url.Parse(opts.APIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, errors.New("api url must be an absolute http(s) URL"))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("bot: socket mode: %w", errors.Join(errs...))
	}
	if !strings.HasSuffix(opts.APIURL, "/") {
		opts.APIURL += "/"
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Socket{opts: opts, log: opts.Logger.With("component", "slack-socket")}, nil
}

// CheckToken asks Slack for a connection URL (apps.connections.open)
// without connecting, so that a refused app token is found at start. A
// refused token is ErrAuth.
func (s *Socket) CheckToken(ctx context.Context) error {
	api := slack.New("", slack.OptionAppLevelToken(s.opts.AppToken), slack.OptionAPIURL(s.opts.APIURL), slack.OptionHTTPClient(s.opts.HTTPClient))
	_, _, err := api.StartSocketModeContext(ctx)
	if err == nil {
		return nil
	}
	err = classify("apps.connections.open", err)
	refused := authCode(err)
	err = scrubToken(err, s.opts.AppToken)
	if refused {
		return fmt.Errorf("apps.connections.open: %w: %w", ErrAuth, err)
	}
	return fmt.Errorf("apps.connections.open: %w", err)
}

// Run connects and handles envelopes until ctx ends, reconnecting when
// Slack asks to or the connection drops. It returns nil when ctx ends and
// an error when Slack refuses the token.
func (s *Socket) Run(ctx context.Context) error {
	api := slack.New("", slack.OptionAppLevelToken(s.opts.AppToken), slack.OptionAPIURL(s.opts.APIURL), slack.OptionHTTPClient(s.opts.HTTPClient))
	client := socketmode.New(api, socketmode.OptionLog(socketLog{s.log}))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- client.RunContext(ctx) }()
	for {
		select {
		case err := <-done:
			if ctx.Err() != nil || errors.Is(err, context.Canceled) {
				return nil
			}
			return fmt.Errorf("slack socket mode: %w", scrubToken(err, s.opts.AppToken))
		case evt := <-client.Events:
			s.handle(ctx, client, evt)
		}
	}
}

// handle hands one event of the socket to the intake and acknowledges it.
func (s *Socket) handle(ctx context.Context, client *socketmode.Client, evt socketmode.Event) {
	switch evt.Type {
	case socketmode.EventTypeConnecting:
		s.log.Debug("connecting to slack")
		return
	case socketmode.EventTypeConnected:
		s.log.Info("connected to slack over socket mode")
		return
	case socketmode.EventTypeHello:
		return
	case socketmode.EventTypeConnectionError:
		if ce, ok := evt.Data.(*slack.ConnectionErrorEvent); ok {
			s.log.Warn("slack socket connection failed", "attempt", ce.Attempt, "retry_in", ce.Backoff, "err", scrubToken(ce.ErrorObj, s.opts.AppToken))
		}
		return
	case socketmode.EventTypeIncomingError, socketmode.EventTypeErrorWriteFailed:
		s.log.Warn("slack socket trouble", "type", evt.Type)
		return
	case socketmode.EventTypeErrorBadMessage:
		s.log.Warn("unreadable socket mode message ignored")
		return
	case socketmode.EventTypeInvalidAuth:
		s.log.Error("slack refused the app token")
		return
	}
	if evt.Request == nil {
		return
	}
	req := *evt.Request
	var reply any
	var err error
	switch evt.Type {
	case socketmode.EventTypeEventsAPI:
		_, err = s.opts.Intake.HandleEvent(ctx, req.Payload)
	case socketmode.EventTypeInteractive:
		err = s.opts.Intake.HandleInteraction(ctx, req.Payload)
	case socketmode.EventTypeSlashCommand:
		var cmd slack.SlashCommand
		if err = json.Unmarshal(req.Payload, &cmd); err != nil {
			err = fmt.Errorf("%w: slash command: %v", ErrMalformed, err)
			break
		}
		var r *Reply
		r, err = s.opts.Intake.HandleCommand(ctx, cmd)
		if r != nil {
			reply = r
		}
	default:
		s.log.Debug("socket mode envelope ignored", "type", evt.Type)
	}
	if err != nil && !errors.Is(err, ErrMalformed) {
		// Not acknowledged: Slack sends the envelope again.
		s.log.Error("socket mode envelope not queued", "type", evt.Type, "envelope", req.EnvelopeID, "err", err)
		return
	}
	if err != nil {
		s.log.Warn("malformed socket mode envelope dropped", "type", evt.Type, "envelope", req.EnvelopeID, "err", err)
	}
	if err := client.AckCtx(ctx, req.EnvelopeID, reply); err != nil {
		s.log.Warn("socket mode ack failed", "envelope", req.EnvelopeID, "err", err)
	}
}

// scrubToken keeps the app token out of an error's text.
func scrubToken(err error, token string) error {
	if token == "" || err == nil || !strings.Contains(err.Error(), token) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), token, "<redacted>"))
}

// socketLog sends the Socket Mode client's own log lines to the logger
// at debug level.
type socketLog struct{ l *slog.Logger }

func (s socketLog) Output(_ int, msg string) error {
	s.l.Debug("socketmode", "msg", strings.TrimSpace(msg))
	return nil
}
