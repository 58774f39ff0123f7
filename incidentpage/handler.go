// Package incidentpage serves the incident pages: the whole investigation
// of one incident on one server-rendered web page (alert and lifecycle,
// how traces were chosen, the onset chart, ranked and ruled-out clusters,
// what changed, the diagnosis with its citations, evidence traces as span
// waterfalls, a failing run beside a healthy one, the thread's questions),
// and a list of recent incidents.
//
// The pages are off unless access is configured: links signed with an
// expiring HMAC token, or the operator's own authenticating proxy in
// front. Everything shown passes the same redaction as Slack, and all
// trace content is escaped by html/template.
package incidentpage

import (
	"bytes"
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// Store is what the pages read.
type Store interface {
	GetIncident(ctx context.Context, key string) (oncall.Incident, error)
	GetInvestigation(ctx context.Context, key string) (oncall.Investigation, error)
	ListIncidents(ctx context.Context, since time.Time) ([]oncall.Incident, error)
}

// Auth says who may read the pages.
type Auth string

// Access modes.
const (
	// AuthToken lets in requests whose link carries a valid signed token.
	AuthToken Auth = "token"
	// AuthProxy lets every request in: the operator's proxy in front of
	// the server authenticates people.
	AuthProxy Auth = "proxy"
)

// Options configure a Handler.
type Options struct {
	Store Store // required
	Auth  Auth  // required: AuthToken or AuthProxy
	// Signer signs and checks links; required with AuthToken.
	Signer *Signer
	// LinkTTL is how long a signed link works; default 30 days.
	LinkTTL time.Duration
	// Redact is applied to every text shown, as on Slack; required.
	Redact func(string) string
	// Recent is how far back the list of incidents reaches; default 14
	// days.
	Recent time.Duration
	Now    func() time.Time
	Logger *slog.Logger
}

// Handler serves the pages. It is safe for concurrent use.
type Handler struct {
	opts Options
	log  *slog.Logger
	page *template.Template
	list *template.Template
}

//go:embed templates/*.html
var templates embed.FS

// New checks opts and returns a Handler.
func New(opts Options) (*Handler, error) {
	var problems []error
	if opts.Store == nil {
		problems = append(problems, errors.New("a store is required"))
	}
	if opts.Redact == nil {
		problems = append(problems, errors.New("a redactor is required"))
	}
	switch opts.Auth {
	case AuthToken:
		if opts.Signer == nil {
			problems = append(problems, errors.New("token access needs a signing key"))
		}
	case AuthProxy:
	default:
		problems = append(problems, fmt.Errorf("access must be %q or %q, got %q", AuthToken, AuthProxy, opts.Auth))
	}
	if err := errors.Join(problems...); err != nil {
		return nil, fmt.Errorf("incident page: %w", err)
	}
	if opts.LinkTTL <= 0 {
		opts.LinkTTL = 30 * 24 * time.Hour
	}
	if opts.Recent <= 0 {
		opts.Recent = 14 * 24 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	page, err := template.New("page.html").ParseFS(templates, "templates/page.html", "templates/style.html")
	if err != nil {
		return nil, fmt.Errorf("incident page: %w", err)
	}
	list, err := template.New("list.html").ParseFS(templates, "templates/list.html", "templates/style.html")
	if err != nil {
		return nil, fmt.Errorf("incident page: %w", err)
	}
	return &Handler{opts: opts, log: opts.Logger.With("component", "incidentpage"), page: page, list: list}, nil
}

// Register adds the pages to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /incidents", h.serveList)
	mux.HandleFunc("GET /incidents/{key}", h.serveIncident)
}

// Path returns the path and query of the page of the incident under key,
// with a token valid for the link TTL when links are signed. It is what
// Slack messages link to, after the public base URL.
func (h *Handler) Path(key string) string {
	return h.path(key, h.opts.Now().Add(h.opts.LinkTTL))
}

// ListPath returns the path and query of the list of recent incidents.
func (h *Handler) ListPath() string {
	if h.opts.Auth != AuthToken {
		return "/incidents"
	}
	return h.opts.Signer.ListPath(h.opts.Now().Add(h.opts.LinkTTL))
}

func (h *Handler) path(key string, exp time.Time) string {
	if h.opts.Auth != AuthToken {
		return "/incidents/" + url.PathEscape(key)
	}
	return h.opts.Signer.IncidentPath(key, exp)
}

const listScope = "list"

func incidentScope(key string) string { return "incident:" + key }

// incidentKey matches the keys incidents have.
var incidentKey = regexp.MustCompile(`^[0-9a-f]{1,64}$`)

// allowed reports whether the request may see scope; the expiry of its
// token is when links made from it should expire.
func (h *Handler) allowed(r *http.Request, scope string) (time.Time, bool) {
	now := h.opts.Now()
	if h.opts.Auth == AuthProxy {
		return now.Add(h.opts.LinkTTL), true
	}
	tok := r.URL.Query().Get("t")
	if tok == "" || !h.opts.Signer.Valid(scope, tok, now) {
		return time.Time{}, false
	}
	return h.opts.Signer.expiry(tok), true
}

// notFound is the one answer to a page that is absent or not allowed,
// so a request without a valid token learns nothing.
func notFound(w http.ResponseWriter) {
	secure(w.Header())
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	fmt.Fprintln(w, "not found")
}

// secure sets the headers of every page answer: nothing loads from
// elsewhere, no script runs, nothing is cached, and links out carry no
// referrer (the page's URL holds its token).
func secure(hdr http.Header) {
	hdr.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("X-Frame-Options", "DENY")
}

func (h *Handler) serveIncident(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	if !incidentKey.MatchString(key) {
		notFound(w)
		return
	}
	if _, ok := h.allowed(r, incidentScope(key)); !ok {
		h.log.Info("incident page refused", "incident", key)
		notFound(w)
		return
	}
	body, err := h.Render(r.Context(), key)
	switch {
	case errors.Is(err, oncall.ErrNotFound):
		notFound(w)
		return
	case err != nil:
		h.log.Error("incident page failed", "incident", key, "err", err)
		secure(w.Header())
		http.Error(w, "the incident page could not be built", http.StatusInternalServerError)
		return
	}
	h.write(w, body)
}

// Render renders the page of the incident under key; an error wrapping
// oncall.ErrNotFound when there is no such incident.
func (h *Handler) Render(ctx context.Context, key string) ([]byte, error) {
	inc, err := h.opts.Store.GetIncident(ctx, key)
	if err != nil {
		return nil, err
	}
	var inv *oncall.Investigation
	if got, err := h.opts.Store.GetInvestigation(ctx, key); err == nil {
		inv = &got
	} else if !errors.Is(err, oncall.ErrNotFound) {
		h.log.Warn("investigation unavailable", "incident", key, "err", err)
	}
	v := build(inc, inv, h.opts.Redact, h.opts.Now())
	if h.opts.Auth == AuthProxy {
		// Signed links reach one page each; behind a proxy the list is
		// one click away.
		v.IndexURL = "/incidents"
	}
	var buf bytes.Buffer
	if err := h.page.Execute(&buf, v); err != nil {
		return nil, fmt.Errorf("render incident %s: %w", key, err)
	}
	return buf.Bytes(), nil
}

func (h *Handler) write(w http.ResponseWriter, body []byte) {
	secure(w.Header())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(body)
}

// listRow is one incident in the list.
type listRow struct {
	URL, Title, Status, Service, TopCluster, Opened, ToAck, ToResolve string
}

func (h *Handler) serveList(w http.ResponseWriter, r *http.Request) {
	exp, ok := h.allowed(r, listScope)
	if !ok {
		h.log.Info("incident list refused")
		notFound(w)
		return
	}
	now := h.opts.Now()
	incs, err := h.opts.Store.ListIncidents(r.Context(), now.Add(-h.opts.Recent))
	if err != nil {
		h.log.Error("incident list failed", "err", err)
		secure(w.Header())
		http.Error(w, "the incident list could not be read", http.StatusInternalServerError)
		return
	}
	red := h.opts.Redact
	rows := make([]listRow, 0, len(incs))
	for _, inc := range incs {
		row := listRow{
			URL:     h.path(inc.Key, exp),
			Title:   clip(red(cmp.Or(inc.Alert.Name, inc.Key)), 120),
			Status:  string(inc.Status),
			Service: clip(red(serviceOf(inc)), 60),
			Opened:  inc.OpenedAt.UTC().Format("2006-01-02 15:04 UTC"),
			ToAck:   since(inc.OpenedAt, inc.AckedAt),
		}
		row.ToResolve = since(inc.OpenedAt, inc.ResolvedAt)
		if inc.Report != nil && len(inc.Report.Clusters) > 0 {
			c := inc.Report.Clusters[0]
			row.TopCluster = clip(red(fmt.Sprintf("%s %s: %s", c.SpanKind, c.SpanName, c.Error)), 120)
		}
		rows = append(rows, row)
	}
	var buf bytes.Buffer
	if err := h.list.Execute(&buf, struct {
		Rows      []listRow
		Days      int
		Generated string
	}{rows, int(h.opts.Recent.Hours() / 24), now.UTC().Format(time.RFC1123)}); err != nil {
		h.log.Error("incident list failed", "err", err)
		secure(w.Header())
		http.Error(w, "the incident list could not be built", http.StatusInternalServerError)
		return
	}
	h.write(w, buf.Bytes())
}

func since(from, to time.Time) string {
	if from.IsZero() || to.IsZero() || to.Before(from) {
		return "–"
	}
	return dur(to.Sub(from).Round(time.Second))
}
