package main

import (
	"log/slog"
	"strings"

	"github.com/oncall-copilot/oncall-copilot/config"
	"github.com/oncall-copilot/oncall-copilot/incident"
	"github.com/oncall-copilot/oncall-copilot/incidentpage"
	"github.com/oncall-copilot/oncall-copilot/redact"
	"github.com/oncall-copilot/oncall-copilot/store/boltdb"
	"github.com/oncall-copilot/oncall-copilot/store/redisdb"
)

var (
	_ incidentpage.Store          = (*boltdb.Store)(nil)
	_ incidentpage.Store          = (*redisdb.Store)(nil)
	_ incident.InvestigationStore = (*boltdb.Store)(nil)
	_ incident.InvestigationStore = (*redisdb.Store)(nil)
)

// newIncidentPages builds the incident pages, or returns nil when they
// are off: neither signing keys nor proxy authentication are configured.
func newIncidentPages(cfg config.Config, store incidentpage.Store, red *redact.Redactor, log *slog.Logger) (*incidentpage.Handler, error) {
	opts := incidentpage.Options{Store: store, Redact: red.String, LinkTTL: cfg.Web.TTL(), Logger: log}
	switch cfg.Web.Mode() {
	case config.WebAuthToken:
		signer, err := incidentpage.NewSigner(cfg.Web.Keys())
		if err != nil {
			return nil, err
		}
		opts.Auth, opts.Signer = incidentpage.AuthToken, signer
	case config.WebAuthProxy:
		opts.Auth = incidentpage.AuthProxy
	default:
		log.Info("incident pages are off: set WEB_SIGNING_KEY or web.auth: proxy to serve them")
		return nil, nil
	}
	h, err := incidentpage.New(opts)
	if err != nil {
		return nil, err
	}
	log.Info("incident pages on", "access", cfg.Web.Mode(), "public_url", cfg.Web.PublicURL, "link_ttl", cfg.Web.TTL())
	return h, nil
}

// reportLinks returns how Slack messages link an incident's page, or nil
// when there are no pages or no public address to link them at.
func reportLinks(cfg config.Config, pages *incidentpage.Handler) func(string) string {
	if pages == nil || cfg.Web.PublicURL == "" {
		return nil
	}
	base := strings.TrimRight(cfg.Web.PublicURL, "/")
	return func(key string) string { return base + pages.Path(key) }
}
