// An external component (XEP-0114) written with a real library: Debian's python3-slixmpp 1.8 and
// its ComponentXMPP, the class slixmpp gateways (Slidge) are built on, run as slixmpp_component.py.
// It connects to the component listener, passes the handshake, answers disco#info on its domain,
// and echoes Romeo's message (Romeo a local user on a client stream) from the address he wrote to.
// Needs Debian's /usr/bin/python3 with python3-slixmpp (scripts/debian-deps.sh); skipped without.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "../helpers/server.ts";
import { RawClient } from "../helpers/raw.ts";
import { Agent, login, missingPython } from "./agent.ts";

const missing = missingPython();
if (missing && process.env.CI) throw new Error(`interop clients unavailable in CI: ${missing}`);

const ECHO = "echo.localhost";
const SECRET = "echo-secret-0123456789";

let t: TestServer;
const running: Agent[] = [];
beforeAll(async () => {
  if (missing) return;
  t = await startServer({ users: { romeo: "pw" }, config: { components: [{ domain: ECHO, secret: SECRET }] } });
});
afterAll(() => t?.stop());
afterEach(() => {
  for (const a of running.splice(0)) a.kill();
});

const stanza = (name: string, id: string) => new RegExp(`<${name}[^>]*id="${id}"[^>]*(/>|>[\\s\\S]*?</${name}>)`);

async function component(password = SECRET): Promise<Agent> {
  const { agent } = await login("slixmpp", { port: t.server.ports.component!, jid: ECHO, password, script: "slixmpp_component.py" });
  running.push(agent);
  return agent;
}

describe.skipIf(missing)("slixmpp's ComponentXMPP as an external component", () => {
  it("passes the handshake, answers disco#info on its domain, and echoes Romeo's message back to his client", async () => {
    const echo = await component();
    const romeo = await RawClient.login(t.port, "romeo", "pw", "garden");
    romeo.send(`<iq type='get' id='info' to='${ECHO}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    const info = await romeo.expect(stanza("iq", "info"));
    expect(info).toContain('type="result"');
    expect(info).toMatch(/<identity [^>]*category="gateway"/);

    romeo.send(`<message to='juliet@${ECHO}' type='chat' id='e1'><body>Wherefore art thou?</body></message>`);
    expect(await echo.next("message", { id: "e1" })).toMatchObject({ from: "romeo@localhost/garden", to: `juliet@${ECHO}`, body: "Wherefore art thou?" });
    const echoed = await romeo.expect(stanza("message", "echo-e1"));
    expect(echoed).toContain(`from="juliet@${ECHO}"`);
    expect(echoed).toContain("<body>echo: Wherefore art thou?</body>");
    romeo.close();
    expect(await echo.quit()).toBe(0);
  });

  it("with a wrong secret it is refused (not-authorized) and never gets a session", async () => {
    const agent = new Agent("slixmpp", { port: t.server.ports.component!, jid: ECHO, password: "a-wrong-secret-0123456789", script: "slixmpp_component.py" });
    running.push(agent);
    expect(await agent.next("error", { where: "stream" })).toMatchObject({ condition: "not-authorized" });
    expect(agent.events.some((e) => e.event === "session")).toBe(false);
  });
});
