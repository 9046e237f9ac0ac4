// A chat client built on the official openai SDK, pointed at mcp-bridge.
// Usage: node client.mjs stream|create PROMPT
// Prints one JSON line describing the answer the SDK assembled.
import OpenAI from 'openai';

const [mode, prompt] = process.argv.slice(2);
const client = new OpenAI({
  baseURL: process.env.BRIDGE_URL,
  apiKey: process.env.BRIDGE_KEY || 'unused',
  maxRetries: 0,
});
const request = {
  model: process.env.MODEL || 'test-model',
  messages: [{ role: 'user', content: prompt }],
};

try {
  if (mode === 'stream') {
    const stream = client.chat.completions.stream({ ...request, stream_options: { include_usage: true } });
    let deltas = 0;
    stream.on('content', () => { deltas++; });
    const final = await stream.finalChatCompletion();
    const choice = final.choices[0];
    console.log(JSON.stringify({ content: choice.message.content, finish: choice.finish_reason, usage: final.usage, deltas }));
  } else {
    const res = await client.chat.completions.create(request);
    const choice = res.choices[0];
    console.log(JSON.stringify({ content: choice.message.content, finish: choice.finish_reason, usage: res.usage, mcp_tool_calls: res.mcp_tool_calls }));
  }
} catch (err) {
  console.log(JSON.stringify({ error: String(err), status: err.status }));
  process.exit(2);
}
