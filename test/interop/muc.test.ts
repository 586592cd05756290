// Multi-User Chat (XEP-0045) with a Debian client library: two python3-slixmpp clients through
// its XEP-0045 plugin (the code Debian's slixmpp bots use) create a room, enter it, chat in it,
// get the history on entry and read the room's archive (XEP-0313 on the room JID) after leaving.
import { describe, expect, it } from "vitest";
import { interopFixture } from "./agent.ts";

const ROOM = "balcony@conference.localhost";
const fx = interopFixture({ romeo: "pw", juliet: "pw" });
const connect = (jid: string) => fx.connect("slixmpp", jid);

describe.skipIf(fx.missing)("a room with slixmpp's XEP-0045 plugin", () => {
  it("create, enter with history, chat with the room's stanza-ids, leave, read the room archive", async () => {
    const juliet = await connect("juliet@localhost/laptop");
    juliet.send({ cmd: "muc_create", room: ROOM, nick: "Juliet" });
    expect(await juliet.next("muc_created")).toMatchObject({ codes: [110, 201], affiliation: "owner", role: "moderator" });
    juliet.send({ cmd: "muc_say", room: ROOM, body: "Wherefore art thou?", id: "j1" });
    const own = await juliet.next("groupchat", { id: "j1" });
    expect(own.from).toBe(`${ROOM}/Juliet`);
    expect(own.stanza_id).toEqual(expect.any(String));

    const romeo = await connect("romeo@localhost/orchard");
    romeo.send({ cmd: "muc_join", room: ROOM, nick: "Romeo", maxstanzas: 10 });
    expect(await romeo.next("muc_joined")).toMatchObject({ nick: "Romeo", role: "participant", occupants: ["Juliet", "Romeo"], history: ["Wherefore art thou?"] });
    romeo.send({ cmd: "muc_say", room: ROOM, body: "Call me but love", id: "r1" });
    const heard = await juliet.next("groupchat", { id: "r1" });
    expect(heard).toMatchObject({ from: `${ROOM}/Romeo`, body: "Call me but love", delayed: false });
    const echoed = await romeo.next("groupchat", { id: "r1" });
    expect(echoed.stanza_id).toBe(heard.stanza_id); // one message, one id, stored once

    romeo.send({ cmd: "muc_leave", room: ROOM, nick: "Romeo" });
    await romeo.next("presence", { from: `${ROOM}/Romeo`, type: "unavailable" });
    juliet.send({ cmd: "muc_say", room: ROOM, body: "Deny thy father", id: "j2" });
    await juliet.next("groupchat", { id: "j2" });
    await fx.server.server.settled();
    romeo.send({ cmd: "mam", jid: ROOM, max: 2 });
    const archive = await romeo.next("mam");
    expect((archive.messages as { body: string; from: string }[]).map((m) => [m.from, m.body])).toEqual([
      [`${ROOM}/Juliet`, "Wherefore art thou?"],
      [`${ROOM}/Romeo`, "Call me but love"],
      [`${ROOM}/Juliet`, "Deny thy father"],
    ]);
    expect(await romeo.quit()).toBe(0);
    expect(await juliet.quit()).toBe(0);
  }, 45_000);
});
