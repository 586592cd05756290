// A raw client that speaks stream management (XEP-0198) by hand: it parses what it receives with
// the server's own stream parser, counts the stanzas it handled, and acks or resumes only when
// a test says so, so that tests can cut the connection at exactly the wrong moment.
import { xml, type Element } from "../../src/xml/element.ts";
import { StreamParser } from "../../src/xml/parser.ts";
import { RawClient, OPEN, FEATURES } from "./raw.ts";

const SM = "urn:xmpp:sm:3";

export class SmClient {
  readonly raw: RawClient;
  /** Everything received after login, in order (stanzas and nonzas), not yet taken by next(). */
  readonly inbox: Element[] = [];
  /** Stanzas received (XEP-0198 h as this client counts it). */
  handled = 0;
  /** Answer the server's <r/> at once. */
  autoAck = false;
  /**
   * Whether stanzas count towards h: from <enabled/> or <resumed/> on (XEP-0198 §4: the count
   * starts when stream management is enabled). What arrives between bind and <enabled/> is not
   * counted by the server either.
   */
  private counting = false;
  private readonly waiters: (() => void)[] = [];

  private constructor(raw: RawClient, handled: number) {
    this.raw = raw;
    this.handled = handled;
    const parser = new StreamParser({
      streamStart() {},
      streamEnd() {},
      error() {},
      stanza: (el) => {
        if (el.attrs.xmlns === SM && (el.name === "enabled" || el.name === "resumed")) this.counting = true;
        if (this.counting && (el.name === "message" || el.name === "presence" || el.name === "iq")) this.handled = (this.handled + 1) % 2 ** 32;
        if (this.autoAck && el.name === "r" && el.attrs.xmlns === SM) this.send(`<a xmlns='${SM}' h='${this.handled}'/>`);
        this.inbox.push(el);
        for (const w of this.waiters.splice(0)) w();
      },
    }, { maxStanzaSize: 1 << 24, maxDepth: 100, maxAttributes: 100, maxNameLength: 100 });
    parser.write(Buffer.from(OPEN()));
    parser.write(Buffer.from(raw.buffer));
    raw.buffer = "";
    raw.socket.on("data", (d: string | Buffer) => {
      parser.write(typeof d === "string" ? Buffer.from(d) : d);
      raw.buffer = "";
    });
    raw.socket.on("close", () => {
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** Logs in, binds `resource` and enables stream management (resumable unless told). */
  static async login(port: number, user: string, resource: string, opts: { resume?: boolean; max?: number } = {}): Promise<{ c: SmClient; enabled: Element }> {
    const raw = await RawClient.login(port, user, "pw", resource);
    const c = new SmClient(raw, 0);
    const max = opts.max !== undefined ? ` max='${opts.max}'` : "";
    c.send(`<enable xmlns='${SM}'${opts.resume === false ? "" : " resume='true'"}${max}/>`);
    const enabled = await c.next((e) => e.attrs.xmlns === SM && (e.name === "enabled" || e.name === "failed"), "enabled");
    return { c, enabled };
  }

  /** Authenticates a new connection and asks to resume `previd` having handled `h`; the reply is <resumed/> or <failed/>. */
  static async resume(port: number, user: string, previd: string, h: number): Promise<{ c: SmClient; reply: Element }> {
    const { c: raw, sasl } = await RawClient.authenticated(port, user, "pw");
    if (!sasl.startsWith("<success")) throw new Error(`login failed: ${sasl}`);
    const c = new SmClient(raw, h);
    c.send(`<resume xmlns='${SM}' previd='${previd}' h='${h}'/>`);
    const reply = await c.next((e) => e.attrs.xmlns === SM && (e.name === "resumed" || e.name === "failed"), "resumed or failed");
    return { c, reply };
  }

  send(data: string | Element): void {
    this.raw.send(typeof data === "string" ? data : data.toString());
  }

  ack(): void {
    this.send(`<a xmlns='${SM}' h='${this.handled}'/>`);
  }

  /** The first element received (or to come) that matches; taken out of the inbox. */
  async next(match: (el: Element) => boolean, what = "an element", ms = 5000): Promise<Element> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.inbox.findIndex(match);
      if (i >= 0) return this.inbox.splice(i, 1)[0]!;
      const left = deadline - Date.now();
      if (left <= 0 || this.raw.closed) throw new Error(`no ${what}; got ${this.inbox.map(String).join("\n")}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 100));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Messages received so far whose body starts with `prefix`, in order, taken out of the inbox. */
  bodies(prefix = ""): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.inbox.length; ) {
      const el = this.inbox[i]!;
      const body = el.name === "message" ? el.getChildText("body") : null;
      if (body !== null && body.startsWith(prefix)) {
        out.push(body);
        this.inbox.splice(i, 1);
      } else i++;
    }
    return out;
  }

  /** Cuts the TCP connection without </stream:stream>, as a phone losing its network does. */
  cut(): void {
    this.raw.socket.destroy();
  }
}

export const chat = (to: string, body: string, id = body) => xml("message", { to, type: "chat", id }, xml("body", null, body));
export { FEATURES };
