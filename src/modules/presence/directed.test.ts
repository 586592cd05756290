import { describe, expect, it } from "vitest";
import { parseJid } from "../../xml/jid.ts";
import { SessionState, type Session } from "../../core/session.ts";
import { hasDirected, MAX_DIRECTED, noteDirected, takeDirected } from "./directed.ts";

function session(): Session {
  const state = new SessionState();
  return { jid: parseJid("romeo@example.net/orchard"), get: (k) => state.get(k), set: (k, v) => state.set(k, v) } as Session;
}

describe("directed presence tracking (RFC 6121 §4.6)", () => {
  it("remembers available targets and forgets on directed unavailable", () => {
    const s = session();
    noteDirected(s, parseJid("room@muc.example.org/Romeo"), "available");
    noteDirected(s, parseJid("benvolio@example.net"), "available");
    noteDirected(s, parseJid("benvolio@example.net"), "unavailable");
    expect([...takeDirected(s)]).toEqual([["room@muc.example.org/Romeo", "room@muc.example.org"]]);
    expect(hasDirected(s)).toBe(false);
  });
  it("ignores the account's own resources", () => {
    const s = session();
    noteDirected(s, parseJid("romeo@example.net/other"), "available");
    expect(hasDirected(s)).toBe(false);
  });
  it("is bounded", () => {
    const s = session();
    for (let i = 0; i < MAX_DIRECTED + 10; i++) noteDirected(s, parseJid(`u${i}@example.org`), "available");
    expect(takeDirected(s).size).toBe(MAX_DIRECTED);
  });
});
