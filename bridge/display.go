package bridge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"regexp"
	"strings"

	"github.com/mcp-bridge/mcp-bridge/llm"
)

// Display modes for tool activity in streamed answers.
const (
	// DisplayNone shows nothing.
	DisplayNone = "none"
	// DisplayStatus sends Open WebUI status events.
	DisplayStatus = "status"
	// DisplayDetails writes Open WebUI <details type="tool_calls"> blocks
	// into the answer text.
	DisplayDetails = "details"
)

// runningDescription is the status shown while calls run.
func runningDescription(calls []llm.ToolCall) string {
	names := make([]string, len(calls))
	for i, c := range calls {
		names[i] = c.Name
	}
	if len(calls) == 1 {
		return "Running " + names[0]
	}
	return fmt.Sprintf("Running %d tools: %s", len(calls), strings.Join(names, ", "))
}

// doneDescription is the status shown when a round's calls are done.
func doneDescription(outcomes []toolOutcome) string {
	failed := 0
	names := make([]string, len(outcomes))
	for i, o := range outcomes {
		names[i] = o.call.Name
		if o.isError {
			failed++
		}
	}
	s := "Used " + strings.Join(names, ", ")
	if failed > 0 {
		s += fmt.Sprintf(" (%d failed)", failed)
	}
	return s
}

// detailsBlock renders one call the way Open WebUI renders its own tool
// calls: attributes hold HTML-escaped JSON.
func detailsBlock(o toolOutcome) string {
	args := argumentsForRecord(o.call.Arguments)
	result, _ := json.Marshal(o.text)
	return fmt.Sprintf("<details type=\"tool_calls\" done=\"true\" id=\"%s\" name=\"%s\" arguments=\"%s\" result=\"%s\">\n<summary>Tool Executed</summary>\n</details>\n",
		html.EscapeString(o.call.ID), html.EscapeString(o.call.Name), html.EscapeString(string(args)), html.EscapeString(string(result)))
}

// detailsRE matches the tool-call blocks the bridge writes.
var detailsRE = regexp.MustCompile(`(?s)<details type="tool_calls"[^>]*>.*?</details>\n?`)

// detailsMarker is in every message that holds a block, however its JSON
// escapes '<' and '"'.
var detailsMarker = []byte(`details type=`)

// stripDetails removes tool-call blocks from the content of assistant
// messages, so that the display never reaches the model as if it had
// written it. Messages without such a block are returned as they are.
func stripDetails(msgs []json.RawMessage) []json.RawMessage {
	var out []json.RawMessage
	for i, m := range msgs {
		if !bytes.Contains(m, detailsMarker) {
			continue
		}
		o, err := parseObject(m)
		if err != nil {
			continue
		}
		var role, content string
		if json.Unmarshal(o.get("role"), &role) != nil || role != "assistant" {
			continue
		}
		if json.Unmarshal(o.get("content"), &content) != nil {
			continue
		}
		stripped := strings.TrimSpace(detailsRE.ReplaceAllString(content, ""))
		if stripped == content {
			continue
		}
		if out == nil {
			out = append([]json.RawMessage(nil), msgs...)
		}
		c, _ := json.Marshal(stripped)
		o.set("content", c)
		out[i] = o.marshal()
	}
	if out == nil {
		return msgs
	}
	return out
}
