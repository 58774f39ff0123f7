package redact

import "testing"

func TestPrintable(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "Checkout latency p99 > 2s", "Checkout latency p99 > 2s"},
		{"unicode letters and emoji kept", "Zahlung fehlgeschlagen 🔴 — 支付失败", "Zahlung fehlgeschlagen 🔴 — 支付失败"},
		{"bidi override", "Pay\u202eecivreS\u202c down", "Pay[U+202E]ecivreS[U+202C] down"},
		{"bidi isolates", "a\u2066b\u2069c", "a[U+2066]b[U+2069]c"},
		{"zero-width characters", "adm\u200bin\u200d\ufeff", "adm[U+200B]in[U+200D][U+FEFF]"},
		{"nul", "name\x00hidden", "name[U+0000]hidden"},
		{"terminal escape", "\x1b[2J\x1b[31mALERT", "[U+001B][2J[U+001B][31mALERT"},
		{"carriage return that rewinds a line", "ok\rFAILED", "ok[U+000D]FAILED"},
		{"windows line ends", "one\r\ntwo\r\n", "one\ntwo\n"},
		{"line breaks and tabs kept", "a\n\tb", "a\n\tb"},
		{"line separator", "a\u2028b\u2029c", "a\nb\nc"},
		{"c1 control", "a\u0085b\u009bc", "a[U+0085]b[U+009B]c"},
		{"delete", "a\x7fb", "a[U+007F]b"},
		{"unicode tags (invisible text)", "hi\U000E0041\U000E0042", "hi[U+E0041][U+E0042]"},
		{"invalid utf-8", "bad\xff\xfebyte", "bad\uFFFD\uFFFDbyte"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Printable(tt.in)
			if got != tt.want {
				t.Errorf("Printable(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if again := Printable(got); again != got {
				t.Errorf("not idempotent: %q -> %q", got, again)
			}
		})
	}
}
