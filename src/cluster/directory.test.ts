import { describe, expect, it } from "vitest";
import { createLogger } from "../core/log.ts";
import { SessionDirectory, type Session } from "../core/session.ts";
import { CARBONS_ENABLED } from "../modules/carbons/index.ts";
import type { Element } from "../xml/element.ts";
import { parseJid } from "../xml/jid.ts";
import { Directory, type RemoteLink, type RemoteSession, type SessionSnapshot } from "./directory.ts";

const log = createLogger("silent");
const sent: [string, string, boolean][] = [];
const link: RemoteLink = {
  async forward(s: RemoteSession, stanza: Element, confirm: boolean) {
    sent.push([s.node, stanza.toString(), confirm]);
    return true;
  },
  close() {},
  exclusive: (_bare, fn) => fn(),
};
const snap = (n: string, over: Partial<SessionSnapshot> = {}): SessionSnapshot => ({ n, p: null, pr: 0, i: false, k: {}, ...over });

describe("the directory of other nodes' sessions", () => {
  it("keeps the newest binding of a full JID: a 'down' from the node it moved away from does not remove it", () => {
    const d = new Directory(link, log);
    d.put("bob@x/phone", snap("b"));
    d.put("bob@x/phone", snap("c", { p: "<presence from='bob@x/phone'/>", pr: 5, k: { [CARBONS_ENABLED.name]: true } }));
    d.remove("bob@x/phone", "b");
    const s = d.get("bob@x", "phone")!;
    expect(s.node).toBe("c");
    expect(s.priority).toBe(5);
    expect(s.presence?.name).toBe("presence");
    expect(s.get(CARBONS_ENABLED)).toBe(true);
    d.remove("bob@x/phone", "c");
    expect(d.get("bob@x", "phone")).toBeUndefined();
    expect(d.of("bob@x")).toBeUndefined();
  });

  it("resyncs an account from the shared hashes: new entries appear, withdrawn ones go, other accounts stay", () => {
    const d = new Directory(link, log);
    d.put("bob@x/old", snap("b"));
    d.put("carol@x/a", snap("b"));
    d.resync("bob@x", [["bob@x/new", snap("c", { p: "<presence/>" })]]);
    expect([...d.of("bob@x")!].map((s) => `${s.jid.resource}@${s.node}`)).toEqual(["new@c"]);
    expect(d.get("carol@x", "a")).toBeDefined();
    d.resync("bob@x", []);
    expect(d.of("bob@x")).toBeUndefined();
    expect(d.forgetNode("c")).toBe(0);
  });

  it("forgets every session of a node at once", () => {
    const d = new Directory(link, log);
    d.put("bob@x/a", snap("b"));
    d.put("carol@x/a", snap("b"));
    d.put("bob@x/b", snap("c"));
    expect(d.forgetNode("b")).toBe(2);
    expect([...d.of("bob@x")!].map((s) => s.jid.toString())).toEqual(["bob@x/b"]);
    expect(d.get("carol@x", "a")).toBeUndefined();
  });

  it("shows through SessionDirectory, local sessions first; writes go to the session's node, a message with confirmation", async () => {
    const sessions = new SessionDirectory();
    const local = { jid: parseJid("bob@x/home") } as Session;
    sessions.add(local);
    const d = new Directory(link, log);
    sessions.remote = d;
    d.put("bob@x/phone", snap("b"));
    expect(sessions.of(parseJid("bob@x")).map((s) => s.jid.resource)).toEqual(["home", "phone"]);
    expect(sessions.local(parseJid("bob@x/phone"))).toBeUndefined();
    expect(sessions.hasResource(parseJid("bob@x"), "phone")).toBe(true);
    expect(sessions.size).toBe(1);
    const phone = sessions.get(parseJid("bob@x/phone"))!;
    phone.send({ toString: () => "<presence/>" } as Element);
    expect(await phone.deliver!({ toString: () => "<message/>" } as Element)).toBe(true);
    expect(sent).toEqual([["b", "<presence/>", false], ["b", "<message/>", true]]);
  });
});
