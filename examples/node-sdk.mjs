// The openai npm SDK against the bridge, streaming. From a fresh clone, with
// the bridge running (see README, Quick start):
//
//   npm ci --prefix examples
//   node examples/node-sdk.mjs "What is 2 + 3? Use a tool."
//
// MCP_BRIDGE_URL is the bridge's base URL (default http://127.0.0.1:9090/v1),
// MODEL the model (default llama3.1), MCP_BRIDGE_KEY an API key when the
// bridge has auth.api_keys.
import OpenAI from 'openai';

const client = new OpenAI({
  baseURL: process.env.MCP_BRIDGE_URL || 'http://127.0.0.1:9090/v1',
  apiKey: process.env.MCP_BRIDGE_KEY || 'unused',
});
const prompt = process.argv.slice(2).join(' ') || 'What is 2 + 3? Use a tool.';
const stream = client.chat.completions.stream({
  model: process.env.MODEL || 'llama3.1',
  messages: [{ role: 'user', content: prompt }],
});
stream.on('content', (delta) => process.stdout.write(delta));
await stream.finalChatCompletion();
process.stdout.write('\n');
