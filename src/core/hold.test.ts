import { describe, expect, it } from "vitest";
import { xml, type Element } from "../xml/element.ts";
import type { Session } from "./session.ts";
import { addHold } from "./hold.ts";

function fakeSession() {
  const written: string[] = [];
  const s = {
    hold: undefined as ((el: Element) => boolean) | undefined,
    send(el: Element) {
      if (!this.hold?.(el)) this.sendNow(el);
    },
    sendNow(el: Element) {
      written.push(el.attrs.id!);
    },
  };
  return { session: s as unknown as Session, written };
}
const m = (id: string) => xml("message", { id });
const p = (id: string) => xml("presence", { id });

describe("stacked holds", () => {
  it("the upper hold sees a stanza first, the lower one gets what it leaves", () => {
    const { session, written } = fakeSession();
    const presences: string[] = [];
    const messages: string[] = [];
    addHold(session, (el) => el.name === "presence" && (presences.push(el.attrs.id!), true));
    const upper = addHold(session, (el) => el.name === "message" && (messages.push(el.attrs.id!), true));
    session.send(p("p1"));
    session.send(m("m1"));
    session.send(xml("iq", { id: "i1" }));
    expect([presences, messages, written]).toEqual([["p1"], ["m1"], ["i1"]]);
    upper.pass(p("p2")); // through the hold below it
    upper.pass(m("m2"));
    expect([presences, written]).toEqual([["p1", "p2"], ["i1", "m2"]]);
  });

  it("taking the lower hold off (a client going active) leaves the upper one (a flush) in place", () => {
    const { session, written } = fakeSession();
    const kept: string[] = [];
    const lower = addHold(session, (el) => el.name === "presence");
    const upper = addHold(session, (el) => el.name === "message" && (kept.push(el.attrs.id!), true));
    lower.remove();
    session.send(p("p"));
    session.send(m("m"));
    expect([written, kept]).toEqual([["p"], ["m"]]);
    upper.remove();
    expect(session.hold).toBeUndefined();
    session.send(m("after"));
    expect(written).toEqual(["p", "after"]);
  });
});
