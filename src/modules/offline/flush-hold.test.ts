import { describe, expect, it } from "vitest";
import { xml, type Element } from "../../xml/element.ts";
import type { Session } from "../../core/session.ts";
import { holdMessages } from "./flush-hold.ts";

/** A session that records what it writes, with a hold underneath (client state indication) that takes presence. */
function fakeSession(withBelow: boolean) {
  const written: string[] = [];
  const below: Element[] = [];
  const s = {
    hold: withBelow ? (el: Element) => (el.name === "presence" ? (below.push(el), true) : false) : undefined,
    send(el: Element) {
      if (this.hold?.(el)) return;
      this.sendNow(el);
    },
    sendNow(el: Element) {
      written.push(el.attrs.id!);
    },
  };
  return { session: s as unknown as Session & typeof s, written, below };
}
const m = (id: string) => xml("message", { id });
const p = (id: string) => xml("presence", { id });

describe("holding a session's messages during its flush", () => {
  it("holds messages, passes the rest, and lets stored ones through in front", () => {
    const { session, written } = fakeSession(false);
    const hold = holdMessages(session);
    session.send(m("live-1"));
    session.send(p("presence"));
    hold.pass(m("stored-1"));
    session.send(m("live-2"));
    hold.pass(m("stored-2"));
    const held = hold.release();
    expect(written).toEqual(["presence", "stored-1", "stored-2"]);
    expect(held.map((e) => e.attrs.id)).toEqual(["live-1", "live-2"]);
    expect(session.hold).toBeUndefined();
    session.send(m("after"));
    expect(written.at(-1)).toBe("after");
  });

  it("keeps the hold underneath working and puts it back", () => {
    const { session, written, below } = fakeSession(true);
    const original = session.hold;
    const hold = holdMessages(session);
    session.send(p("held below"));
    hold.pass(p("stored presence-like"));
    hold.pass(m("stored"));
    expect(below.map((e) => e.attrs.id)).toEqual(["held below", "stored presence-like"]);
    expect(written).toEqual(["stored"]);
    hold.release();
    expect(session.hold).toBe(original);
  });

  it("a hold put over it meanwhile stays; this one then passes everything", () => {
    const { session, written } = fakeSession(false);
    const hold = holdMessages(session);
    const mine = session.hold!;
    const over = (el: Element) => mine(el);
    session.hold = over;
    hold.release();
    expect(session.hold).toBe(over);
    session.send(m("through"));
    expect(written).toEqual(["through"]);
  });
});
