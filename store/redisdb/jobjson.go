package redisdb

import (
	"encoding/base64"
	"encoding/json"
	"sync"
	"time"
	"unicode/utf8"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// appendJob appends job as the JSON that encoding/json writes for it (the
// same field names, omissions and formats; map keys are not sorted and
// <, > and & are not escaped, which any JSON reader accepts), without
// reflection: jobs are encoded on every webhook, and the reflective
// encoder was about an eighth of the intake's own work. The stream's
// entries keep the format every earlier version wrote and read, so jobs
// queued before an upgrade are processed after it and the other way round.
// A time outside the years encoding/json accepts is left to it, and so
// is its error.
func appendJob(b []byte, job *oncall.Job) ([]byte, error) {
	if !jsonTime(job.EnqueuedAt) {
		return appendReflect(b, job)
	}
	for i := range job.Alerts {
		a := &job.Alerts[i]
		if !jsonTime(a.StartsAt) || !jsonTime(a.ReceivedAt) || !a.EndsAt.IsZero() && !jsonTime(a.EndsAt) {
			return appendReflect(b, job)
		}
	}
	b = append(b, `{"id":`...)
	b = appendString(b, job.ID)
	b = append(b, `,"kind":`...)
	b = appendString(b, string(job.Kind))
	if len(job.Alerts) > 0 {
		b = append(b, `,"alerts":[`...)
		for i := range job.Alerts {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendAlert(b, &job.Alerts[i])
		}
		b = append(b, ']')
	}
	b = appendOptString(b, `,"group_key":`, job.GroupKey)
	b = appendOptString(b, `,"route":`, job.Route)
	b = appendOptString(b, `,"channel":`, job.Channel)
	if len(job.Payload) > 0 {
		b = append(b, `,"payload":"`...)
		b = base64.StdEncoding.AppendEncode(b, job.Payload)
		b = append(b, '"')
	}
	b = append(b, `,"enqueued_at":`...)
	b = appendTime(b, job.EnqueuedAt)
	b = append(b, `,"attempts":`...)
	b = appendInt(b, job.Attempts)
	b = appendOptString(b, `,"last_error":`, job.LastError)
	return append(b, '}'), nil
}

func appendReflect(b []byte, job *oncall.Job) ([]byte, error) {
	data, err := json.Marshal(job)
	if err != nil {
		return b, err
	}
	return append(b, data...), nil
}

func appendAlert(b []byte, a *oncall.Alert) []byte {
	b = append(b, `{"source":`...)
	b = appendString(b, a.Source)
	b = append(b, `,"fingerprint":`...)
	b = appendString(b, a.Fingerprint)
	b = append(b, `,"group_key":`...)
	b = appendString(b, a.GroupKey)
	b = append(b, `,"status":`...)
	b = appendString(b, string(a.Status))
	b = append(b, `,"name":`...)
	b = appendString(b, a.Name)
	b = appendOptString(b, `,"severity":`, a.Severity)
	b = appendOptString(b, `,"summary":`, a.Summary)
	b = appendOptString(b, `,"description":`, a.Description)
	b = appendMap(b, `,"labels":`, a.Labels)
	b = appendMap(b, `,"annotations":`, a.Annotations)
	b = append(b, `,"starts_at":`...)
	b = appendTime(b, a.StartsAt)
	if !a.EndsAt.IsZero() {
		b = append(b, `,"ends_at":`...)
		b = appendTime(b, a.EndsAt)
	}
	b = appendOptString(b, `,"source_url":`, a.SourceURL)
	b = appendOptString(b, `,"generator_url":`, a.GeneratorURL)
	if len(a.TraceIDs) > 0 {
		b = append(b, `,"trace_ids":[`...)
		for i, id := range a.TraceIDs {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, id)
		}
		b = append(b, ']')
	}
	b = append(b, `,"received_at":`...)
	b = appendTime(b, a.ReceivedAt)
	return append(b, '}')
}

// appendOptString is an omitempty string field.
func appendOptString(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(append(b, key...), s)
}

// appendMap is an omitempty map[string]string field.
func appendMap(b []byte, key string, m map[string]string) []byte {
	if len(m) == 0 {
		return b
	}
	b = append(b, key...)
	b = append(b, '{')
	first := true
	for k, v := range m {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, k)
		b = append(b, ':')
		b = appendString(b, v)
	}
	return append(b, '}')
}

// jsonTime reports whether encoding/json writes t as RFC 3339 (it refuses
// years outside 0-9999 and zone offsets of a day or more).
func jsonTime(t time.Time) bool {
	y := t.Year()
	_, off := t.Zone()
	return y >= 0 && y <= 9999 && off > -24*3600 && off < 24*3600
}

func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

func appendInt(b []byte, n int) []byte {
	if n < 0 {
		b = append(b, '-')
		return appendUint(b, uint64(-int64(n)))
	}
	return appendUint(b, uint64(n))
}

func appendUint(b []byte, n uint64) []byte {
	var d [20]byte
	i := len(d)
	for {
		i--
		d[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return append(b, d[i:]...)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, as encoding/json would but for
// <, > and &: control characters escaped, invalid UTF-8 replaced by
// U+FFFD, and U+2028 and U+2029 escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// jobBuffers keeps encoding buffers between enqueues, so a job's encoding
// does not allocate. A buffer goes back only once the command that sent it
// has returned; go-redis writes a command's arguments to the connection
// before it returns and keeps no reference to them. The zero value is
// ready to use and it is safe for concurrent use.
type jobBuffers struct{ pool sync.Pool }

// maxPooledJob bounds the buffers kept: a job of many alerts is encoded
// into a buffer of its own and left to the garbage collector.
const maxPooledJob = 64 << 10

func (p *jobBuffers) get() *[]byte {
	if b, ok := p.pool.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 2048)
	return &b
}

func (p *jobBuffers) put(b *[]byte) {
	if cap(*b) > maxPooledJob {
		return
	}
	*b = (*b)[:0]
	p.pool.Put(b)
}
