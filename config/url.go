package config

import (
	"fmt"
	"log/slog"
	"strings"
)

// URL is an address setting (a base URL, an endpoint, a link template).
// Operators put credentials in URLs (https://user:password@host/), so a
// URL prints, logs and marshals with its user info masked
// (https://xxxxx@host/); Reveal hands the whole value to the one adapter
// that connects with it. Use it for every URL-valued setting.
type URL string

// maskedUserInfo replaces the user info of a URL. The user name goes too:
// it is often a token on its own (https://ghp_…@host).
const maskedUserInfo = "xxxxx"

// Reveal returns the URL as configured, credentials included.
func (u URL) Reveal() string { return string(u) }

// IsSet reports whether a value is configured.
func (u URL) IsSet() bool { return u != "" }

// String implements fmt.Stringer with the user info masked.
func (u URL) String() string { return MaskURL(string(u)) }

// GoString implements fmt.GoStringer, for %#v.
func (u URL) GoString() string { return fmt.Sprintf("%q", MaskURL(string(u))) }

// Format makes every verb print the masked URL.
func (u URL) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", MaskURL(string(u)))
		return
	}
	fmt.Fprint(f, MaskURL(string(u)))
}

// LogValue implements slog.LogValuer.
func (u URL) LogValue() slog.Value { return slog.StringValue(MaskURL(string(u))) }

// MarshalText masks the user info in JSON, YAML and text encodings.
func (u URL) MarshalText() ([]byte, error) { return []byte(MaskURL(string(u))), nil }

// UnmarshalText reads the value, so a URL can be loaded from YAML.
func (u *URL) UnmarshalText(b []byte) error { *u = URL(b); return nil }

// WithoutUserInfo returns the URL with its user info removed, for links
// built from it that people will see (trace UI links in Slack).
func (u URL) WithoutUserInfo() string {
	start, at, ok := userInfo(string(u))
	if !ok {
		return string(u)
	}
	return string(u)[:start] + string(u)[at+1:]
}

// MaskURL returns raw with any user info replaced by "xxxxx". It works on
// the text rather than on a parsed URL, so a value that does not parse
// (which a validation error is about to quote) is masked too.
func MaskURL(raw string) string {
	start, at, ok := userInfo(raw)
	if !ok {
		return raw
	}
	return raw[:start] + maskedUserInfo + raw[at:]
}

// userInfo finds the user info of raw: it starts after "scheme://" (or at
// the beginning when there is no scheme) and ends at the last "@" of the
// authority, which ends at the first "/", "?" or "#". ok is false when
// there is none.
func userInfo(raw string) (start, at int, ok bool) {
	if i := strings.Index(raw, "://"); i >= 0 {
		start = i + len("://")
	}
	authority := raw[start:]
	if end := strings.IndexAny(authority, "/?#"); end >= 0 {
		authority = authority[:end]
	}
	k := strings.LastIndexByte(authority, '@')
	if k < 0 {
		return 0, 0, false
	}
	return start, start + k, true
}
