// A load-generator session with stream management (XEP-0198) done properly, for the soak: it
// logs in through Conn (conn.ts), enables SM with resumption, then parses what it receives with
// the server's own stream parser, counts the stanzas it handled (h), answers <r/>, keeps what it
// sent until the server acks it, and after a cut connection resumes on a new one: it tells the
// server its h (§5: the server resends what came after) and resends what the server's h says
// never arrived (§4: "the client SHOULD ... retransmit").
import type { Element } from "../../../src/xml/element.ts";
import { StreamParser } from "../../../src/xml/parser.ts";
import { Conn, LoginError, streamHeader, type Target } from "./conn.ts";
import { NS_SM } from "./sasl2.ts";

const LIMITS = { maxStanzaSize: 1 << 24, maxDepth: 100, maxAttributes: 100, maxNameLength: 100 };
const STANZAS = new Set(["message", "presence", "iq"]);
const SM_ANSWER = /<(enabled|resumed|failed)\b[^>]*?(?:\/>|>[\s\S]*?<\/\1>)/;
const attr = (el: string, name: string) => new RegExp(`\\s${name}=["']([^"']*)["']`).exec(el)?.[1];
/** h and the counts it is compared with wrap at 2^32 (XEP-0198 §4). */
const MOD = 2 ** 32;

export interface SmAccount { target: Target; user: string; password: string; resource: string; localAddress?: string }

export class SmSession {
  conn: Conn | undefined;
  /** The full JID bound. */
  jid = "";
  smId = "";
  /** Stanzas received and handled on this session (the h this client reports). */
  handled = 0;
  /** Stanzas sent on this session, and those not yet acknowledged by the server (oldest first). */
  private sentCount = 0;
  private readonly unacked: string[] = [];
  /** Each stanza as it arrives (not SM nonzas). */
  onStanza: (el: Element) => void = () => {};
  /** Resumptions done, and stanzas resent after them. */
  resumes = 0;
  resent = 0;
  /** A line for each cut and resumption, with the counters on both sides (a trace of the session). */
  onEvent: ((line: string) => void) | undefined;
  /** What the server did wrong by the protocol (an h beyond what was sent). */
  onProblem: ((what: string) => void) | undefined;
  private readonly account: SmAccount;

  constructor(account: SmAccount) {
    this.account = account;
  }

  get connected(): boolean {
    return this.conn !== undefined && !this.conn.closed;
  }

  /** Stanzas the server has not acknowledged yet. */
  get pending(): number {
    return this.unacked.length;
  }

  /** Logs in (SCRAM-SHA-1), binds, enables SM with resumption; nothing is sent before it. */
  async login(): Promise<void> {
    const a = this.account;
    const c = await Conn.login(a.target, { user: a.user, password: a.password, resource: a.resource, ...(a.localAddress ? { localAddress: a.localAddress } : {}) });
    this.jid = c.jid;
    this.handled = 0;
    this.sentCount = 0;
    this.unacked.length = 0;
    c.send(`<enable xmlns='${NS_SM}' resume='true'/>`);
    const r = (await this.answer(c))[0];
    const id = r.startsWith("<enabled") ? attr(r, "id") : undefined;
    if (!id) {
      c.destroy();
      throw new LoginError(`stream management not enabled: ${r.slice(0, 300)}`);
    }
    this.smId = id;
    this.attach(c);
  }

  /** On a new connection: authenticates and resumes the session; throws when the server refuses. */
  async resume(): Promise<void> {
    const a = this.account;
    const c = await Conn.open(a.target, "plain", a.localAddress);
    try {
      await c.openStream(a.target.domain);
      await c.authenticate(a.user, a.password, "SCRAM-SHA-1");
      await c.openStream(a.target.domain);
      c.send(`<resume xmlns='${NS_SM}' previd='${this.smId}' h='${this.handled}'/>`);
      const r = (await this.answer(c))[0];
      if (!r.startsWith("<resumed")) throw new LoginError(`not resumed: ${r.slice(0, 300)}`);
      const before = this.unacked.length;
      this.acked(Number(attr(r, "h")));
      this.onEvent?.(`resumed: our h ${this.handled}, server's h ${attr(r, "h")}, sent ${this.sentCount}, unacked ${before} -> ${this.unacked.length}`);
    } catch (e) {
      c.destroy();
      throw e;
    }
    this.resumes++;
    this.attach(c);
    // What the server never saw goes again, in order, on the new connection.
    this.resent += this.unacked.length;
    for (const s of this.unacked) c.send(s);
  }

  private async answer(c: Conn): Promise<RegExpExecArray> {
    return c.expect(SM_ANSWER, 30_000);
  }

  /** From now on the stream is parsed: whatever arrived with the SM answer comes first. */
  private attach(c: Conn): void {
    const parser = new StreamParser({
      streamStart() {},
      streamEnd() {},
      error() {},
      stanza: (el) => {
        if (el.attrs.xmlns === NS_SM) return this.nonza(el);
        if (STANZAS.has(el.name)) this.handled = (this.handled + 1) % MOD;
        this.onStanza(el);
      },
    }, LIMITS);
    parser.write(streamHeader(this.account.target.domain));
    c.onChunk = (chunk) => parser.write(chunk);
    const left = c.takeText();
    this.conn = c;
    if (left) parser.write(left);
  }

  private nonza(el: Element): void {
    if (el.name === "r") this.conn?.send(`<a xmlns='${NS_SM}' h='${this.handled}'/>`);
    else if (el.name === "a") this.acked(Number(el.attrs.h));
  }

  /** The server has handled `h` of the stanzas this session sent: those leave the queue. */
  private acked(h: number): void {
    if (!Number.isFinite(h)) return;
    const first = (this.sentCount - this.unacked.length + MOD) % MOD;
    const n = (h - first + MOD) % MOD;
    if (n <= this.unacked.length) this.unacked.splice(0, n);
    else this.onProblem?.(`the server's h ${h} counts ${n - this.unacked.length} stanzas more than were sent (handled-count-too-high, XEP-0198 §4)`);
  }

  /** Sends a stanza (kept until acknowledged); while cut, it waits in the queue for the resumption. */
  send(stanza: string): void {
    this.sentCount = (this.sentCount + 1) % MOD;
    this.unacked.push(stanza);
    if (this.connected) this.conn!.send(stanza);
  }

  /** Asks the server for an ack (XEP-0198 §4). */
  requestAck(): void {
    if (this.connected) this.conn!.send(`<r xmlns='${NS_SM}'/>`);
  }

  /** Cuts the TCP connection without closing the stream, as a phone losing its network does. */
  cut(): void {
    this.onEvent?.(`cut: our h ${this.handled}, sent ${this.sentCount}, unacked ${this.unacked.length}`);
    this.conn?.destroy();
  }

  /**
   * Closes the stream (the session ends) and waits for the server to close its side. A last <a/>
   * goes first: what the server sent and was not acknowledged when the session ends goes the way
   * of an offline resource's stanzas (XEP-0198 §4), and would come again at the next login.
   */
  async close(): Promise<void> {
    const c = this.conn;
    this.conn = undefined;
    if (!c) return;
    if (!c.closed) c.send(`<a xmlns='${NS_SM}' h='${this.handled}'/>`);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([c.closeAndWait(), new Promise((r) => (timer = setTimeout(r, 5000)))]);
    clearTimeout(timer);
    c.destroy();
  }
}
