package otlp

import (
	"encoding/json"
	"math"
	"strconv"
)

// value reads an OTLP AnyValue as flattened text: strings as they are,
// numbers and booleans in Go's shortest form, arrays and key-value lists
// as compact JSON, bytes as their base64 text.
func (d *Decoder) value() string {
	s := &d.s
	if !s.beginObject() {
		return ""
	}
	var out string
	for first := true; ; first = false {
		k, ok := s.key(first)
		if !ok {
			return out
		}
		switch string(k) {
		case "stringValue", "string_value", "bytesValue", "bytes_value":
			if b := s.rawString(); len(b) <= 32 {
				out = d.intern(b, 32)
			} else {
				out = string(b)
			}
		case "intValue", "int_value":
			out = d.intText()
		case "doubleValue", "double_value":
			if f, ok := d.double(); ok {
				out = strconv.FormatFloat(f, 'g', -1, 64)
			}
		case "boolValue", "bool_value":
			out = strconv.FormatBool(d.bool())
		case "arrayValue", "array_value", "kvlistValue", "kvlist_value":
			v := d.composite(string(k) == "kvlistValue" || string(k) == "kvlist_value")
			if b, err := json.Marshal(v); err == nil {
				out = string(b)
			}
		default:
			s.skip()
		}
	}
}

// nativeValue reads an AnyValue nested in an array or key-value list as
// the Go value encoding/json writes as the corresponding JSON.
func (d *Decoder) nativeValue() any {
	s := &d.s
	if !s.beginObject() {
		return nil
	}
	var out any
	for first := true; ; first = false {
		k, ok := s.key(first)
		if !ok {
			return out
		}
		switch string(k) {
		case "stringValue", "string_value", "bytesValue", "bytes_value":
			out = s.str()
		case "intValue", "int_value":
			if n, err := strconv.ParseInt(d.intText(), 10, 64); err == nil {
				out = n
			}
		case "doubleValue", "double_value":
			if f, ok := d.double(); ok {
				out = double(f)
			}
		case "boolValue", "bool_value":
			out = d.bool()
		case "arrayValue", "array_value":
			out = d.composite(false)
		case "kvlistValue", "kvlist_value":
			out = d.composite(true)
		default:
			s.skip()
		}
	}
}

// composite reads {"values": [...]} as a []any, or as a map[string]any
// when kvlist is set.
func (d *Decoder) composite(kvlist bool) any {
	s := &d.s
	var list []any
	var obj map[string]any
	if kvlist {
		obj = map[string]any{}
	} else {
		list = []any{}
	}
	if s.beginObject() {
		for first := true; ; first = false {
			k, ok := s.key(first)
			if !ok {
				break
			}
			if string(k) != "values" || !s.beginArray() {
				if string(k) != "values" {
					s.skip()
				}
				continue
			}
			for first := true; s.elem(first); first = false {
				if !kvlist {
					list = append(list, d.nativeValue())
					continue
				}
				if !s.beginObject() {
					continue
				}
				var key string
				var val any
				for first := true; ; first = false {
					k, ok := s.key(first)
					if !ok {
						break
					}
					switch string(k) {
					case "key":
						key = s.str()
					case "value":
						val = d.nativeValue()
					default:
						s.skip()
					}
				}
				obj[key] = val
			}
		}
	}
	if kvlist {
		return obj
	}
	return list
}

// intText reads an int64 written as a number or a decimal string and
// returns its canonical decimal text.
func (d *Decoder) intText() string {
	b := d.s.scalarText()
	if canonicalInt(b) {
		return d.intern(b, 20)
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(string(b), 64)
		if ferr != nil || f != math.Trunc(f) || math.Abs(f) > math.MaxInt64 {
			d.s.fail("invalid int value %.32q", b)
			return ""
		}
		n = int64(f)
	}
	return strconv.FormatInt(n, 10)
}

// canonicalInt reports whether b is how strconv.FormatInt writes a number.
func canonicalInt(b []byte) bool {
	d := b
	if len(d) > 0 && d[0] == '-' {
		d = d[1:]
	}
	if len(d) == 0 || len(d) > 18 || (d[0] == '0' && (len(d) > 1 || len(b) > 1)) {
		return false
	}
	for _, c := range d {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// double reads a float written as a number or a string, including
// protojson's "NaN", "Infinity" and "-Infinity".
func (d *Decoder) double() (float64, bool) {
	b := d.s.scalarText()
	if b == nil {
		return 0, false
	}
	switch string(b) {
	case "NaN":
		return math.NaN(), true
	case "Infinity":
		return math.Inf(1), true
	case "-Infinity":
		return math.Inf(-1), true
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		d.s.fail("invalid double value %.32q", b)
		return 0, false
	}
	return f, true
}

func (d *Decoder) bool() bool {
	s := &d.s
	switch s.peek() {
	case 't':
		s.literal("true")
		return true
	case 'f':
		s.literal("false")
	case '"':
		return string(s.rawString()) == "true"
	default:
		s.literal("null")
	}
	return false
}

// intern returns b as a string, sharing one copy of strings up to max
// bytes long, so the keys and names repeated on every span are allocated
// once per Decoder.
func (d *Decoder) intern(b []byte, max int) string {
	if len(b) > max {
		return string(b)
	}
	if v, ok := d.strs[string(b)]; ok {
		return v
	}
	v := string(b)
	if d.strs == nil {
		d.strs = make(map[string]string, 256)
	}
	if len(d.strs) < maxInterned {
		d.strs[v] = v
	}
	return v
}
