package config

import (
	"fmt"
	"slices"
	"time"

	"github.com/oncall-copilot/oncall-copilot/alerts"
)

// Webhooks configures alert intake beyond the shared WEBHOOK_TOKEN.
type Webhooks struct {
	// Sources set per-source authentication: a token of its own, or HMAC
	// signing secrets (PagerDuty, Grafana), or disabled.
	Sources map[string]WebhookSource `yaml:"sources"`
	// GenericMapping maps fields of /webhooks/generic payloads; unset
	// paths keep the defaults (Datadog, New Relic, common names).
	GenericMapping *alerts.GenericMapping `yaml:"generic_mapping"`
	// DedupeTTL is how long delivery ids are remembered against replays.
	DedupeTTL Duration `yaml:"dedupe_ttl"`
}

// WebhookSource is one source's authentication.
type WebhookSource struct {
	Token               Secret   `yaml:"token"`
	HMACSecrets         []Secret `yaml:"hmac_secrets"`
	HMACHeader          string   `yaml:"hmac_header"`
	HMACTimestampHeader string   `yaml:"hmac_timestamp_header"`
	Disabled            bool     `yaml:"disabled"`
}

// Auth converts the configuration to the intake's options.
func (w Webhooks) Auth() map[string]alerts.SourceAuth {
	out := map[string]alerts.SourceAuth{}
	for name, s := range w.Sources {
		a := alerts.SourceAuth{
			Token:               s.Token.Reveal(),
			HMACHeader:          s.HMACHeader,
			HMACTimestampHeader: s.HMACTimestampHeader,
			Disabled:            s.Disabled,
		}
		for _, sec := range s.HMACSecrets {
			a.HMACSecrets = append(a.HMACSecrets, sec.Reveal())
		}
		out[name] = a
	}
	return out
}

func (w Webhooks) validate() []error {
	var errs []error
	known := alerts.SourceNames()
	for name := range w.Sources {
		if !slices.Contains(known, name) {
			errs = append(errs, fmt.Errorf("webhooks.sources.%s: unknown source (known: %v)", name, known))
		}
	}
	if w.DedupeTTL.D() < 0 || (w.DedupeTTL.D() > 0 && w.DedupeTTL.D() < time.Minute) {
		errs = append(errs, fmt.Errorf("webhooks.dedupe_ttl: must be at least 1m"))
	}
	return errs
}
