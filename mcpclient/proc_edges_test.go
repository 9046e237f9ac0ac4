//go:build unix

package mcpclient_test

import (
	"testing"

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
	closeLeavesNoSleeper(t, sc, pidFile, "the server's SIGTERM-ignoring background sleep after Close")
}
