// One load-generator connection: XMPP over TCP (plain, STARTTLS or direct TLS, RFC 6120 §5 and
// XEP-0368), logged in with SASL PLAIN (RFC 4616) or SCRAM-SHA-1 (RFC 5802), bound (RFC 6120 §7).
// It does the least XML work that is still correct for a benchmark: during login it waits for the
// closing tag of the one answer it expects; after login it hands raw chunks to a scanner
// (scan.ts) and never builds an element. Writes are batched per event-loop turn when asked.
import { connect, type Socket } from "node:net";
import { connect as tlsConnect, createSecureContext, type SecureContext, type TLSSocket } from "node:tls";
import { clientFirst, clientFinal, type ScramState } from "./scram.ts";

export interface Target {
  /** A label for tables ("ours", "prosody", ...). */
  name: string;
  host: string;
  /** Plain / STARTTLS port. */
  port: number;
  /** Direct TLS port, when the server has one. */
  tlsPort?: number;
  domain: string;
  /** The MUC service (XEP-0045), e.g. conference.<domain>. */
  mucDomain: string;
  /** The plain HTTP listener, for the http row: its port and the paths of WebSocket (RFC 7395) and BOSH (XEP-0206). */
  http?: { port: number; websocket: string; bosh: string };
  /** Several nodes of one cluster (ours, the cores row): the plain port account number `index` logs in on. */
  portFor?: (index: number) => number;
}

/** The target as account number `index` reaches it (its node's port, in a cluster). */
export function targetFor(target: Target, index: number): Target {
  return target.portFor === undefined ? target : { ...target, port: target.portFor(index) };
}

let shared: SecureContext | undefined;
/**
 * One client TLS context for every connection, as a client would have. Without it tls.connect
 * made one per connection: 145 µs more of the generator's CPU each, and native memory that grew
 * with every login, so the second TLS login row of a run was the generator's limit, not the
 * server's (SCRAM over TLS: 629 logins/s run second, 1,343 run first).
 */
const clientContext = (): SecureContext => (shared ??= createSecureContext({}));

export type Security = "plain" | "starttls" | "tls";
export type Mechanism = "PLAIN" | "SCRAM-SHA-1";

export interface LoginOptions {
  user: string;
  password: string;
  resource?: string;
  mechanism?: Mechanism;
  security?: Security;
  /** Send initial presence after binding (an available resource, RFC 6121 §4.2). */
  presence?: boolean;
  /** Source address (127.0.0.x) so that more than one port range of connections fits. */
  localAddress?: string;
  /**
   * Source port, with localAddress: a generator that owns its address hands ports out itself.
   * Left to the kernel, bind() searches the ephemeral range for a free port, and with ten
   * thousand of them taken that search was two thirds of a generator's CPU.
   */
  localPort?: number;
  timeoutMs?: number;
}

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/'/g, "&apos;").replace(/</g, "&lt;");

export function streamHeader(domain: string): string {
  return `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='${domain}' version='1.0'>`;
}

export class LoginError extends Error {}

function destroySocket(socket: Socket | TLSSocket): void {
  socket.destroy();
}

/** Pending flushes: connections with batched output, written once per event-loop turn. */
const dirty = new Set<Conn>();
let flushScheduled = false;
function flushAll(): void {
  flushScheduled = false;
  for (const c of dirty) c.flush();
  dirty.clear();
}

export class Conn {
  socket: Socket | TLSSocket;
  /** The full JID once bound. */
  jid = "";
  closed = false;
  /** Times this connection waited for the server's answer (expect): round trips after the handshakes. */
  waits = 0;
  /** After login: every chunk goes here (scan.ts), not to the text buffer. */
  onChunk: ((chunk: Buffer) => void) | undefined;
  private text = "";
  private wake: (() => void) | undefined;
  private out = "";
  private endTimer: NodeJS.Timeout | undefined;

  private constructor(socket: Socket | TLSSocket) {
    this.socket = socket;
    this.listen();
  }

  static open(target: Target, security: Security, localAddress?: string, timeoutMs = 30_000, localPort?: number): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const direct = security === "tls";
      const port = direct ? target.tlsPort : target.port;
      if (port === undefined) return reject(new LoginError(`${target.name} has no direct TLS port`));
      const opts = { host: target.host, port, ...(localAddress ? { localAddress } : {}), ...(localAddress && localPort ? { localPort } : {}) };
      const s = direct ? tlsConnect({ ...opts, rejectUnauthorized: false, servername: target.domain, secureContext: clientContext() }) : connect(opts);
      const timer = setTimeout(() => {
        s.destroy();
        reject(new LoginError("connect timeout"));
      }, timeoutMs);
      s.once(direct ? "secureConnect" : "connect", () => {
        clearTimeout(timer);
        s.setNoDelay(true);
        resolve(new Conn(s));
      });
      s.once("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  private listen(): void {
    this.socket.on("data", (d: Buffer) => {
      if (this.onChunk) this.onChunk(d);
      else {
        this.text += d.toString("utf8");
        this.wake?.();
      }
    });
    this.socket.on("close", () => {
      this.closed = true;
      clearTimeout(this.endTimer);
      this.endTimer = undefined;
      this.wake?.();
    });
    this.socket.on("error", () => {});
  }

  /** Waits until the received text matches; consumes and returns the text up to the match's end. */
  async expect(re: RegExp, timeoutMs = 30_000): Promise<RegExpExecArray> {
    this.waits++;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.text);
      if (m) {
        this.text = this.text.slice(m.index + m[0].length);
        return m;
      }
      if (this.text.includes("<stream:error") || this.closed) throw new LoginError(`stream ended waiting for ${re}: ${this.text.slice(0, 300)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new LoginError(`timeout waiting for ${re}: ${this.text.slice(0, 300)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.wake = () => {
          clearTimeout(t);
          this.wake = undefined;
          r();
        };
      });
    }
  }

  send(data: string): void {
    this.socket.write(data);
  }

  /** Queues output, written with everything else queued in this event-loop turn. */
  queue(data: string): void {
    this.out += data;
    dirty.add(this);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flushAll);
    }
  }

  flush(): void {
    if (this.out.length > 0 && !this.closed) this.socket.write(this.out);
    this.out = "";
  }

  async openStream(domain: string): Promise<string> {
    this.send(streamHeader(domain));
    return (await this.expect(/<stream:features[\s\S]*?<\/stream:features>/))[0];
  }

  async startTls(domain: string): Promise<void> {
    this.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    await this.expect(/<proceed/);
    const plain = this.socket as Socket;
    plain.removeAllListeners("data");
    plain.removeAllListeners("close");
    const secure = tlsConnect({ socket: plain, rejectUnauthorized: false, servername: domain, secureContext: clientContext() });
    await new Promise<void>((r, j) => {
      secure.once("secureConnect", () => r());
      secure.once("error", j);
    });
    this.socket = secure;
    this.text = "";
    this.listen();
  }

  async authenticate(user: string, password: string, mechanism: Mechanism): Promise<void> {
    const sasl = "urn:ietf:params:xml:ns:xmpp-sasl";
    const outcome = /<success[^>]*\/>|<success[^>]*>([^<]*)<\/success>|<failure[\s\S]*?<\/failure>/;
    if (mechanism === "PLAIN") {
      const payload = Buffer.from(`\0${user}\0${password}`).toString("base64");
      this.send(`<auth xmlns='${sasl}' mechanism='PLAIN'>${payload}</auth>`);
      const m = await this.expect(outcome);
      if (m[0].startsWith("<failure")) throw new LoginError(`PLAIN failed: ${m[0]}`);
      return;
    }
    const state: ScramState = clientFirst(user, password);
    this.send(`<auth xmlns='${sasl}' mechanism='SCRAM-SHA-1'>${state.first64}</auth>`);
    const ch = await this.expect(/<challenge[^>]*>([^<]*)<\/challenge>|<failure[\s\S]*?<\/failure>/);
    if (ch[0].startsWith("<failure")) throw new LoginError(`SCRAM refused: ${ch[0]}`);
    const { final64, serverSignature } = clientFinal(state, ch[1]!);
    this.send(`<response xmlns='${sasl}'>${final64}</response>`);
    const m = await this.expect(outcome);
    if (m[0].startsWith("<failure")) throw new LoginError(`SCRAM failed: ${m[0]}`);
    if (m[1] && Buffer.from(m[1], "base64").toString() !== `v=${serverSignature}`) throw new LoginError("bad server signature");
  }

  async bind(resource: string): Promise<void> {
    this.send(`<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${esc(resource)}</resource></bind></iq>`);
    const m = await this.expect(/<iq[^>]*id=["']bind1["'][\s\S]*?<\/iq>/);
    const jid = /<jid>([^<]+)<\/jid>/.exec(m[0]);
    if (!jid) throw new LoginError(`bind failed: ${m[0]}`);
    this.jid = jid[1]!;
  }

  /** Sends an iq and waits for its answer, matched by id (login-phase text only). */
  async iq(id: string, stanza: string, timeoutMs = 30_000): Promise<string> {
    this.send(stanza);
    return (await this.expect(new RegExp(`<iq[^>]*id=["']${id}["'](?:[^>]*/>|[\\s\\S]*?</iq>)`), timeoutMs))[0];
  }

  /** Connects and logs in; the connection is then ready for stanzas. */
  static async login(target: Target, o: LoginOptions): Promise<Conn> {
    const security = o.security ?? "plain";
    const c = await Conn.open(target, security, o.localAddress, o.timeoutMs, o.localPort);
    try {
      const features = await c.openStream(target.domain);
      if (security === "starttls") {
        if (!features.includes("<starttls")) throw new LoginError("no STARTTLS offered");
        await c.startTls(target.domain);
        await c.openStream(target.domain);
      }
      await c.authenticate(o.user, o.password, o.mechanism ?? "SCRAM-SHA-1");
      await c.openStream(target.domain);
      await c.bind(o.resource ?? "bench");
      if (o.presence) c.send("<presence/>");
      return c;
    } catch (e) {
      c.destroy();
      throw e;
    }
  }

  /** Drops whatever text arrived during login (own presence echo, roster push...). */
  discardText(): void {
    this.text = "";
  }

  /** Hands over the text received but not yet consumed by expect(), e.g. to a stream parser. */
  takeText(): string {
    const t = this.text;
    this.text = "";
    return t;
  }

  /** Closes the stream politely, then the socket. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.socket.end("</stream:stream>");
    // The timer holds the socket only, and the close clears it: one left running kept every
    // closed connection for its 2 s, which made the generator's GC the bound of the login row.
    this.endTimer = setTimeout(destroySocket, 2000, this.socket).unref();
  }

  /** Closes the stream politely and waits until the server has closed its side too. */
  closeAndWait(): Promise<void> {
    if (this.closed) return Promise.resolve();
    const done = new Promise<void>((r) => this.socket.once("close", () => r()));
    this.close();
    return done;
  }

  destroy(): void {
    this.closed = true;
    this.socket.destroy();
  }
}
