// PEP (XEP-0163) from a client's side, shared by the pep, omemo and bookmarks tests: a client that
// announces its features through entity capabilities (XEP-0115) and answers the server's
// disco#info for them, and the pubsub requests and replies the tests read.
import { xml, type Element } from "../../src/xml/element.ts";
import { capsHash } from "../../src/modules/disco.ts";
import { connect, presence, type Im } from "./im.ts";
import { afterAll, beforeAll, expect } from "vitest";
import { startServer, type TestServer, type TestServerOptions } from "./server.ts";

export const PUBSUB = "http://jabber.org/protocol/pubsub";
export const OWNER = "http://jabber.org/protocol/pubsub#owner";
export const EVENT = "http://jabber.org/protocol/pubsub#event";
export const ERRORS = "http://jabber.org/protocol/pubsub#errors";
const DISCO_INFO = "http://jabber.org/protocol/disco#info";
const CAPS = "http://jabber.org/protocol/caps";

/** A form of the given FORM_TYPE, submitted. */
export function submit(formType: string, fields: Record<string, string | string[]>): Element {
  return xml("x", { xmlns: "jabber:x:data", type: "submit" },
    xml("field", { var: "FORM_TYPE", type: "hidden" }, xml("value", null, formType)),
    Object.entries(fields).map(([v, vals]) => xml("field", { var: v }, (Array.isArray(vals) ? vals : [vals]).map((x) => xml("value", null, x)))));
}

export const publishOptions = (fields: Record<string, string | string[]>) =>
  xml("publish-options", null, submit("http://jabber.org/protocol/pubsub#publish-options", fields));

export function publish(node: string, payload: Element | undefined, id?: string, options?: Element, to?: string): Element {
  return xml("iq", { type: "set", to }, xml("pubsub", { xmlns: PUBSUB }, xml("publish", { node }, xml("item", { id }, payload)), options));
}

export function items(node: string, to?: string, attrs: { max_items?: string } = {}, ...ids: string[]): Element {
  return xml("iq", { type: "get", to }, xml("pubsub", { xmlns: PUBSUB }, xml("items", { node, ...attrs }, ids.map((id) => xml("item", { id })))));
}

export function retract(node: string, id: string, notify?: string): Element {
  return xml("iq", { type: "set" }, xml("pubsub", { xmlns: PUBSUB }, xml("retract", { node, notify }, xml("item", { id }))));
}

export const owner = (type: "get" | "set", child: Element) => xml("iq", { type }, xml("pubsub", { xmlns: OWNER }, child));
export const configure = (node: string, fields: Record<string, string | string[]>) =>
  owner("set", xml("configure", { node }, submit("http://jabber.org/protocol/pubsub#node_config", fields)));

/** The items of a result (items query) or an event notification. */
export function itemsOf(el: Element): Element[] {
  const holder = el.getChild("pubsub", PUBSUB) ?? el.getChild("event", EVENT);
  return holder?.getChild("items")?.getChildren("item") ?? [];
}

/** The pubsub-specific condition of an error reply (pubsub#errors). */
export const pubsubCondition = (el: Element) => el.getChild("error")?.getChildElements().find((c) => c.attrs.xmlns === ERRORS)?.name;

/** An event notification about `node`. */
export const isEvent = (node: string, from?: string) => (el: Element) =>
  el.name === "message" && el.getChild("event", EVENT)?.getChildElements()[0]?.attrs.node === node && (from === undefined || el.attrs.from === from);

/**
 * A logged-in, available client whose caps (XEP-0115) say it wants notifications of `notify`
 * (NODE+notify) and that answers the server's disco#info about them. Resolves once the server
 * has asked and has the answer.
 */
export async function capsClient(t: TestServer, user: string, resource: string, notify: string[], name = "Test client"): Promise<Im> {
  const c = await connect(t, user, resource);
  const identities = [{ category: "client", type: "pc", name }];
  const features = [DISCO_INFO, ...notify.map((n) => `${n}+notify`)];
  const ver = capsHash(identities, features);
  c.xmpp.on("stanza", (iq: Element) => {
    const q = iq.getChild("query", DISCO_INFO);
    if (iq.name !== "iq" || iq.attrs.type !== "get" || !q) return;
    c.send(xml("iq", { type: "result", id: iq.attrs.id, to: iq.attrs.from },
      xml("query", { xmlns: DISCO_INFO, node: q.attrs.node }, identities.map((i) => xml("identity", i)), features.map((f) => xml("feature", { var: f })))));
  });
  c.send(presence({}, xml("c", { xmlns: CAPS, hash: "sha-1", node: "https://xmppd.test/client", ver })));
  await c.next((el) => el.name === "presence" && el.attrs.from === c.jid, "its own presence");
  // The server asks once per ver; after the first client, the answer is known already.
  await c.ask(xml("iq", { type: "get", to: "localhost" }, xml("ping", { xmlns: "urn:xmpp:ping" })));
  await c.ask(xml("iq", { type: "get", to: "localhost" }, xml("ping", { xmlns: "urn:xmpp:ping" })));
  return c;
}

/** An iq reply that must be a result; returned for further checks. */
export function ok(el: Element): Element {
  expect(el.attrs.type, el.toString()).toBe("result");
  return el;
}

/**
 * The fixture of a PEP test file: one server for the file, and caps-announcing clients (capsClient)
 * that are all stopped, with the server, when the file is done.
 */
export function pepFixture(opts: TestServerOptions = {}, captionByResource = false) {
  let server: TestServer | undefined;
  const open: Im[] = [];
  beforeAll(async () => {
    server = await startServer(opts);
  });
  afterAll(async () => {
    await Promise.all(open.map((c) => c.stop().catch(() => {})));
    await server?.stop();
  });
  return {
    get server(): TestServer {
      return server!;
    },
    async client(user: string, resource: string, notify: string[] = []): Promise<Im> {
      const c = await capsClient(server!, user, resource, notify, captionByResource ? resource : undefined);
      open.push(c);
      return c;
    },
  };
}
