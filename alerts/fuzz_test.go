package alerts

import (
	"errors"
	"testing"
)

// Seed corpora live in testdata/fuzz/<FuzzName>/: every documented payload
// of the source and a few broken ones. Run one with, for example,
// go test ./alerts -run '^$' -fuzz '^FuzzDecodeGrafana$' -fuzztime 30s

// fuzzDecoder checks what the handler relies on for any body: the decoder
// does not panic, fails only with an InputError (400 naming the field) or
// an IgnoredError (200), and a decoded notification is complete and can
// be stored as a job.
func fuzzDecoder(f *testing.F, decode Decoder) {
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := decode(body, received)
		if err != nil {
			var in *InputError
			var ignored *IgnoredError
			if !errors.As(err, &in) && !errors.As(err, &ignored) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		checkInvariants(t, n)
	})
}

func FuzzDecodeAlertmanager(f *testing.F) { fuzzDecoder(f, DecodeAlertmanager) }
func FuzzDecodeGrafana(f *testing.F)      { fuzzDecoder(f, DecodeGrafana) }
func FuzzDecodePagerDuty(f *testing.F)    { fuzzDecoder(f, DecodePagerDuty) }
func FuzzDecodeLangSmith(f *testing.F)    { fuzzDecoder(f, DecodeLangSmith) }
func FuzzDecodeGeneric(f *testing.F) {
	decode, err := NewGenericDecoder(GenericMapping{})
	if err != nil {
		f.Fatal(err)
	}
	fuzzDecoder(f, decode)
}

// FuzzParseMatchers checks the matcher parser never panics and that a
// parsed matcher prints back to text that parses to the same matcher.
func FuzzParseMatchers(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		ms, err := ParseMatchers(s)
		if err != nil {
			return
		}
		for _, m := range ms {
			back, err := ParseMatcher(m.String())
			if err != nil {
				t.Fatalf("%q parsed from %q does not parse back: %v", m.String(), s, err)
			}
			if back.Name != m.Name || back.Type != m.Type || back.Value != m.Value {
				t.Fatalf("round trip of %q: %+v became %+v", s, m, back)
			}
			for _, v := range []string{"", m.Value, "critical"} {
				if back.Matches(v) != m.Matches(v) {
					t.Fatalf("round trip of %q changed Matches(%q)", s, v)
				}
			}
		}
	})
}
