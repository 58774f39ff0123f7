// Package llm is the adapter to OpenAI-compatible chat completions APIs:
// OpenAI itself and the many servers and gateways that speak its wire
// format (vLLM, Ollama, LiteLLM, OpenRouter...). It converts between the
// domain's oncall.ChatRequest/ChatResponse and the API, retries through
// package retry, prices usage, and falls back from strict JSON-schema
// output to plain JSON mode on servers that do not support it.
package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/redact"
	"github.com/oncall-copilot/oncall-copilot/retry"
	openai "github.com/sashabaranov/go-openai"
)

// DefaultBaseURL is OpenAI's API.
const DefaultBaseURL = "https://api.openai.com/v1"

// DefaultTimeout bounds one attempt of a model call. Diagnoses send
// prompts of several thousand tokens and ask for structured answers, which
// takes tens of seconds on busy providers.
const DefaultTimeout = 90 * time.Second

// Options configures a Client.
type Options struct {
	BaseURL string // API base, up to and including /v1; default DefaultBaseURL
	APIKey  string // sent as a bearer token; may be empty for local servers
	Model   string // required
	// HTTPClient sends the requests; default a plain http.Client. Its own
	// Timeout, if any, applies on top of Timeout.
	HTTPClient *http.Client
	// Retry is the policy for 429, 5xx and timeouts; zero means
	// retry.DefaultPolicy().
	Retry retry.Policy
	// Prices are USD per million tokens by model name, consulted before
	// the built-in table. A model matches its exact name or the longest
	// name it starts with (gpt-4o-mini-2024-07-18 uses gpt-4o-mini).
	Prices map[string]Price
	// Timeout bounds each attempt; default DefaultTimeout.
	Timeout time.Duration
	// Breaker stops calls to a model that keeps failing; on by default.
	Breaker Breaker
}

// Client calls one model over an OpenAI-compatible API. It is safe for
// concurrent use.
type Client struct {
	api      *openai.Client
	model    string
	endpoint string // method and URL without credentials or query, for errors
	retry    retry.Policy
	prices   map[string]Price
	timeout  time.Duration
	apiKey   string
	scrub    *redact.Redactor
	circuit  *circuit
	// jsonMode is set once the server has rejected json_schema response
	// formats; later calls ask for json_object straight away.
	jsonMode atomic.Bool
}

// New checks opts and returns a client. It makes no network calls.
func New(opts Options) (*Client, error) {
	var errs []error
	if strings.TrimSpace(opts.Model) == "" {
		errs = append(errs, errors.New("model is required"))
	}
	base := opts.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// Never echo the URL: it may carry credentials.
		errs = append(errs, errors.New("base URL must be an absolute http or https URL"))
	}
	if opts.Timeout < 0 {
		errs = append(errs, errors.New("timeout must not be negative"))
	}
	if err := opts.Breaker.validate(); err != nil {
		errs = append(errs, err)
	}
	for m, p := range opts.Prices {
		if p.Input < 0 || p.Output < 0 {
			errs = append(errs, fmt.Errorf("price of %s must not be negative", m))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("configure model client: %w", err)
	}
	scrub, err := redact.New(redact.Options{})
	if err != nil {
		return nil, fmt.Errorf("configure model client: %w", err)
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	cfg := openai.DefaultConfig(opts.APIKey)
	cfg.BaseURL = strings.TrimRight(base, "/")
	cfg.HTTPClient = recordingDoer{hc}
	c := &Client{
		api:      openai.NewClientWithConfig(cfg),
		model:    opts.Model,
		endpoint: "POST " + safeURL(u) + "/chat/completions",
		retry:    opts.Retry,
		prices:   mergePrices(opts.Prices),
		timeout:  opts.Timeout,
		apiKey:   opts.APIKey,
		scrub:    scrub,
		circuit:  newCircuit(opts.Breaker),
	}
	if c.retry.Attempts == 0 {
		c.retry = retry.DefaultPolicy()
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	return c, nil
}

// Model returns the configured model name.
func (c *Client) Model() string { return c.model }

// Chat sends one chat completion and returns the first choice with its
// usage and cost. Rate limits, server errors and timeouts are retried
// under the client's policy; other failures return at once. Errors wrap
// *retry.HTTPError for HTTP failures (401/403 say the credentials were
// rejected) and never contain the API key. While the circuit breaker is
// open, Chat fails at once with an error wrapping ErrCircuitOpen.
func (c *Client) Chat(ctx context.Context, req oncall.ChatRequest) (oncall.ChatResponse, error) {
	adm, err := c.circuit.admit()
	if err != nil {
		return oncall.ChatResponse{}, fmt.Errorf("model %s: %w", c.endpoint, err)
	}
	jsonMode := c.jsonMode.Load()
	resp, err := c.send(ctx, c.request(req, jsonMode))
	var rejected *schemaRejectedError
	if errors.As(err, &rejected) && !jsonMode {
		// The server does not do structured outputs: remember, and ask
		// for plain JSON; the caller validates what comes back.
		c.jsonMode.Store(true)
		resp, err = c.send(ctx, c.request(req, true))
	}
	adm.done(ctx, err)
	if err != nil {
		return oncall.ChatResponse{}, err
	}
	if len(resp.Choices) == 0 {
		return oncall.ChatResponse{}, fmt.Errorf("model %s: answer has no choices", c.endpoint)
	}
	msg := resp.Choices[0].Message
	out := oncall.ChatResponse{Content: msg.Content, Model: resp.Model}
	if out.Model == "" {
		out.Model = c.model
	}
	for _, tc := range msg.ToolCalls {
		out.ToolCalls = append(out.ToolCalls, oncall.ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments})
	}
	out.Usage = oncall.Usage{
		PromptTokens:     resp.Usage.PromptTokens,
		CompletionTokens: resp.Usage.CompletionTokens,
		Calls:            1,
	}
	out.Usage.Cost = c.cost(out.Model, resp.Usage.PromptTokens, resp.Usage.CompletionTokens)
	return out, nil
}

// JSONMode reports whether the client has fallen back from json_schema to
// json_object response formats.
func (c *Client) JSONMode() bool { return c.jsonMode.Load() }

func (c *Client) send(ctx context.Context, creq openai.ChatCompletionRequest) (openai.ChatCompletionResponse, error) {
	var resp openai.ChatCompletionResponse
	attempt := 0
	err := retry.Do(ctx, c.retry, func(ctx context.Context) error {
		attempt++
		if attempt > 1 && c.circuit.open() {
			// Other calls found the model down meanwhile: stop waiting.
			return retry.Permanent(fmt.Errorf("model %s: %w", c.endpoint, ErrCircuitOpen))
		}
		actx, cancel := context.WithTimeout(ctx, c.timeout)
		defer cancel()
		rec := &exchange{}
		r, err := c.api.CreateChatCompletion(context.WithValue(actx, exchangeKey{}, rec), creq)
		if err == nil {
			resp = r
			return nil
		}
		return c.classify(ctx, actx, creq, rec, err)
	})
	return resp, err
}

// classify turns a failed attempt into an error retry.Do acts on, and that
// names the endpoint but neither the key nor the URL's credentials.
func (c *Client) classify(ctx, actx context.Context, creq openai.ChatCompletionRequest, rec *exchange, err error) error {
	if rec.status != 0 && (rec.status < 200 || rec.status >= 300) {
		msg := c.clean(errorMessage(rec.body))
		herr := &retry.HTTPError{Service: "model", Endpoint: c.endpoint, StatusCode: rec.status, Body: msg}
		// The server's reason (context too long, unknown model) is what
		// the reader needs; it has been scrubbed of credentials.
		var err error = herr
		if msg != "" {
			err = fmt.Errorf("%w: %s", herr, msg)
		}
		switch {
		case rec.status == http.StatusBadRequest && creq.ResponseFormat != nil &&
			creq.ResponseFormat.Type == openai.ChatCompletionResponseFormatTypeJSONSchema && mentionsSchema(rec.body):
			return retry.Permanent(&schemaRejectedError{err})
		case rec.status == http.StatusTooManyRequests || rec.status >= 500:
			if d := retry.RetryAfter(rec.header.Get("Retry-After")); d > 0 {
				return retry.After(d, err)
			}
			return err
		case rec.status == http.StatusRequestTimeout:
			return err
		default:
			return retry.Permanent(err)
		}
	}
	if ctx.Err() != nil {
		return retry.Permanent(fmt.Errorf("model %s: %w", c.endpoint, ctx.Err()))
	}
	if actx.Err() != nil {
		return fmt.Errorf("model %s: no answer within %s: %w", c.endpoint, c.timeout, actx.Err())
	}
	if rec.status >= 200 && rec.status < 300 {
		// A 2xx the library could not read: a proxy's HTML page, a
		// truncated body. Retrying rarely helps.
		return retry.Permanent(fmt.Errorf("model %s: read answer: %s", c.endpoint, c.clean(err.Error())))
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // url.Error prints the full URL
	}
	var oe *openai.RequestError
	if errors.As(err, &oe) {
		err = oe.Err // RequestError prints the body
	}
	return fmt.Errorf("model %s: %s", c.endpoint, c.clean(err.Error()))
}

// clean removes the API key and anything credential-shaped from text that
// came from the server or the transport.
func (c *Client) clean(s string) string {
	if c.apiKey != "" {
		s = strings.ReplaceAll(s, c.apiKey, "[SECRET]")
	}
	s = c.scrub.String(s)
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// schemaRejectedError is a 400 that blames the json_schema response format.
type schemaRejectedError struct{ err error }

func (e *schemaRejectedError) Error() string {
	return e.err.Error() + ": json_schema response format not supported"
}
func (e *schemaRejectedError) Unwrap() error { return e.err }

func mentionsSchema(body []byte) bool {
	b := bytes.ToLower(body)
	return bytes.Contains(b, []byte("response_format")) || bytes.Contains(b, []byte("json_schema")) ||
		bytes.Contains(b, []byte("response format")) || bytes.Contains(b, []byte("structured output"))
}

// errorMessage extracts error.message from an OpenAI-style error body, or
// returns the start of the body.
func errorMessage(body []byte) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
		Message string `json:"message"` // vLLM and some gateways
	}
	if json.Unmarshal(body, &e) == nil {
		if e.Error.Message != "" {
			return e.Error.Message
		}
		if e.Message != "" {
			return e.Message
		}
	}
	return string(body)
}

func safeURL(u *url.URL) string {
	v := *u
	v.User, v.RawQuery, v.Fragment = nil, "", ""
	return strings.TrimRight(v.String(), "/")
}

// exchange records what the server answered in one attempt: go-openai
// keeps the status but drops the headers (Retry-After) and the raw body.
type exchange struct {
	status int
	header http.Header
	body   []byte
}

type exchangeKey struct{}

// recordingDoer is the HTTP doer given to go-openai. It copies status,
// headers and error bodies into the attempt's exchange.
type recordingDoer struct{ hc *http.Client }

// maxErrorBody caps how much of an error response is kept.
const maxErrorBody = 64 << 10

func (d recordingDoer) Do(req *http.Request) (*http.Response, error) {
	resp, err := d.hc.Do(req)
	rec, _ := req.Context().Value(exchangeKey{}).(*exchange)
	if err != nil || rec == nil {
		return resp, err
	}
	rec.status, rec.header = resp.StatusCode, resp.Header
	if resp.StatusCode >= 400 {
		body, rerr := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		if rerr != nil {
			return nil, fmt.Errorf("read error response: %w", rerr)
		}
		rec.body = body
		resp.Body = io.NopCloser(bytes.NewReader(body))
	}
	return resp, nil
}
