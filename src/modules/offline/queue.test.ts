import { describe, expect, it } from "vitest";
import { xml, type Element } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import { IdGenerator } from "../../storage/ids.ts";
import { MemoryStorage } from "../../storage/memory.ts";
import { parseStored } from "../../xml/stored.ts";
import type { LogStore } from "../../storage/types.ts";
import { PAGE, OfflineQueue, ourDelay } from "./queue.ts";

const OWNER = "juliet@capulet.lit";
const chat = (body: string, ...extra: Element[]) =>
  xml("message", { from: "romeo@montague.lit/garden", to: OWNER, type: "chat", id: body }, xml("body", null, body), ...extra);
const sid = (id: string, by = OWNER) => xml("stanza-id", { xmlns: NS.sid, by, id });

/** add(), then its write: true once stored, false when refused. */
async function addNow(queue: OfflineQueue, ...args: Parameters<OfflineQueue["add"]>): Promise<boolean> {
  const added = await queue.add(...args);
  if (added === false) return false;
  await added.written;
  return true;
}

/** A log store whose appends land only when let go, in order. */
function slowAppends(log: LogStore): { log: LogStore; release(): void; waiting(): number } {
  const held: (() => void)[] = [];
  return {
    log: { ...log, append: (entries) => new Promise<void>((resolve, reject) => held.push(() => void log.append(entries).then(resolve, reject))) },
    release: () => held.splice(0).forEach((go) => go()),
    waiting: () => held.length,
  };
}

function setup(opts: { quota?: number; expireDays?: number } = {}) {
  let now = Date.UTC(2026, 0, 1);
  const clock = { advance: (ms: number) => (now += ms) };
  const ids = new IdGenerator(0, () => now);
  const log = new MemoryStorage().log("offline");
  const queue = new OfflineQueue(log, ids, { quota: opts.quota ?? 1000, expireDays: opts.expireDays ?? 30 }, () => now);
  const drain = async (archived = false) => {
    const got: Element[] = [];
    await queue.flush(OWNER, (text, parsed) => {
      const el = parseStored(text);
      if (!el) return "unreadable";
      // What the flush read itself (to see the archive's stamp) it hands over as well.
      if (parsed) expect(parsed.toString()).toBe(text);
      got.push(el);
      return "sent";
    }, archived);
    return got;
  };
  return { queue, log, clock, ids, drain };
}

describe("the offline queue", () => {
  it("keeps messages in arrival order with a delay from the server, and empties on flush", async () => {
    const { queue, log, drain } = setup();
    for (const b of ["one", "two", "three"]) expect(await addNow(queue, OWNER, chat(b), "romeo@montague.lit/garden")).toBe(true);
    const got = await drain();
    expect(got.map((m) => m.getChildText("body"))).toEqual(["one", "two", "three"]);
    const delay = ourDelay(got[0]!, "capulet.lit")!;
    expect(delay.attrs).toMatchObject({ xmlns: NS.delay, from: "capulet.lit", stamp: "2026-01-01T00:00:00.000Z" });
    expect(await log.count(OWNER, {})).toBe(0);
    expect(await drain()).toEqual([]);
  });

  it("does not change the message it was given", async () => {
    const { queue } = setup();
    const m = chat("x");
    await addNow(queue, OWNER, m, "r");
    expect(m.getChild("delay", NS.delay)).toBeUndefined();
  });

  it("files a message under its archive id, so a message that comes back sorts before newer ones", async () => {
    const { queue, ids, drain } = setup();
    const older = ids.next();
    await addNow(queue, OWNER, chat("newer"), "r");
    await addNow(queue, OWNER, chat("older", sid(older)), "r");
    expect((await drain()).map((m) => m.getChildText("body"))).toEqual(["older", "newer"]);
  });

  it("ignores ids by other archives and ids that are not the server's", async () => {
    const { queue, ids, drain } = setup();
    const early = ids.next();
    await addNow(queue, OWNER, chat("first"), "r");
    await addNow(queue, OWNER, chat("theirs", sid(early, "romeo@montague.lit")), "r");
    await addNow(queue, OWNER, chat("forged", sid("0")), "r");
    expect((await drain()).map((m) => m.getChildText("body"))).toEqual(["first", "theirs", "forged"]);
  });

  it("stamps a message once: one that comes back keeps its first delay", async () => {
    const { queue, clock, drain } = setup();
    await addNow(queue, OWNER, chat("x"), "r");
    const [first] = await drain();
    clock.advance(60_000);
    await addNow(queue, OWNER, first!, "r");
    const [again] = await drain();
    expect(again!.getChildren("delay", NS.delay)).toHaveLength(1);
    expect(ourDelay(again!, "capulet.lit")!.attrs.stamp).toBe("2026-01-01T00:00:00.000Z");
  });

  it("takes messages without waiting for their writes, counts them against the quota at once, and a flush waits for the writes on their way", async () => {
    const memory = new MemoryStorage().log("offline");
    const slow = slowAppends(memory);
    const queue = new OfflineQueue(slow.log, new IdGenerator(0), { quota: 3, expireDays: 30 });
    const added = [];
    for (const b of ["1", "2", "3", "4"]) added.push(await queue.add(OWNER, chat(b), "r"));
    expect(added.map((a) => a !== false)).toEqual([true, true, true, false]);
    expect(slow.waiting()).toBe(3);
    const got: string[] = [];
    const flushed = queue.flush(OWNER, (text) => (got.push(parseStored(text)!.getChildText("body")!), "sent"), false);
    await new Promise((r) => setTimeout(r, 10));
    expect(got).toEqual([]);
    slow.release();
    await flushed;
    expect(got).toEqual(["1", "2", "3"]);
  });

  it("a write that fails is not counted: the next message is counted again from the store", async () => {
    const memory = new MemoryStorage().log("offline");
    let fail = true;
    const log: LogStore = { ...memory, append: (e) => (fail ? Promise.reject(new Error("disk")) : memory.append(e)) };
    const queue = new OfflineQueue(log, new IdGenerator(0), { quota: 1, expireDays: 30 });
    const first = await queue.add(OWNER, chat("lost"), "r");
    await expect(first && first.written).rejects.toThrow("disk");
    fail = false;
    expect(await addNow(queue, OWNER, chat("kept"), "r")).toBe(true);
  });

  it("refuses past the quota, and takes again once flushed", async () => {
    const { queue, drain } = setup({ quota: 2 });
    expect(await addNow(queue, OWNER, chat("1"), "r")).toBe(true);
    expect(await addNow(queue, OWNER, chat("2"), "r")).toBe(true);
    expect(await addNow(queue, OWNER, chat("3"), "r")).toBe(false);
    expect(await addNow(queue, "nurse@capulet.lit", chat("other account"), "r")).toBe(true);
    expect(await drain()).toHaveLength(2);
    expect(await addNow(queue, OWNER, chat("4"), "r")).toBe(true);
  });

  it("pages through more than one storage page", async () => {
    const { queue, drain } = setup({ quota: 10_000 });
    const n = PAGE * 2 + 7;
    for (let i = 0; i < n; i++) await addNow(queue, OWNER, chat(`m${i}`), "r");
    const got = await drain();
    expect(got.map((m) => m.getChildText("body"))).toEqual(Array.from({ length: n }, (_, i) => `m${i}`));
  });

  it("expires: the entry carries its expiry, a flush skips it, the sweep deletes it", async () => {
    const { queue, log, clock, drain } = setup({ expireDays: 2 });
    await addNow(queue, OWNER, chat("old"), "r");
    clock.advance(86_400_000);
    await addNow(queue, OWNER, chat("recent"), "r");
    const [first] = (await log.query(OWNER, { limit: 10 })).entries;
    expect(first!.expires).toBe(first!.at + 2 * 86_400_000);
    clock.advance(86_400_000 + 1);
    expect(await queue.sweep()).toBe(1);
    await addNow(queue, OWNER, chat("newest"), "r");
    clock.advance(86_400_000);
    // "recent" has expired but not been swept yet: the flush removes it unsent.
    expect((await drain()).map((m) => m.getChildText("body"))).toEqual(["newest"]);
    expect(await log.count(OWNER, {})).toBe(0);
  });

  it("keeps messages forever with expireDays 0", async () => {
    const { queue, log } = setup({ expireDays: 0 });
    await addNow(queue, OWNER, chat("x"), "r");
    expect((await log.query(OWNER, { limit: 1 })).entries[0]!.expires).toBe(0);
  });

  it("for a client that read its archive, removes archived entries unsent and sends the rest (key set by hand)", async () => {
    const { queue, ids, log, drain } = setup();
    await addNow(queue, OWNER, chat("archived", sid(ids.next())), "r");
    await addNow(queue, OWNER, chat("not archived"), "r");
    expect((await drain(true)).map((m) => m.getChildText("body"))).toEqual(["not archived"]);
    expect(await log.count(OWNER, {})).toBe(0);
  });

  it("stops when the session is gone and keeps what it could not hand over", async () => {
    const { queue, log } = setup();
    for (const b of ["a", "b", "c"]) await addNow(queue, OWNER, chat(b), "r");
    const got: string[] = [];
    const n = await queue.flush(OWNER, (text) => got.length < 1 ? (got.push(parseStored(text)!.getChildText("body")!), "sent") : "gone", false);
    expect(n).toBe(1);
    expect(got).toEqual(["a"]);
    const left = (await log.query(OWNER, { limit: 10 })).entries.length;
    expect(left).toBe(2);
  });
});
