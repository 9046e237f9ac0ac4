package llmtest

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/mcp-bridge/mcp-bridge/llm"
)

func TestLoadTranscript(t *testing.T) {
	tests := []struct {
		name string
		file string
		body string
		want []llm.ToolCall
		ok   bool
	}{
		{
			name: "calls",
			file: "# want: [{\"id\":\"a\",\"name\":\"f\",\"arguments\":{ \"x\": [1, 2] }},{\"name\":\"g\",\"arguments\":\"{\\\"y\\\":1}\"},{\"name\":\"h\"}]\ndata: {}\n\n# trailing note\ndata: [DONE]\n\n",
			body: "data: {}\n\ndata: [DONE]\n\n",
			want: []llm.ToolCall{{ID: "a", Name: "f", Arguments: `{"x":[1,2]}`}, {Name: "g", Arguments: `{"y":1}`}, {Name: "h", Arguments: `{}`}},
			ok:   true,
		},
		{
			name: "no calls, with a remark",
			file: "# want: []   (text only)\r\ndata: {}\r\n\r\n",
			body: "data: {}\r\n\r\n",
			want: []llm.ToolCall{},
			ok:   true,
		},
		{name: "no want line", file: "data: {}\n\n"},
		{name: "bad want line", file: "# want: [{\n"},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name+".sse")
			if err := os.WriteFile(path, []byte(tt.file), 0o600); err != nil {
				t.Fatal(err)
			}
			body, want, err := LoadTranscript(path)
			if (err == nil) != tt.ok {
				t.Fatalf("error %v, want ok %v", err, tt.ok)
			}
			if string(body) != tt.body || !reflect.DeepEqual(want, tt.want) {
				t.Errorf("got %q, %+v; want %q, %+v", body, want, tt.body, tt.want)
			}
		})
	}
	if _, _, err := LoadTranscript(filepath.Join(dir, "missing.sse")); err == nil {
		t.Error("missing file: no error")
	}
}

func TestStripComments(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"# only", ""},
		{"#a\ndata: x\n#b\n\n", "data: x\n\n"},
		{"data: #not a comment\n", "data: #not a comment\n"},
		{" # indented\n", " # indented\n"},
	}
	for _, tt := range tests {
		if got := string(StripComments([]byte(tt.in))); got != tt.want {
			t.Errorf("StripComments(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
