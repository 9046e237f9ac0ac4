package main

import (
	"slices"
	"testing"

	"github.com/mcp-bridge/mcp-bridge/cmd/mcp-bridge/config"
)

// TestServerSettingsCarryToolSearch: tools.exposure, search_threshold and
// always reach the bridge's options.
func TestServerSettingsCarryToolSearch(t *testing.T) {
	c := &config.Config{Tools: config.Tools{Exposure: "search", SearchThreshold: 12, Always: []string{"fs__read_*"}}}
	o := serverSettings(c, nil, nil)
	if o.Exposure != "search" || o.SearchThreshold != 12 || !slices.Equal(o.AlwaysTools, []string{"fs__read_*"}) {
		t.Errorf("options: exposure %q threshold %d always %v", o.Exposure, o.SearchThreshold, o.AlwaysTools)
	}
}
