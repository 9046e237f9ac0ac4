package llm

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"slices"
)

// ToolCall is a complete tool call assembled from streamed deltas.
type ToolCall struct {
	// ID is the upstream's id, or a synthesised "call_..." id when the
	// upstream sent none (or an empty or numeric one).
	ID   string
	Name string
	// Arguments is the JSON text of the arguments as the upstream sent
	// them, "{}" when nothing was sent. It is not validated.
	Arguments string
}

// Accumulator assembles the tool-call deltas of a streamed answer into
// complete calls. The zero value is ready to use. It is not safe for
// concurrent use.
//
// Deltas are keyed by index (a missing index means 0). Arguments
// fragments are concatenated; id and name are assigned (the last non-empty
// value wins), because some upstreams resend them with later fragments;
// the type is not kept (every call is a function call). Several different calls may share one index: a delta whose id
// differs from the id already held at its index starts a new call, and so
// does a delta without id that carries a name and the beginning of a new
// JSON value while the call at its index already has a name and complete
// JSON arguments. Later deltas at that index go to its newest call.
// Arguments sent as a JSON object are a whole value: they replace what
// the call held, and later string fragments for that call are ignored.
// Finish reasons are not consulted.
type Accumulator struct {
	calls []accCall
}

type accCall struct {
	index int
	id    string
	name  string
	args  []byte
	whole bool   // args came as an object and are complete
	genID string // synthesised id, used while id is ""
}

// Add folds the tool-call deltas of one chunk into the accumulator, in
// order.
func (a *Accumulator) Add(deltas []ToolCallDelta) {
	for i := range deltas {
		a.add(&deltas[i])
	}
}

func (a *Accumulator) add(d *ToolCallDelta) {
	index := 0
	if d.HasIndex {
		index = d.Index
	}
	c := a.newest(index)
	if c == nil || startsNewCall(c, d) {
		a.calls = append(a.calls, accCall{index: index})
		c = &a.calls[len(a.calls)-1]
	}
	if d.ID != "" {
		c.id = d.ID
	}
	if d.Name != "" {
		c.name = d.Name
	}
	switch {
	case d.ArgumentsWasObject:
		c.args = append(c.args[:0], d.Arguments...)
		c.whole = true
	case !c.whole:
		c.args = append(c.args, d.Arguments...)
	}
}

// newest returns the most recently started call at index, or nil.
func (a *Accumulator) newest(index int) *accCall {
	for i := len(a.calls) - 1; i >= 0; i-- {
		if a.calls[i].index == index {
			return &a.calls[i]
		}
	}
	return nil
}

// startsNewCall reports whether d begins a different call than c, which
// holds the same index.
func startsNewCall(c *accCall, d *ToolCallDelta) bool {
	if d.ID != "" {
		return c.id != "" && d.ID != c.id
	}
	if d.Name == "" || c.name == "" || !beginsValue(d) {
		return false
	}
	return c.whole || json.Valid(c.args)
}

// beginsValue reports whether d's arguments begin a JSON object or array.
func beginsValue(d *ToolCallDelta) bool {
	if d.ArgumentsWasObject {
		return true
	}
	for i := 0; i < len(d.Arguments); i++ {
		switch d.Arguments[i] {
		case ' ', '\t', '\n', '\r':
			continue
		case '{', '[':
			return true
		}
		return false
	}
	return false
}

// Len returns the number of calls started so far.
func (a *Accumulator) Len() int { return len(a.calls) }

// Reset forgets every call, keeping allocated memory for reuse.
func (a *Accumulator) Reset() {
	clear(a.calls)
	a.calls = a.calls[:0]
}

// Calls returns the calls in order of first appearance. Ids missing from
// the stream are synthesised once, on the first call to Calls, and stay the
// same on later calls (unless the upstream sends one afterwards). The
// returned slice is the caller's.
func (a *Accumulator) Calls() []ToolCall {
	out := make([]ToolCall, len(a.calls))
	for i := range a.calls {
		c := &a.calls[i]
		id := c.id
		if id == "" {
			if c.genID == "" {
				c.genID = a.uniqueID()
			}
			id = c.genID
		}
		args := "{}"
		if len(bytes.TrimSpace(c.args)) > 0 {
			args = string(c.args)
		}
		out[i] = ToolCall{ID: id, Name: c.name, Arguments: args}
	}
	return out
}

// uniqueID returns a new id that no call of a holds.
func (a *Accumulator) uniqueID() string {
	for {
		id := NewCallID()
		if !slices.ContainsFunc(a.calls, func(c accCall) bool { return c.id == id || c.genID == id }) {
			return id
		}
	}
}

// NewCallID returns "call_" followed by 24 random hexadecimal characters
// from crypto/rand. It is safe for concurrent use.
func NewCallID() string {
	var b [12]byte
	rand.Read(b[:]) // never returns an error (crypto/rand documents it)
	const hexdigits = "0123456789abcdef"
	out := make([]byte, 0, 5+2*len(b))
	out = append(out, "call_"...)
	for _, x := range b {
		out = append(out, hexdigits[x>>4], hexdigits[x&0x0f])
	}
	return string(out)
}
