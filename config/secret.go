package config

import (
	"fmt"
	"log/slog"
)

// Secret is a credential. It prints, logs and marshals as "<secret>" (or
// "" when empty), so a config dump, a log line, an error or a panic
// cannot carry it; Reveal hands the value to the one adapter that needs it.
type Secret string

const masked = "<secret>"

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// IsSet reports whether a value is configured.
func (s Secret) IsSet() bool { return s != "" }

func (s Secret) mask() string {
	if s == "" {
		return ""
	}
	return masked
}

// String implements fmt.Stringer.
func (s Secret) String() string { return s.mask() }

// GoString implements fmt.GoStringer, for %#v.
func (s Secret) GoString() string { return fmt.Sprintf("%q", s.mask()) }

// Format makes every verb, %s %v %q %x %d alike, print the mask.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", s.mask())
		return
	}
	fmt.Fprint(f, s.mask())
}

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.mask()) }

// MarshalText masks the secret in JSON, YAML and text encodings.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.mask()), nil }

// UnmarshalText reads the value, so a secret can be loaded from YAML.
func (s *Secret) UnmarshalText(b []byte) error { *s = Secret(b); return nil }
