#!/usr/bin/env bash
# A streaming chat completion through the bridge with curl. From a fresh
# clone, with the bridge running (see README, Quick start):
#
#   examples/curl.sh '/everything__get-sum {"a": 2, "b": 3}'
#
# MODEL is the model, by default mcp-bridge/tools: the bridge's built-in
# model, which needs no LLM, calls the tool a message names ("/TOOL {json}")
# and lists the tools for any other message; with an LLM behind the bridge,
# MODEL=llama3.1 examples/curl.sh "What files are in /tmp?"
# MCP_BRIDGE_URL is the bridge's base URL (default http://127.0.0.1:9090/v1),
# MCP_BRIDGE_KEY an API key when the bridge has auth.api_keys.
set -euo pipefail

url=${MCP_BRIDGE_URL:-http://127.0.0.1:9090/v1}
model=${MODEL:-mcp-bridge/tools}
prompt=${*:-What is 2 + 3? Use a tool.}

# json quotes a string for a JSON body.
json() {
  local s=${1//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  s=${s//$'\t'/\\t}
  printf '"%s"' "$s"
}

auth=()
if [ -n "${MCP_BRIDGE_KEY:-}" ]; then
  auth=(-H "Authorization: Bearer $MCP_BRIDGE_KEY")
fi
curl -sSN --fail-with-body "$url/chat/completions" "${auth[@]}" \
  -H 'Content-Type: application/json' \
  -d "{\"model\": $(json "$model"), \"stream\": true, \"messages\": [{\"role\": \"user\", \"content\": $(json "$prompt")}]}"
echo
