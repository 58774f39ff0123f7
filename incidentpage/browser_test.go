package incidentpage

import (
	"context"
	"flag"
	"github.com/oncall-copilot/oncall-copilot/internal/testenv"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

var docsDir = flag.String("docs", "", "also write the README's screenshots of the page (its top, and the first waterfall) into this directory, e.g. ../docs")

// browserPath finds a Chromium to drive. Under CI=true a missing browser
// fails the test instead of skipping it.
func browserPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	testenv.Missing(t, os.Getenv, "no Chromium found: install Debian's chromium package (scripts/test.sh does)")
	return ""
}

// TestPageInABrowser serves the page of a real triage of a bundled
// scenario through the real handler and reads it in headless Chromium:
// the sections are there, a citation leads to its span, nothing is
// fetched from elsewhere, and the console stays free of errors.
func TestPageInABrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	chrome := browserPath(t)
	inc, inv := triaged(t, "tool-timeout-3")
	st := newMemStore()
	st.put(inc, inv)
	signer, err := NewSigner([]string{strings.Repeat("browser-key-", 4)})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Options{Store: st, Auth: AuthToken, Signer: signer, Redact: redactor(t).String})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(t.TempDir()))...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	defer cancelTimeout()

	var mu sync.Mutex
	var consoleErrors, requests []string
	err = chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case runtime.EventConsoleAPICalled, runtime.EventExceptionThrown, cdplog.EventEntryAdded, network.EventRequestWillBeSent:
			panic("events arrive by value: handle them so")
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning {
				consoleErrors = append(consoleErrors, string(e.Type))
			}
		case *runtime.EventExceptionThrown:
			consoleErrors = append(consoleErrors, "exception: "+e.ExceptionDetails.Text)
		case *cdplog.EventEntryAdded:
			if e.Entry.Level == cdplog.EntryLevelError || e.Entry.Level == cdplog.EntryLevelWarning {
				consoleErrors = append(consoleErrors, string(e.Entry.Source)+": "+e.Entry.Text)
			}
		case *network.EventRequestWillBeSent:
			requests = append(requests, e.Request.URL)
		}
	})
	if err != nil {
		t.Fatalf("start the browser: %v", err)
	}

	eval := func(js string) float64 {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[float64](js))
		if err != nil {
			t.Fatalf("browser: %s: %v", js, err)
		}
		return v
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+h.Path(inc.Key)), chromedp.WaitVisible("#onset-chart")); err != nil {
		t.Fatalf("browser: %v", err)
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil || !strings.Contains(title, "AgentErrorRateHigh") {
		t.Errorf("title %q, %v", title, err)
	}
	for what, js := range map[string]string{
		"ranked clusters":                 `document.querySelectorAll("#clusters tr.cluster").length`,
		"ruled-out clusters":              `document.querySelectorAll("#ruled-out tr.cluster-ruled").length`,
		"waterfalls":                      `document.querySelectorAll("#traces article.wf").length`,
		"waterfall rows":                  `document.querySelectorAll("#traces .row").length`,
		"onset bars of the top cluster":   `document.querySelectorAll("#onset-chart rect.c0").length`,
		"onset and firing marks":          `document.querySelectorAll("#onset-chart line.onset, #onset-chart line.firing").length`,
		"steps of the failing vs healthy": `document.querySelectorAll("#compare tr.first").length`,
	} {
		if n := eval(js); n < 1 {
			t.Errorf("the browser shows no %s", what)
		}
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if *docsDir != "" {
		writeDocShots(t, ctx, *docsDir)
	}

	// Follow the first citation of a span: the browser lands on the cited
	// span's row, which the page highlights.
	href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector('#diagnosis a.cite[href^="#span-"]')||{getAttribute(){return ""}}).getAttribute("href")`))
	if err != nil || href == "" {
		t.Fatalf("the diagnosis has no citation of a span (%v)", err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(`#diagnosis a.cite[href^="#span-"]`, chromedp.NodeVisible)); err != nil {
		t.Fatalf("click the citation: %v", err)
	}
	target, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector(":target")||{}).id||""`))
	if err != nil || "#"+target != href || !strings.HasPrefix(target, "span-") {
		t.Errorf("following citation %s landed on %q (%v)", href, target, err)
	}
	if top, height := eval(`document.querySelector(":target").getBoundingClientRect().top`), eval(`window.innerHeight`); top < -1 || top > height {
		t.Errorf("the cited span is at %.0fpx, outside the %.0fpx viewport", top, height)
	}
	// Input and output excerpts open on demand.
	if err := chromedp.Do(ctx, chromedp.Click(`#traces details summary`, chromedp.NodeVisible)); err != nil {
		t.Fatalf("open a span's excerpts: %v", err)
	}
	if eval(`document.querySelector("#traces details").open ? 1 : 0`) != 1 {
		t.Error("a span's input and output did not open on demand")
	}

	mu.Lock()
	defer mu.Unlock()
	if len(consoleErrors) > 0 {
		t.Errorf("console errors: %q", consoleErrors)
	}
	if len(requests) == 0 {
		t.Error("no request was seen: the network listener is not working")
	}
	for _, u := range requests {
		if !strings.HasPrefix(u, srv.URL+"/") && !strings.HasPrefix(u, "data:") {
			t.Errorf("the page requested %s from elsewhere", u)
		}
	}

	out := filepath.Join(t.ArtifactDir(), "incident-page.png")
	if err := os.WriteFile(out, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", out, len(shot))
}

// writeDocShots writes the README's pictures of the page: its top as a
// reader first sees it, and the first evidence trace's waterfall.
func writeDocShots(t *testing.T, ctx context.Context, dir string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 1650), chromedp.Evaluate[chromedp.Void]("window.scrollTo(0, 0)")); err != nil {
		t.Fatalf("viewport: %v", err)
	}
	top, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot of the top: %v", err)
	}
	wf, err := chromedp.Run(ctx, chromedp.Screenshot("#traces article.wf:first-of-type"))
	if err != nil {
		t.Fatalf("screenshot of a waterfall: %v", err)
	}
	for name, b := range map[string][]byte{"incident-page.png": top, "incident-page-waterfall.png": wf} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
