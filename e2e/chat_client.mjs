// A chat client built on the official openai SDK that sends one request
// with a conversation the test gives, as a chat application sends the
// history with each new user message.
// Usage: node chat_client.mjs SPEC
// SPEC is JSON: {"key", "model", "messages": [...], "stream": bool}.
// One JSON line is printed: {status, content, finish}, or, when the SDK
// raised an APIError, {status, type, code, message}. Anything else the SDK
// raises exits 2.
import OpenAI from 'openai';

const spec = JSON.parse(process.argv[2]);
const client = new OpenAI({ baseURL: process.env.BRIDGE_URL, apiKey: spec.key || 'none', maxRetries: 0 });
const request = { model: spec.model || 'test-model', messages: spec.messages };

try {
  let out;
  try {
    if (spec.stream) {
      const { data: stream, response } = await client.chat.completions.create({ ...request, stream: true }).withResponse();
      let content = '';
      let finish = null;
      for await (const chunk of stream) {
        const choice = chunk.choices?.[0];
        if (!choice) continue;
        content += choice.delta?.content || '';
        if (choice.finish_reason) finish = choice.finish_reason;
      }
      out = { status: response.status, content, finish };
    } else {
      const { data, response } = await client.chat.completions.create(request).withResponse();
      out = { status: response.status, content: data.choices[0].message.content, finish: data.choices[0].finish_reason };
    }
  } catch (err) {
    if (!(err instanceof OpenAI.APIError) || err.status === undefined) throw err;
    out = { status: err.status, type: err.type, code: err.code, message: err.message };
  }
  console.log(JSON.stringify(out));
} catch (err) {
  console.log(JSON.stringify({ error: String(err) }));
  process.exit(2);
}
