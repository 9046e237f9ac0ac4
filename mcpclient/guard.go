package mcpclient

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Why a frame guard: go-sdk refuses to decode a JSON-RPC message nested
// deeper than 1000 levels (its internal/json), and a message it cannot
// decode ends the whole connection, since the reader cannot tell which
// request it answered. One tool whose inputSchema nests 500 levels makes the
// server's tools/list response such a message: go-sdk's ListTools fails, the
// session closes, the server is reconnected and fails again, forever, with
// none of its tools. Nothing above the transport can help, because the
// message never gets past the decoder: no client option, middleware or
// lower-level call of ClientSession sees it. So the guard sits below the
// decoder, on the bytes of each message (see guardTransport), and rewrites
// the few messages that are too deep before go-sdk reads them:
//
//   - a tools/list result keeps every tool, but a schema nested deeper than
//     MaxSchemaDepth is replaced by an object schema marked unusable (the
//     registry then leaves that tool out with a warning naming it), and other
//     members of a tool nested that deep are dropped;
//   - any other response becomes a JSON-RPC error answering the same id, so
//     that only that request fails;
//   - requests and notifications from the server are left as they are (there
//     is no one to answer), and so is anything that is not a JSON object.
//
// Messages within the limit, which is all of them in practice, pass through
// after one scan of their bytes.

// frameDepthLimit is the deepest message go-sdk decodes.
const frameDepthLimit = 1000

// guardFrame returns data, a JSON-RPC message, unchanged when go-sdk can
// decode it, else rewritten as described above. It never recurses over the
// message, so any depth is safe.
func guardFrame(data []byte) []byte {
	if jsonDepth(data) <= frameDepthLimit {
		return data
	}
	msg, ok := objectMembers(data)
	if !ok {
		return data
	}
	var id, result []byte
	for _, m := range msg {
		switch m.key {
		case "method":
			return data
		case "id":
			id = m.val
		case "result":
			result = m.val
		}
	}
	if !isScalarID(id) {
		return data
	}
	if result != nil {
		if tools, ok := guardToolList(result); ok {
			if out := encodeMembers(withMember(msg, "result", tools)); jsonDepth(out) <= frameDepthLimit {
				return out
			}
		}
	}
	return []byte(`{"jsonrpc":"2.0","id":` + string(id) + `,"error":{"code":-32603,"message":` +
		strconv.Quote(fmt.Sprintf("response nested deeper than %d levels", frameDepthLimit)) + `}}`)
}

// isScalarID reports whether id is a JSON string or number.
func isScalarID(id []byte) bool {
	var v any
	if len(id) == 0 || jsonDepth(id) > 0 || json.Unmarshal(id, &v) != nil {
		return false
	}
	switch v.(type) {
	case string, float64:
		return true
	}
	return false
}

// guardToolList rewrites a tools/list result so that no tool in it nests
// deeper than its schemas may; false when result has no "tools" array.
func guardToolList(result []byte) ([]byte, bool) {
	res, ok := objectMembers(result)
	if !ok {
		return nil, false
	}
	for i, m := range res {
		if m.key != "tools" {
			continue
		}
		elems, ok := arrayElements(m.val)
		if !ok {
			return nil, false
		}
		out := []byte{'['}
		for _, e := range elems {
			if jsonDepth(e) > MaxSchemaDepth+1 {
				if e = guardTool(e); e == nil {
					continue // not even an object: go-sdk drops what it cannot use
				}
			}
			if len(out) > 1 {
				out = append(out, ',')
			}
			out = append(out, e...)
		}
		res[i].val = append(out, ']')
		return encodeMembers(res), true
	}
	return nil, false
}

// guardTool rewrites one tool definition: schemas nested deeper than
// MaxSchemaDepth become marked object schemas, other members that deep are
// dropped. It returns nil when tool is not a JSON object.
func guardTool(tool []byte) []byte {
	ms, ok := objectMembers(tool)
	if !ok {
		return nil
	}
	kept := ms[:0]
	for _, m := range ms {
		if jsonDepth(m.val) <= MaxSchemaDepth {
			kept = append(kept, m)
			continue
		}
		switch m.key {
		case "inputSchema", "outputSchema":
			m.val = []byte(`{"type":"object",` + strconv.Quote(unusableKey) + `:` + strconv.Quote(schemaDepthProblem(m.val)) + `}`)
			kept = append(kept, m)
		}
	}
	return encodeMembers(kept)
}

// member is one member of a JSON object: its decoded key and its value's
// bytes.
type member struct {
	key string
	val []byte
}

// withMember returns ms with the value of key replaced by val.
func withMember(ms []member, key string, val []byte) []member {
	out := make([]member, len(ms))
	for i, m := range ms {
		if m.key == key {
			m.val = val
		}
		out[i] = m
	}
	return out
}

// encodeMembers encodes ms as a JSON object, in order.
func encodeMembers(ms []member) []byte {
	out := []byte{'{'}
	for i, m := range ms {
		if i > 0 {
			out = append(out, ',')
		}
		k, _ := json.Marshal(m.key) // a string always encodes
		out = append(out, k...)
		out = append(out, ':')
		out = append(out, m.val...)
	}
	return append(out, '}')
}

// objectMembers splits the JSON object b into its members without decoding
// their values; false when b is not a well-formed object at its top level.
func objectMembers(b []byte) ([]member, bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	var ms []member
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return ms, skipSpace(b, i+1) == len(b)
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return nil, false
		}
		end := stringEnd(b, i)
		if end < 0 {
			return nil, false
		}
		var key string
		if json.Unmarshal(b[i:end], &key) != nil {
			return nil, false
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return nil, false
		}
		start := skipSpace(b, i+1)
		end = valueEnd(b, start)
		if end < 0 {
			return nil, false
		}
		ms = append(ms, member{key: key, val: b[start:end]})
		i = skipSpace(b, end)
		switch {
		case i < len(b) && b[i] == ',':
			i = skipSpace(b, i+1)
		case i < len(b) && b[i] == '}':
			return ms, skipSpace(b, i+1) == len(b)
		default:
			return nil, false
		}
	}
}

// arrayElements splits the JSON array b into its elements' bytes; false
// when b is not a well-formed array at its top level.
func arrayElements(b []byte) ([][]byte, bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return nil, false
	}
	var es [][]byte
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return es, skipSpace(b, i+1) == len(b)
	}
	for {
		end := valueEnd(b, i)
		if end < 0 {
			return nil, false
		}
		es = append(es, b[i:end])
		i = skipSpace(b, end)
		switch {
		case i < len(b) && b[i] == ',':
			i = skipSpace(b, i+1)
		case i < len(b) && b[i] == ']':
			return es, skipSpace(b, i+1) == len(b)
		default:
			return nil, false
		}
	}
}

// skipSpace returns i advanced past JSON whitespace.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index just past the JSON string starting at b[i]
// (a '"'), or -1.
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// valueEnd returns the index just past the JSON value starting at b[i], or
// -1 when there is none. Objects and arrays are matched by counting
// brackets outside strings, not by recursion; their contents are checked
// only as far as that needs (json.Valid of the final message is go-sdk's).
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end := stringEnd(b, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	case ',', ':', '}', ']':
		return -1
	default: // number, true, false, null
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
			j++
		}
		return j
	}
}
