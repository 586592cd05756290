// A newcomer's first minutes with a real client library: Debian's python3-slixmpp (1.8) registers
// with its XEP-0077 plugin, filling in the server's data form (§4) or the legacy fields, logs in
// with the new account and changes its password with §3.3's form (slixmpp_onboarding.py).
// Needs Debian's /usr/bin/python3 with python3-slixmpp (scripts/debian-deps.sh); skipped without
// it, except in CI where its absence is a failure.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "../helpers/server.ts";
import { RawClient } from "../helpers/raw.ts";
import { Agent, missingPython } from "./agent.ts";

const missing = missingPython();
if (missing && process.env.CI) throw new Error(`interop clients unavailable in CI: ${missing}`);
const TIMEOUT = 30_000;

let open: TestServer;
const running: Agent[] = [];
beforeAll(async () => {
  if (missing) return;
  open = await startServer({ config: { registration: { enabled: true, perHourPerAddress: 50 } } });
});
afterAll(() => open?.stop());
afterEach(() => {
  for (const a of running.splice(0)) a.kill();
});

/** A slixmpp newcomer for `jid` on `server`, with the script's flags. */
function newcomer(server: TestServer, jid: string, password: string, ...flags: string[]): Agent {
  const agent = new Agent("slixmpp", { port: server.port, jid, password, script: "slixmpp_onboarding.py", flags });
  running.push(agent);
  return agent;
}

async function loginWorks(server: TestServer, user: string, password: string): Promise<boolean> {
  const { c } = await RawClient.stream(server.port);
  const r = await c.scram(user, password, "SHA-1");
  c.close();
  return r.startsWith("<success");
}

describe.skipIf(missing)("slixmpp registers in-band (XEP-0077)", () => {
  it("with the server's data form: it reads the form, submits it, logs in, and changes its password with the §3.3 form", { timeout: TIMEOUT }, async () => {
    const agent = newcomer(open, "rosaline@localhost/r", "first", "--new-password", "second");
    const form = await agent.next("form");
    expect(form.legacy).toEqual(["password", "username"]);
    expect(form.fields).toEqual([
      { var: "FORM_TYPE", type: "hidden", required: false, value: ["jabber:iq:register"] },
      { var: "username", type: "text-single", required: true, value: null },
      { var: "password", type: "text-private", required: true, value: null },
    ]);
    expect(await agent.next("registered")).toMatchObject({ form: true });
    expect(await agent.next("session")).toMatchObject({ jid: "rosaline@localhost/r" });
    await agent.next("password_changed");
    await agent.next("done");
    expect(await loginWorks(open, "rosaline", "first")).toBe(false);
    expect(await loginWorks(open, "rosaline", "second")).toBe(true);
  });

  it("with the legacy fields, as clients without data forms do", { timeout: TIMEOUT }, async () => {
    const agent = newcomer(open, "balthasar@localhost/b", "pw", "--legacy");
    expect(await agent.next("registered")).toMatchObject({ form: false });
    await agent.next("session");
    await agent.next("done");
  });

  it("a taken username: the form comes back refused with conflict", { timeout: TIMEOUT }, async () => {
    await open.server.accounts.create("peter", "pw");
    const agent = newcomer(open, "peter@localhost/p", "other");
    expect(await agent.next("register_error")).toMatchObject({ condition: "conflict" });
  });
});
