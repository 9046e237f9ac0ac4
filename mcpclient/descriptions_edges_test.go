package mcpclient

import (
	"testing"
	"unicode/utf8"
)

// The bounds of capText: a sentence that ends exactly at the cap or keeps
// exactly half of it, caps too small for the ellipsis (any positive
// max_description_bytes is a valid setting), and input that is not UTF-8
// from its first byte.
func TestCapTextBounds(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want string
	}{
		{"a sentence ending at the cap", "One two. Three four. Five", 20, "One two. Three four."},
		{"a line ending at the cap", "One two three four\nfive", 18, "One two three four"},
		{"a sentence keeping exactly half", "Abcd efgh. ijklmnopqrstuvwxyz", 20, "Abcd efgh."},
		{"a sentence keeping less than half", "Abcd efg. ijklmnopqrstuvwxyz", 20, "Abcd efg. ijklmno…"},
		{"a period just past the cap", "Abcdefgh.ijk", 8, "Abcde…"},
		{"a sentence at the first byte", ". abcdef", 2, "."},
		{"a one-byte cap at a line break", "\nabc", 1, "\n"},
		{"a cap the size of the ellipsis", "abcdef", 3, "abc"},
		{"a cap one more than the ellipsis", "abcdef", 4, "a…"},
		{"not UTF-8 from the first byte", "\x80\x80\x80\x80\x80", 4, "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("capText(%q, %d) panicked: %v", tt.in, tt.max, p)
				}
			}()
			got, cut := capText(tt.in, tt.max)
			if got != tt.want || !cut {
				t.Errorf("capText(%q, %d) = %q, %v; want %q, true", tt.in, tt.max, got, cut, tt.want)
			}
			if len(got) > tt.max || !utf8.ValidString(got) {
				t.Errorf("%q: longer than %d or not valid UTF-8", got, tt.max)
			}
		})
	}
}
