// The command line's side of the admin socket (admin-socket.ts): one request, one answer.
import { connect } from "node:net";
import { join, resolve } from "node:path";
import type { AdminResponse } from "./admin-socket.ts";

/** The socket's path for a configuration: adminSocket.path, else admin.sock in dataDir. */
export function adminSocketPath(config: { dataDir: string; adminSocket: { path: string | undefined } }): string {
  return resolve(config.adminSocket.path ?? join(config.dataDir, "admin.sock"));
}

/** No server listens on the socket (none runs, or it died and left the file). */
export class NotRunningError extends Error {}

/** The server refused the command; the message is the line to print. */
export class AdminRefusal extends Error {}

/** How long the command line waits for an answer (deleting an account closes its sessions first). */
const ANSWER_MS = 60_000;

/**
 * Sends one command to the server at `path` and resolves with its result. Rejects with
 * NotRunningError when nothing answers there, AdminRefusal when the server says no.
 */
export function adminRequest(path: string, command: string, args: string[]): Promise<unknown> {
  return new Promise((resolvePromise, reject) => {
    const socket = connect(path);
    let answer = "";
    let connected = false;
    const fail = (e: Error) => {
      socket.destroy();
      reject(e);
    };
    socket.setEncoding("utf8");
    socket.setTimeout(ANSWER_MS, () => fail(new Error(`the server did not answer on ${path} in ${ANSWER_MS / 1000} s`)));
    socket.once("connect", () => {
      connected = true;
      socket.write(`${JSON.stringify({ id: 1, command, args })}\n`);
    });
    socket.on("data", (chunk: string) => {
      answer += chunk;
      const nl = answer.indexOf("\n");
      if (nl < 0) return;
      socket.end();
      let r: AdminResponse;
      try {
        r = JSON.parse(answer.slice(0, nl)) as AdminResponse;
      } catch {
        return reject(new Error(`the server's answer on ${path} is not JSON`));
      }
      if (r.ok) resolvePromise(r.result);
      else reject(new AdminRefusal(r.error));
    });
    socket.once("error", (e: NodeJS.ErrnoException) => {
      if (!connected && (e.code === "ENOENT" || e.code === "ECONNREFUSED")) fail(new NotRunningError(`no server answers on ${path}`));
      else if (e.code === "EACCES") fail(new Error(`${path}: permission denied (the admin socket is the server user's only)`));
      else fail(e);
    });
    socket.once("close", () => {
      if (!answer.includes("\n")) reject(new Error(`the server closed ${path} without an answer`));
    });
  });
}
