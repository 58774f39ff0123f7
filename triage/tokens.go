package triage

import (
	"math"
	"strings"
	"sync"
	"unicode/utf8"

	tiktoken "github.com/pkoukk/tiktoken-go"
	tiktoken_loader "github.com/pkoukk/tiktoken-go-loader"
)

// TokenCounter counts the tokens a model would see in a text. Counters are
// safe for concurrent use.
type TokenCounter interface {
	Count(s string) int
}

// NewTokenCounter returns the counter for a model: OpenAI's own tokenizer
// (o200k_base for the gpt-4o, gpt-4.1, gpt-5 and o-series families,
// cl100k_base for gpt-4 and gpt-3.5) when the model is one of OpenAI's, or
// a conservative estimate for every other model, whose tokenizers we do
// not ship. It never touches the network: the tokenizer tables are
// compiled into the binary.
func NewTokenCounter(model string) TokenCounter {
	name := encodingFor(model)
	if name == "" {
		return estimateCounter{}
	}
	enc, err := encoding(name)
	if err != nil {
		// The embedded tables failed to load; an estimate still keeps the
		// prompt under budget.
		return estimateCounter{}
	}
	return tiktokenCounter{enc}
}

// encodingFor names the tiktoken encoding of an OpenAI model, or "".
func encodingFor(model string) string {
	m := strings.ToLower(strings.TrimSpace(model))
	if i := strings.LastIndexByte(m, '/'); i >= 0 {
		m = m[i+1:] // gateway names such as openai/gpt-4o
	}
	for _, p := range []string{"gpt-4o", "chatgpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4"} {
		if strings.HasPrefix(m, p) {
			return "o200k_base"
		}
	}
	for _, p := range []string{"gpt-4", "gpt-3.5", "text-embedding-3", "text-embedding-ada"} {
		if strings.HasPrefix(m, p) {
			return "cl100k_base"
		}
	}
	return ""
}

// The tiktoken library keeps its table loader in a package variable, and
// building an encoder from the tables takes a few hundred milliseconds.
// Both are done once per process here: the loader is pointed at the
// embedded tables (the default one downloads them), and each encoder,
// immutable and safe for concurrent use once built, is shared by every
// counter. This is the only process-wide state of the package.
var (
	offlineLoader sync.Once
	encoders      = map[string]func() (*tiktoken.Tiktoken, error){
		"o200k_base":  sync.OnceValues(func() (*tiktoken.Tiktoken, error) { return loadEncoding("o200k_base") }),
		"cl100k_base": sync.OnceValues(func() (*tiktoken.Tiktoken, error) { return loadEncoding("cl100k_base") }),
	}
)

func encoding(name string) (*tiktoken.Tiktoken, error) { return encoders[name]() }

func loadEncoding(name string) (*tiktoken.Tiktoken, error) {
	offlineLoader.Do(func() { tiktoken.SetBpeLoader(tiktoken_loader.NewOfflineLoader()) })
	return tiktoken.GetEncoding(name)
}

// maxExactCount is the longest text counted exactly; tiktoken's regexp
// engine runs at about a megabyte a second, and callers should cut long
// texts before counting anyway.
const maxExactCount = 256 << 10

type tiktokenCounter struct{ enc *tiktoken.Tiktoken }

// Count tokenizes s as ordinary text: special-token markers inside trace
// content are data, not control tokens.
func (c tiktokenCounter) Count(s string) int {
	if len(s) > maxExactCount {
		return estimateCounter{}.Count(s)
	}
	return len(c.enc.EncodeOrdinary(s))
}

// estimateCounter over-counts on purpose: a budget that is a little too
// tight costs some evidence, one that is too loose costs the call. It
// takes the larger of two estimates. One is a token per 3.5 characters,
// which covers English prose for every common tokenizer. The other counts
// the pieces tokenizers split text into, which is what ids, JSON and
// markup cost: a token per 6 letters of a word, per 2 digits of a number,
// per punctuation mark, per run of whitespace beyond one space, and per
// non-ASCII rune (other scripts are often a token a character or more).
type estimateCounter struct{}

func (estimateCounter) Count(s string) int {
	chars, pieces := 0, 0
	run, runKind := 0, 0 // length and kind of the current letter or digit run
	const letters, digits = 1, 2
	flush := func() {
		switch runKind {
		case letters:
			pieces += (run + 5) / 6
		case digits:
			pieces += (run + 1) / 2
		}
		run, runKind = 0, 0
	}
	spaces := 0 // length of the current whitespace run
	endSpaces := func() {
		// A single space rides with the next word; a longer run, such
		// as indentation, is a token of its own.
		if spaces > 1 {
			pieces += 1 + (spaces-1)/16
		}
		spaces = 0
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			_, size := utf8.DecodeRuneInString(s[i:])
			i += size
			flush()
			endSpaces()
			pieces++
			chars++
			continue
		}
		i++
		chars++
		kind := 0
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			kind = letters
		case c >= '0' && c <= '9':
			kind = digits
		}
		if kind != runKind {
			flush()
		}
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			spaces++
			continue
		}
		endSpaces()
		if kind != 0 {
			run, runKind = run+1, kind
			continue
		}
		pieces++
	}
	endSpaces()
	flush()
	return max(pieces, int(math.Ceil(float64(chars)/3.5)))
}
