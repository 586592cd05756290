// Slow readers cannot make the server hold more than their account's bound together
// (limits.accountBacklog), whatever the number of their connections: several connections of one
// account that stop reading, each asking again and again for a large vCard, lose their streams
// once what they hold together passes the bound, and another account's connection is not
// concerned.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RawClient } from "../helpers/raw.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

const BOUND = 2 * 1024 * 1024;
let t: TestServer;

beforeAll(async () => {
  t = await startServer({ users: { hoarder: "pw", bystander: "pw" }, config: { limits: { bytesPerSecond: 0, stanzasPerSecond: 0, accountBacklog: BOUND } } });
});
afterAll(() => t.stop());

describe("the backlog of an account's connections together", () => {
  it("stays under limits.accountBacklog: the connection whose write passes it ends", { timeout: 60_000 }, async () => {
    const card = `<vCard xmlns='vcard-temp'><DESC>${"x".repeat(60_000)}</DESC></vCard>`;
    const setter = await RawClient.login(t.port, "hoarder", "pw", "setter");
    setter.send(`<iq type='set' id='v'>${card}</iq>`);
    await setter.expect(/id=["']v["']/);
    const readers = await Promise.all([1, 2, 3, 4].map((i) => RawClient.login(t.port, "hoarder", "pw", `slow${i}`)));
    for (const r of readers) r.socket.pause();
    let most = 0;
    for (let round = 0; round < 120; round++) {
      for (const r of readers) if (!r.socket.destroyed) r.send(`<iq type='get' id='g${round}' to='hoarder@localhost'><vCard xmlns='vcard-temp'/></iq>`.repeat(10));
      await new Promise((r) => setTimeout(r, 10));
      most = Math.max(most, t.server.backlog.held("hoarder@localhost"));
    }
    // Held together: never past the bound (the write that would pass it ends its connection).
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(BOUND);
    for (const r of readers) r.socket.resume();
    const ended = await Promise.all(readers.map((r) => r.expect(/the account's connections are not reading/, 20_000).then(() => true, () => false)));
    expect(ended.filter(Boolean).length).toBeGreaterThan(0);
    // Another account goes on as before.
    const bystander = await RawClient.login(t.port, "bystander", "pw");
    bystander.send("<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>");
    await bystander.expect(/id=["']p["']/);
  });
});
