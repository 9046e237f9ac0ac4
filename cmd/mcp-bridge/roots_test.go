package main

import (
	"testing"

	"github.com/mcp-bridge/mcp-bridge/cmd/mcp-bridge/config"
)

// TestRoots checks the configured roots offered to servers: a directory
// becomes a file:// URI named for its last element, a URI stays.
func TestRoots(t *testing.T) {
	roots := roots(&config.Config{Roots: []string{"/srv/data", "https://example.com/repo"}})
	if len(roots) != 2 || roots[0].URI != "file:///srv/data" || roots[0].Name != "data" || roots[1].URI != "https://example.com/repo" {
		t.Fatalf("roots %+v", roots)
	}
}
