import { describe, expect, it } from "vitest";
import { xml, type Element } from "../xml/element.ts";
import type { Session } from "./session.ts";
import { addHold } from "./session-holds.ts";

function fakeSession() {
  const written: string[] = [];
  const serialized: string[] = [];
  const s = {
    hold: undefined as ((el: Element) => boolean) | undefined,
    send(el: Element) {
      if (!this.hold?.(el)) this.sendNow(el);
    },
    sendNow(el: Element) {
      written.push(el.attrs.id!);
    },
    sendSerialized(text: string) {
      serialized.push(text);
    },
  };
  return { session: s as unknown as Session, written, serialized };
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

  it("stored text goes out as it is when no hold is below, and as an element through one that is", () => {
    const { session, written, serialized } = fakeSession();
    const text = m("s1").toString();
    const flush = addHold(session, (el) => el.name === "message");
    expect(flush.passSerialized(text)).toBe(true);
    expect([serialized, written]).toEqual([[text], []]);

    const other = fakeSession();
    const looked: string[] = [];
    addHold(other.session, (el) => (looked.push(el.attrs.id!), el.attrs.id === "held"));
    const upper = addHold(other.session, (el) => el.name === "message");
    expect(upper.passSerialized(m("held").toString())).toBe(true);
    expect(upper.passSerialized(m("s2").toString())).toBe(true);
    const given = m("s3");
    expect(upper.passSerialized(given.toString(), given)).toBe(true);
    expect([looked, other.written, other.serialized]).toEqual([["held", "s2", "s3"], ["s2", "s3"], []]);
    // Text that must be parsed and does not parse is not written.
    expect(upper.passSerialized("<message id='broken'>")).toBe(false);
    expect(other.written).toEqual(["s2", "s3"]);
  });
});
