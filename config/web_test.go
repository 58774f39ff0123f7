package config

import (
	"strings"
	"testing"
	"time"
)

func TestWebFromYAML(t *testing.T) {
	cfg, err := Load("testdata/web-good.yaml", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	w := cfg.Web
	if w.Mode() != WebAuthToken || len(w.Keys()) != 2 || !strings.HasPrefix(w.Keys()[0], "new-key") || w.TTL() != 7*24*time.Hour {
		t.Errorf("web = mode %q, %d keys, ttl %s; want token, 2 keys with the new one first, 168h", w.Mode(), len(w.Keys()), w.TTL())
	}
	if d := cfg.Dump(); strings.Contains(d, "0123456789abcdef") {
		t.Errorf("the dump shows a signing key:\n%s", d)
	}
}

func TestWebFromEnv(t *testing.T) {
	cfg, err := Load("", env(map[string]string{
		"PUBLIC_URL":      "https://oncall.example.com/",
		"WEB_SIGNING_KEY": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if got := cfg.Web.Keys(); len(got) != 2 || got[1] != strings.Repeat("b", 32) {
		t.Errorf("keys = %d, want the two comma-separated keys, trimmed", len(got))
	}
	if cfg.Web.TTL() != 30*24*time.Hour {
		t.Errorf("default link TTL = %s, want 30 days", cfg.Web.TTL())
	}
}

func TestWebOffByDefault(t *testing.T) {
	cfg := Default()
	if cfg.Web.Mode() != "" {
		t.Fatalf("pages are %q by default, want off", cfg.Web.Mode())
	}
	cfg.Web.Auth = WebAuthProxy
	if err := cfg.Validate(); err != nil || cfg.Web.Mode() != WebAuthProxy {
		t.Fatalf("proxy auth: mode %q, %v", cfg.Web.Mode(), err)
	}
}

func TestWebBadValues(t *testing.T) {
	cfg, err := Load("testdata/web-bad.yaml", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.Validate()
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{"web.public_url: must be an http(s) URL", "web.auth: must be token or proxy", "web.signing_keys: key 1 is shorter", "web.link_ttl:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "too-short") {
		t.Error("the error shows the key")
	}
	for name, w := range map[string]Web{
		"public url without access": {PublicURL: "https://x.example"},
		"token without keys":        {Auth: WebAuthToken},
	} {
		c := Default()
		c.Web = w
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "web.") {
			t.Errorf("%s: Validate = %v, want a web error", name, err)
		}
	}
}
