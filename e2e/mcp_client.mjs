// An MCP client built on the official TypeScript SDK, pointed at the
// bridge's /mcp with the SDK's defaults.
// Usage: node mcp_client.mjs URL TOOL ARGS_JSON
// Prints one JSON line: the negotiated protocol version, whether a session
// was opened, the tool names listed and the text of the call's result.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const [url, tool, args] = process.argv.slice(2);
const transport = new StreamableHTTPClientTransport(new URL(url));
const client = new Client({ name: 'ts-sdk-e2e', version: '1' });
try {
  await client.connect(transport);
  const tools = await client.listTools();
  const res = await client.callTool({ name: tool, arguments: JSON.parse(args) });
  console.log(JSON.stringify({
    protocol: transport.protocolVersion,
    session: Boolean(transport.sessionId),
    tools: tools.tools.map((t) => t.name),
    text: res.content?.[0]?.text,
    isError: Boolean(res.isError),
  }));
  await client.close();
} catch (err) {
  console.log(JSON.stringify({ error: String(err) }));
  process.exit(1);
}
