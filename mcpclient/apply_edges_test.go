package mcpclient_test

import (
	"context"
	"testing"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
	"github.com/mcp-bridge/mcp-bridge/mcpclient/mcptest"
)

// A call that returned no longer holds its server: the count of calls
// holding it, which tests watch to see a call queued behind another, goes
// back to zero.
func TestCallsLeaveTheirServer(t *testing.T) {
	r, _ := start(t, nil, mcptest.InMemory("mem", mcptest.NewServer()))
	for range 3 {
		if _, err := r.Call(context.Background(), "mem__echo", []byte(`{"text":"x"}`)); err != nil {
			t.Fatal(err)
		}
	}
	if n := mcpclient.CallsEntered(r, "mem"); n != 0 {
		t.Errorf("%d calls hold the server after all returned, want 0", n)
	}
}
