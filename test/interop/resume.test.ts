// A real client from Debian (python3-slixmpp 1.8, with its XEP-0198 plugin) loses its connection
// in the middle of a conversation — a relay between it and the server cuts both sockets, as a
// mobile network does — reconnects by itself, resumes the session, and gets what was sent to it
// meanwhile, in order, once; then it reads the same conversation back from its archive.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "../helpers/server.ts";
import { CutProxy } from "../helpers/proxy.ts";
import { SmClient, chat } from "../helpers/sm.ts";
import { Agent, login, missingPython } from "./agent.ts";

const missing = missingPython();
if (missing && process.env.CI) throw new Error(`interop clients unavailable in CI: ${missing}`);
const TIMEOUT = 40_000;

let t: TestServer;
let proxy: CutProxy;
const running: Agent[] = [];

beforeAll(async () => {
  if (missing) return;
  t = await startServer({ users: { romeo: "pw", juliet: "pw" } });
  proxy = await CutProxy.start(t.port);
});
afterAll(async () => {
  await proxy?.close();
  await t?.stop();
});
afterEach(() => {
  for (const a of running.splice(0)) a.kill();
});

describe.skipIf(missing)("slixmpp with stream management", () => {
  it("resumes after its connection is cut and receives the messages sent meanwhile, in order, once", { timeout: TIMEOUT }, async () => {
    const { agent: romeo, session } = await login("slixmpp", { port: proxy.port, jid: "romeo@localhost/phone", password: "pw", flags: ["--sm"] });
    running.push(romeo);
    const enabled = await romeo.next("sm_enabled");
    expect(enabled.resume).toBe(true);
    const full = session.jid as string;
    const juliet = (await SmClient.login(t.port, "juliet", "balcony", { resume: false })).c;
    juliet.send(chat(full, "before the cut"));
    await romeo.next("message", { body: "before the cut" });

    proxy.cutAll();
    await romeo.next("disconnected");
    for (let i = 1; i <= 3; i++) juliet.send(chat(full, `meanwhile ${i}`));

    await romeo.next("resumed", {}, 20_000);
    for (let i = 1; i <= 3; i++) await romeo.next("message", { body: `meanwhile ${i}` });
    juliet.send(chat(full, "after"));
    await romeo.next("message", { body: "after" });
    const bodies = romeo.events.filter((e) => e.event === "message").map((e) => e.body);
    expect(bodies).toEqual(["before the cut", "meanwhile 1", "meanwhile 2", "meanwhile 3", "after"]);
    expect(juliet.inbox.filter((e) => e.attrs.type === "error").map(String)).toEqual([]);

    // Its archive (XEP-0313, paged by slixmpp's RSM iterator two at a time) has the conversation in order.
    romeo.send({ cmd: "mam", with: "juliet@localhost", max: 2 });
    const archive = await romeo.next("mam");
    const archived = (archive.messages as { id: string; body: string }[]);
    expect(archived.map((m) => m.body)).toEqual(bodies);
    expect(new Set(archived.map((m) => m.id)).size).toBe(archived.length);
    expect(await romeo.quit()).toBe(0);
    juliet.cut();
  });
});
