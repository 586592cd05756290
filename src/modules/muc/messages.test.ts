// What a message to a room makes its sender wait for: the archive's pending write only when an
// XEP-0198 ack is to be held for it; room in the archive's queue when that is full, always.
import { describe, expect, it } from "vitest";
import { xml } from "../../xml/element.ts";
import { jid } from "../../xml/jid.ts";
import type { RoomArchive } from "./archive.ts";
import { toRoom } from "./messages.ts";
import { Room, type RoomHost } from "./room.ts";

function roomWith(archive: Partial<RoomArchive>): { room: Room; sent: () => number } {
  let sent = 0;
  const host: RoomHost = {
    delivery: { send() { sent++; } },
    archive: archive as RoomArchive,
    maxHistory: 20, maxUsers: 100,
    route() {}, changed() {}, gone() {}, visiting() {},
  };
  const room = new Room(jid("talk", "conference.localhost"), host);
  room.join(jid("juliet", "localhost", "r"), "juliet", xml("presence"), false);
  room.join(jid("romeo", "localhost", "r"), "romeo", xml("presence"), false);
  return { room, sent: () => sent };
}

const groupchat = () => xml("message", { type: "groupchat", to: "talk@conference.localhost" }, xml("body", null, "hi"));
const juliet = jid("juliet", "localhost", "r");

describe("a message to a room", () => {
  it("makes a stream-managed sender's ack wait for the archive's write, and nobody else", () => {
    const written = new Promise<void>(() => {});
    const { room, sent } = roomWith({ record: () => undefined, pending: () => written });
    const before = sent();
    expect(toRoom(room, groupchat(), juliet)).toBe(written);
    expect(sent() - before).toBe(2); // delivered to both occupants at once
    expect(toRoom(room, groupchat(), juliet, false)).toBeUndefined();
  });

  it("makes any sender wait for room when the archive's queue is full", () => {
    const room1 = new Promise<void>(() => {});
    const { room } = roomWith({ record: () => room1, pending: () => new Promise<void>(() => {}) });
    expect(toRoom(room, groupchat(), juliet, false)).toBe(room1);
    expect(toRoom(room, groupchat(), juliet, true)).toBe(room1);
  });
});
