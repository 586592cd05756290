// A logged-in @xmpp/client session for integration tests. It keeps every stanza it receives, so a
// test takes them in order (next), checks that none came (nothing) or asks an iq (ask); it also
// records the stream features and stream errors it was sent. Below it, the small stanza builders
// and readers several test files share.
import { expect } from "vitest";
import { client, type Client } from "@xmpp/client";
import { xml, type Element } from "../../src/xml/element.ts";
import type { TestServer } from "./server.ts";

export interface ConnectOptions {
  /** Default "pw", the password the tests give their accounts. */
  password?: string;
  /** How long next() and ask() wait unless told otherwise; default 5000 ms. */
  timeoutMs?: number;
  /** Where to connect instead of TCP on the port: a ws:// or wss:// URL (RFC 7395). */
  service?: string;
  /** The server's domain; default "localhost". */
  domain?: string;
}

let ids = 0;

/** A logged-in client that keeps what it receives, for a test to take in order. */
export class Im {
  readonly inbox: Element[] = [];
  /** The condition of each <stream:error/> received. */
  readonly streamErrors: string[] = [];
  /** Every <stream:features/> received, in order (the last one is after authentication). */
  readonly features: Element[] = [];
  readonly jid: string;
  readonly xmpp: Client;
  private readonly timeoutMs: number;
  private readonly waiters: (() => void)[] = [];

  private constructor(xmpp: Client, jid: string, timeoutMs: number) {
    this.xmpp = xmpp;
    this.jid = jid;
    this.timeoutMs = timeoutMs;
    xmpp.on("element", (el) => {
      if (el.name === "stream:features") this.features.push(el);
      if (el.name === "stream:error") this.streamErrors.push(el.getChildElements()[0]?.name ?? "");
    });
  }

  /** Logs in (no reconnection, errors left to the test) and keeps what arrives from then on. */
  static async login(port: number, user: string, resource: string, opts: ConnectOptions = {}): Promise<Im> {
    const domain = opts.domain ?? "localhost";
    const x = client({ service: opts.service ?? `xmpp://127.0.0.1:${port}`, domain, username: user, password: opts.password ?? "pw", resource });
    x.reconnect.stop();
    x.on("error", () => {});
    const im = new Im(x, `${user}@${domain}/${resource}`, opts.timeoutMs ?? 5000);
    await x.start();
    x.on("stanza", (el) => {
      im.inbox.push(el);
      for (const w of im.waiters.splice(0)) w();
    });
    return im;
  }

  send(el: Element): void {
    void this.xmpp.send(el);
  }

  /** The first stanza received (or to come) that matches; it is taken out of the inbox. */
  async next(match: (el: Element) => boolean, what = "a stanza", ms = this.timeoutMs): Promise<Element> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.inbox.findIndex(match);
      if (i >= 0) return this.inbox.splice(i, 1)[0]!;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.jid}: no ${what}; got ${this.inbox.map(String).join("\n")}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Asserts that nothing matching arrives for a while (the server works in order, so little is enough). */
  async nothing(match: (el: Element) => boolean, ms = 250): Promise<void> {
    await new Promise((r) => setTimeout(r, ms));
    expect(this.inbox.filter(match).map(String)).toEqual([]);
  }

  /** Sends an iq (with a fresh id unless it has one) and resolves with the reply, result or error. */
  ask(iq: Element, ms = this.timeoutMs): Promise<Element> {
    const id = (iq.attrs.id ??= `q${++ids}`);
    this.send(iq);
    return this.next((s) => s.name === "iq" && s.attrs.id === id && (s.attrs.type === "result" || s.attrs.type === "error"), `reply to ${iq.toString()}`, ms);
  }

  stop(): Promise<void> {
    return this.xmpp.stop();
  }
}

/** Logs `user` in to the test server as `user@localhost/resource`. */
export function connect(server: Pick<TestServer, "port">, user: string, resource = "r", opts: ConnectOptions = {}): Promise<Im> {
  return Im.login(server.port, user, resource, opts);
}

// ---- what the clients send and receive -----------------------------------------------------------

/** The defined condition of an error reply. */
export const errorOf = (el: Element) => el.getChild("error")?.getChildElements()[0]?.name;
export const presence = (attrs: Record<string, string> = {}, ...children: Element[]) => xml("presence", attrs, ...children);

export const ROSTER = "jabber:iq:roster";
/** A roster push for the item `jid`. */
export const isPush = (jid: string) => (el: Element) =>
  el.name === "iq" && el.attrs.type === "set" && el.getChild("query", ROSTER)?.getChild("item")?.attrs.jid === jid;
/** The attributes of the next pushed item for `jid`. */
export const pushedItem = async (c: Im, jid: string) => (await c.next(isPush(jid), `push for ${jid}`)).getChild("query", ROSTER)!.getChild("item")!.attrs;

// ---- accounts and their rosters, written straight to the server -----------------------------------

let n = 0;
/** Fresh accounts (password "pw") for each test, so that no test sees another's roster. */
export async function accounts(t: TestServer, ...names: string[]): Promise<string[]> {
  n++;
  const out = names.map((name) => `${name}${n}`);
  for (const u of out) await t.server.accounts.create(u, "pw");
  return out;
}

/** Given: a subscription state written straight to the store (no handshake). */
export async function given(t: TestServer, owner: string, contact: string, subscription: string): Promise<void> {
  await t.server.storage.map("roster").set(`${owner}@localhost`, `${contact}@localhost`, { jid: `${contact}@localhost`, groups: [], subscription });
}
