package llmtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/mcp-bridge/mcp-bridge/llm"
)

// LoadTranscript reads an upstream stream transcript: a raw SSE body with
// comment lines starting with '#', one of which is
//
//	# want: [{"id": "...", "name": "...", "arguments": {...}}, ...]
//
// giving the tool calls the stream should assemble into (text after the
// JSON array is ignored). It returns the body without its '#' lines and
// the wanted calls; a want's Arguments is the compact JSON text of its
// "arguments" (or the string's value when it is a string), its ID "" when
// the want has none. It fails when the file cannot be read or has no valid
// want line.
func LoadTranscript(path string) (body []byte, want []llm.ToolCall, err error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("loading transcript: %w", err)
	}
	want, err = parseWant(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("loading transcript %s: %w", path, err)
	}
	return StripComments(raw), want, nil
}

// StripComments returns body without its lines that start with '#'.
func StripComments(body []byte) []byte {
	out := make([]byte, 0, len(body))
	for _, line := range bytes.SplitAfter(body, []byte("\n")) {
		if len(line) > 0 && line[0] == '#' {
			continue
		}
		out = append(out, line...)
	}
	return out
}

func parseWant(raw []byte) ([]llm.ToolCall, error) {
	const prefix = "# want:"
	for _, line := range bytes.Split(raw, []byte("\n")) {
		rest, ok := bytes.CutPrefix(line, []byte(prefix))
		if !ok {
			continue
		}
		var calls []struct {
			ID        string          `json:"id"`
			Name      string          `json:"name"`
			Arguments json.RawMessage `json:"arguments"`
		}
		if err := json.NewDecoder(bytes.NewReader(rest)).Decode(&calls); err != nil {
			return nil, fmt.Errorf("parsing want line: %w", err)
		}
		want := make([]llm.ToolCall, 0, len(calls))
		for _, c := range calls {
			args, err := argumentsText(c.Arguments)
			if err != nil {
				return nil, fmt.Errorf("want %q: %w", c.Name, err)
			}
			want = append(want, llm.ToolCall{ID: c.ID, Name: c.Name, Arguments: args})
		}
		return want, nil
	}
	return nil, errors.New("no " + prefix + " line")
}

func argumentsText(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "{}", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return "", err
	}
	return buf.String(), nil
}
