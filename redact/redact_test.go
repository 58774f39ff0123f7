package redact

import (
	"strings"
	"sync"
	"testing"
)

func newRedactor(t testing.TB, extra ...string) *Redactor {
	t.Helper()
	r, err := New(Options{Extra: extra})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

// Fake credentials in the providers' shapes; none of them is real.
const (
	openaiKey    = "sk-abcdefghijklmnopqrstuvwxyz0123456789ABCD"
	openaiProj   = "sk-proj-Zx9_yW8-vU7tS6rQ5pO4nM3lK2jI1hG0fE"
	anthropicKey = "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz012345-_xyz"
	awsKeyID     = "AKIAIOSFODNN7EXAMPLE"
	awsSecret    = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	githubPAT    = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"
	githubFine   = "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"
	slackBot     = "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
	slackApp     = "xapp-1-A0123456789-1234567890123-abcdef0123456789"
	googleKey    = "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q"
	stripeKey    = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
	stripeRK     = "rk_live_51H8abcdefGHIJKLmnopQRST"
	jwt          = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
	traceID      = "4bf92f3577b34da6a3ce929d0e0e4736"
	spanID       = "00f067aa0ba902b7"
	uuid         = "123e4567-e89b-12d3-a456-426614174000"
)

func TestSessionString(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		// Provider keys.
		{"openai key", "calling with " + openaiKey + " now", "calling with [SECRET_1] now"},
		{"openai project key", "key=" + openaiProj, "key=[SECRET_1]"},
		{"anthropic key", "x-api-key: " + anthropicKey, "x-api-key: [SECRET_1]"},
		{"aws access key id", "id " + awsKeyID + ".", "id [SECRET_1]."},
		{"aws secret key-value", "aws_secret_access_key=" + awsSecret, "aws_secret_access_key=[SECRET_1]"},
		{"aws secret in ini with spaces", "aws_secret_access_key = " + awsSecret + "\n", "aws_secret_access_key = [SECRET_1]\n"},
		{"github classic token", "token " + githubPAT, "token [SECRET_1]"},
		{"github fine-grained token", githubFine + " expired", "[SECRET_1] expired"},
		{"slack bot token", "SLACK=" + slackBot, "SLACK=[SECRET_1]"},
		{"slack app token", slackApp, "[SECRET_1]"},
		{"google api key", "?key=" + googleKey + "&q=1", "?key=[SECRET_1]&q=1"},
		{"stripe secret key", stripeKey, "[SECRET_1]"},
		{"stripe restricted key", "use " + stripeRK, "use [SECRET_1]"},
		// Tokens.
		{"bearer token", "Authorization: Bearer abc.DEF-123_xyz~", "Authorization: Bearer [TOKEN_1]"},
		{"bearer lower case", "sent bearer 0123456789abcdefXYZ", "sent bearer [TOKEN_1]"},
		{"authorization basic", `"authorization": "Basic dXNlcjpwYXNzd29yZA=="`, `"authorization": "Basic [TOKEN_1]"`},
		{"jwt", "cookie session=" + jwt + ";", "cookie session=[TOKEN_1];"},
		{"jwt cut after payload", "tok eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIx", "tok [TOKEN_1]"},
		{"private key block", "k: -----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\nabc\n-----END RSA PRIVATE KEY----- done", "k: [SECRET_1] done"},
		{"private key block cut off", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk", "[SECRET_1]"},
		// Key-values.
		{"password equals", "login failed password=hunter22 user=bob", "login failed password=[SECRET_1] user=bob"},
		{"json api_key", `{"api_key":"abc123def","model":"m"}`, `{"api_key":"[SECRET_1]","model":"m"}`},
		{"json secret with spaces", `{"client_secret": "correct horse battery"}`, `{"client_secret": "[SECRET_1]"}`},
		{"escaped json password", `"{\"db_password\":\"s3cr3t!\"}"`, `"{\"db_password\":\"[SECRET_1]\"}"`},
		{"yaml secret", "secret: p4ssw0rd-value\nnext: 1", "secret: [SECRET_1]\nnext: 1"},
		{"single quoted token", "token='tok with space'", "token='[SECRET_1]'"},
		{"connection string", "dial postgres://app:Sup3rS3cret@db.internal:5432/orders failed", "dial postgres://[SECRET_1]@db.internal:5432/orders failed"},
		{"redis url", "redis://default:pw12345@cache:6379/0", "redis://[SECRET_1]@cache:6379/0"},
		// Personal data.
		{"email", "notify jane.doe+ops@example.co.uk please", "notify [EMAIL_1] please"},
		{"international phone", "call +44 20 7946 0958 now", "call [PHONE_1] now"},
		{"e164 phone", "sms to +14155550100.", "sms to [PHONE_1]."},
		{"us phone", "(415) 555-0100 or 415-555-0199", "[PHONE_1] or [PHONE_2]"},
		{"french phone", "tel 06 12 34 56 78", "tel [PHONE_1]"},
		{"uk national phone", "ring 020 7946 0958", "ring [PHONE_1]"},
		{"card spaced", "card 4111 1111 1111 1111 exp", "card [CARD_1] exp"},
		{"card dashed amex", "amex 3782-822463-10005", "amex [CARD_1]"},
		{"card plain", "pan=5555555555554444", "pan=[CARD_1]"},
		{"iban", "pay DE89 3704 0044 0532 0130 00 today", "pay [IBAN_1] today"},
		{"iban compact", "GB82WEST12345698765432", "[IBAN_1]"},
		{"card followed by a number", "card 4111 1111 1111 1111 1234", "card [CARD_1] 1234"},
		{"phone followed by a number", "+44 20 7946 0958 12345", "[PHONE_1] 12345"},
		{"authorization placeholder kept", "Authorization: Bearer [TOKEN_4]", "Authorization: Bearer [TOKEN_4]"},
		{"escaped json authorization", `{\"Authorization\":\"Bearer abcdefgh12345\"}`, `{\"Authorization\":\"Bearer [TOKEN_1]\"}`},
		// Consistency.
		{"same value same placeholder", openaiKey + " then " + openaiKey + " and a@b.io, a@b.io, c@d.io",
			"[SECRET_1] then [SECRET_1] and [EMAIL_1], [EMAIL_1], [EMAIL_2]"},
		// Near misses: left alone.
		{"trace and span ids", "trace_id=" + traceID + " span_id=" + spanID, "trace_id=" + traceID + " span_id=" + spanID},
		{"uuid", "run " + uuid + " failed", "run " + uuid + " failed"},
		{"all-digit uuid", "run 12345678-0123-4567-8901-123456789012", "run 12345678-0123-4567-8901-123456789012"},
		{"traceparent", "traceparent: 00-" + traceID + "-" + spanID + "-01", "traceparent: 00-" + traceID + "-" + spanID + "-01"},
		{"timestamps", "2024-05-01T12:30:45.123456789Z 1714566645123 1714566645123456789", "2024-05-01T12:30:45.123456789Z 1714566645123 1714566645123456789"},
		{"http codes and durations", "HTTP 429 after 1532ms, status=503, took 12.5s, 200 OK", "HTTP 429 after 1532ms, status=503, took 12.5s, 200 OK"},
		{"token counts", `"max_tokens": 4096, "prompt_tokens": 1234, token_count=5`, `"max_tokens": 4096, "prompt_tokens": 1234, token_count=5`},
		{"password flags", "password_reset_required: true, password: null, secret: false", "password_reset_required: true, password: null, secret: false"},
		{"short sk words", "task-runner sk-learn ask-me", "task-runner sk-learn ask-me"},
		{"digit runs", "order 1234567890123 id 98765 version 1.2.3 ip 10.0.0.12", "order 1234567890123 id 98765 version 1.2.3 ip 10.0.0.12"},
		{"luhn failure", "4111 1111 1111 1112", "4111 1111 1111 1112"},
		{"dates", "from 2024-01-15 to 01-02-2024 at 09 30 00", "from 2024-01-15 to 01-02-2024 at 09 30 00"},
		{"url without credentials", "GET https://api.example.com:8443/v1/chat", "GET https://api.example.com:8443/v1/chat"},
		{"already redacted", "password=[SECRET_9] key [SECRET_2]", "password=[SECRET_9] key [SECRET_2]"},
		{"bearer word alone", "requires a bearer token", "requires a bearer token"},
		{"empty", "", ""},
	}
	r := newRedactor(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := r.Session().String(tt.in)
			if got != tt.want {
				t.Errorf("String(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestRedactorStringIsStateless(t *testing.T) {
	r := newRedactor(t)
	in := "key " + openaiKey + " mail ops@example.com key " + openaiKey
	want := "key [SECRET] mail [EMAIL] key [SECRET]"
	for i := 0; i < 2; i++ {
		if got := r.String(in); got != want {
			t.Fatalf("String = %q, want %q", got, want)
		}
	}
}

func TestSessionNumbersAcrossCalls(t *testing.T) {
	s := newRedactor(t).Session()
	a := s.String("first " + githubPAT)
	b := s.String("other " + openaiKey + " again " + githubPAT)
	if a != "first [SECRET_1]" || b != "other [SECRET_2] again [SECRET_1]" {
		t.Fatalf("got %q and %q", a, b)
	}
	if got := s.Count(); got[Secret] != 2 {
		t.Errorf("Count = %v, want 2 secrets", got)
	}
	// A new session starts over.
	if got := newRedactor(t).Session().String(openaiKey); got != "[SECRET_1]" {
		t.Errorf("new session: %q", got)
	}
}

func TestSessionConcurrent(t *testing.T) {
	s := newRedactor(t).Session()
	keys := []string{openaiKey, githubPAT, slackBot, googleKey}
	var wg sync.WaitGroup
	results := make([][]string, 8)
	for g := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, k := range keys {
				results[g] = append(results[g], s.String(k))
			}
		}()
	}
	wg.Wait()
	for g := range results {
		for i := range keys {
			if results[g][i] != results[0][i] {
				t.Fatalf("goroutine %d got %q for key %d, goroutine 0 got %q", g, results[g][i], i, results[0][i])
			}
		}
	}
	if got := s.Count()[Secret]; got != len(keys) {
		t.Errorf("distinct secrets = %d, want %d", got, len(keys))
	}
}

func TestExtraPatterns(t *testing.T) {
	r := newRedactor(t, `\bACME-[0-9]{6}\b`, `internal-id=(\w+)`)
	got := r.Session().String("ticket ACME-123456 internal-id=zz9 ok")
	want := "ticket [SECRET_1] internal-id=[SECRET_2] ok"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestNewRejectsBadPatterns(t *testing.T) {
	_, err := New(Options{Extra: []string{`(`, ``, `a*`, `ok`}})
	if err == nil {
		t.Fatal("New accepted invalid patterns")
	}
	for _, want := range []string{"pattern 0", "pattern 1", "pattern 2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if strings.Contains(err.Error(), "pattern 3") {
		t.Errorf("error %q blames the valid pattern", err)
	}
}

func TestLargeInput(t *testing.T) {
	// A 2 MB tool output with a key buried in the middle.
	filler := strings.Repeat("lorem ipsum 12345 "+traceID+" dolor sit amet, ", 2<<20/60)
	in := filler + " " + openaiKey + " " + filler
	got := newRedactor(t).Session().String(in)
	if strings.Contains(got, openaiKey) {
		t.Fatal("key survived")
	}
	if !strings.Contains(got, "[SECRET_1]") || !strings.Contains(got, traceID) {
		t.Fatal("placeholder missing or trace id lost")
	}
}

func BenchmarkSessionString(b *testing.B) {
	r := newRedactor(b)
	text := strings.Repeat(`{"role":"tool","content":"fetched 20 rows for order 8812 in 132ms trace `+traceID+`"} `, 200) +
		"Authorization: Bearer " + jwt + " mail ops@example.com"
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		r.Session().String(text)
	}
}

func TestUnknownVendorKeys(t *testing.T) {
	r, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{
		"glsa_ZStondvOfx4SQWKJwIVipSHxIpxIGEyR_9518745e",
		"glpat-x8Yq2LmN4pR7sT1vW3zB",
		"hf_AbCdEfGhIjKlMnOpQrStUvWxYz012345",
		"tok_9fK2mQx7LpZr4VbN8sWd3YhJ6cTe", // no known prefix: caught by its randomness
	}
	for _, s := range secrets {
		out := r.String("use key " + s + " for the dashboard")
		if strings.Contains(out, s) {
			t.Errorf("%s not redacted: %s", s, out)
		}
	}
	keep := []string{
		"4bf92f3577b34da6a3ce929d0e0e4736",                      // trace id
		"550e8400-e29b-41d4-a716-446655440000",                  // uuid
		"claude-3-5-sonnet-20241022",                            // model name
		"CreateReturnLabelRequestHandler",                       // identifier
		"ai.generateText.doGenerate",                            // span name
		"services/checkout/internal/api/v2/handlers/refunds.go", // path
	}
	for _, s := range keep {
		if out := r.String("see " + s); !strings.Contains(out, s) {
			t.Errorf("%s should not be redacted: %s", s, out)
		}
	}
}
