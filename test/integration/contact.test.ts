// XEP-0157 contact addresses over a real socket: the operator's addresses in the server's
// disco#info as the XEP's example shows them (a XEP-0128 form with FORM_TYPE
// http://jabber.org/network/serverinfo), and in the caps hash the server announces (XEP-0115:
// a client that caches disco#info by the hash must see a new hash when the addresses change).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "ltx";
import { clone, type Element } from "../../src/xml/element.ts";
import { capsHash, CAPS_NODE } from "../../src/modules/disco.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { RawClient } from "../helpers/raw.ts";

const INFO = "http://jabber.org/protocol/disco#info";
const X = "jabber:x:data";
const CONTACTS = {
  abuse: ["mailto:abuse@shakespeare.lit", "xmpp:abuse@shakespeare.lit"],
  admin: ["xmpp:admins@shakespeare.lit"],
  security: ["xmpp:security@shakespeare.lit"],
  status: ["https://status.shakespeare.lit"],
  support: ["https://shakespeare.lit/support.php", "xmpp:support@shakespeare.lit"],
};

/** Logs in, reads the caps hash from the stream features, binds, then asks disco#info (of `node`, if given). */
async function discover(t: TestServer, node?: string): Promise<{ ver: string; info: Element }> {
  const { c, features } = await RawClient.authenticated(t.port, "juliet", "pw");
  const ver = /<c [^>]*ver="([^"]+)"/.exec(features)![1]!;
  c.send(`<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>`);
  await c.expect(/<iq[^>]*id="bind"[\s\S]*?<\/iq>/);
  c.send(`<iq type='get' id='info' to='localhost'><query xmlns='${INFO}'${node ? ` node='${node.replace("VER", ver)}'` : ""}/></iq>`);
  const info = parse(await c.expect(/<iq[^>]*id="info"[\s\S]*?<\/iq>/)).getChild("query", INFO)!;
  c.close();
  return { ver, info };
}

/** The hash of a disco#info answer, recomputed as a client does (XEP-0115 §5.4). */
function hashOf(info: Element): string {
  const identities = info.getChildren("identity").map((i) => ({ category: i.attrs.category!, type: i.attrs.type!, name: i.attrs.name, lang: i.attrs["xml:lang"] }));
  return capsHash(identities, info.getChildren("feature").map((f) => f.attrs.var!), info.getChildren("x", X));
}

const values = (form: Element) => Object.fromEntries(form.getChildren("field").map((f) => [f.attrs.var, f.getChildren("value").map((v) => v.getText())]));

let withContacts: TestServer;
let without: TestServer;
beforeAll(async () => {
  [withContacts, without] = await Promise.all([
    startServer({ users: { juliet: "pw" }, config: { modules: { contact: CONTACTS } } }),
    startServer({ users: { juliet: "pw" } }),
  ]);
});
afterAll(() => Promise.all([withContacts.stop(), without.stop()]));

describe("contact addresses in the server's disco#info (XEP-0157 §2)", () => {
  it("one serverinfo form, the configured roles' addresses in order, roles without addresses left out", async () => {
    const { info } = await discover(withContacts);
    const forms = info.getChildren("x", X);
    expect(forms).toHaveLength(1);
    expect(forms[0]!.attrs.type).toBe("result");
    const fields = forms[0]!.getChildren("field");
    expect(fields[0]!.attrs).toMatchObject({ var: "FORM_TYPE", type: "hidden" });
    expect(values(forms[0]!)).toEqual({
      FORM_TYPE: ["http://jabber.org/network/serverinfo"],
      "abuse-addresses": CONTACTS.abuse,
      "admin-addresses": CONTACTS.admin,
      "security-addresses": CONTACTS.security,
      "status-addresses": CONTACTS.status,
      "support-addresses": CONTACTS.support,
    });
    expect(fields.slice(1).every((f) => f.attrs.type === "list-multi")).toBe(true);
  });

  it("a server with no addresses configured sends no form", async () => {
    expect((await discover(without)).info.getChildren("x", X)).toEqual([]);
  });
});

describe("the caps hash covers the form (XEP-0115 §5.1, §6.3)", () => {
  it("the announced ver is the hash of the disco#info answer, form included; without the form it would differ", async () => {
    const a = await discover(withContacts);
    expect(a.ver).toBe(hashOf(a.info));
    const formless = clone(a.info);
    formless.children = formless.children.filter((c) => typeof c === "string" || c.name !== "x");
    expect(hashOf(formless)).not.toBe(a.ver);
    const b = await discover(without);
    expect(b.ver).toBe(hashOf(b.info));
    expect(b.ver).not.toBe(a.ver);
  });

  it("disco#info of the caps node (node#ver) answers the same, form included", async () => {
    const { ver, info } = await discover(withContacts, `${CAPS_NODE}#VER`);
    expect(info.attrs.node).toBe(`${CAPS_NODE}#${ver}`);
    expect(hashOf(info)).toBe(ver);
    expect(info.getChildren("x", X)).toHaveLength(1);
  });
});

describe("configuration", () => {
  it("an address that is no URI stops the start, naming the option", async () => {
    await expect(startServer({ config: { modules: { contact: { abuse: ["abuse@shakespeare.lit"] } } } }))
      .rejects.toThrow(/modules\.contact\.abuse: 'abuse@shakespeare\.lit' is not a URI/);
  });
});
