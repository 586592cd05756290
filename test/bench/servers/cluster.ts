// Bench-only launcher for the "both cores" row: N worker processes, each a whole xmppd on the
// same config, sharing the listening port through node:cluster (the primary accepts and hands
// connections out round-robin). Without the route bus of the scale-out issue a worker only
// reaches its own sessions, so this shows what a second core gives to work that needs no
// routing between sessions (logins), not to chat between users on different workers.
// Usage: node test/bench/servers/cluster.ts <workers> <config.json>
import cluster from "node:cluster";
import { loadConfig } from "../../../src/core/config.ts";
import { XmppServer } from "../../../src/server.ts";

const [countArg, file] = process.argv.slice(2);
if (cluster.isPrimary) {
  const n = Number(countArg);
  for (let i = 0; i < n; i++) cluster.fork();
  const stop = () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill("SIGTERM");
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  cluster.on("exit", () => {
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
  });
} else {
  const server = new XmppServer(loadConfig(file));
  await server.start();
  process.on("SIGTERM", () => void server.stop().then(() => process.exit(0)));
}
