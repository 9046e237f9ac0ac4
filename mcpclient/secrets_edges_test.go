package mcpclient_test

import (
	"testing"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// A secret of exactly 4 bytes is redacted; shorter ones are not (they
// would blank out common words).
func TestRedactFourByteSecret(t *testing.T) {
	if got := mcpclient.Redact("pin abcd, id abc", []string{"abcd", "abc"}); got != "pin [redacted], id abc" {
		t.Errorf("Redact = %q, want the 4-byte secret redacted and the 3-byte one kept", got)
	}
}
