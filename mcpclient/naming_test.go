package mcpclient

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var validName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

func hash8(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:8]
}

func TestToolName(t *testing.T) {
	long := strings.Repeat("a", 70)
	tests := []struct {
		prefix, tool, want string
	}{
		{"fs", "read_file", "fs__read_file"},
		{"", "read_file", "read_file"},
		{"my server", "get.item", "my_server__get_item"},
		{"git-hub", "search/code", "git-hub__search_code"},
		{"x", "héllo wörld", "x__h_llo_w_rld"},
		{"日本", "tool", "__" + "__tool"},
		{"", long, long[:55] + "_" + hash8(long)},
		{"srv", long, ("srv__" + long)[:55] + "_" + hash8("srv__"+long)},
		// the hash is of the unsanitised name
		{"", strings.Repeat("b.", 40), strings.Repeat("b_", 40)[:55] + "_" + hash8(strings.Repeat("b.", 40))},
		{"", "", ""},
		{"p", "", "p__"},
		{"", strings.Repeat("c", 64), strings.Repeat("c", 64)},
	}
	for _, tt := range tests {
		got := ToolName(tt.prefix, tt.tool)
		if got != tt.want {
			t.Errorf("ToolName(%q, %q) = %q, want %q", tt.prefix, tt.tool, got, tt.want)
		}
		if got != "" && !validName.MatchString(got) {
			t.Errorf("ToolName(%q, %q) = %q is not a valid tool name", tt.prefix, tt.tool, got)
		}
	}
}

func TestAssignNames(t *testing.T) {
	long1 := strings.Repeat("x", 70) + "one"
	long2 := strings.Repeat("x", 70) + "two"
	tests := []struct {
		name    string
		entries []nameEntry
		want    []string
	}{
		{
			name:    "no collision",
			entries: []nameEntry{{"a", "a", "t"}, {"b", "b", "t"}},
			want:    []string{"a__t", "b__t"},
		},
		{
			name:    "sanitised name collides with a valid one, which keeps it",
			entries: []nameEntry{{"s", "s", "a.b"}, {"s", "s", "a_b"}},
			want:    []string{"s__a_b_" + hash8("s__a.b"), "s__a_b"},
		},
		{
			name:    "two sanitised names collide: both hashed",
			entries: []nameEntry{{"s", "s", "a.b"}, {"s", "s", "a:b"}},
			want:    []string{"s__a_b_" + hash8("s__a.b"), "s__a_b_" + hash8("s__a:b")},
		},
		{
			name:    "same unprefixed name on two servers: first server keeps it",
			entries: []nameEntry{{"zeta", "", "search"}, {"alpha", "", "search"}},
			want:    []string{"search_" + hash8("zeta/search"), "search"},
		},
		{
			name:    "long names stay distinct",
			entries: []nameEntry{{"s", "", long1}, {"s", "", long2}},
			want:    []string{long1[:55] + "_" + hash8(long1), long2[:55] + "_" + hash8(long2)},
		},
		{
			name:    "prefix and tool sharing a separator",
			entries: []nameEntry{{"a", "a__b", "c"}, {"a__b", "a", "b__c"}},
			want:    []string{"a__b__c", "a__b__c_" + hash8("a__b/a__b__c")},
		},
		{
			name:    "empty names are skipped",
			entries: []nameEntry{{"s", "", ""}, {"s", "", "t"}},
			want:    []string{"", "t"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := assignNames(tt.entries)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("assignNames = %q, want %q", got, tt.want)
			}
			seen := map[string]bool{}
			for _, n := range got {
				if n == "" {
					continue
				}
				if !validName.MatchString(n) {
					t.Errorf("invalid name %q", n)
				}
				if seen[n] {
					t.Errorf("duplicate name %q", n)
				}
				seen[n] = true
			}
			// The result depends on the set, not on the order.
			rev := slices.Clone(tt.entries)
			slices.Reverse(rev)
			gotRev := assignNames(rev)
			slices.Reverse(gotRev)
			if !slices.Equal(gotRev, got) {
				t.Errorf("reversed input gave %q, want %q", gotRev, got)
			}
		})
	}
}
