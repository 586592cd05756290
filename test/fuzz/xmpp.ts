// Generators of stanzas aimed at what the server's modules read: each payload is in the shape a
// XEP gives it (element names, attributes, children), with values drawn from what breaks parsers:
// JIDs valid and not, numbers out of range, dates and booleans that are not, empty and long
// strings, data forms and result-set requests with anything in them.
import fc from "fast-check";
import { type Element, xml } from "../../src/xml/element.ts";
import { attrValue, xmlText } from "./xml.ts";

const jids = ["localhost", "fuzz0@localhost", "fuzz1@localhost/r", "alice@localhost", "nobody@localhost", "room@conference.localhost",
  "room@conference.localhost/nick", "conference.localhost", "pubsub.localhost", "upload.localhost", "remote.example", "a@remote.example/x",
  "", "@", "not a jid", "x@@y", "LOCALHOST", "é@localhost", "[::1]"];
const numbers = ["0", "1", "-1", "10", "4294967296", "99999999999999999999", "1.5", "1e3", "0x10", "abc", "", " 5", "NaN"];
const misc = ["true", "false", "1", "0", "yes", "2020-01-01T00:00:00Z", "1970-01-01", "garbage-date", "current", "node", "a/b", "x".repeat(600)];

/** A value for an attribute or a text node: one of the tricky ones above, or anything. */
export const value: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...jids, ...numbers, ...misc) },
  { weight: 1, arbitrary: attrValue(16) },
);

const FORM = "jabber:x:data";
const RSM = "http://jabber.org/protocol/rsm";

/** A jabber:x:data form of any type with fields a service may read. */
export const form: fc.Arbitrary<Element> = fc.tuple(
  fc.constantFrom("submit", "form", "cancel", "result", "bogus"),
  fc.array(fc.tuple(fc.constantFrom("FORM_TYPE", "with", "start", "end", "before-id", "after-id", "ids", "{urn:xmpp:fulltext:0}fulltext",
    "muc#roomconfig_roomname", "muc#roomconfig_persistentroom", "muc#roomconfig_maxusers", "muc#roomconfig_whois", "muc#roomconfig_membersonly",
    "pubsub#max_items", "pubsub#access_model", "pubsub#publish_model", "pubsub#persist_items", "pubsub#notify_retract", "secret", "endpoint",
    "accountjid", "password", "username", "max_items", "", "x"),
  fc.array(value, { maxLength: 3 }), fc.option(fc.constantFrom("hidden", "boolean", "jid-multi", "text-single", "list-single"), { nil: undefined })), { maxLength: 6 }),
).map(([type, fields]) => xml("x", { xmlns: FORM, type }, fields.map(([v, values, t]) => xml("field", { var: v, type: t }, values.map((x) => xml("value", null, x))))));

/** A XEP-0059 <set/> with anything in it. */
export const rsm: fc.Arbitrary<Element> = fc.array(fc.tuple(fc.constantFrom("max", "after", "before", "index", "first", "last"), fc.option(value, { nil: "" })), { maxLength: 4 })
  .map((kids) => xml("set", { xmlns: RSM }, kids.map(([n, t]) => xml(n, null, t))));

interface PayloadSpec {
  ns: string;
  name: string;
  /** Where it is sent: no 'to' (the account), or these. */
  to: (string | undefined)[];
  attrs?: string[];
  /** Child element names, each with attribute names it may carry. */
  children?: Record<string, string[]>;
  forms?: boolean;
  rsm?: boolean;
}

const SPECS: PayloadSpec[] = [
  { ns: "jabber:iq:roster", name: "query", to: [undefined], attrs: ["ver"], children: { item: ["jid", "name", "subscription", "ask", "approved"], group: [] } },
  { ns: "urn:xmpp:mam:2", name: "query", to: [undefined, "room@conference.localhost", "pubsub.localhost"], attrs: ["queryid", "node"], forms: true, rsm: true, children: { "flip-page": [] } },
  { ns: "urn:xmpp:mam:2", name: "prefs", to: [undefined], attrs: ["default"], children: { always: [], never: [], jid: [] } },
  { ns: "urn:xmpp:mam:2", name: "metadata", to: [undefined] },
  { ns: "jabber:iq:private", name: "query", to: [undefined, "alice@localhost"], children: { storage: ["xmlns"], "exodus": ["xmlns"] } },
  { ns: "vcard-temp", name: "vCard", to: [undefined, "localhost", "alice@localhost"], children: { FN: [], PHOTO: [], BINVAL: [], TYPE: [], NICKNAME: [] } },
  { ns: "urn:xmpp:blocking", name: "block", to: [undefined], children: { item: ["jid"] } },
  { ns: "urn:xmpp:blocking", name: "unblock", to: [undefined], children: { item: ["jid"] } },
  { ns: "urn:xmpp:blocking", name: "blocklist", to: [undefined] },
  { ns: "urn:xmpp:push:0", name: "enable", to: [undefined], attrs: ["jid", "node"], forms: true },
  { ns: "urn:xmpp:push:0", name: "disable", to: [undefined], attrs: ["jid", "node"] },
  { ns: "urn:xmpp:carbons:2", name: "enable", to: [undefined] },
  { ns: "urn:xmpp:carbons:2", name: "disable", to: [undefined] },
  { ns: "http://jabber.org/protocol/pubsub", name: "pubsub", to: [undefined, "pubsub.localhost", "alice@localhost"],
    children: { publish: ["node"], item: ["id", "publisher"], items: ["node", "max_items", "subid"], subscribe: ["node", "jid"], unsubscribe: ["node", "jid", "subid"],
      create: ["node"], configure: ["node"], retract: ["node", "notify"], options: ["node", "jid"], subscriptions: ["node"], affiliations: ["node"], "publish-options": [] }, forms: true, rsm: true },
  { ns: "http://jabber.org/protocol/pubsub#owner", name: "pubsub", to: [undefined, "pubsub.localhost"],
    children: { delete: ["node"], purge: ["node"], configure: ["node"], subscriptions: ["node"], affiliations: ["node"], subscription: ["jid", "subscription"], affiliation: ["jid", "affiliation"], default: [] }, forms: true },
  { ns: "http://jabber.org/protocol/disco#info", name: "query", to: [undefined, "localhost", "pubsub.localhost", "conference.localhost", "room@conference.localhost", "alice@localhost"], attrs: ["node"] },
  { ns: "http://jabber.org/protocol/disco#items", name: "query", to: [undefined, "localhost", "pubsub.localhost", "conference.localhost", "room@conference.localhost"], attrs: ["node"], rsm: true },
  { ns: "http://jabber.org/protocol/commands", name: "command", to: ["localhost"], attrs: ["node", "action", "sessionid"], forms: true, children: { actions: [] } },
  { ns: "jabber:iq:register", name: "query", to: [undefined, "localhost", "conference.localhost"], children: { username: [], password: [], remove: [], email: [] }, forms: true },
  { ns: "urn:xmpp:http:upload:0", name: "request", to: ["upload.localhost"], attrs: ["filename", "size", "content-type"] },
  { ns: "http://jabber.org/protocol/muc#owner", name: "query", to: ["room@conference.localhost", "conference.localhost"], forms: true, children: { destroy: ["jid"], reason: [] } },
  { ns: "http://jabber.org/protocol/muc#admin", name: "query", to: ["room@conference.localhost"], children: { item: ["affiliation", "role", "jid", "nick"], reason: [] } },
  { ns: "http://jabber.org/protocol/bytestreams", name: "query", to: ["proxy.localhost", "localhost"], attrs: ["sid", "mode"], children: { activate: [], streamhost: ["jid", "host", "port"] } },
  { ns: "urn:xmpp:extdisco:2", name: "services", to: ["localhost"], attrs: ["type"] },
  { ns: "urn:xmpp:extdisco:2", name: "credentials", to: ["localhost"], children: { service: ["host", "type", "port"] } },
  { ns: "jabber:iq:last", name: "query", to: ["localhost", "alice@localhost", undefined] },
  { ns: "urn:xmpp:time", name: "time", to: ["localhost"] },
  { ns: "jabber:iq:version", name: "query", to: ["localhost"] },
  { ns: "urn:xmpp:ping", name: "ping", to: ["localhost", undefined, "conference.localhost"] },
];

const child = (name: string, attrNames: string[]): fc.Arbitrary<Element> => fc.tuple(
  fc.subarray(attrNames).chain((names) => fc.tuple(...names.map((n) => value.map((v) => [n, n === "xmlns" ? `urn:${v.replace(/\W/g, "")}` : v] as const)))),
  fc.option(xmlText(20), { nil: undefined }),
  fc.array(fc.constantFrom("item", "value", "group", "x", "body"), { maxLength: 2 }),
).map(([attrs, text, kids]) => xml(name, Object.fromEntries(attrs), text, kids.map((k) => xml(k, null, "v"))));

/** A payload in the shape `spec` gives, with its values fuzzed. */
function payload(spec: PayloadSpec): fc.Arbitrary<{ el: Element; to: string | undefined }> {
  const kids = Object.entries(spec.children ?? {});
  return fc.tuple(
    fc.constantFrom(...spec.to),
    fc.subarray(spec.attrs ?? []).chain((names) => fc.tuple(...names.map((n) => value.map((v) => [n, v] as const)))),
    kids.length === 0 ? fc.constant([] as Element[]) : fc.array(fc.oneof(...kids.map(([n, a]) => child(n, a))), { maxLength: 4 }),
    spec.forms ? fc.option(form, { nil: undefined }) : fc.constant(undefined),
    spec.rsm ? fc.option(rsm, { nil: undefined }) : fc.constant(undefined),
  ).map(([to, attrs, children, x, set]) => ({ to, el: xml(spec.name, { xmlns: spec.ns, ...Object.fromEntries(attrs) }, children, x, set) }));
}

/** An iq get or set to a module, its payload fuzzed within its XEP's shape. */
export const moduleIq: fc.Arbitrary<Element> = fc.tuple(fc.constantFrom(...SPECS).chain(payload), fc.constantFrom("get", "set"), fc.nat(1_000_000))
  .map(([{ el, to }, type, n]) => xml("iq", { type, id: `m${n}`, to }, el));

/** Presence and messages to rooms, services and contacts, with the elements XEP-0045 and RFC 6121 read. */
export const moduleStanza: fc.Arbitrary<Element> = fc.oneof(
  fc.tuple(fc.constantFrom("room@conference.localhost/nick", "room@conference.localhost/", "other@conference.localhost/é", "conference.localhost/x", "room@conference.localhost"),
    fc.option(fc.constantFrom("unavailable", "subscribe", "probe", "error", "bogus"), { nil: undefined }),
    fc.array(fc.oneof(child("history", ["maxstanzas", "maxchars", "seconds", "since"]), child("password", []), child("show", []), child("priority", [])), { maxLength: 3 }))
    .map(([to, type, kids]) => xml("presence", { to, type }, xml("x", { xmlns: "http://jabber.org/protocol/muc" }, kids.filter((k) => k.name !== "show" && k.name !== "priority")),
      kids.filter((k) => k.name === "show" || k.name === "priority"))),
  fc.tuple(fc.constantFrom("alice@localhost", "fuzz0@localhost", "nobody@localhost", "remote.example"),
    fc.constantFrom("subscribe", "subscribed", "unsubscribe", "unsubscribed", "probe", "unavailable", undefined))
    .map(([to, type]) => xml("presence", { to, type })),
  fc.tuple(fc.constantFrom("room@conference.localhost", "room@conference.localhost/nick", "alice@localhost", "alice@localhost/home", "localhost", "pubsub.localhost"),
    fc.constantFrom("chat", "groupchat", "normal", "headline", "error", undefined),
    fc.array(fc.oneof(child("body", []), child("subject", []), child("thread", ["parent"]),
      fc.tuple(fc.constantFrom("invite", "decline"), value).map(([n, j]) => xml("x", { xmlns: "http://jabber.org/protocol/muc#user" }, xml(n, { to: j, from: j }, xml("reason", null, "r")))),
      fc.constantFrom("urn:xmpp:receipts", "urn:xmpp:chat-markers:0", "urn:xmpp:hints", "urn:xmpp:sid:0", "urn:xmpp:carbons:2", "urn:xmpp:jingle-message:0")
        .chain((ns) => child(ns === "urn:xmpp:sid:0" ? "stanza-id" : ns === "urn:xmpp:jingle-message:0" ? "propose" : "request", ["id", "by"]).map((e) => {
          e.attrs.xmlns = ns;
          return e;
        }))), { maxLength: 4 }))
    .map(([to, type, kids]) => xml("message", { to, type, id: "msg" }, kids)),
);
