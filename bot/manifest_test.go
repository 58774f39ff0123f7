package bot

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestManifestsAskForTheScopesTheCodeUses keeps the app manifests in
// slack/ and the code's Scopes and BotEvents equal: a scope the code
// needs and the manifest lacks is a missing_scope in production; one the
// code does not need is a permission asked for nothing.
func TestManifestsAskForTheScopesTheCodeUses(t *testing.T) {
	tests := []struct {
		file   string
		socket bool
	}{
		{"manifest.socket-mode.yaml", true},
		{"manifest.events-api.yaml", false},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("..", "slack", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			var m struct {
				OAuth struct {
					Scopes struct {
						Bot []string `yaml:"bot"`
					} `yaml:"scopes"`
				} `yaml:"oauth_config"`
				Settings struct {
					Events struct {
						RequestURL string   `yaml:"request_url"`
						BotEvents  []string `yaml:"bot_events"`
					} `yaml:"event_subscriptions"`
					Interactivity struct {
						Enabled    bool   `yaml:"is_enabled"`
						RequestURL string `yaml:"request_url"`
					} `yaml:"interactivity"`
					SocketMode bool `yaml:"socket_mode_enabled"`
				} `yaml:"settings"`
			}
			if err := yaml.Unmarshal(b, &m); err != nil {
				t.Fatalf("parse %s: %v", tt.file, err)
			}
			scopes := slices.Sorted(slices.Values(m.OAuth.Scopes.Bot))
			if !slices.Equal(scopes, ScopeNames()) {
				t.Errorf("manifest scopes %v, the code uses %v", scopes, ScopeNames())
			}
			events := slices.Sorted(slices.Values(m.Settings.Events.BotEvents))
			if want := slices.Sorted(slices.Values(BotEvents)); !slices.Equal(events, want) {
				t.Errorf("manifest events %v, the code handles %v", events, want)
			}
			if m.Settings.SocketMode != tt.socket || !m.Settings.Interactivity.Enabled {
				t.Errorf("socket mode %v, interactivity %v", m.Settings.SocketMode, m.Settings.Interactivity.Enabled)
			}
			if !tt.socket && (m.Settings.Events.RequestURL == "" || m.Settings.Interactivity.RequestURL == "") {
				t.Error("the Events API manifest lacks its request URLs")
			}
		})
	}
}
