// A push after the account was in a room, with the Debian slixmpp clients (python3-slixmpp and its
// XEP-0045 plugin) for the room: Alice, Bob and Carol enter a new room, see each other, and go
// without leaving it: slixmpp's disconnect (the stream closed), or the process killed with its
// XEP-0198 session left detached. Carol's push service then binds a resource (her room session's
// again, or a new one); Alice logs in on a raw stream, enables push (XEP-0357) to it with a
// publish-options form, enables stream management with resumption and sends initial presence,
// and her connection is cut; Bob writes to her bare JID. Carol's service gets the publish within
// seconds, and hears nothing from the room it never entered.
import { describe, expect, it } from "vitest";
import type { Element } from "../../src/xml/element.ts";
import { SmClient, chat } from "../helpers/sm.ts";
import { connect as im } from "../helpers/im.ts";
import { phoneEnablesPushThenDrops } from "../helpers/push.ts";
import { login, type Agent } from "./agent.ts";
import { interopFixture } from "./agent.ts";

const PUBSUB = "http://jabber.org/protocol/pubsub";
const users: Record<string, string> = {};
for (let i = 0; i < 4; i++) for (const u of ["alice", "bob", "carol"]) users[`${u}${i}`] = "pw";
const fx = interopFixture(users);
let n = 0;

type Away = "disconnect" | "killed with a detached session";

describe.skipIf(fx.missing)("a push after the account was in a room (slixmpp in the room)", () => {
  const variants = (["disconnect", "killed with a detached session"] as Away[]).flatMap((away) => (["laptop", "svc"] as const).map((res) => [away, res] as const));
  for (const [away, res] of variants) {
    it(`the room's occupants ${away === "disconnect" ? "disconnect" : "are killed, sessions detached"}; Carol's service on ${res === "laptop" ? "her room resource" : "a new resource"} gets Bob's push`, async () => {
      const k = n++;
      const [a, b, c] = [`alice${k}`, `bob${k}`, `carol${k}`];
      const room = `after${k}@conference.localhost`;
      const port = fx.server.port;
      const occupants: Agent[] = [];
      try {
        for (const [user, nick] of [[a, "alice"], [b, "bob"], [c, "carol"]] as const) {
          const flags = away === "disconnect" ? [] : ["--sm"];
          const { agent } = await login("slixmpp", { port, jid: `${user}@localhost/laptop`, password: "pw", flags, timeoutS: 60 });
          occupants.push(agent);
          agent.send({ cmd: "presence" });
          agent.send(nick === "alice" ? { cmd: "muc_create", room, nick } : { cmd: "muc_join", room, nick });
          await agent.next(nick === "alice" ? "muc_created" : "muc_joined");
        }
        await occupants[0]!.next("presence", { from: `${room}/carol` });
        for (const o of occupants) {
          if (away === "disconnect") o.send({ cmd: "quit" });
          else o.kill();
        }
        // At once: the room may not have heard yet that the sessions ended.
        const { c: svc } = await SmClient.login(port, c, res, { resume: false });
        svc.autoAck = true;
        await phoneEnablesPushThenDrops(port, a, `${c}@localhost/${res}`, "after-room");
        const bob = await im(fx.server, b, "desk");
        bob.send(chat(`${a}@localhost`, "are you there?"));
        const publish = await svc.next((el: Element) => el.name === "iq" && el.getChild("pubsub", PUBSUB) !== undefined, "the push", 10_000);
        expect(publish.getChild("pubsub")!.getChild("publish")!.attrs.node).toBe("after-room");
        expect(svc.raw.closed).toBe(false);
        expect(svc.inbox.filter((el) => el.attrs.from?.startsWith(room)).map(String)).toEqual([]);
        svc.cut();
        await bob.stop();
      } finally {
        for (const o of occupants) o.kill();
      }
    }, 60_000);
  }
});
