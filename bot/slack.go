// Package bot publishes incidents to Slack: the parent message of an
// incident's thread, its status updates, the triage report as thread
// replies, and short notes. Rendering (RenderParent, RenderReport) is pure
// and separate from the Web API calls made by Slack.
//
// Everything that comes from alerts, traces or the model is redacted and
// escaped before it is rendered, so it can neither mention people nor
// carry links; the only links are to the alert source and, when
// configured, the trace UI.
package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/retry"
)

// DefaultAPIURL is Slack's Web API.
const DefaultAPIURL = "https://slack.com/api/"

// Options configure a Slack publisher.
type Options struct {
	Token      string       // bot token (xoxb-…); required, never logged
	APIURL     string       // Web API base; DefaultAPIURL when empty
	HTTPClient *http.Client // nil: a client with a 30s timeout
	Retry      retry.Policy // zero: retry.DefaultPolicy()
	Now        func() time.Time
	// Sleep waits between messages to one channel; nil waits on a timer.
	Sleep  func(ctx context.Context, d time.Duration) error
	Logger *slog.Logger
	// TraceURL links trace and span ids in reports; nil renders them as
	// code.
	TraceURL func(traceID, spanID string) string
	// Redact is applied to all text from traces, alerts or the model;
	// nil leaves it as it is.
	Redact func(string) string
	// ReportURL returns the address of an incident's full report page
	// (with its access token), or ""; nil links no page. Its result is
	// a secret: it is posted, never logged.
	ReportURL func(incidentKey string) string
	// MinInterval spaces messages to one channel, as Slack allows about
	// one a second; 1s when zero.
	MinInterval time.Duration
	// Observer is told the outcome of every Web API attempt; nil
	// observes nothing.
	Observer Observer
	// WithoutButtons leaves the Acknowledge / Re-run / Resolve buttons
	// out of reports, for a server with no interactivity endpoint: a
	// click would reach nothing.
	WithoutButtons bool
}

// Observer is told the method, outcome (ok, rate_limited, error) and
// latency of every Web API attempt, retries included. Metrics implement
// it.
type Observer interface {
	SlackCall(method, outcome string, d time.Duration)
}

type nopObserver struct{}

func (nopObserver) SlackCall(string, string, time.Duration) {}

// Slack posts incidents to Slack. It is safe for concurrent use.
type Slack struct {
	api         *slack.Client
	token       string
	retry       retry.Policy
	now         func() time.Time
	sleep       func(ctx context.Context, d time.Duration) error
	log         *slog.Logger
	render      RenderOptions
	minInterval time.Duration
	observer    Observer

	mu   sync.Mutex
	next map[string]time.Time // channel → earliest time of its next message

	chMu       sync.Mutex
	channelIDs map[string]string // channel name → id, from conversations.list
	listedAt   time.Time         // when conversations.list was last read
}

// New checks opts and returns a publisher. It makes no call to Slack.
func New(opts Options) (*Slack, error) {
	var errs []error
	if strings.TrimSpace(opts.Token) == "" {
		errs = append(errs, errors.New("token is required"))
	}
	if opts.APIURL == "" {
		opts.APIURL = DefaultAPIURL
	}
	if u, err := url.Parse(opts.APIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, errors.New("api url must be an absolute http(s) URL"))
	}
	if opts.MinInterval < 0 {
		errs = append(errs, errors.New("min interval must not be negative"))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("bot: %w", errors.Join(errs...))
	}
	if !strings.HasSuffix(opts.APIURL, "/") {
		opts.APIURL += "/"
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.Retry.Attempts == 0 {
		sleep := opts.Retry.Sleep
		opts.Retry = retry.DefaultPolicy()
		opts.Retry.Sleep = sleep
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = retry.Sleep
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MinInterval == 0 {
		opts.MinInterval = time.Second
	}
	if opts.Observer == nil {
		opts.Observer = nopObserver{}
	}
	return &Slack{
		api:         slack.New(opts.Token, slack.OptionAPIURL(opts.APIURL), slack.OptionHTTPClient(opts.HTTPClient)),
		token:       opts.Token,
		retry:       opts.Retry,
		now:         opts.Now,
		sleep:       opts.Sleep,
		log:         opts.Logger.With("component", "slack"),
		render:      RenderOptions{TraceURL: opts.TraceURL, Redact: opts.Redact, WithoutButtons: opts.WithoutButtons, ReportURL: opts.ReportURL},
		minInterval: opts.MinInterval,
		observer:    opts.Observer,
		next:        map[string]time.Time{},
	}, nil
}

// ErrPermanent marks a failure that sending the same request again will
// not fix: the channel does not exist or the bot is not in it, the token
// is rejected, the message is malformed. Check with errors.Is.
var ErrPermanent = errors.New("slack refused the request")

// PostParent posts the incident's parent message in inc.Channel (an id
// or a name) and returns the channel's id and the message's ts, which is
// the thread's: every later call on the thread needs both, as Slack takes
// a name only when posting. It posts every time it is called: the caller
// records the ts and calls it once per incident. The message carries the
// incident key as metadata, so that FindParent can find it when the
// caller crashed before recording the ts.
func (s *Slack) PostParent(ctx context.Context, inc oncall.Incident) (channelID, ts string, err error) {
	if inc.Channel == "" {
		return "", "", fmt.Errorf("post parent of incident %s: %w: no channel", inc.Key, ErrPermanent)
	}
	channelID, ts, err = s.post(ctx, inc.Channel, "", ParentFallback(inc, s.render), RenderParent(inc, s.render), incidentMetadata(inc))
	if err != nil {
		return "", "", fmt.Errorf("post parent of incident %s in %s: %w", inc.Key, inc.Channel, err)
	}
	s.log.Info("parent posted", "incident", inc.Key, "channel", channelID, "ts", ts)
	return channelID, ts, nil
}

// threadChannel returns the id of the channel of inc's thread, for the
// calls that take no name: incidents recorded before ids were kept may
// hold a name.
func (s *Slack) threadChannel(ctx context.Context, what string, inc oncall.Incident) (string, error) {
	id, err := s.ChannelID(ctx, inc.Channel)
	if err != nil {
		return "", fmt.Errorf("%s of incident %s: %w", what, inc.Key, err)
	}
	return id, nil
}

// UpdateParent rewrites the parent message (inc.ThreadTS) to show the
// incident's current status and headline.
func (s *Slack) UpdateParent(ctx context.Context, inc oncall.Incident) error {
	if inc.Channel == "" || inc.ThreadTS == "" {
		return fmt.Errorf("update parent of incident %s: %w: no channel or thread", inc.Key, ErrPermanent)
	}
	channel, err := s.threadChannel(ctx, "update parent", inc)
	if err != nil {
		return err
	}
	text, blocks := ParentFallback(inc, s.render), RenderParent(inc, s.render)
	err = s.call(ctx, "chat.update", channel, func(ctx context.Context) error {
		opts := append(messageOptions(text, blocks), incidentMetadata(inc))
		_, _, _, err := s.api.UpdateMessageContext(ctx, channel, inc.ThreadTS, opts...)
		return err
	})
	if err != nil {
		return fmt.Errorf("update parent of incident %s in %s: %w", inc.Key, inc.Channel, err)
	}
	s.log.Info("parent updated", "incident", inc.Key, "channel", inc.Channel, "status", inc.Status)
	return nil
}

// PostReport posts the triage report in the incident's thread, in as
// many replies as its length needs, in order. When a reply fails the
// error says which; the replies before it stay posted. The replies carry
// the incident key and fire as metadata, for FindReport.
func (s *Slack) PostReport(ctx context.Context, inc oncall.Incident, rep oncall.Report) error {
	if inc.Channel == "" || inc.ThreadTS == "" {
		return fmt.Errorf("post report of incident %s: %w: no channel or thread", inc.Key, ErrPermanent)
	}
	channel, err := s.threadChannel(ctx, "post report", inc)
	if err != nil {
		return err
	}
	msgs := renderReport(inc, rep, s.render)
	for i, m := range msgs {
		if _, _, err := s.post(ctx, channel, inc.ThreadTS, m.text, m.blocks, reportMetadata(inc)); err != nil {
			return fmt.Errorf("post report of incident %s, reply %d of %d: %w", inc.Key, i+1, len(msgs), err)
		}
	}
	s.log.Info("report posted", "incident", inc.Key, "channel", inc.Channel, "replies", len(msgs))
	return nil
}

// PostNote posts text as a reply in the incident's thread. The text is
// escaped and redacted like any other; Slack emoji codes (:repeat:) work.
func (s *Slack) PostNote(ctx context.Context, inc oncall.Incident, text string) error {
	if inc.Channel == "" || inc.ThreadTS == "" {
		return fmt.Errorf("post note on incident %s: %w: no channel or thread", inc.Key, ErrPermanent)
	}
	if strings.TrimSpace(text) == "" {
		return fmt.Errorf("post note on incident %s: %w: empty text", inc.Key, ErrPermanent)
	}
	channel, err := s.threadChannel(ctx, "post note", inc)
	if err != nil {
		return err
	}
	r := renderer{s.render}
	var blocks []slack.Block
	for _, piece := range splitText(r.clip(text, maxMessageChars/2), maxSectionChars) {
		blocks = append(blocks, section(piece))
	}
	if _, _, err := s.post(ctx, channel, inc.ThreadTS, r.line(text, 300), blocks); err != nil {
		return fmt.Errorf("post note on incident %s: %w", inc.Key, err)
	}
	return nil
}

// messageOptions are the options of every message: our own text and
// blocks, already escaped, with Slack's parsing, name linking and
// unfurling off so nothing in them becomes a mention or a preview.
func messageOptions(text string, blocks []slack.Block) []slack.MsgOption {
	return []slack.MsgOption{
		slack.MsgOptionText(text, false),
		slack.MsgOptionBlocks(blocks...),
		slack.MsgOptionParse(false),
		slack.MsgOptionLinkNames(false),
		slack.MsgOptionDisableLinkUnfurl(),
		slack.MsgOptionDisableMediaUnfurl(),
	}
}

// post sends one message to channel (an id or a name), in a thread when
// threadTS is set, with extra options (metadata), and returns the
// channel's id, as Slack answers it, and the message's ts.
func (s *Slack) post(ctx context.Context, channel, threadTS, text string, blocks []slack.Block, extra ...slack.MsgOption) (channelID, ts string, err error) {
	opts := append(messageOptions(text, blocks), extra...)
	if threadTS != "" {
		opts = append(opts, slack.MsgOptionTS(threadTS))
	}
	err = s.call(ctx, "chat.postMessage", channel, func(ctx context.Context) error {
		c, t, err := s.api.PostMessageContext(ctx, channel, opts...)
		channelID, ts = c, t
		return err
	})
	if err == nil && channelID == "" {
		channelID = channel
	}
	return channelID, ts, err
}

// call runs one Web API call under the retry policy, pacing each attempt
// to the channel.
func (s *Slack) call(ctx context.Context, method, channel string, fn func(ctx context.Context) error) error {
	attempt := 0
	return retry.Do(ctx, s.retry, func(ctx context.Context) error {
		attempt++
		if err := s.pace(ctx, channel); err != nil {
			return err // ctx ended: Do stops
		}
		start := time.Now()
		err := classify(method, fn(ctx))
		s.observer.SlackCall(method, callOutcome(err), time.Since(start))
		if err != nil {
			err = s.scrub(err)
			s.log.Warn("slack call failed", "method", method, "channel", channel, "attempt", attempt,
				"retryable", !retry.IsPermanent(err), "err", err)
		}
		return err
	})
}

// callOutcome names a classified attempt's result for the observer.
func callOutcome(err error) string {
	var ae *apiError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &ae) && (ae.code == "rate limited" || ae.code == "ratelimited" || ae.code == "HTTP 429"):
		return "rate_limited"
	}
	return "error"
}

// pace waits until channel may take another message and reserves the
// slot after it, so concurrent posts to one channel go out spaced.
func (s *Slack) pace(ctx context.Context, channel string) error {
	s.mu.Lock()
	now := s.now()
	at := now
	if next, ok := s.next[channel]; ok && next.After(now) {
		at = next
	}
	s.next[channel] = at.Add(s.minInterval)
	if len(s.next) > 1000 {
		for ch, t := range s.next {
			if !t.After(now) {
				delete(s.next, ch)
			}
		}
	}
	s.mu.Unlock()
	if d := at.Sub(now); d > 0 {
		return s.sleep(ctx, d)
	}
	return nil
}

// permanentCodes are Web API errors that the same request will meet again.
var permanentCodes = map[string]bool{
	"channel_not_found": true, "not_in_channel": true, "is_archived": true, "invalid_auth": true,
	"not_authed": true, "account_inactive": true, "token_revoked": true, "token_expired": true,
	"no_permission": true, "missing_scope": true, "msg_too_long": true, "no_text": true,
	"invalid_blocks": true, "invalid_blocks_format": true, "invalid_arguments": true,
	"message_not_found": true, "cant_update_message": true, "edit_window_closed": true,
	"thread_not_found": true, "restricted_action": true, "team_access_not_granted": true,
	"ekm_access_denied": true, "invalid_form_data": true, "too_many_attachments": true,
	"unknown_method": true, "method_deprecated": true, "not_allowed_token_type": true,
}

// apiError is a failed Web API call, classified.
type apiError struct {
	method    string
	code      string // Slack's error code, or an HTTP status
	permanent bool
	err       error
}

func (e *apiError) Error() string        { return "slack " + e.method + ": " + e.code }
func (e *apiError) Unwrap() error        { return e.err }
func (e *apiError) Is(target error) bool { return target == ErrPermanent && e.permanent }

// classify marks err for retry.Do: rate limits wait for Retry-After, 5xx,
// timeouts and transport failures are retried, rejections are permanent.
func classify(method string, err error) error {
	if err == nil {
		return nil
	}
	var rl *slack.RateLimitedError
	var sc slack.StatusCodeError
	var se slack.SlackErrorResponse
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("slack %s: %w", method, err)
	case errors.As(err, &rl):
		return retry.After(rl.RetryAfter, &apiError{method: method, code: "rate limited", err: err})
	case errors.As(err, &sc):
		e := &apiError{method: method, code: fmt.Sprintf("HTTP %d", sc.Code), err: err}
		if sc.Code >= 500 || sc.Code == http.StatusTooManyRequests || sc.Code == http.StatusRequestTimeout {
			return e
		}
		e.permanent = true
		return retry.Permanent(e)
	case errors.As(err, &se):
		e := &apiError{method: method, code: se.Err, err: err}
		if permanentCodes[se.Err] || !retryableCode(se.Err) {
			e.permanent = true
			return retry.Permanent(e)
		}
		return e
	case errors.As(err, &ne):
		return &apiError{method: method, code: "network error", err: err}
	default:
		// Connection resets, truncated or garbled answers: try again.
		return &apiError{method: method, code: "transport error", err: err}
	}
}

// retryableCode reports whether an ok:false error code is a transient
// failure on Slack's side.
func retryableCode(code string) bool {
	switch code {
	case "ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable", "request_timeout":
		return true
	}
	return false
}

// scrub removes the token from err's text, should any layer have put it
// there, keeping err's classification.
func (s *Slack) scrub(err error) error {
	if s.token == "" || !strings.Contains(err.Error(), s.token) {
		return err
	}
	msg := strings.ReplaceAll(err.Error(), s.token, "<redacted>")
	e := &scrubbedError{msg: msg, err: err}
	if retry.IsPermanent(err) {
		return retry.Permanent(e)
	}
	var after *retry.AfterError
	if errors.As(err, &after) {
		return retry.After(after.After, e)
	}
	return e
}

// scrubbedError shows a cleaned message for an error whose text held the
// token. It unwraps to the original for errors.Is and errors.As.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }
