//go:build unix

package mcpclient_test

import (
	"context"
	"testing"
	"time"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
	"github.com/mcp-bridge/mcp-bridge/mcpclient/mcptest"
)

// A process the server started that ignores SIGTERM is killed with the
// rest of the server's process group once TerminateTimeout has passed;
// Close does not leave it behind.
func TestStdioTermIgnoringGrandchildKilled(t *testing.T) {
	sc, pidFile := withGrandchild(t, mcptest.StdioServer("grp"))
	// The background sleep ignores SIGTERM (an ignored signal stays ignored
	// across exec): only SIGKILL to the group ends it.
	sc.Args[1] = `(trap '' TERM; exec sleep 3000) & echo $! >"$PID_FILE"; exec "$0" "$@"`
	r := mcpclient.NewRegistry([]mcpclient.ServerConfig{sc}, &mcpclient.Options{TerminateTimeout: 100 * time.Millisecond})
	r.Start(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := r.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	sleeper := readPid(t, pidFile)
	if processGone(t, sleeper) {
		t.Fatalf("the background sleep %s is not running", sleeper)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	waitGone(t, sleeper, "the server's SIGTERM-ignoring background sleep after Close")
}
