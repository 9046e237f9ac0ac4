#!/usr/bin/env bash
# A conformance client made of mcp-bridge: the conformance suite runs this
# with the scenario's server URL as the argument and the scenario's name in
# MCP_CONFORMANCE_SCENARIO. It configures the bridge with that one server,
# unprefixed, and does what the scenario asks through the bridge's CLI.
# MCP_BRIDGE_BIN names the mcp-bridge binary.
set -euo pipefail
url="$1"
bin="${MCP_BRIDGE_BIN:?MCP_BRIDGE_BIN must name the mcp-bridge binary}"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/mcp-bridge.yaml" <<CFG
mcpServers:
  scenario:
    url: "$url"
    prefix: ""
CFG
case "${MCP_CONFORMANCE_SCENARIO:-}" in
  initialize) "$bin" -c "$dir/mcp-bridge.yaml" tools --json > /dev/null ;;
  tools_call) "$bin" -c "$dir/mcp-bridge.yaml" call add_numbers '{"a":5,"b":3}' ;;
  elicitation-sep1034-client-defaults) "$bin" -c "$dir/mcp-bridge.yaml" call test_client_elicitation_defaults '{}' ;;
  sse-retry) "$bin" -c "$dir/mcp-bridge.yaml" call test_reconnection '{}' ;;
  *) echo "bridge-client.sh: scenario ${MCP_CONFORMANCE_SCENARIO:-(none)} is not supported" >&2; exit 2 ;;
esac
