// A BOSH client for tests (XEP-0124, XEP-0206), over fetch on real sockets: it creates a session,
// posts <body/> wrappers with consecutive request ids, and keeps every payload the server sends in
// an inbox, which next() takes from in order, holding an empty request (the long poll) while it
// waits. Its SASL is PLAIN or SCRAM, then the xmpp:restart and the binding of a resource.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import { parse } from "ltx";
import type { Element } from "../../src/xml/element.ts";
import { NS } from "../../src/xml/ns.ts";

export const HTTPBIND = "http://jabber.org/protocol/httpbind";
export const XBOSH = "urn:xmpp:xbosh";

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  /** The <body/>, when the answer is one. */
  body: Element | undefined;
}

/** Posts `text` to `url` as a BOSH client does. */
export async function post(url: string, text: string, init: { signal?: AbortSignal; headers?: Record<string, string> } = {}): Promise<Answer> {
  const res = await fetch(url, { method: "POST", body: text, headers: { "content-type": "text/xml; charset=utf-8", ...init.headers }, signal: init.signal });
  const body = await res.text();
  let el: Element | undefined;
  try {
    el = body.startsWith("<body") ? (parse(body) as Element) : undefined;
  } catch {
    el = undefined;
  }
  return { status: res.status, headers: res.headers, text: body, body: el };
}

/** The wrapper's attributes as text. */
const attrText = (attrs: Record<string, string | number>) => Object.entries(attrs).map(([k, v]) => ` ${k}='${v}'`).join("");

export class BoshClient {
  readonly url: string;
  sid = "";
  rid: number;
  /** The session creation response. */
  created!: Element;
  /** Payloads received and not taken yet, in order. */
  readonly inbox: Element[] = [];
  /** Every answer's <body/>, in the order they came. */
  readonly answers: Element[] = [];
  jid = "";

  constructor(url: string, rid = randomBytes(4).readUInt32BE() + 1000) {
    this.url = url;
    this.rid = rid;
  }

  /** Creates a session (§7.1); `attrs` adds to or replaces the usual creation attributes. */
  static async create(url: string, attrs: Record<string, string | number> = {}): Promise<BoshClient> {
    const c = new BoshClient(url);
    const body = await c.send("", {
      to: "localhost", "xml:lang": "en", wait: 60, hold: 1, content: "text/xml; charset=utf-8", ver: "1.6",
      "xmpp:version": "1.0", "xmlns:xmpp": XBOSH, ...attrs,
    });
    if (body.attrs.type === "terminate") throw new Error(`session refused: ${body.attrs.condition}`);
    c.created = body;
    c.sid = body.attrs.sid!;
    return c;
  }

  /** Posts one request of the session with the next request id (or `rid`); its answer's <body/>, whose payloads also go to the inbox. */
  async send(payload = "", attrs: Record<string, string | number> = {}, opts: { rid?: number; signal?: AbortSignal } = {}): Promise<Element> {
    const a = await post(this.url, this.wrap(payload, attrs, opts.rid), { signal: opts.signal });
    if (!a.body) throw new Error(`HTTP ${a.status}: ${a.text}`);
    this.answers.push(a.body);
    this.inbox.push(...a.body.getChildElements());
    return a.body;
  }

  /** The text of a request of this session. */
  wrap(payload: string, attrs: Record<string, string | number> = {}, rid?: number): string {
    const session: Record<string, string | number> = { rid: rid ?? this.rid++ };
    if (this.sid) session.sid = this.sid;
    return `<body xmlns='${HTTPBIND}'${attrText({ ...session, ...attrs })}>${payload}</body>`;
  }

  /** The next payload that matches, polling (an empty request held by the server) until it comes. */
  async next(match: (el: Element) => boolean, what: string, ms = 5000): Promise<Element> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.inbox.findIndex(match);
      if (i >= 0) return this.inbox.splice(i, 1)[0]!;
      if (Date.now() > deadline) throw new Error(`no ${what}; inbox: ${this.inbox.map(String).join(" ")}`);
      const body = await this.send();
      if (body.attrs.type === "terminate") throw new Error(`session terminated (${body.attrs.condition}) before ${what}`);
    }
  }

  /** SASL PLAIN or SCRAM (SHA-1, SHA-256), the restart (XEP-0206 §5) and a resource bound. */
  async login(user: string, resource: string, mechanism: "PLAIN" | "SCRAM-SHA-1" | "SCRAM-SHA-256" = "PLAIN", password = "pw"): Promise<void> {
    await this.next((e) => e.name === "stream:features", "features");
    const outcome = mechanism === "PLAIN" ? await this.plain(user, password) : await this.scram(user, password, mechanism === "SCRAM-SHA-1" ? "sha1" : "sha256");
    if (outcome.name !== "success") throw new Error(`SASL: ${outcome.toString()}`);
    await this.send("", { "xmpp:restart": "true", "xmlns:xmpp": XBOSH, to: "localhost", "xml:lang": "en" });
    await this.next((e) => e.name === "stream:features", "features after the restart");
    await this.send(`<iq xmlns='jabber:client' type='set' id='bind'><bind xmlns='${NS.bind}'><resource>${resource}</resource></bind></iq>`);
    const bound = await this.next((e) => e.name === "iq" && e.attrs.id === "bind", "the bind result");
    this.jid = bound.getChild("bind")!.getChildText("jid")!;
  }

  async plain(user: string, password: string): Promise<Element> {
    await this.send(`<auth xmlns='${NS.sasl}' mechanism='PLAIN'>${Buffer.from(`\0${user}\0${password}`).toString("base64")}</auth>`);
    return this.next((e) => e.attrs.xmlns === NS.sasl, "the SASL outcome");
  }

  /** SCRAM (RFC 5802); with `endPoint`, -PLUS bound to the server's certificate (tls-server-end-point, RFC 5929 §4). */
  async scram(user: string, password: string, alg: "sha1" | "sha256", endPoint?: Buffer): Promise<Element> {
    const first = `n=${user},r=${randomBytes(18).toString("base64")}`;
    const gs2 = endPoint ? "p=tls-server-end-point,," : "n,,";
    const mech = `${alg === "sha1" ? "SCRAM-SHA-1" : "SCRAM-SHA-256"}${endPoint ? "-PLUS" : ""}`;
    await this.send(`<auth xmlns='${NS.sasl}' mechanism='${mech}'>${Buffer.from(gs2 + first).toString("base64")}</auth>`);
    const challenge = await this.next((e) => e.attrs.xmlns === NS.sasl, "the challenge");
    if (challenge.name !== "challenge") return challenge;
    const serverFirst = Buffer.from(challenge.getText(), "base64").toString();
    const a = Object.fromEntries(serverFirst.split(",").map((kv) => [kv[0], kv.slice(2)]));
    const salted = pbkdf2Sync(password, Buffer.from(a.s!, "base64"), Number(a.i), alg === "sha1" ? 20 : 32, alg);
    const clientKey = createHmac(alg, salted).update("Client Key").digest();
    const withoutProof = `c=${Buffer.concat([Buffer.from(gs2), endPoint ?? Buffer.alloc(0)]).toString("base64")},r=${a.r}`;
    const signature = createHmac(alg, createHash(alg).update(clientKey).digest()).update(`${first},${serverFirst},${withoutProof}`).digest();
    const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!)).toString("base64");
    await this.send(`<response xmlns='${NS.sasl}'>${Buffer.from(`${withoutProof},p=${proof}`).toString("base64")}</response>`);
    return this.next((e) => e.attrs.xmlns === NS.sasl, "the SASL outcome");
  }

  /** Ends the session (§13), with unavailable presence; the server's answer. */
  terminate(): Promise<Element> {
    return this.send(`<presence xmlns='jabber:client' type='unavailable'/>`, { type: "terminate" });
  }
}
