// The openai npm SDK against the bridge, streaming. From a fresh clone, with
// the bridge running (see README, Quick start):
//
//   npm ci --prefix examples
//   node examples/node-sdk.mjs '/everything__get-sum {"a": 2, "b": 3}'
//
// MODEL is the model, by default mcp-bridge/tools: the bridge's built-in
// model, which needs no LLM, calls the tool a message names ("/TOOL {json}")
// and lists the tools for any other message; with an LLM behind the bridge,
// MODEL=llama3.1 node examples/node-sdk.mjs "What is 2 + 3? Use a tool."
// MCP_BRIDGE_URL is the bridge's base URL (default http://127.0.0.1:9090/v1),
// MCP_BRIDGE_KEY an API key when the bridge has auth.api_keys.
import OpenAI from 'openai';

const client = new OpenAI({
  baseURL: process.env.MCP_BRIDGE_URL || 'http://127.0.0.1:9090/v1',
  apiKey: process.env.MCP_BRIDGE_KEY || 'unused',
});
const prompt = process.argv.slice(2).join(' ') || 'What is 2 + 3? Use a tool.';
const stream = client.chat.completions.stream({
  model: process.env.MODEL || 'mcp-bridge/tools',
  messages: [{ role: 'user', content: prompt }],
});
stream.on('content', (delta) => process.stdout.write(delta));
await stream.finalChatCompletion();
process.stdout.write('\n');
