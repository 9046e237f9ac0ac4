package mcpclient

import "testing"

// Cutting text that is not valid UTF-8 (no rune starts before the cut)
// keeps nothing of it rather than reading before its start.
func TestTruncateWithoutRuneStart(t *testing.T) {
	s := "\x80\x80\x80\x80"
	want := "\n[output truncated: 4 of 4 bytes omitted]"
	if got := truncate(s, 2); got != want {
		t.Errorf("truncate = %q, want %q", got, want)
	}
}
