// tap.mjs runs an MCP stdio server and appends every byte the bridge
// writes to its stdin to a file, so that a test can count the requests the
// server was sent (tools/call above all) without trusting the bridge's own
// account of what it did.
//
//   node tap.mjs LOGFILE COMMAND [ARGS...]
import { spawn } from "node:child_process";
import { appendFileSync } from "node:fs";

const [logFile, command, ...args] = process.argv.slice(2);
if (!logFile || !command) {
  console.error("usage: node tap.mjs LOGFILE COMMAND [ARGS...]");
  process.exit(2);
}

const child = spawn(command, args, { stdio: ["pipe", "inherit", "inherit"] });

// Written synchronously before the server sees it: once a reply has come
// back, the request is in the file.
process.stdin.on("data", (chunk) => {
  appendFileSync(logFile, chunk);
  child.stdin.write(chunk);
});
process.stdin.on("end", () => child.stdin.end());
child.stdin.on("error", () => {}); // the server exited first; its exit says so
for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => child.kill(sig));
}
child.on("exit", (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
