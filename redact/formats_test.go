package redact

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// fake returns n characters of alphabet, random but the same on every
// run: values in a provider's format that are nobody's credential.
func fake(seed uint64, alphabet string, n int) string {
	rng := rand.New(rand.NewPCG(seed, 40))
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(b)
}

const (
	hexLower = "0123456789abcdef"
	alnum    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	lowerNum = "abcdefghijklmnopqrstuvwxyz0123456789"
	base32   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	bech32   = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"
	letters  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	urlSafe  = alnum + "-_"
)

// secretFormats are credentials and personal data in the formats their
// issuers document, each in a line as a trace or a log would carry it.
// The value is what must not survive redaction.
func secretFormats() []struct{ name, line, value string } {
	type f = struct{ name, line, value string }
	v := func(name, before, value, after string) f { return f{name, before + value + after, value} }
	return []f{
		// Model providers and the copilot's own ecosystem.
		v("openai project key", "OPENAI_API_KEY=", "sk-proj-"+fake(1, urlSafe, 58)+"T3BlbkFJ"+fake(2, urlSafe, 58), ""),
		v("openai legacy key", "using key ", "sk-"+fake(3, alnum, 20)+"T3BlbkFJ"+fake(4, alnum, 20), " for chat"),
		v("anthropic key", `{"x-api-key": "`, "sk-ant-api03-"+fake(5, urlSafe, 93)+"AA", `"}`),
		v("langsmith personal token", "tracer = LangChainTracer(client=Client(", "lsv2_pt_"+fake(6, hexLower, 32)+"_"+fake(7, hexLower, 10), "))"),
		v("langsmith service key", "client init with ", "lsv2_sk_"+fake(8, hexLower, 32)+"_"+fake(9, hexLower, 10), " failed"),
		v("hugging face token", "HF_TOKEN=", "hf_"+fake(10, letters, 34), ""),
		v("groq key", "key ", "gsk_"+fake(11, alnum, 52), ""),
		// Clouds and platforms.
		v("aws access key id", "aws_access_key_id = ", "AKIA"+fake(12, base32, 16), "\n"),
		v("aws secret access key", "aws_secret_access_key=", fake(13, alnum+"/+", 40), ""),
		v("databricks token", "POST /api/2.0/jobs/run-now with ", "dapi"+fake(14, hexLower, 32), " returned 403"),
		v("google api key", "?key=", "AIza"+fake(15, urlSafe, 35), "&q=1"),
		v("azure ad client secret", "client_secret: ", fake(16, alnum, 3)+"8Q~"+fake(17, alnum, 34), ""),
		v("digitalocean token", "DO_TOKEN=", "dop_v1_"+fake(18, hexLower, 64), ""),
		v("heroku token", "HEROKU_API_KEY=", "HRKU-AA"+fake(19, urlSafe, 58), ""),
		v("fly.io token", "FLY_API_TOKEN=", "fo1_"+fake(20, urlSafe, 43), ""),
		v("vault token", "VAULT_TOKEN=", "hvs."+fake(21, urlSafe, 96), ""),
		v("doppler token", "DOPPLER_TOKEN=", "dp.pt."+fake(22, alnum, 43), ""),
		v("pulumi token", "PULUMI_ACCESS_TOKEN=", "pul-"+fake(23, hexLower, 40), ""),
		// Code hosting and packages.
		v("github classic token", "token ", "ghp_"+fake(24, alnum, 36), ""),
		v("github oauth token", "Authorization: token ", "gho_"+fake(25, alnum, 36), ""),
		v("github fine-grained token", "", "github_pat_"+fake(26, alnum+"_", 82), " expired"),
		v("gitlab token", "PRIVATE-TOKEN: ", "glpat-"+fake(27, urlSafe, 20), ""),
		v("npm token", "//registry.npmjs.org/:_authToken=", "npm_"+fake(28, lowerNum, 36), ""),
		v("pypi token", "password = ", "pypi-AgEIcHlwaS5vcmc"+fake(29, urlSafe, 60), ""),
		// Messaging and SaaS.
		v("slack bot token", "SLACK_BOT_TOKEN=", "xoxb-"+fake(30, "0123456789", 12)+"-"+fake(31, "0123456789", 13)+"-"+fake(32, alnum, 24), ""),
		v("slack user token", "slack ", "xoxp-"+fake(33, "0123456789", 12)+"-"+fake(34, "0123456789", 12)+"-"+fake(35, "0123456789", 13)+"-"+fake(36, hexLower, 32), ""),
		v("slack webhook", "POST ", "https://hooks.slack.com/services/T"+fake(37, base32, 10)+"/B"+fake(38, base32, 10)+"/"+fake(39, alnum, 24), " 200"),
		v("sendgrid key", "mail client ", "SG."+fake(40, urlSafe, 22)+"."+fake(41, urlSafe, 43), " revoked"),
		v("mailgun key", "mailgun rejected ", "key-"+fake(42, hexLower, 32), " (401)"),
		v("twilio api key", "sid ", "SK"+fake(43, hexLower, 32), ""),
		v("stripe live key", "", "sk_live_"+fake(44, alnum, 24), ""),
		v("stripe restricted key", "use ", "rk_live_"+fake(45, alnum, 24), ""),
		v("shopify token", "X-Shopify-Access-Token: ", "shpat_"+fake(46, hexLower, 32), ""),
		v("linear key", "LINEAR_API_KEY=", "lin_api_"+fake(47, alnum, 40), ""),
		v("postman key", "x-api-key: ", "PMAK-"+fake(48, hexLower, 24)+"-"+fake(49, hexLower, 34), ""),
		v("notion token", "NOTION_TOKEN=", "ntn_"+fake(50, "0123456789", 11)+fake(51, alnum, 35), ""),
		v("grafana service account token", "GF_TOKEN=", "glsa_"+fake(52, alnum, 32)+"_"+fake(53, hexLower, 8), ""),
		v("new relic user key", "NEW_RELIC_API_KEY=", "NRAK-"+fake(54, base32, 27), ""),
		v("datadog api key", "datadog_api_key: ", fake(55, hexLower, 32), ""),
		v("age secret key", "", "AGE-SECRET-KEY-1"+fake(56, bech32, 58), ""),
		// Generic shapes.
		v("jwt", "cookie session=", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."+fake(57, urlSafe, 43), ";"),
		v("bearer token", "Authorization: Bearer ", fake(58, alnum, 40), ""),
		v("basic auth", `"authorization": "Basic `, "ZGVwbG95OnMzY3IzdC1wYXNz", `"`),
		v("password in url", "dial postgres://app:", "Sup3r-"+fake(59, alnum, 12), "@db.internal:5432/orders"),
		v("password key-value", "login failed password=", "hunter2-"+fake(60, alnum, 6), " user=bob"),
		v("private key", "k: ", "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA"+fake(61, alnum+"+/", 64)+"\n-----END RSA PRIVATE KEY-----", " done"),
		// Personal data.
		v("us ssn", "customer ssn ", "219-09-9999", " on file"),
		v("email", "notify ", "jane.doe+ops@example.co.uk", " please"),
		v("card", "card ", "4111 1111 1111 1111", " exp"),
		v("iban", "pay ", "DE89 3704 0044 0532 0130 00", " today"),
		v("phone", "call ", "+44 20 7946 0958", " now"),
	}
}

// TestSecretFormats is the recall side of the false-positive test
// (TestIdentifiersSurvive): every format, in its line, is hidden.
func TestSecretFormats(t *testing.T) {
	formats := secretFormats()
	if len(formats) < 40 {
		t.Fatalf("%d formats, want at least 40", len(formats))
	}
	r := newRedactor(t)
	for _, tt := range formats {
		t.Run(tt.name, func(t *testing.T) {
			got := r.Session().String(tt.line)
			if strings.Contains(got, tt.value) {
				t.Fatalf("not redacted: %q", got)
			}
			// Nothing of the value is left beside the placeholder.
			core := tt.value[len(tt.value)/3 : 2*len(tt.value)/3]
			if strings.Contains(got, core) {
				t.Errorf("part of the value survives: %q", got)
			}
		})
	}
}

// TestRuleSetCatchesNewFormats checks that the formats issue 18 found
// missing are caught by the rule set itself, not by the entropy
// fallback, and that every rule of gitleaks' configuration that applies
// to text compiles under Go's regexp.
func TestRuleSetCatchesNewFormats(t *testing.T) {
	ls, err := loadLeakSet()
	if err != nil {
		t.Fatal(err)
	}
	if len(ls.rules) < 200 {
		t.Errorf("%d rules loaded, want gitleaks' 217 text rules and ours", len(ls.rules))
	}
	for _, why := range ls.skipped {
		if !strings.Contains(why, "file paths only") {
			t.Errorf("rule skipped: %s", why)
		}
	}
	want := map[string]bool{"langsmith personal token": true, "langsmith service key": true, "sendgrid key": true, "databricks token": true, "mailgun key": true}
	for _, tt := range secretFormats() {
		if !want[tt.name] {
			continue
		}
		found := false
		for _, sp := range ls.spans(tt.line, asciiLower(tt.line)) {
			found = found || tt.line[sp.start:sp.end] == tt.value
		}
		if !found {
			t.Errorf("%s: the rule set does not find %q in %q", tt.name, tt.value, tt.line)
		}
	}
}

// TestSplitLeadFindsTheSameSecrets: rules whose leading lazy context is
// matched back by hand (splitLead) find the same secrets as gitleaks'
// whole pattern, on the format table and on real trace text.
func TestSplitLeadFindsTheSameSecrets(t *testing.T) {
	ls, err := loadLeakSet()
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, f := range secretFormats() {
		texts = append(texts, f.line, "my "+strings.ReplaceAll(f.line, "=", "_token = "))
	}
	fields, _ := traceStrings(t, 64<<10)
	texts = append(texts, fields...)
	sources := ruleSources(t)
	split, found := 0, 0
	for _, r := range ls.rules {
		if r.lead.max == 0 {
			continue
		}
		split++
		whole := r
		whole.re = regexp.MustCompile(sources[r.id])
		whole.lead = leadContext{}
		for _, s := range texts {
			got := r.findIn(s, 0, len(s), nil, ls.global)
			want := whole.findIn(s, 0, len(s), nil, ls.global)
			found += len(want)
			if len(got) != len(want) {
				t.Errorf("%s: %d findings, whole pattern %d, in %q", r.id, len(got), len(want), s)
				continue
			}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("%s: finding %q, whole pattern %q, in %q", r.id, s[got[i].start:got[i].end], s[want[i].start:want[i].end], s)
				}
			}
		}
	}
	if split < 50 {
		t.Errorf("%d rules split, want gitleaks' semi-generic rules (over 50)", split)
	}
	if found < 20 {
		t.Errorf("the whole patterns found %d secrets: the comparison proves little", found)
	}
	t.Logf("%d split rules, %d findings compared", split, found)
}

// ruleSources returns the patterns of gitleaks.toml by rule id.
func ruleSources(t *testing.T) map[string]string {
	t.Helper()
	b, err := ruleFiles.ReadFile("rules/gitleaks.toml")
	if err != nil {
		t.Fatal(err)
	}
	var f tomlRules
	if _, err := toml.Decode(string(b), &f); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range f.Rules {
		out[r.ID] = r.Regex
	}
	return out
}
