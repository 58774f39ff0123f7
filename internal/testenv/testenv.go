// Package testenv is what a test does when something it needs from the
// machine (a redis-server, Alertmanager) is missing: on a developer's
// machine it skips, saying what is missing; under CI=true it fails, so
// that a test that cannot run is never counted as passing. Tests call
// Missing instead of t.Skip; TestNoBareSkips keeps it that way.
package testenv

import (
	"fmt"
	"testing"
)

// CI reports whether the tests run in CI (CI=true, as GitHub Actions and
// most CI services set it); getenv is the test's os.Getenv.
func CI(getenv func(string) string) bool { return getenv("CI") == "true" }

// Missing ends the test because something it needs is missing: a skip,
// or a failure under CI=true. The message says what is missing; getenv
// is the test's os.Getenv.
func Missing(tb testing.TB, getenv func(string) string, format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	if CI(getenv) {
		tb.Fatalf("%s (CI=true: a test that cannot run fails; ./scripts/test.sh installs what the tests need)", msg)
	}
	tb.Skipf("%s (skipped; under CI=true this fails)", msg)
}
