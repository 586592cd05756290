// The TCP transport's output coalescing: writes of one event-loop turn leave as one socket write,
// in order, and nothing written before end() or a STARTTLS upgrade is held back.
import { connect, createServer, type Socket } from "node:net";
import { afterEach, expect, it } from "vitest";
import { TcpTransport } from "./tcp.ts";

const servers: ReturnType<typeof createServer>[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** A transport over a loopback connection, and what its peer receives, chunk by chunk. */
async function pair(): Promise<{ t: TcpTransport; chunks: string[]; ended: Promise<void> }> {
  const chunks: string[] = [];
  let serverSide!: Socket;
  const server = createServer((s) => (serverSide = s));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const client = connect((server.address() as { port: number }).port, "127.0.0.1");
  client.setEncoding("utf8");
  client.on("data", (d: string) => chunks.push(d));
  const ended = new Promise<void>((r) => client.on("end", () => r()));
  await new Promise<void>((r) => client.once("connect", () => r()));
  await expect.poll(() => serverSide).toBeDefined();
  const t = new TcpTransport(serverSide, undefined);
  t.attach({ data: () => {}, close: () => {} });
  return { t, chunks, ended };
}

it("sends one turn's writes together and in order", async () => {
  const { t, chunks } = await pair();
  t.write("<a/>");
  t.write("<b/>");
  t.write("<c/>");
  expect(t.buffered).toBe(12);
  await expect.poll(() => chunks.join("")).toBe("<a/><b/><c/>");
  expect(chunks).toEqual(["<a/><b/><c/>"]);
  t.write("<d/>");
  await expect.poll(() => chunks.join("")).toBe("<a/><b/><c/><d/>");
});

it("flushes what is written before end()", async () => {
  const { t, chunks, ended } = await pair();
  t.write("<stream:error/>");
  t.write("</stream:stream>");
  t.end();
  await ended;
  expect(chunks.join("")).toBe("<stream:error/></stream:stream>");
});
