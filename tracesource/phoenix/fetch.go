package phoenix

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"

	oncall "github.com/oncall-copilot/oncall-copilot"
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
		body, err := c.http.Body(ctx, path, q)
		if err != nil {
			return err
		}
		page, next, err := decodePage(body)
		if err != nil {
			return c.http.DecodeError(path, err)
		}
		if !fn(page) || next == "" || seen[next] {
			return nil
		}
		seen[next] = true
		q.Set("cursor", next)
	}
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
