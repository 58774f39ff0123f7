package redact

import (
	"slices"
	"strings"
	"testing"
)

func TestKeywordMatcher(t *testing.T) {
	words := []string{"key", "api_key", "sk-", "lsv2_", "he", "she", "hers"}
	m := newKeywordMatcher(words)
	tests := []struct {
		text string
		want []string
	}{
		{"", nil},
		{"nothing to see", nil},
		{"x-api_key: abc", []string{"api_key", "key"}},
		{"ushers", []string{"he", "hers", "she"}},
		{"token lsv2_pt_0 and sk-proj", []string{"lsv2_", "sk-"}},
		{"keykey", []string{"key"}},
	}
	for _, tt := range tests {
		var got []string
		m.scan(tt.text, func(id int32, end int) {
			w := words[id]
			if !strings.HasSuffix(tt.text[:end], w) {
				t.Errorf("%q: %q reported ending at %d", tt.text, w, end)
			}
			if !slices.Contains(got, w) {
				got = append(got, w)
			}
		})
		slices.Sort(got)
		if !slices.Equal(got, tt.want) {
			t.Errorf("scan(%q) = %v, want %v", tt.text, got, tt.want)
		}
	}
}
