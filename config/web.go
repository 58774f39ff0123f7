package config

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Web configures the incident pages. They are off unless people can be
// let in: with signing keys, links carry an expiring signed token; with
// auth "proxy", the operator's authenticating proxy in front of the
// server decides who reaches them.
type Web struct {
	// PublicURL is the address people reach the server at; Slack
	// messages link to the pages under it when it is set.
	PublicURL string `yaml:"public_url"`
	// Auth is "token" (the default when signing keys are set) or
	// "proxy".
	Auth string `yaml:"auth"`
	// SigningKeys sign page links, the first signs and all verify, so a
	// key can be rotated out once its links expired. WEB_SIGNING_KEY
	// holds them comma-separated. At least 32 bytes each.
	SigningKeys []Secret `yaml:"signing_keys"`
	// LinkTTL is how long a signed link works; default 30 days.
	LinkTTL Duration `yaml:"link_ttl"`
}

// Web access modes.
const (
	WebAuthToken = "token"
	WebAuthProxy = "proxy"
)

// minSigningKey is the shortest signing key accepted, in bytes.
const minSigningKey = 32

// Mode returns how the pages are reached: "token", "proxy", or "" when
// they are off.
func (w Web) Mode() string {
	switch {
	case w.Auth != "":
		return w.Auth
	case len(w.SigningKeys) > 0:
		return WebAuthToken
	}
	return ""
}

// Keys returns the signing keys' values, the signing one first.
func (w Web) Keys() []string {
	out := make([]string, 0, len(w.SigningKeys))
	for _, k := range w.SigningKeys {
		out = append(out, k.Reveal())
	}
	return out
}

// TTL returns how long a signed link works.
func (w Web) TTL() time.Duration {
	if w.LinkTTL.D() <= 0 {
		return 30 * 24 * time.Hour
	}
	return w.LinkTTL.D()
}

func signingKeys(p *[]Secret) func(string) error {
	return func(v string) error {
		*p = nil
		for _, k := range strings.Split(v, ",") {
			if k = strings.TrimSpace(k); k != "" {
				*p = append(*p, Secret(k))
			}
		}
		return nil
	}
}

func (w Web) validate() []error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("web.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	switch w.Auth {
	case "", WebAuthProxy:
	case WebAuthToken:
		if len(w.SigningKeys) == 0 {
			bad("signing_keys", "must be set when web.auth is token (WEB_SIGNING_KEY)")
		}
	default:
		bad("auth", "must be token or proxy, got %q", w.Auth)
	}
	for i, k := range w.SigningKeys {
		if len(k.Reveal()) < minSigningKey {
			bad("signing_keys", "key %d is shorter than %d bytes", i+1, minSigningKey)
		}
	}
	if w.PublicURL != "" {
		checkURL(&errs, "web.public_url", URL(w.PublicURL))
		if w.Mode() == "" {
			errs = append(errs, errors.New("web.public_url: the incident pages are off: set web.signing_keys (WEB_SIGNING_KEY) or web.auth: proxy"))
		}
	}
	if w.LinkTTL.D() < 0 || w.LinkTTL.D() > 366*24*time.Hour {
		bad("link_ttl", "must be between 0 (30 days) and a year, got %s", w.LinkTTL.D())
	}
	return errs
}
