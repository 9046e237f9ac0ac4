// A chat client built on the official openai SDK that calls mcp-bridge with
// a key and reports what the bridge answered, refusals included.
// Usage: node policy_client.mjs SPEC
// SPEC is JSON: {"key", "model", "prompt", "stream": bool, "headers": {...},
// "repeat": N}. The request is sent N times (default 1), one after another,
// and one JSON line is printed: an array with, per request, either
// {status, content, finish, headers} or, when the SDK raised an APIError,
// {status, type, code, message, headers}. headers holds Retry-After and the
// x-ratelimit-* headers of the answer. Anything else the SDK raises exits 2.
import OpenAI from 'openai';

const spec = JSON.parse(process.argv[2]);
const client = new OpenAI({
  baseURL: process.env.BRIDGE_URL,
  apiKey: spec.key,
  maxRetries: 0,
});
const request = {
  model: spec.model,
  messages: [{ role: 'user', content: spec.prompt || 'hello' }],
};

// limitHeaders keeps the headers a client reads to pace itself.
function limitHeaders(h) {
  const out = {};
  if (!h) return out;
  for (const [k, v] of h.entries()) {
    if (k === 'retry-after' || k.startsWith('x-ratelimit-')) out[k] = v;
  }
  return out;
}

async function once() {
  const options = { headers: spec.headers || {} };
  try {
    if (spec.stream) {
      const { data: stream, response } = await client.chat.completions
        .create({ ...request, stream: true }, options).withResponse();
      let content = '';
      let finish = null;
      for await (const chunk of stream) {
        const choice = chunk.choices?.[0];
        if (!choice) continue;
        content += choice.delta?.content || '';
        if (choice.finish_reason) finish = choice.finish_reason;
      }
      return { status: response.status, content, finish, headers: limitHeaders(response.headers) };
    }
    const { data, response } = await client.chat.completions.create(request, options).withResponse();
    const choice = data.choices[0];
    return { status: response.status, content: choice.message.content, finish: choice.finish_reason,
      headers: limitHeaders(response.headers) };
  } catch (err) {
    if (!(err instanceof OpenAI.APIError) || err.status === undefined) throw err;
    return { status: err.status, type: err.type, code: err.code, message: err.message, headers: limitHeaders(err.headers) };
  }
}

try {
  const results = [];
  for (let i = 0; i < (spec.repeat || 1); i++) results.push(await once());
  console.log(JSON.stringify(results));
} catch (err) {
  console.log(JSON.stringify({ error: String(err) }));
  process.exit(2);
}
