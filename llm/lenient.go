package llm

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// The types in this file let encoding/json decode upstream bodies
// tolerantly: each implements json.Unmarshaler and accepts any JSON value
// without error, keeping only the form it understands. encoding/json hands
// them the raw bytes of a value it has already validated. The functions
// below them are shared with the single-pass chunk decoder.

// lenientString keeps a JSON string; any other value (null, number, object,
// array, bool) leaves it "".
type lenientString string

func (s *lenientString) UnmarshalJSON(data []byte) error {
	if v, ok := unquote(data); ok {
		*s = lenientString(v)
	}
	return nil
}

// lenientInt64 keeps a JSON number that is an integer (1 and 1.0
// alike); any other value leaves it 0.
type lenientInt64 int64

func (n *lenientInt64) UnmarshalJSON(data []byte) error {
	if v, ok := parseInt(data); ok {
		*n = lenientInt64(v)
	}
	return nil
}

// unquote decodes a JSON string literal that is known to be valid JSON. It
// reports false when data is not a string.
func unquote(data []byte) (string, bool) {
	if len(data) < 2 || data[0] != '"' || data[len(data)-1] != '"' {
		return "", false
	}
	inner := data[1 : len(data)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return internString(inner), true
	}
	return unescape(inner)
}

// unescape decodes the content of a valid JSON string literal that holds
// escapes or invalid UTF-8, the way encoding/json does: invalid UTF-8 and
// unpaired surrogates become U+FFFD. It reports false on a malformed
// escape.
func unescape(s []byte) (string, bool) {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 >= len(s) {
				return "", false
			}
			switch e := s[i+1]; e {
			case '"', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				r, ok := hex4(s[i+2:])
				if !ok {
					return "", false
				}
				i += 6
				if utf16.IsSurrogate(r) {
					if r2, ok := hex4(s[min(i+2, len(s)):]); ok && s[i] == '\\' && s[i+1] == 'u' {
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							b.WriteRune(d)
							i += 6
							continue
						}
					}
					r = utf8.RuneError
				}
				b.WriteRune(r)
				continue
			default:
				return "", false
			}
			i += 2
		case c < utf8.RuneSelf:
			b.WriteByte(c)
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			b.WriteRune(r) // utf8.RuneError for an invalid byte
			i += size
		}
	}
	return b.String(), true
}

// hex4 decodes the four hexadecimal digits at the start of s.
func hex4(s []byte) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// internString converts b to a string, sharing the storage of values that
// appear in almost every chunk.
func internString(b []byte) string {
	switch string(b) {
	case "":
		return ""
	case "assistant":
		return "assistant"
	case "function":
		return "function"
	case "chat.completion.chunk":
		return "chat.completion.chunk"
	case "chat.completion":
		return "chat.completion"
	case "stop":
		return "stop"
	case "tool_calls":
		return "tool_calls"
	case "length":
		return "length"
	}
	return string(b)
}

// parseInt decodes a JSON number with an integral value that fits in an
// int64 (floats such as 2.0 included).
func parseInt(data []byte) (int64, bool) {
	if len(data) == 0 || (data[0] != '-' && (data[0] < '0' || data[0] > '9')) {
		return 0, false
	}
	if len(data) == 1 {
		return int64(data[0] - '0'), true
	}
	if n, err := strconv.ParseInt(string(data), 10, 64); err == nil {
		return n, true
	}
	f, err := strconv.ParseFloat(string(data), 64)
	if err != nil || f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
		return 0, false
	}
	return int64(f), true
}

// compactText returns the compact form of a valid JSON value. Values that
// carry no insignificant whitespace are returned as they are.
func compactText(data []byte) string {
	if !hasSpace(data) {
		return string(data)
	}
	var buf bytes.Buffer
	buf.Grow(len(data))
	if err := json.Compact(&buf, data); err != nil {
		return string(data)
	}
	return buf.String()
}

// hasSpace reports whether data contains any JSON whitespace byte, inside
// strings or not (a cheap, conservative test).
func hasSpace(data []byte) bool {
	for _, c := range data {
		switch c {
		case ' ', '\t', '\n', '\r':
			return true
		}
	}
	return false
}
