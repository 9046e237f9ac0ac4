package mcpclient

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCapText(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want string
		cut  bool
	}{
		{"short", "abc", 10, "abc", false},
		{"exact", "abcdef", 6, "abcdef", false},
		{"no cap", strings.Repeat("x", 10000), 0, strings.Repeat("x", 10000), false},
		{"ascii", "abcdefghij", 6, "abc…", true},
		// "é" is 2 bytes: 4 bytes of room keep "éé" whole, 5 cannot split the third.
		{"two-byte runes", "ééééé", 7, "éé…", true},
		{"split rune backs off", "ééééé", 8, "éé…", true},
		{"four-byte runes", "😀😀😀", 9, "😀…", true},
		{"no room for the ellipsis", "abcdef", 2, "ab", true},
		{"invalid input made valid", "a\xffbcdefgh", 6, "ab…", true},
		{"at a sentence", "Reads a file. Returns its text as UTF-8.", 24, "Reads a file.", true},
		{"at the last sentence that fits", "One. Two two. Three three three.", 20, "One. Two two.", true},
		{"at a line", "Reads a file\nReturns its text as UTF-8", 20, "Reads a file", true},
		{"a sentence too short to keep", "Hi. " + strings.Repeat("x", 40), 20, "Hi. " + strings.Repeat("x", 13) + "…", true},
		{"a period inside a word", "v1.2.3 is the version of it", 10, "v1.2.3 …", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, cut := capText(tt.in, tt.max)
			if got != tt.want || cut != tt.cut {
				t.Errorf("capText(%q, %d) = %q, %v; want %q, %v", tt.in, tt.max, got, cut, tt.want, tt.cut)
			}
			if tt.max > 0 && len(got) > tt.max {
				t.Errorf("len = %d > %d", len(got), tt.max)
			}
			if cut && !utf8.ValidString(got) {
				t.Errorf("%q is not valid UTF-8", got)
			}
		})
	}
}

func TestCapSchemaDescriptions(t *testing.T) {
	long := strings.Repeat("ü", 50) // 100 bytes
	in := `{"type":"object","description":"` + long + `","properties":{` +
		`"a":{"type":"string","description":"` + long + `","default":{"description":"` + long + `"}},` +
		`"default":{"type":"object","properties":{"b":{"description":"` + long + `"}}},` +
		`"description":{"type":"string","description":"short <&>"}},` +
		`"items":[{"description":"` + long + `"}],"maximum":9007199254740993}`
	out, cut := capSchemaDescriptions(json.RawMessage(in), 20)
	if !cut {
		t.Fatalf("nothing cut in %s", in)
	}
	capped := strings.Repeat("ü", 8) + "…" // 16 + 3 bytes
	want := `{"description":"` + capped + `","items":[{"description":"` + capped + `"}],"maximum":9007199254740993,"properties":{` +
		`"a":{"default":{"description":"` + long + `"},"description":"` + capped + `","type":"string"},` +
		`"default":{"properties":{"b":{"description":"` + capped + `"}},"type":"object"},` +
		`"description":{"description":"short <&>","type":"string"}},"type":"object"}`
	if string(out) != want {
		t.Errorf("capped =\n%s\nwant\n%s", out, want)
	}

	small := json.RawMessage(`{"type":"object","description":"short"}`)
	if out, cut := capSchemaDescriptions(small, 20); cut || string(out) != string(small) {
		t.Errorf("short schema = %s, %v; want it unchanged", out, cut)
	}
}
