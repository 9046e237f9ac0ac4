package llm

import (
	"regexp"
	"testing"
)

var synthesisedID = regexp.MustCompile(`^call_[0-9a-f]{24}$`)

// checkCalls compares calls with want; a want ID of "" asks for a
// synthesised id.
func checkCalls(t *testing.T, got, want []ToolCall) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d calls %+v, want %d %+v", len(got), got, len(want), want)
	}
	seen := map[string]bool{}
	for i := range want {
		g, w := got[i], want[i]
		if w.ID == "" {
			if !synthesisedID.MatchString(g.ID) {
				t.Errorf("call %d: id %q, want a synthesised call_ id", i, g.ID)
			}
		} else if g.ID != w.ID {
			t.Errorf("call %d: id %q, want %q", i, g.ID, w.ID)
		}
		if seen[g.ID] {
			t.Errorf("call %d: id %q used twice", i, g.ID)
		}
		seen[g.ID] = true
		if g.Name != w.Name || g.Arguments != w.Arguments {
			t.Errorf("call %d: got %s(%s), want %s(%s)", i, g.Name, g.Arguments, w.Name, w.Arguments)
		}
	}
}

func TestAccumulator(t *testing.T) {
	idx := func(i int) (int, bool) { return i, true }
	at := func(i int, d ToolCallDelta) ToolCallDelta { d.Index, d.HasIndex = idx(i); return d }
	obj := func(d ToolCallDelta) ToolCallDelta { d.ArgumentsWasObject = true; return d }
	tests := []struct {
		name   string
		chunks [][]ToolCallDelta
		want   []ToolCall
	}{
		{
			name: "fragments concatenated",
			chunks: [][]ToolCallDelta{
				{at(0, ToolCallDelta{ID: "call_1", Type: "function", Name: "f", Arguments: ""})},
				{at(0, ToolCallDelta{Arguments: `{"a"`})},
				{at(0, ToolCallDelta{Arguments: `: 1}`})},
			},
			want: []ToolCall{{ID: "call_1", Name: "f", Arguments: `{"a": 1}`}},
		},
		{
			name: "parallel calls by index",
			chunks: [][]ToolCallDelta{
				{at(0, ToolCallDelta{ID: "a", Name: "f"})},
				{at(0, ToolCallDelta{Arguments: `{"x":1}`})},
				{at(1, ToolCallDelta{ID: "b", Name: "g"})},
				{at(1, ToolCallDelta{Arguments: `{"y":`})},
				{at(0, ToolCallDelta{Arguments: ``})},
				{at(1, ToolCallDelta{Arguments: `2}`})},
			},
			want: []ToolCall{{ID: "a", Name: "f", Arguments: `{"x":1}`}, {ID: "b", Name: "g", Arguments: `{"y":2}`}},
		},
		{
			name: "order of first appearance, not of index",
			chunks: [][]ToolCallDelta{
				{at(1, ToolCallDelta{ID: "b", Name: "g", Arguments: `{}`}), at(0, ToolCallDelta{ID: "a", Name: "f", Arguments: `{}`})},
			},
			want: []ToolCall{{ID: "b", Name: "g", Arguments: `{}`}, {ID: "a", Name: "f", Arguments: `{}`}},
		},
		{
			name: "missing index means 0",
			chunks: [][]ToolCallDelta{
				{{ID: "a", Name: "f", Arguments: `{"p":`}},
				{at(0, ToolCallDelta{Arguments: `"v"}`})},
			},
			want: []ToolCall{{ID: "a", Name: "f", Arguments: `{"p":"v"}`}},
		},
		{
			name: "id and name resent with the last fragment",
			chunks: [][]ToolCallDelta{
				{at(0, ToolCallDelta{ID: "t-1", Type: "function", Name: "weather"})},
				{at(0, ToolCallDelta{Arguments: `{"city": "`})},
				{at(0, ToolCallDelta{ID: "t-1", Type: "function", Name: "weather", Arguments: `Paris"}`})},
			},
			want: []ToolCall{{ID: "t-1", Name: "weather", Arguments: `{"city": "Paris"}`}},
		},
		{
			name: "bare resend of the name after complete arguments",
			chunks: [][]ToolCallDelta{
				{at(0, ToolCallDelta{ID: "a", Name: "f", Arguments: `{"x":1}`})},
				{at(0, ToolCallDelta{Name: "f"})},
			},
			want: []ToolCall{{ID: "a", Name: "f", Arguments: `{"x":1}`}},
		},
		{
			name: "name resent with a fragment that does not begin a value",
			chunks: [][]ToolCallDelta{
				{at(0, ToolCallDelta{ID: "a", Name: "f", Arguments: `{"x":1}`})},
				{at(0, ToolCallDelta{Name: "f", Arguments: ` `})},
			},
			want: []ToolCall{{ID: "a", Name: "f", Arguments: `{"x":1} `}},
		},
		{
			name: "name with a new value while arguments are incomplete",
			chunks: [][]ToolCallDelta{
				{at(0, ToolCallDelta{ID: "a", Name: "f", Arguments: `{"x":`})},
				{at(0, ToolCallDelta{Name: "f", Arguments: `{"y":1}}`})},
			},
			want: []ToolCall{{ID: "a", Name: "f", Arguments: `{"x":{"y":1}}`}},
		},
		{
			name: "different ids at one index in one chunk",
			chunks: [][]ToolCallDelta{
				{
					at(0, ToolCallDelta{ID: "call_x1", Type: "function", Name: "read", Arguments: `{"path":"a"}`}),
					at(0, ToolCallDelta{ID: "call_x2", Type: "function", Name: "read", Arguments: `{"path":"b"}`}),
				},
			},
			want: []ToolCall{{ID: "call_x1", Name: "read", Arguments: `{"path":"a"}`}, {ID: "call_x2", Name: "read", Arguments: `{"path":"b"}`}},
		},
		{
			name: "whole calls without ids at one index",
			chunks: [][]ToolCallDelta{
				{{Name: "read", Arguments: `{"path":"a"}`}, {Name: "read", Arguments: ` {"path":"b"}`}},
				{{Name: "list", Arguments: `[1]`}},
			},
			want: []ToolCall{{Name: "read", Arguments: `{"path":"a"}`}, {Name: "read", Arguments: ` {"path":"b"}`}, {Name: "list", Arguments: `[1]`}},
		},
		{
			name: "later deltas go to the newest call of the index",
			chunks: [][]ToolCallDelta{
				{at(0, ToolCallDelta{ID: "a", Name: "f", Arguments: `{}`}), at(0, ToolCallDelta{ID: "b", Name: "g"})},
				{at(0, ToolCallDelta{Arguments: `{"z":`})},
				{at(0, ToolCallDelta{Arguments: `true}`})},
			},
			want: []ToolCall{{ID: "a", Name: "f", Arguments: `{}`}, {ID: "b", Name: "g", Arguments: `{"z":true}`}},
		},
		{
			name: "same id again stays one call",
			chunks: [][]ToolCallDelta{
				{at(0, ToolCallDelta{ID: "a", Name: "f", Arguments: `{"x":1}`})},
				{at(0, ToolCallDelta{ID: "a", Name: "f", Arguments: ``})},
			},
			want: []ToolCall{{ID: "a", Name: "f", Arguments: `{"x":1}`}},
		},
		{
			name: "id arriving after the first delta is assigned",
			chunks: [][]ToolCallDelta{
				{at(0, ToolCallDelta{Name: "f", Arguments: `{"x"`})},
				{at(0, ToolCallDelta{ID: "late", Arguments: `:1}`})},
			},
			want: []ToolCall{{ID: "late", Name: "f", Arguments: `{"x":1}`}},
		},
		{
			name: "name assigned, last non-empty wins",
			chunks: [][]ToolCallDelta{
				{at(0, ToolCallDelta{ID: "a", Name: "f"})},
				{at(0, ToolCallDelta{ID: "a", Name: "g", Arguments: `{}`})},
				{at(0, ToolCallDelta{Name: ""})},
			},
			want: []ToolCall{{ID: "a", Name: "g", Arguments: `{}`}},
		},
		{
			name: "arguments as an object replace fragments and end the call's arguments",
			chunks: [][]ToolCallDelta{
				{at(0, ToolCallDelta{ID: "a", Name: "f", Arguments: `{"x`})},
				{obj(at(0, ToolCallDelta{Arguments: `{"x":1}`}))},
				{at(0, ToolCallDelta{Arguments: `garbage`})},
			},
			want: []ToolCall{{ID: "a", Name: "f", Arguments: `{"x":1}`}},
		},
		{
			name: "objects at one index without ids",
			chunks: [][]ToolCallDelta{
				{obj(ToolCallDelta{Name: "f", Arguments: `{"x":1}`}), obj(ToolCallDelta{Name: "f", Arguments: `{"x":2}`})},
			},
			want: []ToolCall{{Name: "f", Arguments: `{"x":1}`}, {Name: "f", Arguments: `{"x":2}`}},
		},
		{
			name:   "absent arguments",
			chunks: [][]ToolCallDelta{{at(0, ToolCallDelta{ID: "a", Name: "now"})}},
			want:   []ToolCall{{ID: "a", Name: "now", Arguments: `{}`}},
		},
		{
			name:   "whitespace arguments",
			chunks: [][]ToolCallDelta{{at(0, ToolCallDelta{ID: "a", Name: "now", Arguments: " \n"})}},
			want:   []ToolCall{{ID: "a", Name: "now", Arguments: `{}`}},
		},
		{
			name: "missing ids synthesised, unique",
			chunks: [][]ToolCallDelta{
				{at(0, ToolCallDelta{Name: "f", Arguments: `{}`}), at(1, ToolCallDelta{Name: "g", Arguments: `{}`})},
				{at(2, ToolCallDelta{ID: "", Name: "h"})},
			},
			want: []ToolCall{{Name: "f", Arguments: `{}`}, {Name: "g", Arguments: `{}`}, {Name: "h", Arguments: `{}`}},
		},
		{
			name:   "no deltas",
			chunks: [][]ToolCallDelta{{}, nil},
			want:   []ToolCall{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a Accumulator
			for _, c := range tt.chunks {
				a.Add(c)
			}
			if a.Len() != len(tt.want) {
				t.Errorf("Len() = %d, want %d", a.Len(), len(tt.want))
			}
			checkCalls(t, a.Calls(), tt.want)
		})
	}
}

func TestAccumulatorSynthesisedIDsAreStable(t *testing.T) {
	var a Accumulator
	a.Add([]ToolCallDelta{{Name: "f"}, {Index: 1, HasIndex: true, Name: "g"}})
	first := a.Calls()
	second := a.Calls()
	if first[0].ID != second[0].ID || first[1].ID != second[1].ID {
		t.Errorf("ids changed between calls: %v then %v", first, second)
	}
	if first[0].ID == first[1].ID {
		t.Errorf("two calls share id %q", first[0].ID)
	}

	// An id that arrives later is the call's id and starts no new call.
	a.Add([]ToolCallDelta{{ID: "real", Arguments: `{}`}})
	third := a.Calls()
	if a.Len() != 2 || third[0].ID != "real" || third[0].Arguments != `{}` {
		t.Errorf("after a late id: %+v", third)
	}
}

func TestAccumulatorReset(t *testing.T) {
	var a Accumulator
	a.Add([]ToolCallDelta{{ID: "a", Name: "f", Arguments: `{"x":1}`}})
	a.Reset()
	if a.Len() != 0 || len(a.Calls()) != 0 {
		t.Fatalf("after Reset: Len %d, calls %v", a.Len(), a.Calls())
	}
	a.Add([]ToolCallDelta{{ID: "b", Name: "g", Arguments: `{}`}})
	checkCalls(t, a.Calls(), []ToolCall{{ID: "b", Name: "g", Arguments: `{}`}})
}

func TestNewCallID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewCallID()
		if !synthesisedID.MatchString(id) {
			t.Fatalf("NewCallID() = %q", id)
		}
		if seen[id] {
			t.Fatalf("NewCallID() repeated %q", id)
		}
		seen[id] = true
	}
}
