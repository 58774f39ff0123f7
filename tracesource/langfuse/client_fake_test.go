package langfuse

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	publicKey = "pk-lf-1234"
	secretKey = "sk-lf-5678-secret"
)

// fakeLangfuse speaks the Langfuse public API over hand-written trace and
// observation objects: the trace list (page paging, the server-side
// filters), the trace detail with embedded observations, the v2
// observations (cursor paging) and the legacy observations (page paging).
// Older versions lack the v2 or both observation endpoints.
type fakeLangfuse struct {
	t        *testing.T
	traces   []map[string]any            // as the list returns them
	obs      map[string][]map[string]any // by trace id, full objects
	obsPage  int                         // observations per page; default 1000
	noV2     bool
	noLegacy bool

	mu       sync.Mutex
	requests []*url.URL
}

// loadFake reads testdata/client_traces.json (trace objects) and
// testdata/client_observations.json (observations by trace id).
func loadFake(t *testing.T) *fakeLangfuse {
	t.Helper()
	f := &fakeLangfuse{t: t}
	readJSON(t, "testdata/client_traces.json", &f.traces)
	readJSON(t, "testdata/client_observations.json", &f.obs)
	return f
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// seen returns the requests to path so far.
func (f *fakeLangfuse) seen(path string) []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []url.Values
	for _, u := range f.requests {
		if u.Path == path {
			out = append(out, u.Query())
		}
	}
	return out
}

func (f *fakeLangfuse) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

func (f *fakeLangfuse) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.URL)
	f.mu.Unlock()
	if u, p, ok := r.BasicAuth(); !ok || u != publicKey || p != secretKey {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Invalid credentials. Confirm that you've configured the correct host."})
		return
	}
	q := r.URL.Query()
	switch {
	case r.URL.Path == pathTraces:
		f.list(w, q)
	case strings.HasPrefix(r.URL.Path, pathTraces+"/"):
		f.detail(w, strings.TrimPrefix(r.URL.Path, pathTraces+"/"))
	case r.URL.Path == pathObservationsV2 && !f.noV2:
		f.observationsV2(w, q)
	case r.URL.Path == pathObservations && !f.noLegacy:
		f.observationsLegacy(w, q)
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "Route not found"})
	}
}

func (f *fakeLangfuse) list(w http.ResponseWriter, q url.Values) {
	from, _ := time.Parse(time.RFC3339Nano, q.Get("fromTimestamp"))
	to, _ := time.Parse(time.RFC3339Nano, q.Get("toTimestamp"))
	var hits []map[string]any
	for _, tr := range f.traces {
		ts, err := time.Parse(time.RFC3339Nano, str(tr["timestamp"]))
		if err != nil {
			f.t.Errorf("trace %v: timestamp: %v", tr["id"], err)
			continue
		}
		if (!from.IsZero() && ts.Before(from)) || (!to.IsZero() && !ts.Before(to)) {
			continue
		}
		if !f.keep(tr, q) {
			continue
		}
		hits = append(hits, tr)
	}
	if q.Get("orderBy") == "timestamp.desc" {
		sort.SliceStable(hits, func(i, j int) bool { return str(hits[i]["timestamp"]) > str(hits[j]["timestamp"]) })
	}
	page, limit := atoi(q.Get("page"), 1), atoi(q.Get("limit"), 50)
	lo, hi := min(len(hits), (page-1)*limit), min(len(hits), page*limit)
	writeJSON(w, http.StatusOK, map[string]any{
		"data": nonNil(hits[lo:hi]),
		"meta": map[string]any{"page": page, "limit": limit, "totalItems": len(hits), "totalPages": (len(hits) + limit - 1) / limit},
	})
}

// keep applies the list's server-side filters.
func (f *fakeLangfuse) keep(tr map[string]any, q url.Values) bool {
	for param, field := range map[string]string{"name": "name", "environment": "environment", "sessionId": "sessionId", "userId": "userId", "release": "release"} {
		if v := q.Get(param); v != "" && str(tr[field]) != v {
			return false
		}
	}
	var tags []string
	for _, t := range asList(tr["tags"]) {
		tags = append(tags, str(t))
	}
	for _, want := range q["tags"] {
		if !slices.Contains(tags, want) {
			return false
		}
	}
	return true
}

func (f *fakeLangfuse) detail(w http.ResponseWriter, id string) {
	for _, tr := range f.traces {
		if str(tr["id"]) != id {
			continue
		}
		full := map[string]any{}
		for k, v := range tr {
			full[k] = v
		}
		full["observations"] = nonNil(f.obs[id])
		writeJSON(w, http.StatusOK, full)
		return
	}
	writeJSON(w, http.StatusNotFound, map[string]any{"message": "Trace " + id + " not found within authorized project"})
}

func (f *fakeLangfuse) observationsV2(w http.ResponseWriter, q url.Values) {
	if q.Get("traceId") == "" {
		f.t.Errorf("v2 observations without traceId: %v", q)
	}
	all := f.obs[q.Get("traceId")]
	size := min(atoi(q.Get("limit"), 50), f.pageSize())
	offset := 0
	if c := q.Get("cursor"); c != "" {
		b, err := base64.StdEncoding.DecodeString(c)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"message": "Invalid cursor"})
			return
		}
		offset = atoi(strings.TrimPrefix(string(b), "offset:"), 0)
	}
	lo, hi := min(len(all), offset), min(len(all), offset+size)
	meta := map[string]any{}
	if hi < len(all) {
		meta["cursor"] = base64.StdEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(hi)))
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": nonNil(all[lo:hi]), "meta": meta})
}

func (f *fakeLangfuse) observationsLegacy(w http.ResponseWriter, q url.Values) {
	all := f.obs[q.Get("traceId")]
	page, limit := atoi(q.Get("page"), 1), min(atoi(q.Get("limit"), 50), f.pageSize())
	lo, hi := min(len(all), (page-1)*limit), min(len(all), page*limit)
	writeJSON(w, http.StatusOK, map[string]any{
		"data": nonNil(all[lo:hi]),
		"meta": map[string]any{"page": page, "limit": limit, "totalItems": len(all), "totalPages": (len(all) + limit - 1) / limit},
	})
}

func (f *fakeLangfuse) pageSize() int {
	if f.obsPage > 0 {
		return f.obsPage
	}
	return 1000
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func nonNil(v []map[string]any) []map[string]any {
	if v == nil {
		return []map[string]any{}
	}
	return v
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func atoi(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil && n > 0 {
		return n
	}
	return def
}
