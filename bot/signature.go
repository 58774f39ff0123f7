package bot

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SignatureWindow is how far a request's timestamp may be from now, in
// either direction, for its signature to count. Slack's own guidance.
const SignatureWindow = 5 * time.Minute

// Errors of VerifySignature. Requests that fail verification are answered
// 401 and not processed.
var (
	ErrBadSignature = errors.New("slack signature missing or invalid")
	ErrStaleRequest = errors.New("slack request timestamp outside the allowed window")
)

// VerifySignature checks that a request comes from Slack: its
// X-Slack-Signature must be "v0=" and the hex HMAC-SHA256, keyed with the
// signing secret, of "v0:" + X-Slack-Request-Timestamp + ":" + the raw
// body, and the timestamp must be within SignatureWindow of now. The
// comparison takes constant time. It returns an error wrapping
// ErrBadSignature or ErrStaleRequest.
func VerifySignature(secret string, h http.Header, body []byte, now time.Time) error {
	_, err := verifySignature(secret, h, body, now)
	return err
}

// verifySignature is VerifySignature that also returns the request's
// canonical signature: "v0=" and the lower-case hex of the HMAC we
// computed. Hex decoding accepts either case and the header may carry
// spaces, so many spellings of the header verify; the replay check keys
// on this one instead of the header as sent.
func verifySignature(secret string, h http.Header, body []byte, now time.Time) (string, error) {
	if secret == "" {
		return "", fmt.Errorf("%w: no signing secret configured", ErrBadSignature)
	}
	tsHeader := strings.TrimSpace(h.Get("X-Slack-Request-Timestamp"))
	sigHeader := strings.TrimSpace(h.Get("X-Slack-Signature"))
	if tsHeader == "" || sigHeader == "" {
		return "", fmt.Errorf("%w: signature or timestamp header missing", ErrBadSignature)
	}
	ts, err := strconv.ParseInt(tsHeader, 10, 64)
	if err != nil {
		return "", fmt.Errorf("%w: timestamp is not a number", ErrBadSignature)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > SignatureWindow || d < -SignatureWindow {
		return "", fmt.Errorf("%w: timestamp is %s away from now", ErrStaleRequest, d.Round(time.Second))
	}
	hexSig, ok := strings.CutPrefix(sigHeader, "v0=")
	if !ok {
		return "", fmt.Errorf("%w: unknown signature version", ErrBadSignature)
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return "", fmt.Errorf("%w: signature is not hex", ErrBadSignature)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + tsHeader + ":"))
	mac.Write(body)
	want := mac.Sum(nil)
	if !hmac.Equal(got, want) {
		return "", fmt.Errorf("%w: signature does not match", ErrBadSignature)
	}
	return "v0=" + hex.EncodeToString(want), nil
}
