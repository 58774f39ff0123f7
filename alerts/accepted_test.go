package alerts

import (
	"strings"
	"testing"
)

func TestReadBody(t *testing.T) {
	body := strings.Repeat("x", 3000)
	for name, size := range map[string]int64{"announced": 3000, "unknown": -1, "announced short": 10, "announced long": 5000, "over the cap": MaxBody + 1} {
		t.Run(name, func(t *testing.T) {
			got, err := readBody(strings.NewReader(body), size)
			if err != nil || string(got) != body {
				t.Errorf("read %d bytes (err %v), want the %d of the body", len(got), err, len(body))
			}
		})
	}
}
