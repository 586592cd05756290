// XEP-0199 keepalive: the server pings a silent client and closes the stream of one that does
// not answer (a phone that lost its network without a FIN), while a client that answers stays.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "../helpers/server.ts";
import { RawClient } from "../helpers/raw.ts";

let t: TestServer;
beforeAll(async () => {
  t = await startServer({ users: { romeo: "pw" }, config: { modules: { ping: { interval: 1, timeout: 1 } } } });
});
afterAll(() => t.stop());

describe("keepalive", () => {
  it("pings a silent client, keeps it when it answers, closes it when it does not", async () => {
    const answers = await RawClient.login(t.port, "romeo", "pw", "alive");
    const silent = await RawClient.login(t.port, "romeo", "pw", "dead");
    const ping = await answers.expect(/<iq [^>]*to="romeo@localhost\/alive"[^>]*><ping xmlns="urn:xmpp:ping"\/><\/iq>/, 4000);
    const id = /id="([^"]+)"/.exec(ping)![1];
    answers.send(`<iq type='result' id='${id}' to='localhost'/>`);
    await silent.expect(/<ping xmlns="urn:xmpp:ping"\/>/, 4000);
    await silent.expect("<stream:error><connection-timeout", 5000);
    await silent.closedByServer();
    expect(answers.closed).toBe(false);
    answers.close();
  });
});
