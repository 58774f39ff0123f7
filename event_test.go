package oncall

import (
	"testing"
	"time"
)

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		30 * time.Second: "30s", 42 * time.Minute: "42m", 3*time.Hour + 5*time.Minute: "3h5m",
		2 * time.Hour: "2h", 50 * time.Hour: "2d2h",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
