// Fan-out at scale, in process: 1000 occupants join one room and talk, each stanza serialised as
// the session would (toString per recipient). Checks that the N-th join costs N-1 presences to
// the newcomer plus one to each other occupant and its own, and prints the timings.
import { describe, expect, it } from "vitest";
import { xml } from "../../xml/element.ts";
import { jid, type JID } from "../../xml/jid.ts";
import type { Fanout } from "./fanout.ts";
import { Room, type RoomHost } from "./room.ts";
import { toRoom } from "./messages.ts";

const N = 1000;

describe("a room of 1000 occupants", () => {
  it("joins in O(N) stanzas each and writes a message once per occupant", () => {
    let sent = 0;
    let bytes = 0;
    const host: RoomHost = {
      delivery: {
        send(stanza: Fanout, to: JID) {
          stanza.attrs.to = to.toString();
          bytes += stanza.toString().length;
          sent++;
        },
      },
      maxHistory: 20, maxUsers: 10_000,
      route() {}, changed() {}, gone() {}, visiting() {},
    };
    const room = new Room(jid("big", "conference.localhost"), host);
    const presence = xml("presence", null, xml("x", { xmlns: "http://jabber.org/protocol/muc" }, xml("history", { maxstanzas: "0" })), xml("show", null, "chat"));
    let t0 = performance.now();
    for (let i = 0; i < N; i++) {
      const before = sent;
      room.join(jid(`u${i}`, "localhost", "r"), `nick${i}`, presence, false);
      // i others' presence to the newcomer, one to each of them, its own, the subject.
      expect(sent - before).toBe(2 * i + 2);
    }
    const joinMs = performance.now() - t0;
    const joinStanzas = sent;
    sent = 0;
    bytes = 0;
    const sender = jid("u0", "localhost", "r");
    t0 = performance.now();
    const M = 100;
    for (let i = 0; i < M; i++) {
      room.history.resize(0);
      const msg = xml("message", { type: "groupchat", from: sender.toString(), to: "big@conference.localhost" }, xml("body", null, `hello ${i}`));
      toRoom(room, msg, sender);
    }
    const msgMs = performance.now() - t0;
    expect(sent).toBe(M * N);
    console.log(`muc scale: ${N} joins, ${joinStanzas} presences in ${joinMs.toFixed(0)} ms (${(joinStanzas / joinMs).toFixed(0)}k/s); ` +
      `${M} messages to ${N} occupants = ${sent} deliveries in ${msgMs.toFixed(0)} ms (${(sent / msgMs).toFixed(0)}k/s)`);
  }, 120_000);

  it("with presence broadcast for moderators only, the N-th join costs a constant number of stanzas", () => {
    let sent = 0;
    const host: RoomHost = {
      delivery: { send() { sent++; } },
      maxHistory: 20, maxUsers: 10_000,
      route() {}, changed() {}, gone() {}, visiting() {},
    };
    const room = new Room(jid("big", "conference.localhost"), host);
    room.config.presenceBroadcast = ["moderator"];
    room.affiliations.set("owner@localhost", "owner");
    const presence = xml("presence", null, xml("x", { xmlns: "http://jabber.org/protocol/muc" }, xml("history", { maxstanzas: "0" })));
    room.join(jid("owner", "localhost", "r"), "owner", presence, false);
    const t0 = performance.now();
    for (let i = 0; i < N; i++) {
      const before = sent;
      room.join(jid(`u${i}`, "localhost", "r"), `nick${i}`, presence, false);
      // The moderator's presence to the newcomer, its own, the subject: nothing to the others.
      expect(sent - before).toBe(3);
    }
    console.log(`muc scale, moderators broadcast only: ${N} joins, ${sent} stanzas in ${(performance.now() - t0).toFixed(0)} ms`);
  });
});
