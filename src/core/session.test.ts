import { describe, expect, it } from "vitest";
import { parseJid } from "../xml/jid.ts";
import { SessionDirectory, SessionState, type RemoteSessions, type Session } from "./session.ts";

function fakeSession(full: string): Session {
  const state = new SessionState();
  return {
    id: full, jid: parseJid(full), secure: true, log: undefined as never, presence: undefined, priority: 0,
    lastActivity: 0, interested: false, detached: false, hold: undefined,
    send: () => {}, sendNow: () => {}, sendSerialized: () => {}, close: () => {},
    get: (k) => state.get(k),
    set: (k, v) => state.set(k, v),
  };
}

/** Another node's view: sessions by bare JID, and a record of the locks taken. */
function remoteView(...full: string[]): RemoteSessions & { locked: string[] } {
  const byBare = new Map<string, Session[]>();
  for (const f of full) {
    const s = fakeSession(f);
    const bare = s.jid.bare.toString();
    byBare.set(bare, [...(byBare.get(bare) ?? []), s]);
  }
  const locked: string[] = [];
  return {
    locked,
    of: (bare) => byBare.get(bare),
    get: (bare, resource) => byBare.get(bare)?.find((s) => s.jid.resource === resource),
    exclusive: (bare, fn) => {
      locked.push(bare);
      return fn();
    },
  };
}

const jid = parseJid;
const resources = (list: Session[]) => list.map((s) => s.jid.resource).sort();

describe("the session directory on a single node", () => {
  it("binds sessions by full JID, lists an account's, and removes them", () => {
    const d = new SessionDirectory();
    const phone = fakeSession("juliet@example.com/phone");
    const desk = fakeSession("juliet@example.com/desk");
    expect(d.add(phone)).toBeUndefined();
    expect(d.add(desk)).toBeUndefined();
    expect(d.size).toBe(2);
    expect(d.get(jid("juliet@example.com/phone"))).toBe(phone);
    expect(d.local(jid("juliet@example.com/desk"))).toBe(desk);
    expect(d.get(jid("juliet@example.com/tablet"))).toBeUndefined();
    expect(resources(d.of(jid("juliet@example.com")))).toEqual(["desk", "phone"]);
    expect(resources(d.of(jid("juliet@example.com/any")))).toEqual(["desk", "phone"]);
    expect(d.of(jid("romeo@example.com"))).toEqual([]);
    expect(d.hasResource(jid("juliet@example.com"), "desk")).toBe(true);
    expect(d.several(jid("juliet@example.com"))).toBe(true);
    expect(d.several(jid("romeo@example.com"))).toBe(false);
    expect(d.remove(phone)).toBe(true);
    expect(d.several(jid("juliet@example.com"))).toBe(false);
    expect(d.remove(phone)).toBe(false);
    expect(d.size).toBe(1);
    expect([...d.all()]).toEqual([desk]);
    expect(d.remove(desk)).toBe(true);
    expect(d.of(jid("juliet@example.com"))).toEqual([]);
    expect(d.size).toBe(0);
  });

  it("a second session with the same full JID replaces the first, which can no longer remove the newer", () => {
    const d = new SessionDirectory();
    const first = fakeSession("juliet@example.com/phone");
    const second = fakeSession("juliet@example.com/phone");
    d.add(first);
    expect(d.add(second)).toBe(first);
    expect(d.size).toBe(1);
    expect(d.remove(first)).toBe(false);
    expect(d.get(jid("juliet@example.com/phone"))).toBe(second);
  });

  it("runs exclusive work at once and tells the listener when shared state changes", async () => {
    const d = new SessionDirectory();
    expect(await d.exclusive("juliet@example.com", async () => 42)).toBe(42);
    const changed: Session[] = [];
    d.onChange = (s) => changed.push(s);
    const s = fakeSession("juliet@example.com/phone");
    d.changed(s);
    expect(changed).toEqual([s]);
  });
});

describe("the session directory with a remote view (a cluster)", () => {
  it("finds other nodes' sessions through get, of and hasResource, but not through local, size or all", () => {
    const d = new SessionDirectory();
    d.remote = remoteView("juliet@example.com/desk", "romeo@example.com/orchard");
    const phone = fakeSession("juliet@example.com/phone");
    d.add(phone);
    expect(d.get(jid("juliet@example.com/desk"))?.jid.toString()).toBe("juliet@example.com/desk");
    expect(d.local(jid("juliet@example.com/desk"))).toBeUndefined();
    expect(resources(d.of(jid("juliet@example.com")))).toEqual(["desk", "phone"]);
    expect(resources(d.of(jid("romeo@example.com")))).toEqual(["orchard"]);
    expect(d.hasResource(jid("romeo@example.com"), "orchard")).toBe(true);
    expect(d.hasResource(jid("romeo@example.com"), "garden")).toBe(false);
    // One session here and one on another node are two; one on another node alone is one.
    expect(d.several(jid("juliet@example.com"))).toBe(true);
    expect(d.several(jid("romeo@example.com"))).toBe(false);
    expect(d.size).toBe(1);
    expect([...d.all()]).toEqual([phone]);
  });

  it("prefers the local session when both hold a full JID, and lists it once", () => {
    const d = new SessionDirectory();
    d.remote = remoteView("juliet@example.com/phone", "juliet@example.com/desk");
    const phone = fakeSession("juliet@example.com/phone");
    d.add(phone);
    expect(d.get(jid("juliet@example.com/phone"))).toBe(phone);
    const all = d.of(jid("juliet@example.com"));
    expect(resources(all)).toEqual(["desk", "phone"]);
    expect(all).toContain(phone);
    expect(d.several(jid("juliet@example.com"))).toBe(true);
    // The full JID held both here and there is one session.
    d.remote = remoteView("juliet@example.com/phone");
    expect(d.several(jid("juliet@example.com"))).toBe(false);
  });

  it("takes the account's turn through the remote view", async () => {
    const d = new SessionDirectory();
    const remote = remoteView();
    d.remote = remote;
    expect(await d.exclusive("juliet@example.com", async () => "done")).toBe("done");
    expect(remote.locked).toEqual(["juliet@example.com"]);
  });
});
