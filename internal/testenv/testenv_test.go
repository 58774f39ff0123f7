package testenv

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoBareSkips finds every Skip in the repository's tests: a test that
// cannot run calls Missing, which fails under CI=true. Only skips of
// -short mode (testing.Short() just above) are left as they are.
func TestNoBareSkips(t *testing.T) {
	root := filepath.Join("..", "..")
	var found []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if rel == "internal/testenv/testenv_test.go" {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		var recent []string
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			if strings.Contains(line, ".Skip(") || strings.Contains(line, ".Skipf(") || strings.Contains(line, ".SkipNow(") {
				short := false
				for _, r := range recent {
					short = short || strings.Contains(r, "testing.Short()")
				}
				if !short {
					found = append(found, fmt.Sprintf("%s:%d: %s", rel, n, strings.TrimSpace(line)))
				}
			}
			recent = append(recent, line)
			if len(recent) > 3 {
				recent = recent[1:]
			}
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range found {
		t.Errorf("a bare skip, counted as passing in CI: %s (call testenv.Missing)", f)
	}
}

// TestMissing runs Missing in a subtest-like recorder under both
// settings of CI.
func TestMissing(t *testing.T) {
	for _, ci := range []string{"true", ""} {
		t.Run("CI="+ci, func(t *testing.T) {
			t.Setenv("CI", ci)
			r := &recorder{TB: t}
			func() {
				defer func() { _ = recover() }()
				Missing(r, os.Getenv, "redis at %s unreachable", "127.0.0.1:6379")
			}()
			if ci == "true" && (!r.fatal || r.skip) {
				t.Errorf("under CI=true Missing did not fail: fatal %v skip %v", r.fatal, r.skip)
			}
			if ci == "" && (r.fatal || !r.skip) {
				t.Errorf("without CI Missing did not skip: fatal %v skip %v", r.fatal, r.skip)
			}
			if !strings.Contains(r.msg, "redis at 127.0.0.1:6379 unreachable") {
				t.Errorf("message %q does not say what is missing", r.msg)
			}
		})
	}
}

// recorder records what Missing asked of the test instead of doing it.
type recorder struct {
	testing.TB
	fatal, skip bool
	msg         string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.fatal, r.msg = true, fmt.Sprintf(format, args...)
	panic("fatal")
}
func (r *recorder) Skipf(format string, args ...any) {
	r.skip, r.msg = true, fmt.Sprintf(format, args...)
	panic("skip")
}
