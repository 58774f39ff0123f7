package redact

import (
	"bufio"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// readNames reads a corpus of names, one a line, skipping # comments.
func readNames(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestIdentifiersSurvive is the false-positive side of the recall test
// (TestSecretFormats): real alert rule names and span names are what
// on-call reads, and none may be redacted, alone or where the copilot
// shows them (a Slack title, a label, a span line of the prompt).
func TestIdentifiersSurvive(t *testing.T) {
	alerts := readNames(t, "testdata/alert-names.txt")
	spans := readNames(t, "testdata/span-names.txt")
	if len(alerts)+len(spans) < 200 {
		t.Fatalf("corpus has %d names, want at least 200", len(alerts)+len(spans))
	}
	// The names the issue reported as posted as [SECRET].
	names := append([]string{"CheckoutAPILatencyP99High", "AgentRunFailuresSpikeStorm01"}, alerts...)
	names = append(names, spans...)
	r := newRedactor(t)
	contexts := []string{"%s", "🔴 *%s*", "alertname=%s severity=critical", `{"name":"%s","status":"error"}`, "span %s failed after 3 retries"}
	redacted := 0
	for _, name := range names {
		for _, c := range contexts {
			in := strings.Replace(c, "%s", name, 1)
			if got := r.String(in); got != in {
				redacted++
				t.Errorf("identifier redacted: %q -> %q", in, got)
				break
			}
		}
	}
	t.Logf("%d names (%d alert rules, %d spans), %d redacted", len(names), len(alerts), len(spans), redacted)
	// After a credential keyword the entropy detector lowers its bar,
	// but a name made of words still reads as a name.
	if in := "auth: ServiceAccountTokenExpired2024"; r.String(in) != in {
		t.Errorf("identifier after a keyword redacted: %q", r.String(in))
	}
}

// TestRandomKeysStillCaught is the recall side of the entropy detector:
// keys of unknown vendors, random base62 with no prefix, are still
// hidden, nearly always on their own and more often after a credential
// keyword.
func TestRandomKeysStillCaught(t *testing.T) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	rng := rand.New(rand.NewPCG(18, 9))
	r := newRedactor(t)
	const n = 1000
	bare, keyed := 0, 0
	for range n {
		b := make([]byte, 32)
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		key := string(b)
		if !strings.Contains(r.String("upstream rejected "+key+" today"), key) {
			bare++
		}
		if !strings.Contains(r.String("use key "+key+" for the dashboard"), key) {
			keyed++
		}
	}
	t.Logf("random 32-character keys hidden: %d of %d alone, %d of %d after a keyword", bare, n, keyed, n)
	if bare < n*85/100 {
		t.Errorf("%d of %d random keys hidden on their own, want at least 85%%", bare, n)
	}
	if keyed < n*95/100 {
		t.Errorf("%d of %d random keys hidden after a keyword, want at least 95%%", keyed, n)
	}
}
