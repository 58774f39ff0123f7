package triage

import (
	"strings"
	"sync"
	"testing"
)

func TestNewTokenCounter(t *testing.T) {
	tests := []struct {
		model    string
		tiktoken bool
		text     string
		want     int
	}{
		{"gpt-4o", true, "hello world", 2},
		{"openai/gpt-4o-mini", true, "hello world", 2},
		{"gpt-4", true, "hello world", 2},
		{"o3-mini", true, "hello world", 2},
		{"gpt-5", true, "", 0},
		{"claude-sonnet-4", false, "abcdefg", 2},     // 7 / 3.5
		{"llama3.1:8b", false, "abcdefgh", 3},        // 8 / 3.5, rounded up
		{"", false, "日本語", 3},                        // a token per non-ASCII rune
		{"mistral-large", false, "ab日本", 3},          // 1 + 2
		{"gpt-4o", true, "<|endoftext|> is text", 9}, // special markers are ordinary text
	}
	for _, tt := range tests {
		t.Run(tt.model+"/"+tt.text, func(t *testing.T) {
			c := NewTokenCounter(tt.model)
			if _, ok := c.(tiktokenCounter); ok != tt.tiktoken {
				t.Fatalf("counter %T, want tiktoken %v", c, tt.tiktoken)
			}
			if got := c.Count(tt.text); got != tt.want {
				t.Errorf("Count(%q) = %d, want %d", tt.text, got, tt.want)
			}
		})
	}
}

// The estimate must not undercount what OpenAI's tokenizers count for the
// kinds of text evidence is made of.
func TestEstimateIsConservative(t *testing.T) {
	texts := []string{
		strings.Repeat("The tool call failed because the upstream service timed out. ", 20),
		`{"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","status":"error","duration_ms":30012}`,
		"  - tool \"lookup_order\" span=00f067aa0ba902b7 +4.13s 30.01s ERROR http=504\n      error: timeout after 30s\n",
		strings.Repeat("<div class=\"x\">lorem ipsum</div>", 30),
	}
	for _, model := range []string{"gpt-4o", "gpt-4"} {
		exact := NewTokenCounter(model)
		for _, s := range texts {
			if e, x := (estimateCounter{}).Count(s), exact.Count(s); e < x {
				t.Errorf("%s: estimate %d < %d for %.40q", model, e, x, s)
			}
		}
	}
}

func TestTokenCounterConcurrent(t *testing.T) {
	c := NewTokenCounter("gpt-4o")
	want := c.Count("concurrent counting of the same text")
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 20; k++ {
				if got := c.Count("concurrent counting of the same text"); got != want {
					t.Errorf("Count = %d, want %d", got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestLongTextIsEstimated(t *testing.T) {
	s := strings.Repeat("a", maxExactCount+1)
	if got, want := NewTokenCounter("gpt-4o").Count(s), (estimateCounter{}).Count(s); got != want {
		t.Errorf("Count of a long text = %d, want the estimate %d", got, want)
	}
}
