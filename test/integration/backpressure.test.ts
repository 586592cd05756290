// A client that stops reading (a frozen app, a dead network path that still ACKs nothing) must
// not make the server buffer without bound: its stream is closed with <resource-constraint/>,
// and the sender goes on unharmed.
import { afterAll, beforeAll, expect, it } from "vitest";
import { startServer, type TestServer } from "../helpers/server.ts";
import { RawClient } from "../helpers/raw.ts";
import { parseJid } from "../../src/xml/jid.ts";

let t: TestServer;
beforeAll(async () => {
  t = await startServer({ users: { romeo: "pw", juliet: "pw" } });
});
afterAll(() => t.stop());

it("closes the stream of a client that does not read, and only that one", { timeout: 30_000 }, async () => {
  const juliet = await RawClient.login(t.port, "juliet", "pw", "frozen");
  juliet.socket.pause();
  const romeo = await RawClient.login(t.port, "romeo", "pw");
  const body = "x".repeat(200_000);
  const frozen = parseJid("juliet@localhost/frozen");
  for (let i = 0; i < 200 && t.server.sessions.get(frozen); i++) {
    romeo.send(`<message to='juliet@localhost/frozen' id='m${i}'><body>${body}</body></message>`);
    await new Promise((r) => setTimeout(r, 5));
  }
  await expect.poll(() => t.server.sessions.get(frozen), { timeout: 10_000 }).toBeUndefined();
  romeo.send("<iq type='get' id='ok' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
  await romeo.expect(/id="ok"/, 10_000);
  romeo.close();
  juliet.close();
});
