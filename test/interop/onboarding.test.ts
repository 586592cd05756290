// A newcomer's first minutes with a real client library: Debian's python3-slixmpp (1.8) registers
// with its XEP-0077 plugin, filling in the server's data form (§4) or the legacy fields, logs in
// with the new account and changes its password with §3.3's form (slixmpp_onboarding.py). On a
// server with registration closed it registers with an invitation token (XEP-0445), and reads the
// server's contact addresses (XEP-0157) with its XEP-0030/XEP-0128 plugins.
// Needs Debian's /usr/bin/python3 with python3-slixmpp (scripts/debian-deps.sh); skipped without
// it, except in CI where its absence is a failure.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "../helpers/server.ts";
import { RawClient } from "../helpers/raw.ts";
import { invitationStores, Invitations, type NewInvitation } from "../../src/modules/invite/store.ts";
import { Agent, missingPython } from "./agent.ts";

const missing = missingPython();
if (missing && process.env.CI) throw new Error(`interop clients unavailable in CI: ${missing}`);
const TIMEOUT = 30_000;

let open: TestServer;
let closed: TestServer;
const running: Agent[] = [];
const CONTACTS = { abuse: ["mailto:abuse@localhost"], support: ["xmpp:support@localhost", "https://localhost/help"] };
beforeAll(async () => {
  if (missing) return;
  [open, closed] = await Promise.all([
    startServer({ config: { registration: { enabled: true, perHourPerAddress: 50 } } }),
    startServer({ users: { romeo: "pw" }, config: { modules: { contact: CONTACTS } } }),
  ]);
});
afterAll(() => Promise.all([open?.stop(), closed?.stop()]));

/** An invitation made on the server's store, as the command line makes them. */
function invitation(server: TestServer, spec: Partial<NewInvitation> = {}) {
  return new Invitations(invitationStores(server.server.storage), server.server.hosts)
    .create({ kind: "account", domain: server.server.hosts.primary.domain, creator: "", ttlMs: 3_600_000, ...spec });
}
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

describe.skipIf(missing)("slixmpp registers with an invitation (XEP-0445), public registration closed", () => {
  it("presents the token first, gets the fields, registers with the form, logs in and finds the contact addresses (XEP-0157)", { timeout: TIMEOUT }, async () => {
    const inv = await invitation(closed);
    const agent = newcomer(closed, "tybalt@localhost/t", "pw", "--preauth", inv.token, "--disco");
    expect(await agent.next("preauth")).toMatchObject({ ok: true });
    expect((await agent.next("form")).instructions).toBe("Choose a username and password for use with this server.");
    expect(await agent.next("registered")).toMatchObject({ form: true });
    await agent.next("session");
    const disco = await agent.next("disco");
    expect(disco.forms).toEqual([{
      FORM_TYPE: ["http://jabber.org/network/serverinfo"],
      "abuse-addresses": CONTACTS.abuse,
      "support-addresses": CONTACTS.support,
    }]);
    await agent.next("done");
  });

  it("an invitation for a username: slixmpp is offered that name; a contact invitation makes Romeo its contact", { timeout: TIMEOUT }, async () => {
    const named = await invitation(closed, { username: "gregory" });
    const a = newcomer(closed, "gregory@localhost/g", "pw", "--preauth", named.token);
    expect(((await a.next("form")).fields as { var: string; value: unknown }[]).find((f) => f.var === "username")!.value).toBe("gregory");
    await a.next("session");
    const contact = await invitation(closed, { kind: "contact", creator: "romeo@localhost", inviter: "romeo" });
    const b = newcomer(closed, "sampson@localhost/s", "pw", "--preauth", contact.token);
    await b.next("session");
    expect(await closed.server.storage.map("roster").get("sampson@localhost", "romeo@localhost")).toMatchObject({ subscription: "both" });
    expect(await closed.server.storage.map("roster").get("romeo@localhost", "sampson@localhost")).toMatchObject({ subscription: "both" });
  });

  it("a used token is refused with item-not-found; without a token the registration is forbidden", { timeout: TIMEOUT }, async () => {
    const inv = await invitation(closed);
    const first = newcomer(closed, "abram@localhost/a", "pw", "--preauth", inv.token);
    await first.next("session");
    const again = newcomer(closed, "peter@localhost/p", "pw", "--preauth", inv.token);
    expect(await again.next("preauth")).toMatchObject({ ok: false, condition: "item-not-found", text: "The provided token is invalid or expired" });
    const none = newcomer(closed, "peter@localhost/p", "pw");
    expect(await none.next("register_error")).toMatchObject({ condition: "forbidden" });
    expect(await loginWorks(closed, "peter", "pw")).toBe(false);
  });
});
