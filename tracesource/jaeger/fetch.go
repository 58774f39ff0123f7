package jaeger

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// errNoTraces is Jaeger's 404 answer: no trace matched or exists.
var errNoTraces = errors.New("no traces found")

// fetch GETs path and decodes the OTLP/JSON answer. Errors name the
// backend and the endpoint (never the full URL, whose query may carry user
// data).
func (c *Client) fetch(ctx context.Context, path string, query url.Values) ([]oncall.Trace, error) {
	status, body, err := c.http.Fetch(ctx, path, query)
	if err != nil {
		return nil, err
	}
	if status == http.StatusNotFound {
		if isGatewayError(body) {
			return nil, errNoTraces
		}
		return nil, c.http.StatusError(path, status, body)
	}
	traces, err := decodeTraces(body)
	if err != nil {
		return nil, c.http.DecodeError(path, err)
	}
	return traces, nil
}
