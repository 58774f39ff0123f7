package alerts

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SourceAuth configures how one source's webhooks authenticate. A source
// with HMACSecrets must sign its bodies and needs no bearer token unless
// Token is set too; a source without either uses Options.Token.
type SourceAuth struct {
	// Token is the bearer token this source presents in the
	// Authorization header, instead of Options.Token.
	Token string
	// HMACSecrets are signing secrets: a body signed (HMAC-SHA256) with
	// any of them is accepted, so a secret can be rotated without
	// dropping alerts.
	HMACSecrets []string
	// HMACHeader carries the signature; empty means the source's default
	// (X-PagerDuty-Signature for pagerduty, X-Grafana-Alerting-Signature
	// for grafana, X-Signature otherwise). The header holds hex digests,
	// bare or as "v1=<hex>" or "sha256=<hex>", several separated by
	// commas (PagerDuty sends one per secret while it rotates them).
	HMACHeader string
	// HMACTimestampHeader, when set, names a header holding a Unix time
	// in seconds that is signed with the body as "<timestamp>:<body>"
	// (Grafana's timestamp option) and must be within MaxSignatureAge of
	// now, which stops replays of old deliveries.
	HMACTimestampHeader string
	// Disabled turns the source's endpoint off: it answers 404.
	Disabled bool
}

// String describes the configuration without its secrets.
func (a SourceAuth) String() string {
	switch {
	case a.Disabled:
		return "disabled"
	case len(a.HMACSecrets) > 0 && a.Token != "":
		return fmt.Sprintf("hmac (%d secrets) and bearer token <secret>", len(a.HMACSecrets))
	case len(a.HMACSecrets) > 0:
		return fmt.Sprintf("hmac (%d secrets)", len(a.HMACSecrets))
	case a.Token != "":
		return "bearer token <secret>"
	}
	return "default"
}

// GoString keeps %#v from printing secrets.
func (a SourceAuth) GoString() string { return "alerts.SourceAuth{" + a.String() + "}" }

// MaxSignatureAge bounds the skew between a signed timestamp and now.
const MaxSignatureAge = 5 * time.Minute

// defaultSignatureHeader is the header a source signs in unless
// configured otherwise.
func defaultSignatureHeader(source string) string {
	switch source {
	case "pagerduty":
		return "X-PagerDuty-Signature"
	case "grafana":
		return "X-Grafana-Alerting-Signature"
	}
	return "X-Signature"
}

// sourceAuth is one source's resolved authentication.
type sourceAuth struct {
	token    string
	secrets  [][]byte
	header   string
	tsHeader string
}

func resolveAuth(source string, a SourceAuth, defaultToken string) sourceAuth {
	r := sourceAuth{token: a.Token, header: a.HMACHeader, tsHeader: a.HMACTimestampHeader}
	for _, s := range a.HMACSecrets {
		r.secrets = append(r.secrets, []byte(s))
	}
	if r.token == "" && len(r.secrets) == 0 {
		r.token = defaultToken
	}
	if r.header == "" {
		r.header = defaultSignatureHeader(source)
	}
	return r
}

func (a sourceAuth) none() bool { return a.token == "" && len(a.secrets) == 0 }

// bearerOK checks the Authorization header in constant time.
func (a sourceAuth) bearerOK(r *http.Request) bool {
	if a.token == "" {
		return true
	}
	const prefix = "Bearer "
	got := r.Header.Get("Authorization")
	if len(got) < len(prefix) || !strings.EqualFold(got[:len(prefix)], prefix) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(got[len(prefix):]), []byte(a.token)) == 1
}

// signatureOK checks the body's HMAC signature against every secret; any
// match passes.
func (a sourceAuth) signatureOK(h http.Header, body []byte, now time.Time) bool {
	if len(a.secrets) == 0 {
		return true
	}
	msg := body
	if a.tsHeader != "" {
		ts := strings.TrimSpace(h.Get(a.tsHeader))
		sec, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			return false
		}
		if age := now.Sub(time.Unix(sec, 0)); age > MaxSignatureAge || age < -MaxSignatureAge {
			return false
		}
		msg = append([]byte(ts+":"), body...)
	}
	var given [][]byte
	for _, v := range h.Values(a.header) {
		for _, part := range strings.Split(v, ",") {
			part = strings.TrimSpace(part)
			if i := strings.IndexByte(part, '='); i >= 0 {
				part = part[i+1:] // "v1=", "sha256="
			}
			if sig, err := hex.DecodeString(part); err == nil && len(sig) == sha256.Size {
				given = append(given, sig)
			}
		}
	}
	ok := false
	for _, secret := range a.secrets {
		mac := hmac.New(sha256.New, secret)
		mac.Write(msg)
		want := mac.Sum(nil)
		for _, sig := range given {
			// Keep comparing after a match so timing does not tell
			// which secret or signature matched.
			if hmac.Equal(sig, want) {
				ok = true
			}
		}
	}
	return ok
}
