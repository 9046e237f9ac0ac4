package mcpclient

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Result is a tool call's outcome, converted to what a model can read.
type Result struct {
	// Text is the content of the result as text (see [ResultText]).
	Text string
	// IsError reports that the tool itself reported a failure. Such a
	// result is still conversation data: the model reads it and may
	// correct itself.
	IsError bool
	// Structured is the compact JSON of the result's structured content,
	// nil when there was none. It is never cut.
	Structured json.RawMessage
}

// noOutput is the text of a result without any content.
const noOutput = "(no output)"

// ResultText converts a tools/call result into a [Result].
//
// The text parts are joined with "\n", in order. Parts that are not text are
// described rather than dropped: an image or audio clip as
// "[image: image/png, 1234 bytes]", a resource link as
// "[resource link: name <uri>]", an embedded text resource as
// "[resource: <uri>]" followed by its text on the next line, an embedded
// binary resource as "[resource: <uri>, mime/type, N bytes]". When the result
// has no text part but structured content, the compact JSON of the
// structured content comes first. An empty result reads "(no output)".
//
// When max > 0 and the text is longer than max bytes, it is cut at a UTF-8
// boundary at or below max bytes and a note saying how many bytes were
// omitted is appended (so the text may exceed max by the note's length).
// max <= 0 means no limit. A nil res gives "(no output)". ResultText is pure
// and safe for concurrent use.
func ResultText(res *mcp.CallToolResult, max int) Result {
	if res == nil {
		return Result{Text: noOutput}
	}
	out := Result{IsError: res.IsError}
	if res.StructuredContent != nil {
		if b, err := json.Marshal(res.StructuredContent); err == nil && string(b) != "null" {
			out.Structured = b
		}
	}
	parts := make([]string, 0, len(res.Content)+1)
	hasText := false
	for _, c := range res.Content {
		if t, ok := c.(*mcp.TextContent); ok && t != nil {
			hasText = true
			break
		}
	}
	if !hasText && out.Structured != nil {
		parts = append(parts, string(out.Structured))
	}
	for _, c := range res.Content {
		if s, ok := contentText(c); ok {
			parts = append(parts, s)
		}
	}
	text := strings.Join(parts, "\n")
	if strings.TrimSpace(text) == "" {
		text = noOutput
	}
	out.Text = truncate(text, max)
	return out
}

// contentText describes one content part; ok is false for a nil part.
func contentText(c mcp.Content) (string, bool) {
	switch c := c.(type) {
	case nil:
		return "", false
	case *mcp.TextContent:
		if c == nil {
			return "", false
		}
		return c.Text, true
	case *mcp.ImageContent:
		if c == nil {
			return "", false
		}
		return fmt.Sprintf("[image: %s, %d bytes]", orUnknown(c.MIMEType), len(c.Data)), true
	case *mcp.AudioContent:
		if c == nil {
			return "", false
		}
		return fmt.Sprintf("[audio: %s, %d bytes]", orUnknown(c.MIMEType), len(c.Data)), true
	case *mcp.ResourceLink:
		if c == nil {
			return "", false
		}
		name := c.Name
		if name == "" {
			name = c.Title
		}
		if name == "" {
			return fmt.Sprintf("[resource link: <%s>]", c.URI), true
		}
		return fmt.Sprintf("[resource link: %s <%s>]", name, c.URI), true
	case *mcp.EmbeddedResource:
		if c == nil || c.Resource == nil {
			return "[resource]", true
		}
		r := c.Resource
		if len(r.Blob) > 0 || r.Text == "" {
			return fmt.Sprintf("[resource: %s, %s, %d bytes]", r.URI, orUnknown(r.MIMEType), len(r.Blob)), true
		}
		return fmt.Sprintf("[resource: %s]\n%s", r.URI, r.Text), true
	default:
		return fmt.Sprintf("[unsupported content: %T]", c), true
	}
}

func orUnknown(mime string) string {
	if mime == "" {
		return "unknown type"
	}
	return mime
}

// truncate cuts s to at most max bytes at a UTF-8 boundary and appends a
// note; max <= 0 or a short s returns s unchanged.
func truncate(s string, max int) string {
	if max <= 0 || len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s\n[output truncated: %d of %d bytes omitted]", s[:cut], len(s)-cut, len(s))
}
