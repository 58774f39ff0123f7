package otlp

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func TestScannerStrings(t *testing.T) {
	tests := []struct {
		name, in, want string
		err            bool
	}{
		{"plain", `"hello"`, "hello", false},
		{"escapes", `"a\"b\\c\/d\n\t\r\b\f"`, "a\"b\\c/d\n\t\r\b\f", false},
		{"unicode", `"caf\u00e9 \u2603"`, "café ☃", false},
		{"surrogate pair", `"\ud83d\ude00"`, "😀", false},
		{"lone surrogate", `"\ud83d!"`, "\uFFFD!", false},
		{"raw utf8", `"naïve"`, "naïve", false},
		{"bad escape", `"\x"`, "", true},
		{"short unicode", `"\u12"`, "", true},
		{"control char", "\"a\nb\"", "", true},
		{"unterminated", `"abc`, "", true},
		{"unterminated escape", `"abc\`, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s scanner
			s.reset([]byte(tt.in))
			got := string(s.rawString())
			if (s.err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", s.err, tt.err)
			}
			if !tt.err && got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestScannerRejects(t *testing.T) {
	for name, in := range map[string]string{
		"trailing data":   `{} {}`,
		"trailing comma":  `{"resourceSpans":[],}`,
		"missing colon":   `{"resourceSpans" []}`,
		"bad literal":     `{"x": nul}`,
		"not a number":    `{"x": -}`,
		"deep nesting":    `{"x":` + repeat("[", 5000) + repeat("]", 5000) + `}`,
		"array top level": `[]`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Decode([]byte(in)); err == nil {
				t.Errorf("Decode(%.40q) accepted malformed input", in)
			}
		})
	}
	if _, err := Decode([]byte(`{"x":` + repeat("[", 500) + repeat("]", 500) + `, "y": {"z": [1, -2.5e3, true, false, null, "s"]}}`)); err != nil {
		t.Errorf("skipping nested unknown fields: %v", err)
	}
}

func repeat(s string, n int) string {
	b := make([]byte, 0, len(s)*n)
	for range n {
		b = append(b, s...)
	}
	return string(b)
}

// FuzzScanString checks the scanner's string decoding against
// encoding/json on every valid UTF-8 JSON string literal.
func FuzzScanString(f *testing.F) {
	for _, s := range []string{`"a\u00e9\n"`, `"\ud83d\ude00"`, `"\ud800\u0041"`, `"x\\"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if !utf8.ValidString(in) {
			return
		}
		var want string
		jsonErr := json.Unmarshal([]byte(in), &want)
		var s scanner
		s.reset([]byte(in))
		got := string(s.rawString())
		s.end()
		if jsonErr != nil {
			return // the scanner may be more lenient about what follows
		}
		if s.err != nil {
			t.Fatalf("scanner rejected %q: %v", in, s.err)
		}
		if got != want {
			t.Fatalf("scanner read %q as %q, encoding/json as %q", in, got, want)
		}
	})
}
