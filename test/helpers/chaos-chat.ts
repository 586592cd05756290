// Two users on two nodes of a cluster writing to each other without pause (XEP-0198), for the
// chaos tests that break what is between the nodes (test/chaos/redis.test.ts, partition.test.ts):
// how long acks waited while it was broken, whether the cluster carries messages live again
// afterwards, and the final check that every acknowledged message reached its recipient once
// (live, or from the offline store at the next login) and stands in the archive in order.
import { expect } from "vitest";
import type { Element } from "../../src/xml/element.ts";
import { SmClient, chat } from "./sm.ts";
import { Pusher, archived, delivered, expectAllOnce, sleep } from "./chaos.ts";

/** Logged in on the port, stream management on, acks answered, initial presence sent and echoed. */
export async function online(port: number, user: string, resource: string): Promise<SmClient> {
  const { c } = await SmClient.login(port, user, resource);
  c.autoAck = true;
  c.send("<presence/>");
  await c.next((e) => e.name === "presence" && e.attrs.from === `${user}@localhost/${resource}` && e.attrs.type === undefined, "its own presence", 15_000);
  return c;
}

export class TwoWay {
  readonly alice: SmClient;
  readonly bob: SmClient;
  readonly toBob = new Pusher("bob@localhost", "ab ");
  readonly toAlice = new Pusher("alice@localhost", "ba ");

  /** Alice and Bob, each online (the initial presence counted in h) on a node of their own. */
  constructor(alice: SmClient, bob: SmClient) {
    this.alice = alice;
    this.bob = bob;
    this.toBob.attach(alice, 1);
    this.toAlice.attach(bob, 1);
  }

  /** Both write for `ms`, reading acks; the longest wait for an ack of each (ms). */
  async chat(ms: number): Promise<{ alice: number; bob: number }> {
    const longest = { alice: 0, bob: 0 };
    const last = { alice: Date.now(), bob: Date.now() };
    const stop = Date.now() + ms;
    while (Date.now() < stop) {
      const [a0, b0] = [this.toBob.acked, this.toAlice.acked];
      this.toBob.burst(2, Infinity, 200);
      this.toAlice.burst(2, Infinity, 200);
      await sleep(20);
      this.toBob.collect();
      this.toAlice.collect();
      const now = Date.now();
      if (this.toBob.acked > a0 || this.toBob.acked === this.toBob.next) last.alice = now;
      if (this.toAlice.acked > b0 || this.toAlice.acked === this.toAlice.next) last.bob = now;
      longest.alice = Math.max(longest.alice, now - last.alice);
      longest.bob = Math.max(longest.bob, now - last.bob);
    }
    return longest;
  }

  /** Acks catch up; then a message each way arrives live (not through the offline store). Summary and outcomes. */
  async recovered(what: string, ms = 30_000): Promise<{ settledMs: number; live: boolean; errors: number }> {
    const started = Date.now();
    const settled = (await this.toBob.settle(ms)) && (await this.toAlice.settle(ms));
    const settledMs = Date.now() - started;
    expect(settled, `${what}: acks caught up`).toBe(true);
    let live = true;
    for (const [p, to, from, recipient] of [[this.toBob, this.bob, "alice", "bob"], [this.toAlice, this.alice, "bob", "alice"]] as const) {
      const probe = `probe from ${from} after ${what}`;
      p.sendOther(chat(`${recipient}@localhost`, probe));
      live &&= await to.next((e) => e.getChildText("body") === probe, "the probe, live", 15_000).then(() => true, () => false);
    }
    return { settledMs, live, errors: this.toBob.errors.length + this.toAlice.errors.length };
  }

  /**
   * The end: each acknowledges what it read and ends its stream; each logs in again (on its
   * node's port) and reads what the offline store kept, then its archive. Lines for the report.
   */
  async finalCheck(ports: { alice: number; bob: number }): Promise<string[]> {
    const live: Record<string, Element[]> = {};
    for (const c of [this.alice, this.bob]) c.send(`<a xmlns='urn:xmpp:sm:3' h='${c.handled}'/></stream:stream>`);
    for (let t = 0; t < 100 && !(this.alice.raw.closed && this.bob.raw.closed); t++) await sleep(50);
    live.alice = this.alice.inbox.filter((e) => e.name === "message");
    live.bob = this.bob.inbox.filter((e) => e.name === "message");
    const lines: string[] = [];
    for (const user of ["alice", "bob"] as const) {
      const c = await online(ports[user], user, "later");
      await sleep(1500);
      const fromStore = c.inbox.filter((e) => e.name === "message");
      c.inbox.length = 0;
      const [p, prefix] = user === "bob" ? [this.toBob, "ab "] : [this.toAlice, "ba "];
      const [l, o] = [delivered(live[user]!, prefix), delivered(fromStore, prefix)];
      lines.push(`${user}: ${l.order.length} live, ${o.order.length} from the offline store`);
      lines.push(expectAllOnce(`${user}'s archive`, delivered(await archived(c), prefix), p));
      lines.push(expectAllOnce(`${user}, live and offline`, delivered([...live[user]!, ...fromStore], prefix), p, { ordered: false, sameIdTwice: true }));
      c.send("</stream:stream>");
    }
    return lines;
  }
}
