package incidentpage

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// MinKeyBytes is the shortest signing key accepted.
const MinKeyBytes = 32

// Signer makes and checks the tokens that page links carry: an expiry and
// an HMAC-SHA256 of the page's scope and that expiry. The first key signs;
// every key verifies, so a key can be rotated out after its links expire.
// A Signer is safe for concurrent use. Tokens are secrets: never log them.
type Signer struct {
	keys [][]byte
}

// NewSigner returns a Signer over keys, the first of which signs. Each key
// must have at least MinKeyBytes bytes.
func NewSigner(keys []string) (*Signer, error) {
	if len(keys) == 0 {
		return nil, errors.New("incident page: a signing key is required")
	}
	s := &Signer{}
	for i, k := range keys {
		if len(k) < MinKeyBytes {
			return nil, errors.New("incident page: signing key " + strconv.Itoa(i+1) + " is shorter than 32 bytes")
		}
		s.keys = append(s.keys, []byte(k))
	}
	return s, nil
}

// Sign returns a token for scope valid until exp.
func (s *Signer) Sign(scope string, exp time.Time) string {
	e := strconv.FormatInt(exp.Unix(), 36)
	return e + "." + base64.RawURLEncoding.EncodeToString(mac(s.keys[0], scope, e))
}

// Valid reports whether token was signed by one of the keys for scope and
// has not expired at now. It compares in constant time.
func (s *Signer) Valid(scope, token string, now time.Time) bool {
	e, sig, ok := strings.Cut(token, ".")
	if !ok || len(e) > 13 || len(sig) > 64 {
		return false
	}
	exp, err := strconv.ParseInt(e, 36, 64)
	if err != nil || !now.Before(time.Unix(exp, 0)) {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return false
	}
	valid := false
	for _, k := range s.keys {
		if hmac.Equal(got, mac(k, scope, e)) {
			valid = true
		}
	}
	return valid
}

// IncidentPath returns the path of the page of the incident under key,
// with a token valid until exp.
func (s *Signer) IncidentPath(key string, exp time.Time) string {
	return "/incidents/" + url.PathEscape(key) + "?t=" + url.QueryEscape(s.Sign(incidentScope(key), exp))
}

// ListPath returns the path of the list of recent incidents, with a
// token valid until exp.
func (s *Signer) ListPath(exp time.Time) string {
	return "/incidents?t=" + url.QueryEscape(s.Sign(listScope, exp))
}

// expiry returns when a valid token expires.
func (s *Signer) expiry(token string) time.Time {
	e, _, _ := strings.Cut(token, ".")
	exp, _ := strconv.ParseInt(e, 36, 64)
	return time.Unix(exp, 0)
}

func mac(key []byte, scope, exp string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("oncall-copilot incident page v1\x00"))
	m.Write([]byte(scope))
	m.Write([]byte{0})
	m.Write([]byte(exp))
	return m.Sum(nil)
}
