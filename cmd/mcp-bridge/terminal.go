package main

import (
	"strings"
	"unicode/utf8"
)

// Names, descriptions, results and errors that MCP servers send are text
// the bridge does not control. Printed to a terminal as they are, escape
// sequences in them can recolour, retitle, clear or rewrite the screen, hide
// text, ring the bell, or (with bidi overrides) show text in another order
// than it is. Every command that prints what servers sent passes it through
// termText, or termJSON for JSON output.

// termText returns s without what a terminal would act on: ESC sequences
// (CSI, OSC, DCS and the other strings, two- and three-byte escapes), the
// same sequences introduced by C1 codes, other C0 and C1 control
// characters and DEL, and the Unicode bidi embeddings, overrides and
// isolates (U+202A-U+202E, U+2066-U+2069). With multiline, "\n" and "\t"
// are kept (a text body); without, each becomes a space (a table cell or a
// one-line field). Invalid UTF-8 becomes U+FFFD.
func termText(s string, multiline bool) string {
	if isTermSafe(s, multiline) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == 0x1b:
			i = skipEscape(s, i)
		case r == 0x9b: // C1 CSI
			i = skipCSI(s, i)
		case r == 0x9d || r == 0x90 || r == 0x98 || r == 0x9e || r == 0x9f: // C1 OSC, DCS, SOS, PM, APC
			i = skipString(s, i)
		case r == '\n' || r == '\t':
			if multiline {
				b.WriteRune(r)
			} else {
				b.WriteByte(' ')
			}
		case termUnsafe(r):
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// isTermSafe reports whether termText would return s unchanged.
func isTermSafe(s string, multiline bool) bool {
	for _, r := range s {
		if r == utf8.RuneError || termUnsafe(r) || (!multiline && (r == '\n' || r == '\t')) {
			return false
		}
	}
	return true
}

// termUnsafe reports whether a terminal may act on r: C0 controls other
// than "\n" and "\t", DEL, C1 controls, bidi embeddings, overrides and
// isolates.
func termUnsafe(r rune) bool {
	switch {
	case r < 0x20:
		return r != '\n' && r != '\t'
	case r >= 0x7f && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// skipEscape returns the index past the escape sequence whose ESC ended
// just before s[i].
func skipEscape(s string, i int) int {
	if i >= len(s) {
		return i
	}
	switch c := s[i]; {
	case c == '[':
		return skipCSI(s, i+1)
	case c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_':
		return skipString(s, i+1)
	case c >= 0x20 && c <= 0x2f: // intermediates, then a final byte
		for i < len(s) && s[i] >= 0x20 && s[i] <= 0x2f {
			i++
		}
		if i < len(s) && s[i] >= 0x30 && s[i] <= 0x7e {
			i++
		}
		return i
	case c >= 0x30 && c <= 0x7e:
		return i + 1
	}
	return i
}

// skipCSI returns the index past a control sequence's parameters,
// intermediates and final byte, starting at s[i].
func skipCSI(s string, i int) int {
	for i < len(s) && s[i] >= 0x20 && s[i] <= 0x3f {
		i++
	}
	if i < len(s) && s[i] >= 0x40 && s[i] <= 0x7e {
		i++
	}
	return i
}

// skipString returns the index past a control string (OSC, DCS...) that
// starts at s[i]: up to and including BEL or the string terminator (ESC \
// or C1 ST), or the end of s when it is not terminated.
func skipString(s string, i int) int {
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == 0x07 || r == 0x9c:
			return i + size
		case r == 0x1b:
			if i+1 < len(s) && s[i+1] == '\\' {
				return i + 2
			}
			return i + 1
		}
		i += size
	}
	return i
}

// termJSON returns encoded JSON with every rune termText would remove that
// encoding/json leaves as it is (DEL, C1 controls, bidi controls) written as
// a \u escape: the JSON means the same and prints safely. encoding/json
// already escapes the C0 controls.
func termJSON(b []byte) []byte {
	s := string(b)
	if isTermSafe(s, true) {
		return b
	}
	var out strings.Builder
	out.Grow(len(s) + 16)
	for _, r := range s {
		if termUnsafe(r) || r == utf8.RuneError {
			const hex = "0123456789abcdef"
			out.WriteString(`\u`)
			for shift := 12; shift >= 0; shift -= 4 {
				out.WriteByte(hex[r>>shift&0xf])
			}
			continue
		}
		out.WriteRune(r)
	}
	return []byte(out.String())
}
