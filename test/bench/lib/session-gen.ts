// One generator process of the cluster-sessions scenario (scenarios/cluster-sessions.ts): it logs
// in a slice of the accounts on one node (SCRAM-SHA-1, bind, initial presence), holds them idle,
// and tells its parent when every session has received a stanza that carries a given token (the
// announcement, the broadcast presence). A process of its own, so that its connections count
// against its own open-file limit, from a source address of its own (127.0.0.x), so that
// ephemeral ports do not run out. Its parent talks to it over the IPC channel of fork().
import { Conn, type Target } from "./conn.ts";
import { pool, sleep } from "./stats.ts";

/** What the parent sends. */
export type GenRequest =
  | { type: "login"; target: Target; localAddress: string; users: string[]; password: string; concurrency: number; tokens: string[] }
  | { type: "counts" }
  | { type: "close" };

/** What a token's arrivals look like so far: how many sessions have it, the first and last arrival (epoch ms). */
export interface Arrivals { count: number; first: number; last: number }

/** What the generator answers. */
export type GenReport =
  | { type: "progress"; done: number; failed: number }
  | { type: "logged"; done: number; failed: number; start: number; end: number; errors: string[] }
  | { type: "counts"; alive: number; arrivals: Record<string, Arrivals> }
  | { type: "complete"; token: string; arrivals: Arrivals };

/** Wall-clock milliseconds with the monotonic clock's resolution, comparable across processes. */
export const now = (): number => performance.timeOrigin + performance.now();

const conns: Conn[] = [];
const arrivals = new Map<string, Arrivals>();
let expected = 0;

function send(r: GenReport): void {
  process.send?.(r);
}

/**
 * Counts, per token, the sessions that received it: each connection notes a token once. The
 * stanzas are small and written whole, so a token is not split across chunks in practice; a
 * missed one shows as a count short of the sessions.
 */
function watch(c: Conn, tokens: { text: string; bytes: Buffer }[]): void {
  const seen = new Set<string>();
  c.onChunk = (chunk) => {
    for (const t of tokens) {
      if (seen.has(t.text) || !chunk.includes(t.bytes)) continue;
      seen.add(t.text);
      const at = now();
      const a = arrivals.get(t.text)!;
      if (a.count === 0) a.first = at;
      a.count++;
      a.last = at;
      if (a.count === expected) send({ type: "complete", token: t.text, arrivals: a });
    }
  };
}

/**
 * Source ports on the generator's own address, handed out in turn (lib/conn.ts localPort): from
 * 10,000 up, one per connection, skipping one that is taken (a listener on every address, a
 * connection of an earlier run still in TIME_WAIT).
 */
const PORTS = { first: 10_000, last: 65_000 };
let nextPort = PORTS.first;

async function connectFrom(req: Extract<GenRequest, { type: "login" }>, user: string): Promise<Conn> {
  for (;;) {
    if (nextPort > PORTS.last) throw new Error(`no source port left on ${req.localAddress}`);
    const localPort = nextPort++;
    try {
      return await Conn.login(req.target, { user, password: req.password, mechanism: "SCRAM-SHA-1", resource: "g", presence: true, localAddress: req.localAddress, localPort, timeoutMs: 120_000 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EADDRINUSE") throw e;
    }
  }
}

async function login(req: Extract<GenRequest, { type: "login" }>): Promise<void> {
  const tokens = req.tokens.map((text) => ({ text, bytes: Buffer.from(text) }));
  for (const t of req.tokens) arrivals.set(t, { count: 0, first: 0, last: 0 });
  expected = req.users.length;
  let done = 0;
  let failed = 0;
  const errors: string[] = [];
  const start = now();
  const ticker = setInterval(() => send({ type: "progress", done, failed }), 2000);
  await pool(req.users.length, req.concurrency, async (i) => {
    // A login refused under load is tried again, a few times: what is measured is sessions held.
    for (let attempt = 0; ; attempt++) {
      try {
        const c = await connectFrom(req, req.users[i]!);
        c.discardText();
        watch(c, tokens);
        conns.push(c);
        done++;
        return;
      } catch (e) {
        if (errors.length < 5) errors.push(`${req.users[i]}: ${(e as Error).message.slice(0, 200)}`);
        if (attempt >= 2) {
          failed++;
          return;
        }
        await sleep(500);
      }
    }
  });
  clearInterval(ticker);
  send({ type: "logged", done, failed, start, end: now(), errors });
}

process.on("message", (m: GenRequest) => {
  if (m.type === "login") void login(m);
  else if (m.type === "counts") send({ type: "counts", alive: conns.filter((c) => !c.closed).length, arrivals: Object.fromEntries(arrivals) });
  else if (m.type === "close") {
    for (const c of conns) c.destroy();
    process.disconnect?.();
    setTimeout(() => process.exit(0), 200).unref();
  }
});
process.on("disconnect", () => process.exit(0));
