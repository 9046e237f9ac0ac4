package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// benchServerName is the name of the MCP server in the bridge's config, so
// its tools are exposed as "bench__<tool>".
const benchServerName = "bench"

// echoToolName is the exposed name of the echo tool the scripted model
// calls in the tool round.
const echoToolName = benchServerName + "__echo"

// fillerSchema is the input schema of every filler tool: small, but shaped
// like the schemas real servers send.
const fillerSchema = `{"type":"object","properties":{"path":{"type":"string","description":"Path of the file, relative to the workspace root."},"limit":{"type":"integer","description":"Largest number of lines to return."}},"required":["path"]}`

// newToolServer returns an MCP server with n tools: "echo" (returns its
// text) and n-1 filler tools "tool_0001", ... that return their own name.
// n < 1 still gives echo.
func newToolServer(n int) *mcp.Server {
	srv := mcp.NewServer(&mcp.Implementation{Name: "mcp-bridge-bench", Version: "1.0.0"}, nil)
	type echoIn struct {
		Text string `json:"text" jsonschema:"the text to return"`
	}
	mcp.AddTool(srv, &mcp.Tool{Name: "echo", Description: "Returns its text."},
		func(_ context.Context, _ *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: in.Text}}}, nil, nil
		})
	for i := 1; i < n; i++ {
		name := fmt.Sprintf("tool_%04d", i)
		srv.AddTool(&mcp.Tool{
			Name:        name,
			Description: "Reads a file from the workspace and returns its contents as text, at most limit lines.",
			InputSchema: json.RawMessage(fillerSchema),
		}, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: name}}}, nil
		})
	}
	return srv
}

// serveMCP serves newToolServer(n) over stdin and stdout until stdin is
// closed.
func serveMCP(n int) error {
	err := newToolServer(n).Run(context.Background(), &mcp.StdioTransport{})
	if err != nil && !errors.Is(err, mcp.ErrConnectionClosed) {
		return fmt.Errorf("serving MCP over stdio: %w", err)
	}
	return nil
}

// mcpServerArgs are the arguments that make this program serve n tools
// over stdio.
func mcpServerArgs(n int) []string {
	return []string{"-serve-mcp", fmt.Sprint(n)}
}

// selfPath returns the path of the running executable.
func selfPath() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("finding the benchmark executable: %w", err)
	}
	return exe, nil
}
