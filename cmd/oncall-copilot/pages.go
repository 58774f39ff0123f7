package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"

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

const pagesUsage = `usage: oncall-copilot pages link [--config FILE] [--ttl 24h] [INCIDENT_KEY]

Prints a signed link to the incident page of INCIDENT_KEY, or to the list
of recent incidents without one, under PUBLIC_URL. The link is a secret:
whoever has it can read the page until it expires.
`

// runPages prints signed links to the incident pages.
func runPages(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "link" {
		fmt.Fprint(stderr, pagesUsage)
		return errUsage
	}
	fs := flag.NewFlagSet("pages link", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", getenv("ONCALL_CONFIG"), "YAML configuration file")
	ttl := fs.Duration("ttl", 24*time.Hour, "how long the link works")
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() > 1 || *ttl <= 0 {
		fmt.Fprint(stderr, pagesUsage)
		return errUsage
	}
	cfg, err := config.Load(*path, getenv)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("configuration is invalid:\n%w", err)
	}
	base := strings.TrimRight(cfg.Web.PublicURL, "/")
	switch {
	case base == "":
		return errors.New("pages link: PUBLIC_URL (web.public_url) is not set")
	case cfg.Web.Mode() == config.WebAuthProxy:
		if key := fs.Arg(0); key != "" {
			fmt.Fprintln(stdout, base+"/incidents/"+url.PathEscape(key))
		} else {
			fmt.Fprintln(stdout, base+"/incidents")
		}
		return nil
	case cfg.Web.Mode() != config.WebAuthToken:
		return errors.New("pages link: the incident pages are off: set WEB_SIGNING_KEY or web.auth: proxy")
	}
	signer, err := incidentpage.NewSigner(cfg.Web.Keys())
	if err != nil {
		return err
	}
	exp := time.Now().Add(*ttl)
	if key := fs.Arg(0); key != "" {
		fmt.Fprintln(stdout, base+signer.IncidentPath(key, exp))
	} else {
		fmt.Fprintln(stdout, base+signer.ListPath(exp))
	}
	return nil
}
