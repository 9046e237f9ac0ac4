package mcpclient

import (
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func TestResultText(t *testing.T) {
	size := int64(10)
	tests := []struct {
		name           string
		res            *mcp.CallToolResult
		max            int
		want           string
		wantErr        bool
		wantStructured string
	}{
		{name: "nil", res: nil, want: "(no output)"},
		{name: "empty", res: &mcp.CallToolResult{}, want: "(no output)"},
		{name: "blank text", res: &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: " \n"}}}, want: "(no output)"},
		{name: "error flag kept", res: &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: "boom"}}}, want: "boom", wantErr: true},
		{
			name: "text parts joined",
			res:  &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "a"}, &mcp.TextContent{Text: "b"}}},
			want: "a\nb",
		},
		{
			name:           "text wins over structured, structured kept",
			res:            &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "3"}}, StructuredContent: map[string]any{"sum": 3}},
			want:           "3",
			wantStructured: `{"sum":3}`,
		},
		{
			name:           "structured only",
			res:            &mcp.CallToolResult{StructuredContent: map[string]any{"b": []int{1, 2}, "a": "x"}},
			want:           `{"a":"x","b":[1,2]}`,
			wantStructured: `{"a":"x","b":[1,2]}`,
		},
		{
			name:           "structured before descriptions when there is no text",
			res:            &mcp.CallToolResult{Content: []mcp.Content{&mcp.ImageContent{MIMEType: "image/png", Data: make([]byte, 1234)}}, StructuredContent: []int{1}},
			want:           "[1]\n[image: image/png, 1234 bytes]",
			wantStructured: `[1]`,
		},
		{
			name: "image and audio described",
			res: &mcp.CallToolResult{Content: []mcp.Content{
				&mcp.ImageContent{MIMEType: "image/png", Data: make([]byte, 1234)},
				&mcp.AudioContent{MIMEType: "audio/wav", Data: make([]byte, 5)},
				&mcp.ImageContent{},
			}},
			want: "[image: image/png, 1234 bytes]\n[audio: audio/wav, 5 bytes]\n[image: unknown type, 0 bytes]",
		},
		{
			name: "resource links",
			res: &mcp.CallToolResult{Content: []mcp.Content{
				&mcp.ResourceLink{URI: "file:///a.txt", Name: "a.txt", Size: &size},
				&mcp.ResourceLink{URI: "file:///b.txt", Title: "B"},
				&mcp.ResourceLink{URI: "file:///c.txt"},
			}},
			want: "[resource link: a.txt <file:///a.txt>]\n[resource link: B <file:///b.txt>]\n[resource link: <file:///c.txt>]",
		},
		{
			name: "embedded resources",
			res: &mcp.CallToolResult{Content: []mcp.Content{
				&mcp.EmbeddedResource{Resource: &mcp.ResourceContents{URI: "file:///t.md", MIMEType: "text/markdown", Text: "# title"}},
				&mcp.EmbeddedResource{Resource: &mcp.ResourceContents{URI: "file:///b.bin", MIMEType: "application/octet-stream", Blob: []byte{1, 2, 3}}},
				&mcp.EmbeddedResource{},
			}},
			want: "[resource: file:///t.md]\n# title\n[resource: file:///b.bin, application/octet-stream, 3 bytes]\n[resource]",
		},
		{
			name: "nil parts skipped",
			res:  &mcp.CallToolResult{Content: []mcp.Content{nil, (*mcp.TextContent)(nil), &mcp.TextContent{Text: "ok"}}},
			want: "ok",
		},
		{
			name: "cut with a note",
			res:  &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: strings.Repeat("a", 100)}}},
			max:  10,
			want: strings.Repeat("a", 10) + "\n[output truncated: 90 of 100 bytes omitted]",
		},
		{
			name: "cut at a rune boundary",
			res:  &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "aé€"}}}, // 1+2+3 bytes
			max:  4,
			want: "aé\n[output truncated: 3 of 6 bytes omitted]",
		},
		{
			name: "exactly max is not cut",
			res:  &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "abcd"}}},
			max:  4,
			want: "abcd",
		},
		{
			name: "no limit",
			res:  &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: strings.Repeat("a", 100)}}},
			max:  -1,
			want: strings.Repeat("a", 100),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ResultText(tt.res, tt.max)
			if got.Text != tt.want {
				t.Errorf("Text = %q, want %q", got.Text, tt.want)
			}
			if got.IsError != tt.wantErr {
				t.Errorf("IsError = %v, want %v", got.IsError, tt.wantErr)
			}
			if string(got.Structured) != tt.wantStructured {
				t.Errorf("Structured = %s, want %s", got.Structured, tt.wantStructured)
			}
		})
	}
}
