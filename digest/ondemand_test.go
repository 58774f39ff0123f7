package digest

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestOnDemand(t *testing.T) {
	b := fixtureBuilder(t, nil)
	p := &recordingPoster{}
	o, err := NewOnDemand(OnDemandOptions{Build: b.Build, Poster: p, Location: paris, Now: func() time.Time { return fixtureFire }})
	if err != nil {
		t.Fatal(err)
	}
	if err := o.PostDigest(t.Context(), "C0ASKED"); err != nil {
		t.Fatalf("PostDigest: %v", err)
	}
	posts := p.all()
	if len(posts) != 1 {
		t.Fatalf("%d posts, want 1", len(posts))
	}
	got := posts[0]
	if got.Channel != "C0ASKED" || !strings.HasPrefix(got.Text, "Daily digest: 2 opened, 2 resolved, 2 still open") || len(got.Digest.Fleet.Clusters) == 0 {
		t.Errorf("post = %+v", got)
	}
	if !bytes.HasPrefix(got.Chart, []byte("\x89PNG")) || !strings.Contains(got.Alt, "11 failing runs") {
		t.Errorf("chart %d bytes, alt %q; want the PNG and its description", len(got.Chart), got.Alt)
	}

	p.err = errBoom
	if err := o.PostDigest(t.Context(), "C0ASKED"); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("PostDigest with Slack down = %v, want the failure", err)
	}
	if _, err := NewOnDemand(OnDemandOptions{}); err == nil {
		t.Error("NewOnDemand accepted no build and no poster")
	}
}
