import { describe, expect, it } from "vitest";
import type { Element } from "../../xml/element.ts";
import { parseJid } from "../../xml/jid.ts";
import { SessionDirectory, SessionState, type Session } from "../../core/session.ts";
import { MemoryStorage } from "../../storage/memory.ts";
import { parseStored } from "../../xml/stored.ts";
import type { RosterItem } from "./item.ts";
import { nextVersion, RosterService } from "./service.ts";

function fakeSession(full: string, interested: boolean): Session & { got: Element[] } {
  const state = new SessionState();
  const got: Element[] = [];
  return {
    id: full, jid: parseJid(full), secure: true, log: undefined as never, presence: undefined, priority: 0,
    lastActivity: 0, interested, got, detached: false, hold: undefined,
    send: (el) => void got.push(el),
    sendNow: (el) => void got.push(el),
    sendSerialized: (text) => void got.push(parseStored(text)!),
    close: () => {},
    get: (k) => state.get(k),
    set: (k, v) => state.set(k, v),
  };
}

function setup() {
  const storage = new MemoryStorage();
  const sessions = new SessionDirectory();
  const roster = new RosterService({ items: storage.map("roster"), pending: storage.map("roster.pending"), versions: storage.keyval("roster.version") }, sessions);
  const balcony = fakeSession("juliet@example.com/balcony", true);
  const chamber = fakeSession("juliet@example.com/chamber", false);
  sessions.add(balcony);
  sessions.add(chamber);
  return { roster, balcony, chamber, owner: parseJid("juliet@example.com") };
}

const nurse: RosterItem = { jid: "nurse@example.com", name: "Nurse", groups: ["Servants"], subscription: "none" };

describe("RosterService.change", () => {
  it("stores, versions and pushes to interested resources only", async () => {
    const { roster, balcony, chamber, owner } = setup();
    expect(await roster.snapshot(owner)).toEqual({ version: 0, items: [] });
    await roster.change(owner, nurse.jid, (_item, pending) => ({ item: nurse, pending, result: undefined }));
    const { version, items } = await roster.snapshot(owner);
    expect(items).toEqual([nurse]);
    expect(balcony.got.map(String)).toEqual([expect.stringMatching(new RegExp(
      `^<iq type="set" id="[^"]+" to="juliet@example.com/balcony"><query xmlns="jabber:iq:roster" ver="${version}">` +
      `<item jid="nurse@example.com" name="Nurse" subscription="none"><group>Servants</group></item></query></iq>$`))]);
    expect(chamber.got).toEqual([]);
  });
  it("neither versions nor pushes what the client cannot see", async () => {
    const { roster, balcony, owner } = setup();
    await roster.change(owner, nurse.jid, (_i, p) => ({ item: nurse, pending: p, result: undefined }));
    await roster.change(owner, nurse.jid, (item, p) => ({ item: { ...item!, groups: ["Servants"] }, pending: p, result: undefined }));
    const first = (await roster.snapshot(owner)).version;
    await roster.change(owner, "romeo@example.net", () => ({ item: undefined, pending: { xml: "<presence/>", at: 1 }, result: undefined }));
    expect((await roster.snapshot(owner)).version).toBe(first);
    expect(balcony.got.length).toBe(1);
    expect(await roster.hasPending(owner, "romeo@example.net")).toBe(true);
    expect(await roster.pendingRequests(owner)).toHaveLength(1);
  });
  it("pushes a removal", async () => {
    const { roster, balcony, owner } = setup();
    await roster.change(owner, nurse.jid, (_i, p) => ({ item: nurse, pending: p, result: undefined }));
    const first = (await roster.snapshot(owner)).version;
    await roster.change(owner, nurse.jid, (_i, p) => ({ item: undefined, pending: p, result: undefined }));
    expect(String(balcony.got[1])).toContain(`ver="${first + 1}"><item jid="nurse@example.com" subscription="remove"/>`);
    expect(await roster.snapshot(owner)).toEqual({ version: first + 1, items: [] });
  });
  it("serialises changes of one account", async () => {
    const { roster, owner } = setup();
    const add = (g: string) => roster.change(owner, nurse.jid, (item, p) => ({
      item: { ...(item ?? nurse), groups: [...(item?.groups ?? []), g] }, pending: p, result: undefined,
    }));
    await Promise.all(["a", "b", "c", "d"].map(add));
    expect((await roster.item(owner, nurse.jid))?.groups).toEqual(["a", "b", "c", "d"]);
  });
});

describe("nextVersion", () => {
  it("starts from the clock, so a re-created account never matches an old cached version", () => {
    expect(nextVersion(undefined, 1_700_000_000_000)).toBe(1_700_000_000_000);
  });
  it("then counts up by one", () => expect(nextVersion(41)).toBe(42));
});
