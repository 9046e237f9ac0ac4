package llm

import (
	"strings"
	"testing"
)

// TestDecoderEdges checks the single-pass decoder against encoding/json on
// inputs at the edges of its hand-written checks: numbers that begin with
// 9, hexadecimal escapes with every letter bound, long runs of sibling
// objects and arrays (the depth must come back down after each one, or a
// completion with many logprobs objects fails as "too deep"), and inputs
// cut inside a string, an escape or a \u sequence (an error, not a read
// past the end).
func TestDecoderEdges(t *testing.T) {
	inputs := map[string]string{
		"numbers beginning with 9": `{"created":9,"choices":[{"index":9,"delta":{"tool_calls":[{"index":98,"function":{"name":"f"}}]}}],"usage":{"prompt_tokens":9}}`,
		"hex letters a f A F":      `{"id":"\uaAfF","model":"\uFfAa","choices":[{"delta":{"content":"\u00af\u00AF\u00a0\u00F0"}}]}`,
		"many sibling objects":     `{"x":[` + strings.Repeat(`{},`, maxDepth) + `{}],"id":"end"}`,
		"many sibling arrays":      `{"x":[` + strings.Repeat(`[],`, maxDepth) + `[]],"id":"end"}`,
		"cut in a string":          `{"id":"abc`,
		"cut after a backslash":    `{"id":"ab\`,
		"cut in a \\u escape":      `{"id":"\u12`,
		"cut after \\u":            `{"id":"\u`,
		"cut in a member name":     `{"i`,
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			checkAgainstReference(t, []byte(in))
		})
	}
	c, err := ParseChunk([]byte(inputs["many sibling objects"]))
	if err != nil || c.ID != "end" {
		t.Errorf("after %d sibling objects: %+v, %v", maxDepth+1, c, err)
	}
	c, err = ParseChunk([]byte(inputs["numbers beginning with 9"]))
	if err != nil || c.Created != 9 || c.Choices[0].Index != 9 || !c.Choices[0].Delta.ToolCalls[0].HasIndex || c.Choices[0].Delta.ToolCalls[0].Index != 98 {
		t.Errorf("numbers beginning with 9 decoded as %+v, %v", c, err)
	}
}
