package bridge

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// object is a JSON object decoded one level deep with its member order kept,
// so that a request re-encoded for the upstream carries every member the
// bridge does not own byte for byte and in the order the client sent it.
type object struct {
	keys   []string
	values map[string]json.RawMessage
}

// parseObject decodes data as a JSON object, keeping member order. It
// returns a *requestError describing what was wrong with data otherwise.
func parseObject(data []byte) (*object, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, invalidRequest("", "request body is empty; expected a JSON object")
	}
	if !json.Valid(data) {
		return nil, invalidRequest("", "request body is not valid JSON: "+syntaxError(data))
	}
	if data[0] != '{' {
		return nil, invalidRequest("", "request body must be a JSON object, got "+jsonKind(data))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil { // '{'
		return nil, invalidRequest("", "request body is not valid JSON: "+err.Error())
	}
	o := &object{values: make(map[string]json.RawMessage)}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, invalidRequest("", "request body is not valid JSON: "+err.Error())
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, invalidRequest(key, "request body is not valid JSON: "+err.Error())
		}
		if _, dup := o.values[key]; !dup {
			o.keys = append(o.keys, key)
		}
		o.values[key] = v
	}
	return o, nil
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
func (o *object) get(key string) json.RawMessage { return o.values[key] }

// set replaces or appends key.
func (o *object) set(key string, v json.RawMessage) {
	if _, ok := o.values[key]; !ok {
		o.keys = append(o.keys, key)
	}
	o.values[key] = v
}

// del removes key.
func (o *object) del(key string) {
	if _, ok := o.values[key]; !ok {
		return
	}
	delete(o.values, key)
	for i, k := range o.keys {
		if k == key {
			o.keys = append(o.keys[:i], o.keys[i+1:]...)
			break
		}
	}
}

// clone returns a copy whose members can be set without touching o.
func (o *object) clone() *object {
	c := &object{keys: append([]string(nil), o.keys...), values: make(map[string]json.RawMessage, len(o.values))}
	for k, v := range o.values {
		c.values[k] = v
	}
	return c
}

// marshal encodes o with its members in order.
func (o *object) marshal() []byte {
	n := 2
	for _, k := range o.keys {
		n += len(k) + len(o.values[k]) + 4
	}
	buf := make([]byte, 0, n)
	buf = append(buf, '{')
	for i, k := range o.keys {
		if i > 0 {
			buf = append(buf, ',')
		}
		kb, _ := json.Marshal(k)
		buf = append(buf, kb...)
		buf = append(buf, ':')
		buf = append(buf, o.values[k]...)
	}
	return append(buf, '}')
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
// *requestError values that name the offending member.
func parseChatRequest(data []byte) (*chatRequest, error) {
	o, err := parseObject(data)
	if err != nil {
		return nil, err
	}
	r := &chatRequest{body: o, clientToolNames: map[string]bool{}}

	if v := o.get("model"); v != nil && !isNull(v) {
		if err := json.Unmarshal(v, &r.model); err != nil {
			return nil, invalidRequest("model", "'model' must be a string, got "+jsonKind(v))
		}
	}
	if v := o.get("stream"); v != nil && !isNull(v) {
		if err := json.Unmarshal(v, &r.stream); err != nil {
			return nil, invalidRequest("stream", "'stream' must be a boolean, got "+jsonKind(v))
		}
	}
	if v := o.get("stream_options"); v != nil && !isNull(v) {
		var so struct {
			IncludeUsage bool `json:"include_usage"`
		}
		if err := json.Unmarshal(v, &so); err != nil {
			return nil, invalidRequest("stream_options", "'stream_options' must be an object with a boolean 'include_usage'")
		}
		r.includeUsage = so.IncludeUsage
	}

	msgs := o.get("messages")
	if msgs == nil || isNull(msgs) {
		return nil, invalidRequest("messages", "'messages' is required: an array of message objects")
	}
	if err := json.Unmarshal(msgs, &r.messages); err != nil {
		return nil, invalidRequest("messages", "'messages' must be an array of message objects, got "+jsonKind(msgs))
	}
	if len(r.messages) == 0 {
		return nil, invalidRequest("messages", "'messages' must contain at least one message")
	}
	for i, m := range r.messages {
		if t := bytes.TrimSpace(m); len(t) == 0 || t[0] != '{' {
			return nil, invalidRequest(fmt.Sprintf("messages[%d]", i), fmt.Sprintf("messages[%d] must be an object, got %s", i, jsonKind(m)))
		}
		var head struct {
			Role json.RawMessage `json:"role"`
		}
		_ = json.Unmarshal(m, &head)
		var role string
		if head.Role == nil || json.Unmarshal(head.Role, &role) != nil || role == "" {
			return nil, invalidRequest(fmt.Sprintf("messages[%d].role", i), fmt.Sprintf("messages[%d].role must be a non-empty string", i))
		}
	}

	if v := o.get("tools"); v != nil && !isNull(v) {
		if err := json.Unmarshal(v, &r.clientTools); err != nil {
			return nil, invalidRequest("tools", "'tools' must be an array of tool objects, got "+jsonKind(v))
		}
		for i, t := range r.clientTools {
			var tool struct {
				Type     string `json:"type"`
				Function struct {
					Name string `json:"name"`
				} `json:"function"`
			}
			if err := json.Unmarshal(t, &tool); err != nil {
				return nil, invalidRequest(fmt.Sprintf("tools[%d]", i), fmt.Sprintf("tools[%d] must be a tool object: %v", i, err))
			}
			if tool.Function.Name != "" {
				r.clientToolNames[tool.Function.Name] = true
			}
		}
	}
	return r, nil
}

func isNull(v json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(v), []byte("null"))
}
