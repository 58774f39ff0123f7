package langfuse

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"maps"
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

// list answers GET /api/public/traces: page paging with a limit of at
// most 100 (publicApiPaginationZod in packages/shared/src/utils/zod.ts: a
// larger one is a 400).
func (f *fakeLangfuse) list(w http.ResponseWriter, q url.Values) {
	if !f.params(w, q, traceListParams) {
		return
	}
	if l := atoi(q.Get("limit"), 50); l > 100 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "Invalid request data", "error": "limit: Number must be less than or equal to 100"})
		return
	}
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
	data := make([]map[string]any, 0, hi-lo)
	for _, tr := range hits[lo:hi] {
		data = append(data, projectTrace(tr, q.Get("fields")))
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"data": data,
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

// observationsV2 answers GET /api/public/v2/observations as Langfuse
// does (web/src/pages/api/public/v2/observations/index.ts and
// GetObservationsV2Query in web/src/features/public-api/types/
// observations.ts): filters by traceId and by start time in
// [fromStartTime, toStartTime], newest first (the cursor carries the last
// start time, trace id and id), limit at most 1,000 (a larger one is a
// 400), and only the field groups asked for (core always; all when none).
func (f *fakeLangfuse) observationsV2(w http.ResponseWriter, q url.Values) {
	if !f.params(w, q, v2ObservationParams) {
		return
	}
	limit, err := strconv.Atoi(cmp.Or(q.Get("limit"), "50"))
	if err != nil || limit < 0 || limit > 1000 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "Invalid request data", "error": "limit: Number must be less than or equal to 1000"})
		return
	}
	from, errFrom := parseOptionalTime(q.Get("fromStartTime"))
	to, errTo := parseOptionalTime(q.Get("toStartTime"))
	if errFrom != nil || errTo != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"message": "Invalid request data", "error": "fromStartTime/toStartTime: Invalid datetime"})
		return
	}
	var all []map[string]any
	for id, list := range f.obs {
		if tid := q.Get("traceId"); tid != "" && id != tid {
			continue
		}
		for _, o := range list {
			st, err := time.Parse(time.RFC3339Nano, str(o["startTime"]))
			if err != nil {
				f.t.Errorf("observation %v: startTime: %v", o["id"], err)
				continue
			}
			if (!from.IsZero() && st.Before(from)) || (!to.IsZero() && st.After(to)) {
				continue
			}
			all = append(all, o)
		}
	}
	sort.Slice(all, func(i, j int) bool {
		a, b := all[i], all[j]
		return cmp.Or(cmp.Compare(str(b["startTime"]), str(a["startTime"])), cmp.Compare(str(b["traceId"]), str(a["traceId"])), cmp.Compare(str(b["id"]), str(a["id"]))) < 0
	})
	size := min(limit, f.pageSize())
	offset := 0
	if c := q.Get("cursor"); c != "" {
		b, err := base64.StdEncoding.DecodeString(c)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"message": "Invalid cursor format"})
			return
		}
		offset = atoi(strings.TrimPrefix(string(b), "offset:"), 0)
	}
	lo, hi := min(len(all), offset), min(len(all), offset+size)
	meta := map[string]any{}
	if hi < len(all) {
		meta["cursor"] = base64.StdEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(hi)))
	}
	page := make([]map[string]any, 0, hi-lo)
	groups := strings.Split(q.Get("fields"), ",")
	for _, o := range all[lo:hi] {
		page = append(page, projectObservation(o, groups))
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": page, "meta": meta})
}

// projectTrace keeps the trace list's field groups asked for (all when
// none): io is input, output and metadata; scores and observations become
// empty lists and metrics -1 when left out (fern/apis/server/definition/
// trace.yml, the fields parameter).
func projectTrace(tr map[string]any, fields string) map[string]any {
	if fields == "" {
		return tr
	}
	groups := strings.Split(fields, ",")
	out := maps.Clone(tr)
	if !slices.Contains(groups, "io") {
		delete(out, "input")
		delete(out, "output")
		delete(out, "metadata")
	}
	for _, g := range []string{"scores", "observations"} {
		if !slices.Contains(groups, g) {
			out[g] = []any{}
		}
	}
	if !slices.Contains(groups, "metrics") {
		out["totalCost"], out["latency"] = -1, -1
	}
	return out
}

// observationGroups maps observation fields to their v2 field group
// (OBSERVATION_FIELD_GROUPS_PUBLIC_API in packages/shared/src/domain/
// observation-field-groups.ts); fields not listed are core.
var observationGroups = map[string]string{
	"name": "basic", "level": "basic", "statusMessage": "basic", "version": "basic", "environment": "basic",
	"bookmarked": "basic", "public": "basic", "userId": "basic", "sessionId": "basic", "isRootObservation": "basic",
	"completionStartTime": "time", "createdAt": "time", "updatedAt": "time",
	"input": "io", "output": "io", "metadata": "metadata",
	"providedModelName": "model", "internalModelId": "model", "modelParameters": "model", "model": "model",
	"usageDetails": "usage", "costDetails": "usage", "totalCost": "usage", "usage": "usage",
	"promptId": "prompt", "promptName": "prompt", "promptVersion": "prompt",
	"latency": "metrics", "timeToFirstToken": "metrics",
	"traceName": "trace_context", "tags": "trace_context", "release": "trace_context",
}

// projectObservation keeps the fields of the groups asked for; no groups
// means all of them.
func projectObservation(o map[string]any, groups []string) map[string]any {
	if len(groups) == 0 || (len(groups) == 1 && groups[0] == "") {
		return o
	}
	out := map[string]any{}
	for k, v := range o {
		g, ok := observationGroups[k]
		if !ok || slices.Contains(groups, g) {
			out[k] = v
		}
	}
	return out
}

// Query parameters each endpoint knows (the zod query schemas of
// web/src/features/public-api/types/). Langfuse strips unknown ones
// without a word, so a misspelt filter would silently read the whole
// project: the fake refuses them with a 400 instead, so a test fails.
var (
	v2ObservationParams = []string{"fields", "expandMetadata", "limit", "cursor", "parseIoAsJson", "type", "name", "userId",
		"sessionId", "level", "traceId", "version", "parentObservationId", "isRootObservation", "environment",
		"fromStartTime", "toStartTime", "filter"}
	traceListParams = []string{"page", "limit", "userId", "name", "tags", "environment", "sessionId", "version", "release",
		"fromTimestamp", "toTimestamp", "orderBy", "fields", "useEventsTable", "filter"}
	legacyObservationParams = []string{"page", "limit", "name", "userId", "type", "traceId", "level",
		"parentObservationId", "environment", "fromStartTime", "toStartTime", "version"}
)

// params answers 400 and returns false when q holds a parameter the
// endpoint does not know.
func (f *fakeLangfuse) params(w http.ResponseWriter, q url.Values, known []string) bool {
	for k := range q {
		if !slices.Contains(known, k) {
			writeJSON(w, http.StatusBadRequest, map[string]any{"message": "Invalid request data", "error": "unknown query parameter " + k})
			return false
		}
	}
	return true
}

func parseOptionalTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

func (f *fakeLangfuse) observationsLegacy(w http.ResponseWriter, q url.Values) {
	if !f.params(w, q, legacyObservationParams) {
		return
	}
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
