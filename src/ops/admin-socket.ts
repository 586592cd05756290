// The admin socket: a Unix socket (by default admin.sock in dataDir) on which the running server
// takes commands from the command line, one JSON object per line each way:
//   -> {"id":1,"command":"kick","args":["juliet@example.com/balcony"]}
//   <- {"id":1,"ok":true,"result":{"kicked":["juliet@example.com/balcony"]}}
//   <- {"id":1,"ok":false,"error":"no session juliet@example.com/balcony on this server"}
// Who may connect is the file system's business: the socket is made 0600 (under a umask that
// leaves no moment when it is more open) in the server user's 0700 data folder, so other users
// are refused by the kernel at connect(2); root is not. A socket file left by a server that died
// is replaced; one that a running server answers on is not (a second server on the same data).
// Limits: a request line of MAX_LINE characters, MAX_CLIENTS connections, IDLE_MS of silence.
import { existsSync, chmodSync, unlinkSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import type { Logger } from "../core/log.ts";
import { AdminError, type AdminCommand } from "./admin-commands.ts";

export const MAX_LINE = 65_536;
export const MAX_CLIENTS = 8;
export const IDLE_MS = 60_000;

export interface AdminRequest { id: number; command: string; args: string[] }
export type AdminResponse = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

/** Why the socket cannot be made (another server answers on it, the path is too long, ...). */
export class AdminSocketError extends Error {}

function parseRequest(line: string): AdminRequest | string {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return "not JSON";
  }
  const r = v as Partial<AdminRequest>;
  if (typeof r !== "object" || r === null || typeof r.id !== "number" || typeof r.command !== "string" ||
    !Array.isArray(r.args) || !r.args.every((a) => typeof a === "string")) return "expected {id, command, args: [strings]}";
  return r as AdminRequest;
}

/** Whether a server answers on the socket at `path` now. */
export function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/** One client: requests answered in order, one at a time. */
function serve(socket: Socket, commands: Record<string, AdminCommand>, log: Logger): void {
  let buffer = "";
  let chain: Promise<void> = Promise.resolve();
  socket.setEncoding("utf8");
  socket.setTimeout(IDLE_MS, () => socket.destroy());
  const send = (r: AdminResponse) => {
    if (!socket.destroyed) socket.write(`${JSON.stringify(r)}\n`);
  };
  const run = async (line: string) => {
    const req = parseRequest(line);
    if (typeof req === "string") return send({ id: 0, ok: false, error: req });
    const command = Object.hasOwn(commands, req.command) ? commands[req.command] : undefined;
    if (command === undefined) return send({ id: req.id, ok: false, error: `unknown command '${req.command}'` });
    try {
      send({ id: req.id, ok: true, result: await command(req.args) });
    } catch (e) {
      if (!(e instanceof AdminError)) log.error({ err: e, command: req.command }, "admin command failed");
      send({ id: req.id, ok: false, error: (e as Error).message });
    }
  };
  socket.on("data", (chunk: string) => {
    buffer += chunk;
    for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line.trim() !== "") chain = chain.then(() => run(line));
    }
    if (buffer.length > MAX_LINE) {
      send({ id: 0, ok: false, error: `a request is at most ${MAX_LINE} characters` });
      socket.end();
    }
  });
  socket.on("error", () => socket.destroy());
}

/** The socket as the server holds it. */
export interface AdminSocket {
  readonly path: string;
  /** Stops listening, ends the connections open on it and removes the socket file. */
  close(): Promise<void>;
}

/** Opens the socket at `path`; resolves once it listens. */
export async function listenAdmin(path: string, commands: Record<string, AdminCommand>, log: Logger): Promise<AdminSocket> {
  if (existsSync(path)) {
    if (await answers(path)) throw new AdminSocketError(`a server is running already: it answers on ${path}`);
    unlinkSync(path); // left by a server that did not stop cleanly
  }
  const clients = new Set<Socket>();
  const server = createServer((socket) => {
    clients.add(socket);
    socket.once("close", () => clients.delete(socket));
    serve(socket, commands, log);
  });
  server.maxConnections = MAX_CLIENTS;
  const listening = new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) => reject(new AdminSocketError(`cannot make the admin socket ${path}: ${e.code ?? e.message}`)));
    server.once("listening", () => {
      server.removeAllListeners("error");
      server.on("error", (e) => log.error({ err: e }, "admin socket"));
      resolve();
    });
  });
  // The umask is the process's: narrowed only around listen(), which binds the socket before it
  // returns, so that the socket is never wider than 0600 and nothing else is made under it.
  const umask = process.umask(0o177);
  try {
    server.listen(path);
  } finally {
    process.umask(umask);
  }
  await listening;
  chmodSync(path, 0o600);
  return {
    path,
    close: () => new Promise<void>((resolve) => {
      // Closing the listener removes the file (libuv unlinks a pipe server's path).
      server.close(() => resolve());
      for (const c of clients) c.destroy();
    }),
  };
}

