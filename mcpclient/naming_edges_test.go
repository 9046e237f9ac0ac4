package mcpclient

import (
	"slices"
	"testing"
)

// Every character of the allowed set survives, the ends of each range
// included.
func TestToolNameKeepsRangeEnds(t *testing.T) {
	const all = "aAzZ09_-"
	if got := ToolName("", all); got != all {
		t.Errorf("ToolName(%q) = %q, want it unchanged", all, got)
	}
	for _, c := range "`{@[/:" { // the neighbours of the ranges
		if got := ToolName("", "x"+string(c)); got != "x_" {
			t.Errorf("ToolName(%q) = %q, want x_", "x"+string(c), got)
		}
	}
}

// A tool whose real name happens to be the hashed name another tool would
// get keeps it, whatever the order of the entries: names that are exactly
// what the server sent are served first, and the hashed one is hashed
// again, with "#1", "#2", ... appended to its key until it is free.
func TestAssignNamesExactNameBeatsHashedOne(t *testing.T) {
	hashed, rehashed := withHash("a_b", "a.b"), withHash("a_b", "a.b#1")
	entries := []nameEntry{{"s", "", "a.b"}, {"s", "", "a_b"}, {"s", "", hashed}, {"s", "", rehashed}}
	want := []string{withHash("a_b", "a.b#2"), "a_b", hashed, rehashed}
	for _, order := range [][]int{{0, 1, 2, 3}, {3, 2, 1, 0}, {1, 0, 2, 3}, {0, 3, 2, 1}} {
		in := make([]nameEntry, len(order))
		exp := make([]string, len(order))
		for i, j := range order {
			in[i], exp[i] = entries[j], want[j]
		}
		if got := assignNames(in); !slices.Equal(got, exp) {
			t.Errorf("assignNames(%v) = %q, want %q", in, got, exp)
		}
	}
}
