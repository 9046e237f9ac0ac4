package llm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// This file decodes chunks and completions in a single pass over the
// input, validating it as it goes, without reflection. Members are matched
// by exact name; unknown members are validated and skipped. A member of
// unexpected JSON type is skipped as well (tolerance), so only invalid
// JSON is an error. Nested values use the same limit as encoding/json.

const maxDepth = 10000

// scanner walks one JSON text. After the first error every method is a
// no-op and err holds that error.
type scanner struct {
	data  []byte
	pos   int
	depth int
	err   error
	key   []byte // the member name read by the last nextMember
}

// head holds the top-level members shared by chunks and completions.
type head struct {
	ID, Object, Model string
	Created           int64
	Usage             *Usage
	Error             json.RawMessage
}

func (s *scanner) fail(format string, args ...any) {
	if s.err == nil {
		s.err = fmt.Errorf("invalid JSON at offset %d: %s", s.pos, fmt.Sprintf(format, args...))
	}
}

// ws skips whitespace and returns the next byte, 0 at the end or after an
// error (a 0 byte in the input is invalid wherever ws is used).
func (s *scanner) ws() byte {
	for s.err == nil && s.pos < len(s.data) {
		switch c := s.data[s.pos]; c {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return c
		}
	}
	return 0
}

// finish checks that only whitespace follows the top-level value.
func (s *scanner) finish() error {
	if s.ws(); s.err == nil && s.pos < len(s.data) {
		s.fail("unexpected %q after top-level value", s.data[s.pos])
	}
	return s.err
}

// top decodes the top level of a chunk or completion into h, calling
// choices to decode the value of its "choices" member, and checks that the
// whole input is valid JSON. A top-level value that is not an object is
// validated and ignored.
func (s *scanner) top(h *head, choices func()) error {
	if !s.objectStart() {
		s.value()
		return s.finish()
	}
	for first := true; s.nextMember(&first); {
		switch string(s.key) {
		case "id":
			h.ID, _ = s.stringValue()
		case "object":
			h.Object, _ = s.stringValue()
		case "model":
			h.Model, _ = s.stringValue()
		case "created":
			h.Created, _ = s.intValue()
		case "choices":
			choices()
		case "usage":
			h.Usage = s.usage()
		case "error":
			h.Error = s.rawValue()
		default:
			s.value()
		}
	}
	return s.finish()
}

// decodeChoices decodes an array of choices of type C. fields returns
// pointers to a choice's index, message (found under the member name
// member) and finish reason. It returns nil for an empty array or a value
// that is not an array.
func decodeChoices[C any](s *scanner, member string, fields func(*C) (*int, *Message, *string)) []C {
	var out []C
	if !s.arrayStart() {
		s.value()
		return nil
	}
	for first := true; s.nextElem(&first); {
		var zero C
		out = append(out, zero)
		index, msg, finish := fields(&out[len(out)-1])
		if !s.objectStart() {
			s.value()
			continue
		}
		for first := true; s.nextMember(&first); {
			switch string(s.key) {
			case "index":
				n, _ := s.intValue()
				*index = int(n)
			case member:
				s.message(msg)
			case "finish_reason":
				*finish, _ = s.stringValue()
			default:
				s.value()
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// message decodes a delta or a message into m.
func (s *scanner) message(m *Message) {
	if !s.objectStart() {
		s.value()
		return
	}
	for first := true; s.nextMember(&first); {
		switch string(s.key) {
		case "role":
			m.Role, _ = s.stringValue()
		case "content":
			m.Content, m.HasContent = s.stringValue()
		case "reasoning_content":
			m.ReasoningContent, _ = s.stringValue()
		case "reasoning":
			m.Reasoning, _ = s.stringValue()
		case "thinking":
			m.Thinking, _ = s.stringValue()
		case "refusal":
			m.Refusal, _ = s.stringValue()
		case "tool_calls":
			m.ToolCalls = s.toolCalls()
		default:
			s.value()
		}
	}
}

// toolCalls decodes a "tool_calls" array; nil when empty or not an array.
func (s *scanner) toolCalls() []ToolCallDelta {
	var out []ToolCallDelta
	if !s.arrayStart() {
		s.value()
		return nil
	}
	for first := true; s.nextElem(&first); {
		out = append(out, ToolCallDelta{})
		tc := &out[len(out)-1]
		if !s.objectStart() {
			s.value()
			continue
		}
		for first := true; s.nextMember(&first); {
			switch string(s.key) {
			case "index":
				n, ok := s.intValue()
				tc.Index, tc.HasIndex = int(n), ok
			case "id":
				tc.ID, _ = s.stringValue()
			case "type":
				tc.Type, _ = s.stringValue()
			case "function":
				s.function(tc)
			default:
				s.value()
			}
		}
	}
	return out
}

// function decodes a tool call's "function" object into tc.
func (s *scanner) function(tc *ToolCallDelta) {
	if !s.objectStart() {
		s.value()
		return
	}
	for first := true; s.nextMember(&first); {
		switch string(s.key) {
		case "name":
			tc.Name, _ = s.stringValue()
		case "arguments":
			tc.Arguments, tc.ArgumentsWasObject = "", false
			switch s.ws() {
			case '"':
				tc.Arguments, _ = s.stringValue()
			case '{', '[':
				obj := s.data[s.pos] == '{'
				if raw := s.value(); s.err == nil {
					tc.Arguments, tc.ArgumentsWasObject = compactText(raw), obj
				}
			default:
				s.value()
			}
		default:
			s.value()
		}
	}
}

// usage decodes a "usage" object; nil when it is not an object.
func (s *scanner) usage() *Usage {
	if !s.objectStart() {
		s.value()
		return nil
	}
	u := &Usage{}
	for first := true; s.nextMember(&first); {
		var n int64
		switch string(s.key) {
		case "prompt_tokens":
			n, _ = s.intValue()
			u.PromptTokens = int(n)
		case "completion_tokens":
			n, _ = s.intValue()
			u.CompletionTokens = int(n)
		case "total_tokens":
			n, _ = s.intValue()
			u.TotalTokens = int(n)
		default:
			s.value()
		}
	}
	return u
}

// rawValue returns a copy of the next value, nil for null.
func (s *scanner) rawValue() json.RawMessage {
	raw := s.value()
	if s.err != nil || len(raw) == 0 || raw[0] == 'n' {
		return nil
	}
	return bytes.Clone(raw)
}

// stringValue decodes the next value if it is a string; any other value is
// skipped and gives ok false.
func (s *scanner) stringValue() (string, bool) {
	if s.ws() != '"' {
		s.value()
		return "", false
	}
	start := s.pos
	escaped := s.str()
	if s.err != nil {
		return "", false
	}
	inner := s.data[start+1 : s.pos-1]
	if !escaped && utf8.Valid(inner) {
		return internString(inner), true
	}
	return unescape(inner)
}

// intValue decodes the next value if it is an integral number that fits
// an int64; any other value is skipped and gives ok false.
func (s *scanner) intValue() (int64, bool) {
	if c := s.ws(); c != '-' && (c < '0' || c > '9') {
		s.value()
		return 0, false
	}
	raw := s.number()
	if s.err != nil {
		return 0, false
	}
	return parseInt(raw)
}

// objectStart consumes a '{' and reports true if the next value is an
// object; otherwise it consumes nothing.
func (s *scanner) objectStart() bool {
	if s.ws() != '{' {
		return false
	}
	s.enter()
	return s.err == nil
}

// nextMember advances to the next member of the current object, leaving
// its name in s.key and the position at its value. It reports false at the
// end of the object (which it consumes) or on error. first must start true
// for each object.
func (s *scanner) nextMember(first *bool) bool {
	c := s.ws()
	if c == '}' {
		s.pos++
		s.depth--
		return false
	}
	if !*first {
		if c != ',' {
			s.unexpected("',' or '}'")
			return false
		}
		s.pos++
		c = s.ws()
	}
	*first = false
	if c != '"' {
		s.unexpected("a member name")
		return false
	}
	start := s.pos
	escaped := s.str()
	end := s.pos
	if s.err != nil {
		return false
	}
	if s.ws() != ':' {
		s.unexpected("':'")
		return false
	}
	s.pos++
	s.key = s.data[start+1 : end-1]
	if escaped {
		k, _ := unquote(s.data[start:end])
		s.key = []byte(k)
	}
	return true
}

// arrayStart consumes a '[' and reports true if the next value is an
// array; otherwise it consumes nothing.
func (s *scanner) arrayStart() bool {
	if s.ws() != '[' {
		return false
	}
	s.enter()
	return s.err == nil
}

// nextElem advances to the next element of the current array. It reports
// false at the end of the array (which it consumes) or on error. first
// must start true for each array.
func (s *scanner) nextElem(first *bool) bool {
	c := s.ws()
	if c == ']' {
		s.pos++
		s.depth--
		return false
	}
	if !*first {
		if c != ',' {
			s.unexpected("',' or ']'")
			return false
		}
		s.pos++
	}
	*first = false
	return s.err == nil
}

func (s *scanner) enter() {
	s.pos++
	s.depth++
	if s.depth > maxDepth {
		s.fail("exceeded max depth")
	}
}

func (s *scanner) unexpected(want string) {
	if s.err != nil {
		return
	}
	if s.pos >= len(s.data) {
		s.fail("unexpected end of input, want %s", want)
		return
	}
	s.fail("unexpected %q, want %s", s.data[s.pos], want)
}

// value validates and skips the next value, returning its text.
func (s *scanner) value() []byte {
	c := s.ws()
	start := s.pos
	switch {
	case c == '{':
		s.enter()
		for first := true; s.nextMember(&first); {
			s.value()
		}
	case c == '[':
		s.enter()
		for first := true; s.nextElem(&first); {
			s.value()
		}
	case c == '"':
		s.str()
	case c == '-' || (c >= '0' && c <= '9'):
		s.number()
	case c == 't':
		s.literal("true")
	case c == 'f':
		s.literal("false")
	case c == 'n':
		s.literal("null")
	default:
		s.unexpected("a value")
	}
	if s.err != nil {
		return nil
	}
	return s.data[start:s.pos]
}

func (s *scanner) literal(lit string) {
	if !bytes.HasPrefix(s.data[s.pos:], []byte(lit)) {
		s.unexpected(lit)
		return
	}
	s.pos += len(lit)
}

// str validates and skips a string literal, reporting whether it holds an
// escape sequence.
func (s *scanner) str() (escaped bool) {
	s.pos++ // opening quote
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			return escaped
		case c == '\\':
			escaped = true
			s.pos++
			if s.pos >= len(s.data) {
				s.unexpected("an escape character")
				return escaped
			}
			switch s.data[s.pos] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.pos++
			case 'u':
				s.pos++
				for range 4 {
					if s.pos >= len(s.data) || !isHex(s.data[s.pos]) {
						s.unexpected("a hexadecimal digit")
						return escaped
					}
					s.pos++
				}
			default:
				s.unexpected("an escape character")
				return escaped
			}
		case c < 0x20:
			s.unexpected("a string character")
			return escaped
		default:
			s.pos++
		}
	}
	s.unexpected("'\"'")
	return escaped
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// number validates and skips a number, returning its text.
func (s *scanner) number() []byte {
	start := s.pos
	if s.peekIs('-') {
		s.pos++
	}
	switch {
	case s.peekIs('0'):
		s.pos++
	case s.pos < len(s.data) && s.data[s.pos] >= '1' && s.data[s.pos] <= '9':
		s.digits()
	default:
		s.unexpected("a digit")
		return nil
	}
	if s.peekIs('.') {
		s.pos++
		if !s.digits() {
			return nil
		}
	}
	if s.peekIs('e') || s.peekIs('E') {
		s.pos++
		if s.peekIs('+') || s.peekIs('-') {
			s.pos++
		}
		if !s.digits() {
			return nil
		}
	}
	return s.data[start:s.pos]
}

func (s *scanner) peekIs(c byte) bool {
	return s.pos < len(s.data) && s.data[s.pos] == c
}

// digits skips one or more digits.
func (s *scanner) digits() bool {
	start := s.pos
	for s.pos < len(s.data) && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
		s.pos++
	}
	if s.pos == start {
		s.unexpected("a digit")
		return false
	}
	return true
}
