// The openai npm SDK against the bridge: node examples/node-sdk.mjs
import OpenAI from 'openai';

const client = new OpenAI({ baseURL: 'http://127.0.0.1:9090/v1', apiKey: process.env.MCP_BRIDGE_KEY || 'unused' });
const stream = client.chat.completions.stream({
  model: process.env.MODEL || 'llama3.1',
  messages: [{ role: 'user', content: 'What is 2 + 3? Use a tool.' }],
});
stream.on('content', (delta) => process.stdout.write(delta));
await stream.finalChatCompletion();
process.stdout.write('\n');
