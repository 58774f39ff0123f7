package config

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

const panicSecret = "sk-proj-panicking0123456789abcdefABCDEF"

// TestSecretsNeverPrintInPanics crashes a child process with secrets in
// the panic value, as an unrecovered panic prints it, and recovers one as
// the worker pool does (fmt.Sprint of the value): neither shows them.
func TestSecretsNeverPrintInPanics(t *testing.T) {
	if what := os.Getenv("CONFIG_TEST_PANIC"); what != "" {
		cfg := Default()
		cfg.Model.APIKey = Secret(panicSecret)
		switch what {
		case "secret":
			panic(cfg.Model.APIKey)
		case "config":
			panic(cfg)
		case "error":
			panic(fmt.Errorf("calling the model with %v: %w", cfg.Model.APIKey, errors.New("refused")))
		}
		return
	}
	for _, what := range []string{"secret", "config", "error"} {
		t.Run(what, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestSecretsNeverPrintInPanics$")
			cmd.Env = append(os.Environ(), "CONFIG_TEST_PANIC="+what)
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), "panic:") {
				t.Fatalf("the child did not panic: %v\n%s", err, out)
			}
			if strings.Contains(string(out), panicSecret) {
				t.Errorf("the panic printed the secret:\n%s", out)
			}
		})
	}
	recovered := func() (r any) {
		defer func() { r = recover() }()
		cfg := Default()
		cfg.Slack.BotToken = Secret(panicSecret)
		panic(cfg)
	}()
	if s := fmt.Sprint(recovered); strings.Contains(s, panicSecret) {
		t.Errorf("a recovered panic prints the secret: %s", s)
	}
}
