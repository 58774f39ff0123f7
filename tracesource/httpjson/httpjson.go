// Package httpjson is the HTTP side the trace-store clients share: GET a
// JSON endpoint under retry.Do with a deadline per attempt, classify the
// status with retry.CheckResponse, read the body under a size cap, and
// name the backend and endpoint (never the URL or credentials) in every
// error.
package httpjson

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/oncall-copilot/oncall-copilot/retry"
)

// Defaults for the zero fields of a Client.
const (
	DefaultTimeout  = 30 * time.Second
	DefaultMaxBytes = 64 << 20
)

// Client GETs JSON from one backend. Build it with New; it is safe for
// concurrent use once built.
type Client struct {
	// Service names the backend in errors ("tempo").
	Service string
	// Base is the backend's URL without query, fragment or trailing slash
	// (see ParseBaseURL); request paths are appended to its path.
	Base *url.URL
	// HTTPClient defaults to a client without its own timeout: every
	// attempt gets Timeout instead.
	HTTPClient *http.Client
	Retry      retry.Policy  // zero: retry.DefaultPolicy()
	Timeout    time.Duration // per attempt; default DefaultTimeout
	// MaxResponseBytes caps one response body; default DefaultMaxBytes.
	MaxResponseBytes int64
	// Authorize adds credentials and headers to each request; optional.
	Authorize func(*http.Request)
}

// New returns c with its zero fields defaulted.
func New(c Client) *Client {
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	if c.Retry.Attempts == 0 {
		c.Retry = retry.DefaultPolicy()
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxResponseBytes <= 0 {
		c.MaxResponseBytes = DefaultMaxBytes
	}
	return &c
}

// ParseBaseURL checks that raw is an http or https URL with a host and
// returns it without query, fragment or trailing slash. It keeps any user
// info: the caller decides whether credentials belong there.
func ParseBaseURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("not a URL")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("want an http or https URL with a host")
	}
	u.RawQuery, u.Fragment = "", ""
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}

// Body GETs path with query and returns the body of a 2xx answer. Any
// other status is a *retry.HTTPError.
func (c *Client) Body(ctx context.Context, path string, query url.Values) ([]byte, error) {
	_, body, err := c.get(ctx, path, query, false)
	return body, err
}

// Fetch GETs path with query and returns the status and body of a 2xx or
// 404 answer, for backends whose 404 means something (no such trace, no
// such endpoint). Any other status is a *retry.HTTPError.
func (c *Client) Fetch(ctx context.Context, path string, query url.Values) (int, []byte, error) {
	return c.get(ctx, path, query, true)
}

// Wrap prefixes err with the backend and endpoint of path:
// "tempo GET /api/search: ...".
func (c *Client) Wrap(path string, err error) error {
	return fmt.Errorf("%s GET %s: %w", c.Service, path, err)
}

// DecodeError reports a response of path that did not decode.
func (c *Client) DecodeError(path string, err error) error {
	return c.Wrap(path, fmt.Errorf("decode response: %w", err))
}

// StatusError is the error for an answer the caller cannot use, such as
// a 404 from Fetch: it names the backend, endpoint and status, and keeps
// an excerpt of the body for the log.
func (c *Client) StatusError(path string, status int, body []byte) *retry.HTTPError {
	if len(body) > 200 {
		body = body[:200]
	}
	return &retry.HTTPError{Service: c.Service, Endpoint: "GET " + path, StatusCode: status, Body: string(body)}
}

// get runs the request with retries, each attempt under its own deadline.
// keep404 passes a 404 answer back instead of failing on it.
func (c *Client) get(ctx context.Context, path string, query url.Values, keep404 bool) (int, []byte, error) {
	endpoint := "GET " + path
	u := *c.Base
	u.Path = c.Base.Path + path
	u.RawPath = ""
	u.RawQuery = query.Encode()
	var status int
	var body []byte
	err := retry.Do(ctx, c.Retry, func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, c.Timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return retry.Permanent(fmt.Errorf("%s %s: %w", c.Service, endpoint, err))
		}
		req.Header.Set("Accept", "application/json")
		if c.Authorize != nil {
			c.Authorize(req)
		}
		resp, err := c.HTTPClient.Do(req)
		if err != nil {
			return fmt.Errorf("%s %s: %w", c.Service, endpoint, withoutURL(err))
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, c.MaxResponseBytes+1))
		if err != nil {
			return fmt.Errorf("%s %s: read response: %w", c.Service, endpoint, withoutURL(err))
		}
		if !keep404 || resp.StatusCode != http.StatusNotFound {
			if err := retry.CheckResponse(c.Service, endpoint, resp, b); err != nil {
				return err
			}
		}
		if int64(len(b)) > c.MaxResponseBytes {
			return retry.Permanent(fmt.Errorf("%s %s: response larger than %d bytes", c.Service, endpoint, c.MaxResponseBytes))
		}
		status, body = resp.StatusCode, b
		return nil
	})
	return status, body, err
}

// withoutURL drops the request URL a transport error carries.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
