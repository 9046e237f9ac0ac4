package llm

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Chunk is one decoded "chat.completion.chunk" of a streamed answer. Only
// the fields the bridge needs are decoded; the rest of the upstream's chunk
// is ignored.
type Chunk struct {
	ID      string
	Object  string
	Created int64
	Model   string
	// Choices is nil when "choices" is null, absent or empty.
	Choices []ChunkChoice
	// Usage is nil when "usage" is absent, null or not an object.
	Usage *Usage
	// Error is the raw "error" member some upstreams send in the middle
	// of a stream; nil when absent or null.
	Error json.RawMessage
}

// ChunkChoice is one element of a chunk's "choices".
type ChunkChoice struct {
	Index int
	Delta Delta
	// FinishReason is "" when null or absent.
	FinishReason string
}

// Delta is the "delta" of a streamed choice. String fields are "" when
// the member is absent, null or not a string.
type Delta struct {
	Role string
	// Content is the content fragment; HasContent is false when "content"
	// was null, absent or not a string, and true for "".
	Content    string
	HasContent bool
	// ReasoningContent, Reasoning and Thinking are the reasoning fields
	// different upstreams use; only their string forms are kept.
	ReasoningContent string
	Reasoning        string
	Thinking         string
	Refusal          string
	ToolCalls        []ToolCallDelta
}

// ToolCallDelta is one element of "tool_calls", in a streamed delta or in a
// complete message.
type ToolCallDelta struct {
	// Index is the "index" member; a missing or non-integer index means 0
	// and leaves HasIndex false.
	Index    int
	HasIndex bool
	// ID is "" when the id is missing, empty, null or not a string
	// (numeric ids count as missing).
	ID   string
	Type string
	Name string
	// Arguments is function.arguments: the string as sent, or the compact
	// JSON text of an object or array value; "" when absent or null.
	Arguments string
	// ArgumentsWasObject reports that the arguments came as a JSON object:
	// a whole value, not a fragment to be concatenated further.
	ArgumentsWasObject bool
}

// Completion is a decoded non-streamed "chat.completion".
type Completion struct {
	ID      string
	Object  string
	Created int64
	Model   string
	// Choices is nil when "choices" is null, absent or empty.
	Choices []CompletionChoice
	// Usage is nil when "usage" is absent, null or not an object.
	Usage *Usage
	// Error is the raw "error" member, nil when absent or null.
	Error json.RawMessage
}

// CompletionChoice is one element of a completion's "choices".
type CompletionChoice struct {
	Index   int
	Message Message
	// FinishReason is "" when null or absent.
	FinishReason string
}

// Message is the "message" of a completion choice, with the same
// conventions as Delta.
type Message struct {
	Role             string
	Content          string
	HasContent       bool
	ReasoningContent string
	Reasoning        string
	Thinking         string
	Refusal          string
	ToolCalls        []ToolCallDelta
}

// Usage is the token accounting of an answer. The zero value is no usage.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// Add adds o's counts to u. A nil o adds nothing. u must not be nil.
func (u *Usage) Add(o *Usage) {
	if o == nil {
		return
	}
	u.PromptTokens += o.PromptTokens
	u.CompletionTokens += o.CompletionTokens
	u.TotalTokens += o.TotalTokens
}

// ParseChunk decodes the data of one streamed event, in a single pass.
// Decoding is tolerant: a member of unexpected JSON type is ignored, as are
// unknown members. Member names are matched exactly. Only invalid JSON is
// an error. data is not retained.
func ParseChunk(data []byte) (*Chunk, error) {
	c := &Chunk{}
	s := scanner{data: data}
	var h head
	err := s.top(&h, func() {
		c.Choices = decodeChoices(&s, "delta", func(ch *ChunkChoice) (*int, *Message, *string) {
			return &ch.Index, (*Message)(&ch.Delta), &ch.FinishReason
		})
	})
	if err != nil {
		return nil, fmt.Errorf("parsing chunk: %w", err)
	}
	c.ID, c.Object, c.Created, c.Model, c.Usage, c.Error = h.ID, h.Object, h.Created, h.Model, h.Usage, h.Error
	return c, nil
}

// ParseCompletion decodes a non-streamed completion with the same
// tolerance as ParseChunk. Only invalid JSON is an error. data is not
// retained.
func ParseCompletion(data []byte) (*Completion, error) {
	c := &Completion{}
	s := scanner{data: data}
	var h head
	err := s.top(&h, func() {
		c.Choices = decodeChoices(&s, "message", func(ch *CompletionChoice) (*int, *Message, *string) {
			return &ch.Index, &ch.Message, &ch.FinishReason
		})
	})
	if err != nil {
		return nil, fmt.Errorf("parsing completion: %w", err)
	}
	c.ID, c.Object, c.Created, c.Model, c.Usage, c.Error = h.ID, h.Object, h.Created, h.Model, h.Usage, h.Error
	return c, nil
}

// decodeTolerant unmarshals data into v with encoding/json, which skips a
// member whose JSON type does not fit its Go type and goes on decoding the
// rest, reporting an *json.UnmarshalTypeError at the end; that report is
// dropped here. Syntax errors are returned. It serves the bodies that are
// not on the streaming path (errors, model lists).
func decodeTolerant(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) {
			return err
		}
	}
	return nil
}
