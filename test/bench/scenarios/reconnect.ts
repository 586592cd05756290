// Scenario 7, reconnects: a mobile client reconnects dozens of times a day, so what does one
// reconnect cost the server (logins/s with `concurrency` clients at a time), how long does it
// take (ms per login, one at a time on an idle server) and how many round trips does it wait
// for (what a mobile network multiplies by its latency)? Every client is one device: an account
// of its own and a client installation id, reconnecting over direct TLS (XEP-0368) each time.
// Four ways, each on the same devices:
//   rfc6120         SCRAM-SHA-1 (RFC 5802), stream restart, bind (RFC 6120 §7), XEP-0198 enable
//                   with resume; the client then closes its stream (the session ends);
//   rfc6120-resume  SCRAM-SHA-1, restart, XEP-0198 <resume/> of the session the previous
//                   connection left when it dropped (no bind);
//   fast            SASL2 (XEP-0388) with a FAST token (XEP-0484, one message each way), Bind 2
//                   (XEP-0386) with XEP-0198 enabled inline, then a closed stream;
//   fast-resume     the same login with XEP-0198 <resume/> inline instead of a new session.
// The FAST ways run only against a server that offers FAST; each device gets its token in a
// password login (SASL2 SCRAM-SHA-1 with <request-token/>) that is not measured. A resume way
// starts with one unmeasured login of its base way that drops, and ends with a closed stream.
// Every login must succeed, and every resumption must resume.
import type { TLSSocket } from "node:tls";
import { Conn, LoginError, type Target } from "../lib/conn.ts";
import { BIND_WITH_SM, FastToken, NS_FAST, NS_SM, sasl2Offer, sasl2Scram, userAgent, type HtMechanism } from "../lib/sasl2.ts";
import { percentile, round, sleep } from "../lib/stats.ts";
import { failed, notBuilt, ok, settle, withCpu, type Cell, type Cells, type ScenarioContext } from "./common.ts";

export type Way = "rfc6120" | "rfc6120-resume" | "fast" | "fast-resume";
const resumes = (w: Way) => w.endsWith("-resume");

const SM_ANSWER = /<(enabled|resumed|failed)\b[^>]*?(?:\/>|>[\s\S]*?<\/\1>)/;
/** Reconnect runs so far: each connects from source addresses of its own (127.1.<run>.1-16), as the login rows do. */
let runs = 0;

const attr = (el: string, name: string) => new RegExp(`\\s${name}=["']([^"']*)["']`).exec(el)?.[1];

/** Round trips before the first byte of XMPP: TCP's, then TLS 1.3's one (TLS 1.2: two, one when resumed). */
function handshakeTrips(c: Conn): number {
  const s = c.socket as TLSSocket;
  return 1 + (s.getProtocol() === "TLSv1.3" || s.isSessionReused() ? 1 : 2);
}

/**
 * One client installation: its account, its id, its stream management session and FAST token.
 * It sends no presence and nobody writes to it, so no stanza reaches its sessions: the h it
 * reports when it resumes is 0.
 */
class Device {
  conn: Conn | undefined;
  smId: string | undefined;
  token: FastToken | undefined;
  /** The TLS version the last connection negotiated. */
  tls = "";
  readonly user: string;
  /** The client installation id (a UUID v4): the FAST token and the Bind 2 resource belong to it. */
  private readonly ua: string;
  private readonly target: Target;
  private readonly password: string;
  private readonly localAddress: string;

  constructor(target: Target, user: string, password: string, index: number, localAddress: string) {
    this.target = target;
    this.user = user;
    this.password = password;
    this.localAddress = localAddress;
    this.ua = `4a7e1c02-6d3b-4c9e-9f21-${index.toString(16).padStart(12, "0")}`;
  }

  /** The password login that gets the device its FAST token (not measured). */
  async fetchToken(mechanism: HtMechanism): Promise<void> {
    const c = await this.open();
    try {
      const s = await sasl2Scram(c, this.user, this.password, `${userAgent(this.ua)}<request-token xmlns='${NS_FAST}' mechanism='${mechanism}'/>${BIND_WITH_SM}`);
      if (!s.token) throw new LoginError(`no FAST token in ${s.text.slice(0, 300)}`);
      this.token = new FastToken(s.token, mechanism);
    } finally {
      await c.closeAndWait();
    }
  }

  /** Connects and logs in `way`; the round trips it waited for. */
  async login(way: Way): Promise<number> {
    const c = await this.open();
    this.conn = c;
    try {
      if (way === "fast" || way === "fast-resume") await this.fast(c, way === "fast-resume");
      else await this.rfc6120(c, way === "rfc6120-resume");
    } catch (e) {
      c.destroy();
      this.conn = undefined;
      throw e;
    }
    return handshakeTrips(c) + c.waits;
  }

  /** Leaves: a closed stream ends the session, a dropped connection leaves it to be resumed. */
  async leave(drop: boolean): Promise<void> {
    const c = this.conn;
    this.conn = undefined;
    if (!c) return;
    if (drop) c.destroy();
    else await c.closeAndWait();
  }

  private async open(): Promise<Conn> {
    const c = await Conn.open(this.target, "tls", this.localAddress);
    this.tls = (c.socket as TLSSocket).getProtocol() ?? "";
    await c.openStream(this.target.domain);
    return c;
  }

  private async rfc6120(c: Conn, resume: boolean): Promise<void> {
    await c.authenticate(this.user, this.password, "SCRAM-SHA-1");
    const features = await c.openStream(this.target.domain);
    if (resume) {
      c.send(`<resume xmlns='${NS_SM}' previd='${this.smId}' h='0'/>`);
      const r = (await c.expect(SM_ANSWER))[0];
      if (!r.startsWith("<resumed")) throw new LoginError(`not resumed: ${r.slice(0, 300)}`);
      return;
    }
    await c.bind("reconnect");
    if (!features.includes(NS_SM)) return;
    c.send(`<enable xmlns='${NS_SM}' resume='true'/>`);
    const r = (await c.expect(SM_ANSWER))[0];
    this.smId = r.startsWith("<enabled") ? attr(r, "id") : undefined;
    if (!this.smId) throw new LoginError(`stream management not enabled: ${r.slice(0, 300)}`);
  }

  private async fast(c: Conn, resume: boolean): Promise<void> {
    if (!this.token) throw new LoginError("no FAST token");
    const inline = userAgent(this.ua) + (resume ? `<resume xmlns='${NS_SM}' previd='${this.smId}' h='0'/>` : "") + BIND_WITH_SM;
    const s = await this.token.login(c, this.user, inline);
    if (resume && !s.resumed) throw new LoginError(`not resumed: ${s.text.slice(0, 300)}`);
    if (!resume && !s.smId) throw new LoginError(`stream management not enabled: ${s.text.slice(0, 300)}`);
    if (s.smId) this.smId = s.smId;
  }
}

interface Run { latencies: number[]; trips: number[]; errors: number; firstError: string }

function fail(run: Run, d: Device, e: unknown): void {
  run.errors++;
  run.firstError ||= `${d.user}: ${(e as Error).message}`;
}

/**
 * One unmeasured login of the way's base (the generator's SCRAM keys, and for a resume way the
 * session to resume: left by a dropped connection).
 */
async function prepare(d: Device, way: Way, pauseMs: number): Promise<void> {
  await d.login(way === "rfc6120-resume" ? "rfc6120" : way === "fast-resume" ? "fast" : way);
  await d.leave(resumes(way));
  if (pauseMs) await sleep(pauseMs);
}

/** Each device logs in `way` again and again until `until` says so, leaving as the way does; the last login closes its stream. */
async function repeat(devices: Device[], way: Way, until: (n: number) => boolean, pauseMs: number, run: Run): Promise<void> {
  let done = 0;
  await Promise.all(devices.map(async (d) => {
    while (!until(done)) {
      const s = performance.now();
      try {
        const trips = await d.login(way);
        run.latencies.push(performance.now() - s);
        run.trips.push(trips);
        done++;
        await d.leave(resumes(way) && !until(done));
      } catch (e) {
        fail(run, d, e);
        // A failed resumption leaves nothing to resume: start over from a new session.
        if (resumes(way)) await prepare(d, way, 0).catch(() => undefined);
      }
      if (pauseMs) await sleep(pauseMs);
    }
    await d.leave(false);
  }));
}

export interface ReconnectOptions { concurrency: number; seconds: number; sequential: number }

/** Per way: logins/s with every device at once, then ms per login with one device, one at a time. */
async function measure(ctx: ScenarioContext, devices: Device[], way: Way, o: ReconnectOptions): Promise<Cells> {
  const burst: Run = { latencies: [], trips: [], errors: 0, firstError: "" };
  await Promise.all(devices.map((d) => prepare(d, way, 0).catch((e: unknown) => fail(burst, d, e))));
  const { result: elapsed, cpu, generatorCpu } = await withCpu(ctx, async () => {
    const t0 = performance.now();
    const deadline = t0 + o.seconds * 1000;
    await repeat(devices, way, () => performance.now() >= deadline, 0, burst);
    return (performance.now() - t0) / 1000;
  });
  await settle();
  // One at a time on an idle server: what one reconnect takes, with a pause for the server to
  // finish with the previous connection.
  const single: Run = { latencies: [], trips: [], errors: 0, firstError: "" };
  await prepare(devices[0]!, way, 5).catch((e: unknown) => fail(single, devices[0]!, e));
  const stop = performance.now() + 10_000;
  await repeat([devices[0]!], way, (n) => n >= o.sequential || performance.now() >= stop, 5, single);
  const trips = [...burst.trips, ...single.trips];
  const detail = {
    logins: burst.latencies.length, seconds: round(elapsed, 2), concurrency: devices.length, errors: burst.errors + single.errors,
    loadedP50ms: round(percentile(burst.latencies, 50), 2), loadedP99ms: round(percentile(burst.latencies, 99), 2),
    sequentialLogins: single.latencies.length,
    tripsMin: Math.min(...trips), tripsMax: Math.max(...trips), tls: devices[0]!.tls,
    serverCpu: round(cpu, 2), generatorCpu: round(generatorCpu, 2), way,
  };
  ctx.log(`  reconnect ${way}: ${detail.logins} logins in ${detail.seconds} s (${devices.length} at a time), p50/p99 one at a time ${round(percentile(single.latencies, 50), 2)}/${round(percentile(single.latencies, 99), 2)} ms, ${detail.tripsMin}-${detail.tripsMax} round trips, ${detail.errors} errors, server cpu ${detail.serverCpu}, generator cpu ${detail.generatorCpu}`);
  if (detail.errors > 0) {
    const cell = failed(`${detail.errors} failed logins: ${burst.firstError || single.firstError}`, detail);
    return { rate: cell, p50: cell, p99: cell, trips: cell };
  }
  // The generator's CPU is the burst's: it says nothing of the one-at-a-time figures.
  const { generatorCpu: burstGeneratorCpu, ...rest } = detail;
  const quiet = { ...rest, burstGeneratorCpu };
  return {
    rate: ok(round(burst.latencies.length / elapsed), detail),
    p50: ok(round(percentile(single.latencies, 50), 2), quiet),
    p99: ok(round(percentile(single.latencies, 99), 2), quiet),
    trips: ok(percentile(trips, 50), quiet),
  };
}

/** The same cell in a way's four rows. */
const same = (c: Cell): Cells => ({ rate: c, p50: c, p99: c, trips: c });

/** The rows: `reconnect[.resume].rfc6120.*` every server the RFC 6120 way, `reconnect[.resume].best.*` FAST where offered. */
export async function reconnects(ctx: ScenarioContext, o: ReconnectOptions): Promise<Cells> {
  const cells: Cells = {};
  const put = (prefix: string, c: Cells) => {
    for (const [m, cell] of Object.entries(c)) cells[`${prefix}.${m}`] = cell;
  };
  if (ctx.target.tlsPort === undefined) {
    for (const p of ["reconnect.rfc6120", "reconnect.best", "reconnect.resume.rfc6120", "reconnect.resume.best"]) put(p, same(failed("no direct TLS port")));
    return cells;
  }
  const n = Math.min(o.concurrency, ctx.poolSize);
  const net = 1 + (runs++ % 250);
  const devices = Array.from({ length: n }, (_, k) => new Device(ctx.target, ctx.user(k), ctx.password, k, `127.1.${net}.${1 + (k % 16)}`));

  // What the server offers: FAST before authentication, XEP-0198 after.
  const probe = await Conn.open(ctx.target, "tls");
  let fast: HtMechanism | undefined;
  let sm: boolean;
  try {
    fast = sasl2Offer(await probe.openStream(ctx.target.domain)).fast;
    await probe.authenticate(ctx.user(0), ctx.password, "SCRAM-SHA-1");
    sm = (await probe.openStream(ctx.target.domain)).includes(NS_SM);
  } finally {
    probe.destroy();
  }
  ctx.log(`  reconnect: ${n} devices; ${fast ? `FAST with ${fast}` : "no FAST"}, ${sm ? "stream management" : "no stream management"}`);
  const noSm = same(notBuilt("no stream management (XEP-0198)"));

  const old = await measure(ctx, devices, "rfc6120", o);
  const oldResume = sm ? await measure(ctx, devices, "rfc6120-resume", o) : noSm;
  put("reconnect.rfc6120", old);
  put("reconnect.resume.rfc6120", oldResume);
  if (!fast) {
    // Without FAST a server's best is the RFC 6120 way.
    put("reconnect.best", old);
    put("reconnect.resume.best", oldResume);
    return cells;
  }
  try {
    await Promise.all(devices.map((d) => d.fetchToken(fast)));
  } catch (e) {
    const none = same(failed(`no FAST token: ${(e as Error).message}`));
    put("reconnect.best", none);
    put("reconnect.resume.best", none);
    return cells;
  }
  put("reconnect.best", await measure(ctx, devices, "fast", o));
  put("reconnect.resume.best", sm ? await measure(ctx, devices, "fast-resume", o) : noSm);
  return cells;
}
