package alerts

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestJSONPathLookup(t *testing.T) {
	doc, err := decodeJSONObject([]byte(`{
		"alert": {"title": "T", "tags": ["a:1", "b:2"], "n": 12345678901234567890},
		"data": {"labels": {"x": "y"}},
		"meta": {"k8s.pod": "pod-1"},
		"list": [[1, 2], [3, {"deep": true}]]
	}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path    string
		want    string // fmt of the value, "-" for not found
		wantErr string
	}{
		{"alert.title", "T", ""},
		{"$.alert.title", "T", ""},
		{"$alert.title", "T", ""},
		{"alert.tags[1]", "b:2", ""},
		{"alert.tags[2]", "-", ""},
		{"alert.n", "12345678901234567890", ""}, // numbers keep their digits
		{"data.labels", "map[x:y]", ""},
		{`meta["k8s.pod"]`, "pod-1", ""},
		{`meta['k8s.pod']`, "pod-1", ""},
		{"list[1][1].deep", "true", ""},
		{"alert.title.more", "-", ""},
		{"alert[0]", "-", ""},
		{"missing", "-", ""},
		{"$", "", ""},
		{"", "", "empty path"},
		{"$.", "", "nothing after"},
		{"a..b", "", "empty key"},
		{".a", "", "empty key"},
		{"a.", "", "empty key"},
		{"a[", "", "unterminated"},
		{"a[x]", "", "not a whole number"},
		{"a[-1]", "", "not a whole number"},
		{`a["k]`, "", "unterminated quoted key"},
		{`a["k"x`, "", "followed by ]"},
		{"a[0]b", "", "unexpected"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			p, err := parsePath(tt.path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.path == "$" {
				if v, ok := p.lookup(doc); !ok || v == nil {
					t.Error("$ must be the whole document")
				}
				return
			}
			v, ok := p.lookup(doc)
			got := "-"
			if ok {
				got = fmt.Sprint(v)
			}
			if got != tt.want {
				t.Errorf("lookup = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseTimeValue(t *testing.T) {
	want := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		json    string
		wantErr string
	}{
		{"rfc3339", `"2026-11-23T10:00:00Z"`, ""},
		{"rfc3339 offset", `"2026-11-23T11:00:00+01:00"`, ""},
		{"no zone", `"2026-11-23T10:00:00"`, ""},
		{"space separated", `"2026-11-23 10:00:00"`, ""},
		{"python isoformat", `"2026-11-23 10:00:00.000000+00:00"`, ""},
		{"seconds", `1795428000`, ""},
		{"fractional seconds", `1795428000.0`, ""},
		{"milliseconds", `1795428000000`, ""},
		{"milliseconds as string", `"1795428000000"`, ""},
		{"microseconds", `1795428000000000`, ""},
		{"nanoseconds", `1795428000000000000`, ""},
		{"words", `"next week"`, "not an RFC 3339"},
		{"zero", `0`, "not a valid time"},
		{"negative", `-1`, "not a valid time"},
		{"object", `{"t":1}`, "must be a time"},
		{"year 10000 after zone", `"9999-12-31T23:00:00-05:00"`, "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := decodeJSONObject([]byte(`{"t":` + tt.json + `}`))
			if err != nil {
				t.Fatal(err)
			}
			got, err := parseTimeValue("t", doc["t"])
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(want) || got.Location() != time.UTC {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

func TestLabelsFrom(t *testing.T) {
	tests := []struct {
		name string
		json string
		want string
	}{
		{"object of scalars", `{"a":"x","n":3,"b":true,"nested":{"c":1},"empty":""}`, "a=x b=true n=3"},
		{"tag list", `["env:prod","team=agents","bare",":novalue","k:"]`, "env=prod team=agents"},
		{"tag string", `"env:prod, service:api ,monitor"`, "env=prod service=api"},
		{"value with colon", `["url:http://x"]`, "url=http://x"},
		{"number", `5`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := decodeJSONObject([]byte(`{"v":` + tt.json + `}`))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			labelsFrom(doc["v"], got)
			var parts []string
			for _, k := range sortedKeys(got) {
				parts = append(parts, k+"="+got[k])
			}
			if s := strings.Join(parts, " "); s != tt.want {
				t.Errorf("labels = %q, want %q", s, tt.want)
			}
		})
	}
}
