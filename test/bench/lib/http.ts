// Load-generator connections over HTTP: XMPP over WebSocket (RFC 7395) and over BOSH (XEP-0124,
// XEP-0206), logged in with SCRAM-SHA-1 and bound, then read like lib/conn.ts's TCP ones: after
// login every received payload goes to a scanner (scan.ts) unparsed.
//   WebSocket: one element per message (RFC 7395 §3.3.3), <open/> to open and to restart.
//   BOSH: HTTP/1.1 keep-alive, hold=1, so at most two requests at once (§11 'requests'); one is
//   always pending for the server to answer with what arrives (§8), the other carries what the
//   client has to say, everything queued meanwhile in one <body/>.
import { Agent, request } from "node:http";
import { WebSocket } from "ws";
import { clientFinal, clientFirst } from "./scram.ts";
import { LoginError, type Target } from "./conn.ts";

/** What a scenario uses of a logged-in connection, whatever carries it (conn.ts's Conn is one too). */
export interface Link {
  closed: boolean;
  onChunk: ((chunk: Buffer) => void) | undefined;
  /** Sends now. */
  send(data: string): void;
  /** Sends with everything else queued in this event-loop turn. */
  queue(data: string): void;
  discardText(): void;
  destroy(): void;
}

export type HttpTransport = "websocket" | "bosh";

const FRAMING = "urn:ietf:params:xml:ns:xmpp-framing";
const HTTPBIND = "http://jabber.org/protocol/httpbind";
const XBOSH = "urn:xmpp:xbosh";
const SASL = "urn:ietf:params:xml:ns:xmpp-sasl";
const FEATURES = /<(?:stream:)?features[\s\S]*?<\/(?:stream:)?features>|<features[^>]*\/>/;

/** Received text, waited on during login; batched output; both transports share it. */
abstract class HttpLink implements Link {
  closed = false;
  onChunk: ((chunk: Buffer) => void) | undefined;
  protected text = "";
  private wake: (() => void) | undefined;
  protected out: string[] = [];
  private scheduled = false;

  protected abstract write(items: string[]): void;
  /** Opens the stream, or restarts it after SASL; the features. */
  abstract open(domain: string): Promise<string>;
  abstract destroy(): void;

  protected received(payload: string | Buffer): void {
    if (this.onChunk) this.onChunk(typeof payload === "string" ? Buffer.from(payload) : payload);
    else {
      this.text += payload.toString();
      this.wake?.();
    }
  }

  protected ended(): void {
    this.closed = true;
    this.wake?.();
  }

  async expect(re: RegExp, timeoutMs = 30_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.text);
      if (m) {
        this.text = this.text.slice(m.index + m[0].length);
        return m;
      }
      if (this.closed || /<stream:error|type=["']terminate["']/.test(this.text)) throw new LoginError(`stream ended waiting for ${re}: ${this.text.slice(0, 300)}`);
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
    this.out.push(data);
    this.flush();
  }

  queue(data: string): void {
    this.out.push(data);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  protected flush(): void {
    if (this.out.length === 0 || this.closed) return;
    const items = this.out;
    this.out = [];
    this.write(items);
  }

  discardText(): void {
    this.text = "";
  }

  /** SCRAM-SHA-1 (RFC 5802), the restart, binding and, if asked, initial presence. */
  async login(domain: string, user: string, password: string, resource: string, presence: boolean): Promise<void> {
    await this.open(domain);
    const state = clientFirst(user, password);
    this.send(`<auth xmlns='${SASL}' mechanism='SCRAM-SHA-1'>${state.first64}</auth>`);
    const ch = await this.expect(/<challenge[^>]*>([^<]*)<\/challenge>|<failure[\s\S]*?<\/failure>/);
    if (ch[0].startsWith("<failure")) throw new LoginError(`SCRAM refused: ${ch[0]}`);
    const { final64, serverSignature } = clientFinal(state, ch[1]!);
    this.send(`<response xmlns='${SASL}'>${final64}</response>`);
    const m = await this.expect(/<success[^>]*\/>|<success[^>]*>([^<]*)<\/success>|<failure[\s\S]*?<\/failure>/);
    if (m[0].startsWith("<failure")) throw new LoginError(`SCRAM failed: ${m[0]}`);
    if (m[1] && Buffer.from(m[1], "base64").toString() !== `v=${serverSignature}`) throw new LoginError("bad server signature");
    await this.open(domain);
    this.send(`<iq type='set' id='bind1' xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`);
    const b = await this.expect(/<iq[^>]*id=["']bind1["'][\s\S]*?<\/iq>/);
    if (!/<jid>/.test(b[0])) throw new LoginError(`bind failed: ${b[0]}`);
    if (presence) this.send("<presence xmlns='jabber:client'/>");
  }
}

class WsLink extends HttpLink {
  private readonly ws: WebSocket;

  private constructor(ws: WebSocket) {
    super();
    this.ws = ws;
    ws.on("message", (data: Buffer) => this.received(data));
    ws.on("close", () => this.ended());
    ws.on("error", () => this.ended());
  }

  static connect(url: string): Promise<WsLink> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, "xmpp", { perMessageDeflate: false });
      ws.once("open", () => resolve(new WsLink(ws)));
      ws.once("error", reject);
    });
  }

  protected write(items: string[]): void {
    for (const item of items) this.ws.send(item);
  }

  async open(domain: string): Promise<string> {
    this.send(`<open xmlns='${FRAMING}' to='${domain}' version='1.0'/>`);
    return (await this.expect(FEATURES))[0];
  }

  destroy(): void {
    this.closed = true;
    this.ws.terminate();
  }
}

class BoshLink extends HttpLink {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 2 });
  private rid = Math.floor(Math.random() * 2 ** 40) + 1;
  private sid = "";
  /** Requests sent and not answered yet: at most two (hold=1). */
  private inFlight = 0;
  private opened = false;

  private readonly host: string;
  private readonly port: number;
  private readonly path: string;

  constructor(host: string, port: number, path: string) {
    super();
    this.host = host;
    this.port = port;
    this.path = path;
  }

  private post(body: string): Promise<string> {
    this.inFlight++;
    return new Promise((resolve) => {
      const req = request({ host: this.host, port: this.port, path: this.path, method: "POST", agent: this.agent, headers: { "content-type": "text/xml; charset=utf-8" } }, (res) => {
        const parts: Buffer[] = [];
        res.on("data", (d: Buffer) => parts.push(d));
        res.on("end", () => {
          this.inFlight--;
          const reply = Buffer.concat(parts);
          if (res.statusCode !== 200 || /^<body[^>]*type=["']terminate["']/.test(reply.toString("latin1", 0, 300))) {
            this.text += reply.toString();
            this.ended();
          } else if (this.opened) this.received(reply);
          resolve(reply.toString());
          // Before the session's id is known (the creation answer), open() goes on.
          if (!this.closed && this.opened) this.next();
        });
      });
      req.on("error", () => {
        this.inFlight--;
        this.ended();
        resolve("");
      });
      req.end(body);
    });
  }

  /** After an answer: what waits goes out, or else an empty request, so that one is always pending. */
  private next(): void {
    if (this.out.length > 0) this.flush();
    else if (this.inFlight === 0) void this.post(`<body xmlns='${HTTPBIND}' rid='${this.rid++}' sid='${this.sid}'/>`);
  }

  protected override flush(): void {
    if (this.inFlight < 2) super.flush();
  }

  protected write(items: string[]): void {
    void this.post(`<body xmlns='${HTTPBIND}' rid='${this.rid++}' sid='${this.sid}'>${items.join("")}</body>`);
  }

  async open(domain: string): Promise<string> {
    if (!this.opened) {
      const reply = await this.post(`<body xmlns='${HTTPBIND}' xmlns:xmpp='${XBOSH}' content='text/xml; charset=utf-8' hold='1' rid='${this.rid++}' to='${domain}' ver='1.11' wait='60' xml:lang='en' xmpp:version='1.0'/>`);
      const sid = /<body[^>]*\ssid=["']([^"']+)["']/.exec(reply);
      if (!sid) throw new LoginError(`no BOSH session: ${reply.slice(0, 300)}`);
      this.sid = sid[1]!;
      this.opened = true;
      this.received(reply);
    } else {
      // The restart (XEP-0206 §5) takes the place of a payload: it waits for a free request as one would.
      while (this.inFlight >= 2) await new Promise((r) => setTimeout(r, 1));
      void this.post(`<body xmlns='${HTTPBIND}' xmlns:xmpp='${XBOSH}' rid='${this.rid++}' sid='${this.sid}' to='${domain}' xml:lang='en' xmpp:restart='true'/>`);
    }
    if (this.inFlight === 0) this.next();
    return (await this.expect(FEATURES))[0];
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    // A terminate (§13) ends the session at once rather than after its inactivity; the spare
    // request the server allows for it is this one.
    const req = request({ host: this.host, port: this.port, path: this.path, method: "POST", agent: this.agent, headers: { "content-type": "text/xml; charset=utf-8" } }, (res) => {
      res.resume();
      res.on("end", () => this.agent.destroy());
    });
    req.on("error", () => this.agent.destroy());
    req.end(`<body xmlns='${HTTPBIND}' rid='${this.rid++}' sid='${this.sid}' type='terminate'><presence xmlns='jabber:client' type='unavailable'/></body>`);
    setTimeout(() => this.agent.destroy(), 2000).unref();
  }
}

/** Connects over `transport` to the target's plain HTTP listener and logs in. */
export async function httpLogin(target: Target, transport: HttpTransport, user: string, password: string, resource: string, presence = true): Promise<Link> {
  const http = target.http;
  if (!http) throw new LoginError(`${target.name} has no HTTP listener`);
  const link = transport === "websocket" ? await WsLink.connect(`ws://${target.host}:${http.port}${http.websocket}`) : new BoshLink(target.host, http.port, http.bosh);
  try {
    await link.login(target.domain, user, password, resource, presence);
    return link;
  } catch (e) {
    link.destroy();
    throw e;
  }
}
