package jaeger

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/retry"
)

// errNoTraces is Jaeger's 404 answer: no trace matched or exists.
var errNoTraces = errors.New("no traces found")

// fetch GETs path with retries, each attempt under its own deadline, and
// decodes the OTLP/JSON answer. Errors name the backend and the endpoint
// (never the full URL, whose query may carry user data).
func (c *Client) fetch(ctx context.Context, path string, query url.Values) ([]oncall.Trace, error) {
	endpoint := "GET " + path
	u := *c.base
	u.Path = c.base.Path + path
	u.RawPath = ""
	if query != nil {
		u.RawQuery = query.Encode()
	}
	var traces []oncall.Trace
	err := retry.Do(ctx, c.opts.Retry, func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return retry.Permanent(fmt.Errorf("%s %s: %w", Name, endpoint, err))
		}
		req.Header.Set("Accept", "application/json")
		resp, err := c.opts.HTTPClient.Do(req)
		if err != nil {
			return fmt.Errorf("%s %s: %w", Name, endpoint, withoutURL(err))
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, c.opts.MaxResponseBytes+1))
		if err != nil {
			return fmt.Errorf("%s %s: read response: %w", Name, endpoint, withoutURL(err))
		}
		if resp.StatusCode == http.StatusNotFound && isGatewayError(body) {
			return retry.Permanent(errNoTraces)
		}
		if err := retry.CheckResponse(Name, endpoint, resp, body); err != nil {
			return err
		}
		if int64(len(body)) > c.opts.MaxResponseBytes {
			return retry.Permanent(fmt.Errorf("%s %s: response larger than %d bytes", Name, endpoint, c.opts.MaxResponseBytes))
		}
		traces, err = decodeTraces(body)
		if err != nil {
			return retry.Permanent(fmt.Errorf("%s %s: decode response: %w", Name, endpoint, err))
		}
		return nil
	})
	return traces, err
}

// withoutURL drops the request URL a transport error carries.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
