// OMEMO (XEP-0384, the eu.siacs.conversations.axolotl namespace clients deploy) between two real
// client libraries from Debian, through the server: Romeo on python3-slixmpp (its XEP-0060
// plugin, with the stanzas Conversations sends) and Juliet on python3-nbxmpp (its own OMEMO
// module, which Gajim uses). Each publishes its device list and bundle via PEP with
// publish-options access_model=open, fetches the other's, and they exchange <encrypted/>
// messages, online and offline (stored, delivered at login, and archived).
// The key material and ciphertext are random bytes of the right shapes (33-byte keys, a 64-byte
// signature, 100 prekeys), not the output of a Signal implementation: Debian has python3-omemo
// but no slixmpp or nbxmpp binding for it, and what the server must do does not depend on it.
import { describe, expect, it } from "vitest";
import { interopFixture, type Agent } from "./agent.ts";

const TIMEOUT = 45_000;
const ROMEO_DEVICE = 1111;
const JULIET_DEVICE = 2222;

const fx = interopFixture({ romeo: "pw", juliet: "pw" });
const connect = (library: "slixmpp" | "nbxmpp", jid: string) => fx.connect(library, jid);

async function publishKeys(agent: Agent, device: number): Promise<void> {
  agent.send({ cmd: "omemo_publish", device });
  await agent.next("published", { what: "devicelist" });
  await agent.next("published", { what: "bundle" });
}

describe.skipIf(fx.missing)("OMEMO between slixmpp and nbxmpp (XEP-0384 over PEP)", () => {
  it("both publish keys open, fetch the other's bundle, and exchange encrypted messages online and offline", async () => {
    const romeo = await connect("slixmpp", "romeo@localhost/phone");
    const juliet = await connect("nbxmpp", "juliet@localhost/laptop");
    await publishKeys(romeo, ROMEO_DEVICE);
    await publishKeys(juliet, JULIET_DEVICE);

    // Strangers (no roster entry either way) read each other's keys: access_model=open.
    juliet.send({ cmd: "omemo_fetch", jid: "romeo@localhost" });
    expect(await juliet.next("bundle")).toMatchObject({ devices: [ROMEO_DEVICE], ik: 33, spk: 33, signature: 64, prekeys: 100 });
    romeo.send({ cmd: "omemo_fetch", jid: "juliet@localhost" });
    expect(await romeo.next("bundle")).toMatchObject({ devices: [JULIET_DEVICE], ik: 33, spk: 33, signature: 64, prekeys: 100 });

    // Online, both ways: the <encrypted/> element arrives whole.
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    romeo.send({ cmd: "omemo_send", to: "juliet@localhost", id: "o1", sid: ROMEO_DEVICE, rid: JULIET_DEVICE, payload: "ciphertext one" });
    expect((await juliet.next("message", { id: "o1" })).omemo).toEqual({ sid: ROMEO_DEVICE, rids: [JULIET_DEVICE], payload: b64("ciphertext one") });
    juliet.send({ cmd: "omemo_send", to: "romeo@localhost", id: "o2", sid: JULIET_DEVICE, rid: ROMEO_DEVICE, payload: "ciphertext two" });
    expect((await romeo.next("message", { id: "o2" })).omemo).toEqual({ sid: JULIET_DEVICE, rids: [ROMEO_DEVICE], payload: b64("ciphertext two") });

    // Offline: Juliet goes; Romeo's message is stored and delivered when she is back.
    expect(await juliet.quit()).toBe(0);
    romeo.send({ cmd: "omemo_send", to: "juliet@localhost", id: "o3", sid: ROMEO_DEVICE, rid: JULIET_DEVICE, payload: "while you slept" });
    // The archive has it, encrypted (once the server has it, Romeo's own MAM query sees it).
    await fx.server.server.settled();
    let archived: { id: string; omemo: unknown }[] = [];
    for (let i = 0; i < 20 && !archived.some((m) => m.omemo); i++) {
      romeo.send({ cmd: "mam", with: "juliet@localhost" });
      archived = (await romeo.next("mam")).messages as typeof archived;
      if (!archived.some((m) => (m.omemo as { payload?: string } | null)?.payload === b64("while you slept"))) await new Promise((r) => setTimeout(r, 100));
    }
    expect(archived.map((m) => m.omemo)).toContainEqual({ sid: ROMEO_DEVICE, rids: [JULIET_DEVICE], payload: b64("while you slept") });

    const back = await connect("nbxmpp", "juliet@localhost/laptop");
    const offline = await back.next("message", { id: "o3" });
    expect(offline.omemo).toEqual({ sid: ROMEO_DEVICE, rids: [JULIET_DEVICE], payload: b64("while you slept") });
    expect(offline.delayed).toBe(true);
    await romeo.quit();
    await back.quit();
  }, TIMEOUT);
});
