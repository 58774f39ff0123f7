package alerts

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Times outside these bounds cannot be written as RFC 3339 JSON, so a job
// holding one could never be enqueued; decoders refuse them up front.
var (
	minTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
)

// checkTime refuses a time that cannot be stored; the zero time passes.
func checkTime(field string, t time.Time) (time.Time, error) {
	if t.IsZero() {
		return t, nil
	}
	t = t.UTC()
	if t.Before(minTime) || t.After(maxTime) {
		return time.Time{}, fieldError(field, "time %s is out of range", t.Format(time.RFC3339))
	}
	return t, nil
}

// parseTimeValue reads a time from a JSON value: an RFC 3339 string, a
// date-time without zone (taken as UTC), or a Unix epoch in seconds,
// milliseconds, microseconds or nanoseconds, as a number or a string of
// digits. The unit of an epoch is guessed from its size, which is
// unambiguous for any date after 1973.
func parseTimeValue(field string, v any) (time.Time, error) {
	var t time.Time
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(x.String(), 64)
		if err != nil {
			return time.Time{}, fieldError(field, "number %s is not a time", x)
		}
		t = epoch(f)
	case float64:
		t = epoch(x)
	case string:
		s := strings.TrimSpace(x)
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			t = epoch(f)
			break
		}
		var err error
		t, err = parseTimeString(s)
		if err != nil {
			return time.Time{}, fieldError(field, "%q is not an RFC 3339 time or a Unix epoch", clip(s, 64))
		}
	default:
		return time.Time{}, fieldError(field, "must be a time (RFC 3339 string or Unix epoch)")
	}
	if t.IsZero() {
		return time.Time{}, fieldError(field, "is not a valid time")
	}
	return checkTime(field, t)
}

func parseTimeString(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	var lastErr error
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02 15:04:05 MST"} {
		t, err := time.Parse(layout, s)
		if err == nil {
			return t, nil
		}
		lastErr = err
	}
	return time.Time{}, lastErr
}

// epoch turns a Unix timestamp of unknown unit into a time; it returns the
// zero time for values no unit makes sensible.
func epoch(f float64) time.Time {
	if math.IsNaN(f) || math.IsInf(f, 0) || f <= 0 {
		return time.Time{}
	}
	switch {
	case f < 1e11: // seconds, until year 5138
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9))
	case f < 1e14: // milliseconds
		return time.UnixMilli(int64(f))
	case f < 1e17: // microseconds
		return time.UnixMicro(int64(f))
	case f < 9e18: // nanoseconds
		return time.Unix(0, int64(f))
	}
	return time.Time{}
}

// clip shortens s to at most n bytes for error messages, on a rune
// boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]>>6 == 2 { // continuation byte
		n--
	}
	return s[:n] + "…"
}

// labelsFrom reads labels from a JSON value: an object of scalars, a list
// of "key:value" or "key=value" strings, or one string of them separated
// by commas (as Datadog sends $TAGS). Tags without a value are skipped:
// an empty label value means "absent" to matchers.
func labelsFrom(v any, into map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			k = strings.TrimSpace(k)
			if s, ok := scalarString(val); ok && k != "" && s != "" {
				into[k] = s
			}
		}
	case []any:
		for _, item := range x {
			if s, ok := item.(string); ok {
				addTag(s, into)
			}
		}
	case string:
		for _, tag := range strings.Split(x, ",") {
			addTag(tag, into)
		}
	}
}

func addTag(tag string, into map[string]string) {
	tag = strings.TrimSpace(tag)
	i := strings.IndexAny(tag, ":=")
	if i <= 0 {
		return
	}
	k, v := strings.TrimSpace(tag[:i]), strings.TrimSpace(tag[i+1:])
	if k != "" && v != "" {
		into[k] = v
	}
}

// stringList reads a string, a comma-separated string or a list of
// strings.
func stringList(v any) []string {
	var out []string
	switch x := v.(type) {
	case string:
		out = strings.FieldsFunc(x, func(r rune) bool { return r == ',' || r == ' ' || r == ';' })
	case []any:
		for _, item := range x {
			if s, ok := scalarString(item); ok {
				out = append(out, strings.TrimSpace(s))
			}
		}
	}
	return out
}

// cleanTraceIDs lower-cases ids, keeps hex ones of a plausible length and
// drops repeats, keeping order.
func cleanTraceIDs(ids []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, id := range ids {
		id = strings.ToLower(strings.TrimSpace(id))
		if isHex(id) && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

func describeType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// wireTime is an RFC 3339 time field that never fails JSON decoding, so
// the decoder can name the field when the value is not a time (the
// encoding/json error would not).
type wireTime struct {
	t   time.Time
	bad bool
}

// UnmarshalJSON implements json.Unmarshaler.
func (w *wireTime) UnmarshalJSON(b []byte) error {
	*w = wireTime{}
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		w.bad = true
		return nil
	}
	if s == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		w.bad = true
		return nil
	}
	w.t = t
	return nil
}

// get returns the time in UTC, or an error naming field when it was not
// an RFC 3339 time or cannot be stored. Absent fields give the zero time.
func (w wireTime) get(field string) (time.Time, error) {
	if w.bad {
		return time.Time{}, fieldError(field, "must be an RFC 3339 time")
	}
	return checkTime(field, w.t)
}

// endTime reads an alert's end. Alertmanager and Grafana send
// "0001-01-01T00:00:00Z" for "no end", which reads as the zero time.
func endTime(field string, w wireTime) (time.Time, error) {
	if !w.bad && w.t.Year() <= 1 {
		return time.Time{}, nil
	}
	return w.get(field)
}
