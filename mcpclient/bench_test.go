package mcpclient

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// benchSchema is a tool input schema as servers send it, with the members
// NormalizeSchema rewrites ("$schema", a null "required").
const benchSchema = `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"path":{"type":"string","description":"Path of the file, relative to the workspace root."},"limit":{"type":"integer","minimum":1},"encoding":{"type":"string","enum":["utf-8","latin-1"]}},"required":null,"additionalProperties":false}`

// BenchmarkNormalizeSchema measures converting one tool's input schema,
// done for every tool of every tools/list answer.
func BenchmarkNormalizeSchema(b *testing.B) {
	var decoded map[string]any // the go-sdk client decodes schemas to maps
	if err := json.Unmarshal([]byte(benchSchema), &decoded); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		in   any
	}{
		{"raw", json.RawMessage(benchSchema)},
		{"map", decoded},
		{"nil", nil},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = NormalizeSchema(c.in)
			}
		})
	}
}

// BenchmarkToolName measures naming one tool: a name that is already
// valid, one with characters to replace, and one too long that gets a
// hash suffix.
func BenchmarkToolName(b *testing.B) {
	for _, c := range []struct{ name, prefix, tool string }{
		{"valid", "filesystem", "read_text_file"},
		{"sanitize", "my server", "read.file/v2"},
		{"long", "github", strings.Repeat("list_pull_request_review_comments_", 3)},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = ToolName(c.prefix, c.tool)
			}
		})
	}
}

// BenchmarkAssignNames measures naming every tool of a registry, done on
// every rebuild of its tool list.
func BenchmarkAssignNames(b *testing.B) {
	for _, n := range []int{10, 1000} {
		entries := make([]nameEntry, n)
		for i := range entries {
			entries[i] = nameEntry{Server: fmt.Sprintf("srv%d", i%5), Prefix: fmt.Sprintf("srv%d", i%5), Tool: fmt.Sprintf("tool_%04d", i)}
		}
		b.Run(fmt.Sprintf("tools=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = assignNames(entries)
			}
		})
	}
}

// BenchmarkResultText measures converting a tool result into the text of
// the tool message.
func BenchmarkResultText(b *testing.B) {
	res := &mcp.CallToolResult{Content: []mcp.Content{
		&mcp.TextContent{Text: strings.Repeat("line of a file that the tool read\n", 50)},
		&mcp.ImageContent{MIMEType: "image/png", Data: make([]byte, 1024)},
	}}
	b.ReportAllocs()
	for b.Loop() {
		_ = ResultText(res, 256<<10)
	}
}
