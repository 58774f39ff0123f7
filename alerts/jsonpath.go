package alerts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// jsonPath is a parsed path into decoded JSON: dotted keys with array
// indexes and quoted keys, such as `alert.title`, `tags[0]`,
// `$.data.labels` or `meta["k8s.pod"]`.
type jsonPath struct {
	raw   string
	steps []pathStep
}

type pathStep struct {
	key     string
	index   int
	isIndex bool
}

func (p jsonPath) String() string { return p.raw }

// parsePath parses one path. A leading "$" or "$." names the document's
// root and may be left out; "$" alone is the whole document.
func parsePath(s string) (jsonPath, error) {
	p := jsonPath{raw: s}
	rest := strings.TrimSpace(s)
	if rest == "" {
		return p, errors.New("empty path")
	}
	if strings.HasPrefix(rest, "$") {
		rest = rest[1:]
		if strings.HasPrefix(rest, ".") {
			rest = rest[1:]
			if rest == "" {
				return p, errors.New("nothing after \"$.\"")
			}
		}
	}
	afterStep := false // a key or ] was just read: only '.', '[' or the end may follow
	for rest != "" {
		switch {
		case rest[0] == '[':
			end, step, err := parseBracket(rest)
			if err != nil {
				return p, err
			}
			p.steps = append(p.steps, step)
			rest = rest[end:]
			afterStep = true
		case rest[0] == '.':
			if !afterStep {
				return p, errors.New("empty key between dots")
			}
			rest = rest[1:]
			if rest == "" || rest[0] == '.' {
				return p, errors.New("empty key after a dot")
			}
			afterStep = false
		default:
			if afterStep {
				return p, fmt.Errorf("unexpected %q after a key or index", rest[:1])
			}
			i := strings.IndexAny(rest, ".[")
			if i < 0 {
				i = len(rest)
			}
			p.steps = append(p.steps, pathStep{key: rest[:i]})
			rest = rest[i:]
			afterStep = true
		}
	}
	return p, nil
}

// parseBracket reads `[3]`, `["key"]` or `['key']` at the start of s and
// returns how many bytes it used.
func parseBracket(s string) (int, pathStep, error) {
	if len(s) < 3 {
		return 0, pathStep{}, errors.New("unterminated [")
	}
	if q := s[1]; q == '"' || q == '\'' {
		end := strings.IndexByte(s[2:], q)
		if end < 0 {
			return 0, pathStep{}, errors.New("unterminated quoted key")
		}
		key := s[2 : 2+end]
		if 2+end+1 >= len(s) || s[2+end+1] != ']' {
			return 0, pathStep{}, errors.New("quoted key must be followed by ]")
		}
		return 2 + end + 2, pathStep{key: key}, nil
	}
	end := strings.IndexByte(s, ']')
	if end < 0 {
		return 0, pathStep{}, errors.New("unterminated [")
	}
	n, err := strconv.Atoi(s[1:end])
	if err != nil || n < 0 || strings.ContainsAny(s[1:end], "+-") {
		return 0, pathStep{}, fmt.Errorf("array index %q is not a whole number >= 0", s[1:end])
	}
	return end + 1, pathStep{index: n, isIndex: true}, nil
}

// lookup follows the path through doc and returns the value found there.
func (p jsonPath) lookup(doc any) (any, bool) {
	cur := doc
	for _, st := range p.steps {
		if st.isIndex {
			arr, ok := cur.([]any)
			if !ok || st.index >= len(arr) {
				return nil, false
			}
			cur = arr[st.index]
			continue
		}
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[st.key]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// decodeJSONObject decodes body into a generic JSON object, keeping
// numbers as json.Number so large ids keep their digits.
func decodeJSONObject(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &InputError{Reason: "malformed JSON: data after the top-level value"}
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, &InputError{Reason: "body must be a JSON object"}
	}
	return obj, nil
}

// scalarString renders a JSON string, number or boolean as text; other
// values (null, objects, arrays) have no text.
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		if !utf8.ValidString(x) {
			return strings.ToValidUTF8(x, "\uFFFD"), true
		}
		return x, true
	case json.Number:
		return x.String(), true
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}
