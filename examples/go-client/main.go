// Command go-client streams a chat completion through mcp-bridge with the
// go-openai SDK. From a fresh clone, with the bridge running (see README,
// Quick start):
//
//	go run ./examples/go-client '/everything__get-sum {"a": 2, "b": 3}'
//
// MODEL is the model, by default mcp-bridge/tools: the bridge's built-in
// model, which needs no LLM, calls the tool a message names ("/TOOL {json}")
// and lists the tools for any other message; with an LLM behind the bridge,
// MODEL=llama3.1 go run ./examples/go-client "What is 2 + 3? Use a tool."
// MCP_BRIDGE_URL is the bridge's base URL (default http://127.0.0.1:9090/v1),
// MCP_BRIDGE_KEY an API key when the bridge has auth.api_keys.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	openai "github.com/sashabaranov/go-openai"
)

func main() {
	cfg := openai.DefaultConfig(os.Getenv("MCP_BRIDGE_KEY"))
	cfg.BaseURL = "http://127.0.0.1:9090/v1"
	if u := os.Getenv("MCP_BRIDGE_URL"); u != "" {
		cfg.BaseURL = u
	}
	client := openai.NewClientWithConfig(cfg)

	model := os.Getenv("MODEL")
	if model == "" {
		model = "mcp-bridge/tools"
	}
	prompt := strings.Join(os.Args[1:], " ")
	if prompt == "" {
		prompt = "What is 2 + 3? Use a tool."
	}
	stream, err := client.CreateChatCompletionStream(context.Background(), openai.ChatCompletionRequest{
		Model:    model,
		Messages: []openai.ChatCompletionMessage{{Role: openai.ChatMessageRoleUser, Content: prompt}},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer stream.Close()
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			fmt.Println()
			return
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if len(chunk.Choices) > 0 {
			fmt.Print(chunk.Choices[0].Delta.Content)
		}
	}
}
