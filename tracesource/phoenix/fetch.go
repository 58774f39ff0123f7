package phoenix

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/retry"
)

// pages reads the project's spans matching v page by page, following
// next_cursor, and hands each page to fn until fn returns false or the
// pages end.
func (c *Client) pages(ctx context.Context, v url.Values, fn func([]oncall.Span) bool) error {
	path := "/v1/projects/" + url.PathEscape(c.opts.Project) + "/spans"
	q := url.Values{}
	for k, vals := range v {
		q[k] = vals
	}
	q.Set("limit", strconv.Itoa(c.opts.PageSize))
	seen := map[string]bool{}
	for {
		body, err := c.request(ctx, path, q)
		if err != nil {
			return err
		}
		page, next, err := decodePage(body)
		if err != nil {
			return fmt.Errorf("%s GET %s: decode response: %w", Name, path, err)
		}
		if !fn(page) || next == "" || seen[next] {
			return nil
		}
		seen[next] = true
		q.Set("cursor", next)
	}
}

// request GETs path with retries, each attempt under its own deadline, and
// returns the body of a 2xx answer. Errors name the backend and endpoint,
// never the URL or the API key.
func (c *Client) request(ctx context.Context, path string, query url.Values) ([]byte, error) {
	endpoint := "GET " + path
	u := *c.base
	u.Path = c.base.Path + path
	u.RawPath = ""
	u.RawQuery = query.Encode()
	var body []byte
	err := retry.Do(ctx, c.opts.Retry, func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return retry.Permanent(fmt.Errorf("%s %s: %w", Name, endpoint, err))
		}
		req.Header.Set("Accept", "application/json")
		if c.opts.APIKey != "" {
			req.Header.Set("Authorization", "Bearer "+c.opts.APIKey)
		}
		resp, err := c.opts.HTTPClient.Do(req)
		if err != nil {
			return fmt.Errorf("%s %s: %w", Name, endpoint, withoutURL(err))
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, c.opts.MaxResponseBytes+1))
		if err != nil {
			return fmt.Errorf("%s %s: read response: %w", Name, endpoint, withoutURL(err))
		}
		if err := retry.CheckResponse(Name, endpoint, resp, b); err != nil {
			return err
		}
		if int64(len(b)) > c.opts.MaxResponseBytes {
			return retry.Permanent(fmt.Errorf("%s %s: response larger than %d bytes", Name, endpoint, c.opts.MaxResponseBytes))
		}
		body = b
		return nil
	})
	return body, err
}

// decodePage reads one page: {"data": [span, ...], "next_cursor": ...}.
func decodePage(body []byte) ([]oncall.Span, string, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var page struct {
		Data       *[]wireSpan `json:"data"`
		NextCursor *string     `json:"next_cursor"`
	}
	if err := dec.Decode(&page); err != nil {
		return nil, "", err
	}
	if page.Data == nil {
		return nil, "", errors.New(`no "data" list`)
	}
	spans := make([]oncall.Span, 0, len(*page.Data))
	for i := range *page.Data {
		s, err := (*page.Data)[i].span()
		if err != nil {
			return nil, "", fmt.Errorf("span %d: %w", i, err)
		}
		spans = append(spans, s)
	}
	var next string
	if page.NextCursor != nil {
		next = *page.NextCursor
	}
	return spans, next, nil
}

// withoutURL drops the request URL a transport error carries.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
