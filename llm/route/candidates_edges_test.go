package route

import (
	"slices"
	"testing"
)

// firstPicks returns the first candidate of n calls of Candidates("m").
func firstPicks(t *testing.T, r *Router, n int) []string {
	t.Helper()
	var out []string
	for range n {
		cs, err := r.Candidates("m")
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, cs[0].Name)
	}
	return out
}

// TestCandidatesLowerPriorityFirst: upstreams are tried by priority,
// lower first, whatever the order they were configured in.
func TestCandidatesLowerPriorityFirst(t *testing.T) {
	f := &fake{}
	r, err := New(Options{Upstreams: []Upstream{
		{Name: "c", Client: f, Priority: 3},
		{Name: "b", Client: f, Priority: 2},
		{Name: "a", Client: f},
	}})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := r.Candidates("m")
	if got := names(cs); err != nil || !slices.Equal(got, []string{"a:m", "b:m", "c:m"}) {
		t.Errorf("candidates %v, %v; want a, b, c", got, err)
	}
}

// TestCandidatesZeroPriorityMeansOne: an upstream without a priority
// shares the requests with one of priority 1 (round robin), rather than
// always coming first or last.
func TestCandidatesZeroPriorityMeansOne(t *testing.T) {
	f := &fake{}
	r, err := New(Options{Upstreams: []Upstream{{Name: "a", Client: f, Priority: 1}, {Name: "b", Client: f}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := firstPicks(t, r, 4); !slices.Equal(got, []string{"a", "b", "a", "b"}) {
		t.Errorf("first picks %v, want a, b, a, b", got)
	}
}

// TestCandidatesEqualWeightsAlternate: upstreams of equal priority and no
// weight (which means 1) take turns, the first configured first.
func TestCandidatesEqualWeightsAlternate(t *testing.T) {
	f := &fake{}
	r, err := New(Options{Upstreams: []Upstream{{Name: "a", Client: f}, {Name: "b", Client: f}, {Name: "c", Client: f, Weight: -2}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := firstPicks(t, r, 6); !slices.Equal(got, []string{"a", "b", "c", "a", "b", "c"}) {
		t.Errorf("first picks %v, want a, b, c in turn", got)
	}
}

// TestCandidateLabel: a candidate's label is the upstream's Label, or its
// name when it has none (what metrics and audit lines call it).
func TestCandidateLabel(t *testing.T) {
	f := &fake{}
	r, err := New(Options{Upstreams: []Upstream{{Name: "a", Client: f, Models: []string{"x"}}, {Name: "b", Label: "cloud", Client: f, Models: []string{"y"}}}})
	if err != nil {
		t.Fatal(err)
	}
	for model, want := range map[string]string{"x": "a", "y": "cloud"} {
		cs, err := r.Candidates(model)
		if err != nil || len(cs) != 1 || cs[0].Label != want {
			t.Errorf("Candidates(%q): %+v, %v; want label %q", model, cs, err, want)
		}
	}
}
