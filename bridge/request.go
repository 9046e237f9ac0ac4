package bridge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"unicode/utf8"
)

// object is a JSON object decoded one level deep with its member order kept,
// so that a request re-encoded for the upstream carries every member the
// bridge does not own byte for byte and in the order the client sent it.
// Keys and values are sub-slices of the data parsed, not copies.
type object struct {
	members []member
}

type member struct {
	key    string
	rawKey []byte // the key as written, quotes included
	value  json.RawMessage
}

// parseObject decodes data as a JSON object, keeping member order; a key
// given twice keeps its first place and its last value. It returns an
// *apiError describing what was wrong with data otherwise.
func parseObject(data []byte) (*object, error) {
	data = bytes.Trim(data, " \t\r\n") // JSON's whitespace, and only it
	if len(data) == 0 {
		return nil, invalidRequest("", "request body is empty; expected a JSON object")
	}
	if !json.Valid(data) {
		return nil, invalidRequest("", "request body is not valid JSON: "+syntaxError(data))
	}
	if data[0] != '{' {
		return nil, invalidRequest("", "request body must be a JSON object, got "+jsonKind(data))
	}
	o := &object{members: make([]member, 0, 16)}
	eachMember(data, func(rawKey, value []byte) bool {
		o.setRaw(unquoteKey(rawKey), rawKey, value)
		return true
	})
	return o, nil
}

// The scanners below walk JSON that json.Valid accepted, so they need not
// check its syntax.

// eachMember calls fn with the raw key (quotes included) and the raw value
// of each member of the valid JSON object obj, in order, until fn returns
// false.
func eachMember(obj []byte, fn func(rawKey, value []byte) bool) {
	i := skipSpace(obj, 1)
	for i < len(obj) && obj[i] != '}' {
		kEnd := skipString(obj, i)
		rawKey := obj[i:kEnd]
		v := skipSpace(obj, skipSpace(obj, kEnd)+1) // past ':'
		vEnd := skipValue(obj, v)
		if !fn(rawKey, obj[v:vEnd]) {
			return
		}
		i = skipSpace(obj, vEnd)
		if i < len(obj) && obj[i] == ',' {
			i = skipSpace(obj, i+1)
		}
	}
}

// eachElement calls fn with each element of the valid JSON array arr.
func eachElement(arr []byte, fn func(el []byte)) {
	i := skipSpace(arr, 1)
	for i < len(arr) && arr[i] != ']' {
		end := skipValue(arr, i)
		fn(arr[i:end])
		i = skipSpace(arr, end)
		if i < len(arr) && arr[i] == ',' {
			i = skipSpace(arr, i+1)
		}
	}
}

// findMember returns the value of key in the valid JSON object obj.
func findMember(obj []byte, key string) ([]byte, bool) {
	if len(obj) == 0 || obj[0] != '{' {
		return nil, false
	}
	var found []byte
	eachMember(obj, func(rawKey, value []byte) bool {
		if unquoteKey(rawKey) == key {
			found = value
			return false
		}
		return true
	})
	return found, found != nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at b[i].
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// skipValue returns the index just past the value starting at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	default:
		for ; i < len(b); i++ {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
		}
		return len(b)
	}
}

// unquoteKey decodes a raw JSON string; keys rarely hold escapes or
// invalid UTF-8 (which decodes to U+FFFD, as encoding/json does).
func unquoteKey(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return string(raw[1 : len(raw)-1])
	}
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}

// stringValue returns the string a raw JSON value holds, and whether it is
// a string.
func stringValue(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	return unquoteKey(raw), true
}

// syntaxError describes where data stops being valid JSON.
func syntaxError(data []byte) string {
	var v any
	err := json.Unmarshal(data, &v)
	if err == nil {
		return "unknown error"
	}
	return err.Error()
}

// jsonKind names the JSON type of a valid JSON value.
func jsonKind(v []byte) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// get returns the raw value of key, or nil when absent.
func (o *object) get(key string) json.RawMessage {
	for i := range o.members {
		if o.members[i].key == key {
			return o.members[i].value
		}
	}
	return nil
}

// set replaces or appends key.
func (o *object) set(key string, v json.RawMessage) {
	o.setRaw(key, nil, v)
}

func (o *object) setRaw(key string, rawKey []byte, v json.RawMessage) {
	for i := range o.members {
		if o.members[i].key == key {
			o.members[i].value = v
			return
		}
	}
	if rawKey == nil {
		rawKey, _ = json.Marshal(key)
	}
	o.members = append(o.members, member{key: key, rawKey: rawKey, value: v})
}

// del removes key.
func (o *object) del(key string) {
	o.members = slices.DeleteFunc(o.members, func(m member) bool { return m.key == key })
}

// clone returns a copy whose members can be set without touching o.
func (o *object) clone() *object {
	return &object{members: append(make([]member, 0, len(o.members)+3), o.members...)}
}

// marshal encodes o with its members in order.
func (o *object) marshal() []byte {
	n := 2
	for _, m := range o.members {
		n += len(m.rawKey) + len(m.value) + 2
	}
	buf := make([]byte, 0, n)
	for _, p := range o.parts(0) {
		buf = append(buf, p...)
	}
	return buf
}

// shareAbove is the size from which parts sends a value as a reference of
// its own instead of copying it.
const shareAbove = 2 << 10

// parts encodes o as pieces to be sent one after the other: small pieces
// are gathered into one buffer, values of at least share bytes (the tool
// list shared by every request, the client's messages) stay where they are.
// share 0 means every value is copied.
func (o *object) parts(share int) net.Buffers {
	var out net.Buffers
	buf := make([]byte, 0, 512)
	buf = append(buf, '{')
	for i, m := range o.members {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, m.rawKey...)
		buf = append(buf, ':')
		if share > 0 && len(m.value) >= share {
			out = append(out, buf, m.value)
			buf = make([]byte, 0, 256)
			continue
		}
		buf = append(buf, m.value...)
	}
	return append(out, append(buf, '}'))
}

// chatRequest is a client's chat-completions request: the raw object, plus
// the few members the bridge reads.
type chatRequest struct {
	body         *object
	model        string
	stream       bool
	includeUsage bool
	messages     []json.RawMessage
	clientTools  []json.RawMessage
	// clientToolNames holds the function names of clientTools.
	clientToolNames map[string]bool
}

// parseChatRequest decodes and validates a chat-completions body. Errors are
// *apiError values that name the offending member. The request keeps
// sub-slices of data: data must not change while it is in use.
func parseChatRequest(data []byte) (*chatRequest, error) {
	o, err := parseObject(data)
	if err != nil {
		return nil, err
	}
	r := &chatRequest{body: o}

	if v := o.get("model"); v != nil && !isNull(v) {
		m, ok := stringValue(v)
		if !ok {
			return nil, invalidRequest("model", "'model' must be a string, got "+jsonKind(v))
		}
		r.model = m
	}
	if v := o.get("stream"); v != nil && !isNull(v) {
		switch string(v) {
		case "true":
			r.stream = true
		case "false":
		default:
			return nil, invalidRequest("stream", "'stream' must be a boolean, got "+jsonKind(v))
		}
	}
	if v := o.get("stream_options"); v != nil && !isNull(v) {
		if v[0] != '{' {
			return nil, invalidRequest("stream_options", "'stream_options' must be an object with a boolean 'include_usage'")
		}
		if iu, ok := findMember(v, "include_usage"); ok && !isNull(iu) {
			switch string(iu) {
			case "true":
				r.includeUsage = true
			case "false":
			default:
				return nil, invalidRequest("stream_options", "'stream_options' must be an object with a boolean 'include_usage'")
			}
		}
	}

	msgs := o.get("messages")
	if msgs == nil || isNull(msgs) {
		return nil, invalidRequest("messages", "'messages' is required: an array of message objects")
	}
	if msgs[0] != '[' {
		return nil, invalidRequest("messages", "'messages' must be an array of message objects, got "+jsonKind(msgs))
	}
	var bad error
	eachElement(msgs, func(m []byte) {
		i := len(r.messages)
		r.messages = append(r.messages, m)
		if bad != nil {
			return
		}
		if m[0] != '{' {
			bad = invalidRequest(fmt.Sprintf("messages[%d]", i), fmt.Sprintf("messages[%d] must be an object, got %s", i, jsonKind(m)))
			return
		}
		if role, _ := findMember(m, "role"); len(role) <= 2 || role[0] != '"' {
			bad = invalidRequest(fmt.Sprintf("messages[%d].role", i), fmt.Sprintf("messages[%d].role must be a non-empty string", i))
		}
	})
	if bad != nil {
		return nil, bad
	}
	if len(r.messages) == 0 {
		return nil, invalidRequest("messages", "'messages' must contain at least one message")
	}

	if v := o.get("tools"); v != nil && !isNull(v) {
		if v[0] != '[' {
			return nil, invalidRequest("tools", "'tools' must be an array of tool objects, got "+jsonKind(v))
		}
		r.clientToolNames = map[string]bool{}
		eachElement(v, func(t []byte) {
			i := len(r.clientTools)
			r.clientTools = append(r.clientTools, t)
			if bad != nil {
				return
			}
			fn, _ := findMember(t, "function")
			if t[0] != '{' || (fn != nil && fn[0] != '{' && !isNull(fn)) {
				bad = invalidRequest(fmt.Sprintf("tools[%d]", i), fmt.Sprintf("tools[%d] must be a tool object, got %s", i, jsonKind(t)))
				return
			}
			if name, ok := findMember(fn, "name"); ok {
				if n, ok := stringValue(name); ok && n != "" {
					r.clientToolNames[n] = true
				}
			}
		})
		if bad != nil {
			return nil, bad
		}
	}
	return r, nil
}

func isNull(v json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(v), []byte("null"))
}
