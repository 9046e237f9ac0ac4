package mcpclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
	"github.com/mcp-bridge/mcp-bridge/mcpclient/mcptest"
)

// inspector is a fake Inspector: it keeps out the tools in block, refuses
// arguments holding "forbidden", rewrites "secret" in arguments and results.
type inspector struct {
	mu      sync.Mutex
	block   map[string]string
	callers []mcpclient.Caller
}

func (in *inspector) Admit(tools []mcpclient.Tool) []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make([]string, len(tools))
	for i, t := range tools {
		out[i] = in.block[t.Name]
	}
	return out
}

func (in *inspector) setBlock(name, reason string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if reason == "" {
		delete(in.block, name)
	} else {
		in.block[name] = reason
	}
}

func (in *inspector) Arguments(_ context.Context, t mcpclient.Tool, args json.RawMessage, c mcpclient.Caller) (json.RawMessage, string) {
	in.mu.Lock()
	in.callers = append(in.callers, c)
	in.mu.Unlock()
	if strings.Contains(string(args), "forbidden") {
		return nil, "refused by the inspector"
	}
	return json.RawMessage(strings.ReplaceAll(string(args), "secret", "masked-arg")), ""
}

func (in *inspector) Result(_ context.Context, t mcpclient.Tool, res *mcp.CallToolResult) *mcp.CallToolResult {
	out := *res
	out.Content = nil
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			c = &mcp.TextContent{Text: strings.ReplaceAll(tc.Text, "masked-arg", "[seen by inspector]")}
		}
		out.Content = append(out.Content, c)
	}
	return &out
}

func TestInspectorKeepsToolsOutOfEveryListAndCall(t *testing.T) {
	in := &inspector{block: map[string]string{"mem__add": "changed since pinned"}}
	r, ev := start(t, &mcpclient.Options{Inspector: in}, mcptest.InMemory("mem", mcptest.NewServerWithOptions(nil)))

	if slices.Contains(toolNames(r), "mem__add") {
		t.Fatalf("tools = %q, want mem__add kept out", toolNames(r))
	}
	if !slices.Contains(toolNames(r), "mem__echo") {
		t.Fatalf("tools = %q, want mem__echo", toolNames(r))
	}
	if got := r.Blocked(); len(got) != 1 || got[0] != (mcpclient.BlockedTool{Name: "mem__add", Server: "mem", Reason: "changed since pinned"}) {
		t.Errorf("Blocked = %+v", got)
	}
	if e := ev.wait(t, "mem", mcpclient.EventToolBlocked); e.Tool != "mem__add" || e.Err != "changed since pinned" {
		t.Errorf("blocked event = %+v", e)
	}
	for _, callTool := range []func() error{
		func() error {
			_, err := r.Call(context.Background(), "mem__add", json.RawMessage(`{"a":1,"b":2}`))
			return err
		},
		func() error {
			_, err := r.CallTool(context.Background(), "mem__add", json.RawMessage(`{"a":1,"b":2}`))
			return err
		},
	} {
		err := callTool()
		if !errors.Is(err, mcpclient.ErrUnknownTool) || !strings.Contains(err.Error(), "blocked: changed since pinned") {
			t.Errorf("calling a blocked tool: err = %v", err)
		}
	}

	// The decision changes: Recheck serves the tool again and says so.
	in.setBlock("mem__add", "")
	v := r.Version()
	r.Recheck()
	if !slices.Contains(toolNames(r), "mem__add") || r.Version() == v || r.Blocked() != nil {
		t.Fatalf("after Recheck: tools = %q, version %d -> %d, blocked %+v", toolNames(r), v, r.Version(), r.Blocked())
	}
	if e := ev.wait(t, "mem", mcpclient.EventToolsChanged); e.Tools != len(mcptest.ToolNames()) {
		t.Errorf("tools changed event = %+v", e)
	}
	if res := call(t, r, "mem__add", `{"a":1,"b":2}`); res.Text != "1 + 2 = 3" {
		t.Errorf("add after Recheck = %+v", res)
	}
}

func TestInspectorScreensArgumentsAndResults(t *testing.T) {
	in := &inspector{block: map[string]string{}}
	r, _ := start(t, &mcpclient.Options{Inspector: in}, mcptest.InMemory("mem", mcptest.NewServerWithOptions(nil)))

	// echo returns its text: the server got the rewritten arguments, and
	// the caller the rewritten result.
	if res := call(t, r, "mem__echo", `{"text":"my secret"}`); res.Text != "my [seen by inspector]" || res.IsError {
		t.Errorf("Call = %+v", res)
	}
	raw, err := r.CallTool(context.Background(), "mem__echo", json.RawMessage(`{"text":"a secret"}`))
	if err != nil || raw.IsError || raw.Content[0].(*mcp.TextContent).Text != "a [seen by inspector]" {
		t.Errorf("CallTool = %+v, %v", raw, err)
	}
	res := call(t, r, "mem__echo", `{"text":"forbidden"}`)
	if !res.IsError || res.Text != "refused by the inspector" {
		t.Errorf("refused call = %+v", res)
	}

	// The inspector hears of the call's Caller.
	ctx := mcpclient.WithCaller(context.Background(), nopCaller{}, nil)
	if _, err := r.Call(ctx, "mem__echo", json.RawMessage(`{"text":"x"}`)); err != nil {
		t.Fatal(err)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if last := in.callers[len(in.callers)-1]; last != (nopCaller{}) {
		t.Errorf("caller = %v, want the context's", last)
	}
	if in.callers[0] != nil {
		t.Errorf("caller without WithCaller = %v, want nil", in.callers[0])
	}
}

type nopCaller struct{}

func (nopCaller) CreateMessage(context.Context, string, *mcp.CreateMessageParams) (*mcp.CreateMessageResult, error) {
	return nil, errors.New("no")
}
func (nopCaller) Elicit(context.Context, string, *mcp.ElicitParams) (*mcp.ElicitResult, error) {
	return nil, errors.New("no")
}
func (nopCaller) Progress(context.Context, *mcp.ProgressNotificationParams) {}
func (nopCaller) Log(context.Context, string, *mcp.LoggingMessageParams)    {}
