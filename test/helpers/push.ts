// A XEP-0357 app server for tests: a real client, push@localhost/app, that answers the server's
// pubsub publishes (or refuses them) and keeps what it got.
import { xml, type Element } from "../../src/xml/element.ts";
import type { TestServer } from "./server.ts";
import { RawClient } from "./raw.ts";
import { SmClient } from "./sm.ts";

export const PUSH = "urn:xmpp:push:0";
const PUBSUB = "http://jabber.org/protocol/pubsub";
export const APP = "push@localhost/app";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A push service: answers every publish with a result (or the error it is told) and keeps them. */
export class AppServer {
  readonly publishes: Element[] = [];
  refuse: string | undefined;
  refuseType = "cancel";
  private readonly c: SmClient;

  private constructor(c: SmClient) {
    this.c = c;
    void this.serve();
  }

  static async start(t: TestServer): Promise<AppServer> {
    const { c } = await SmClient.login(t.port, "push", "app", { resume: false });
    c.autoAck = true;
    return new AppServer(c);
  }

  private async serve(): Promise<void> {
    for (;;) {
      let iq: Element;
      try {
        iq = await this.c.next((el) => el.name === "iq" && el.attrs.type === "set" && el.getChild("pubsub", PUBSUB) !== undefined, "publish", 600_000);
      } catch {
        return; // stopped
      }
      this.publishes.push(iq);
      const reply = xml("iq", { type: this.refuse ? "error" : "result", id: iq.attrs.id, to: iq.attrs.from },
        this.refuse ? xml("error", { type: this.refuseType }, xml(this.refuse, { xmlns: "urn:ietf:params:xml:ns:xmpp-stanzas" })) : undefined);
      this.c.send(reply);
    }
  }

  /** The publishes to `node`, as their summary forms. */
  to(node: string): Record<string, string>[] {
    return this.publishes.filter((iq) => iq.getChild("pubsub")?.getChild("publish")?.attrs.node === node).map(summary);
  }

  /** Waits until the publishes to `node` count `total` messages. */
  async counted(node: string, total: number, ms = 5000): Promise<Record<string, string>[]> {
    const deadline = Date.now() + ms;
    for (;;) {
      const got = this.to(node);
      const sum = got.reduce((n, s) => n + Number(s["message-count"]), 0);
      if (sum >= total) return got;
      if (Date.now() > deadline) throw new Error(`${node}: ${sum} of ${total} messages pushed: ${JSON.stringify(got)}`);
      await sleep(50);
    }
  }

  stop(): void {
    this.c.cut();
  }
}

function summary(iq: Element): Record<string, string> {
  const form = iq.getChild("pubsub")!.getChild("publish")!.getChild("item")!.getChild("notification", PUSH)!.getChild("x", "jabber:x:data")!;
  return Object.fromEntries(form.getChildren("field").map((f) => [f.attrs.var!, f.getChildText("value") ?? ""]));
}

/** A push registration of the app server under `node` (§5). */
export const enablePush = (node: string) => xml("iq", { type: "set" }, xml("enable", { xmlns: PUSH, jid: APP, node }));

/**
 * `account`'s phone: logs in as <account>/phone, enables push to `target` (a full JID) on `node`
 * with a publish-options secret, enables stream management with resumption, sends initial
 * presence, then its TCP connection is cut, leaving the session waiting to be resumed.
 */
export async function phoneEnablesPushThenDrops(port: number, account: string, target: string, node: string): Promise<void> {
  const phone = await RawClient.login(port, account, "pw", "phone");
  const options = xml("x", { xmlns: "jabber:x:data", type: "submit" },
    xml("field", { var: "FORM_TYPE" }, xml("value", null, "http://jabber.org/protocol/pubsub#publish-options")),
    xml("field", { var: "secret" }, xml("value", null, "s3cr3t")));
  phone.send(xml("iq", { type: "set", id: "push" }, xml("enable", { xmlns: PUSH, jid: target, node }, options)).toString());
  await phone.expect(/<iq [^>]*id="push"[^>]*type="result"|<iq [^>]*type="result"[^>]*id="push"/);
  phone.send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
  await phone.expect(/<enabled [^>]*resume="true"/);
  phone.send("<presence/>");
  await phone.expect(/<presence [^>]*to="[^"]*\/phone"/);
  phone.socket.destroy();
}
