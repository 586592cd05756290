// What OMEMO (XEP-0384) needs from the server, over real sockets with the stanzas the clients send
// (written from XEP-0384's examples, in both namespaces): the legacy one Conversations uses
// (eu.siacs.conversations.axolotl: a devicelist node and one bundles:DEVICEID node per device)
// and OMEMO 2 (urn:xmpp:omemo:2: a devices node and one bundles node with an item per device,
// max_items=max). Both are published with publish-options pubsub#access_model=open, so that a
// stranger (a MUC occupant, a new contact) can fetch the bundles; the server stores them as opaque XML.
import { describe, expect, it } from "vitest";
import { xml, type Element } from "../../src/xml/element.ts";
import { accounts, errorOf, given } from "../helpers/im.ts";
import { ok, pepFixture, configure, isEvent, items, itemsOf, publish, publishOptions, pubsubCondition } from "../helpers/pep.ts";

const AXOLOTL = "eu.siacs.conversations.axolotl";
const DEVICELIST = `${AXOLOTL}.devicelist`;
const OMEMO2 = "urn:xmpp:omemo:2";
const DEVICES = `${OMEMO2}:devices`;
const BUNDLES = `${OMEMO2}:bundles`;
const OPEN = { "pubsub#access_model": "open" };

const legacyList = (...ids: string[]) => xml("list", { xmlns: AXOLOTL }, ids.map((id) => xml("device", { id })));
const legacyBundle = (n: string) => xml("bundle", { xmlns: AXOLOTL },
  xml("signedPreKeyPublic", { signedPreKeyId: "1" }, `BWkpsOqAmTEEUvk5SiqhjmYWyfWOlU2OBbKOgC+jVh5Q${n}`),
  xml("signedPreKeySignature", null, "x4y+5yzqSpLaFuL6HWPTHDBNaoUwd+L+RdF5Vu3R9nXvh3/3X+dr+YJR1W1d4A=="),
  xml("identityKey", null, `BbYTDjeZ4LT1NQYmULrmMgZ9eUIjypXNTAJiA0yPBcdN${n}`),
  xml("prekeys", null, ["1", "2", "3"].map((id) => xml("preKeyPublic", { preKeyId: id }, `BQ8bEGKhQsqpdZRm6T9iHuNvCDypMMqx1z5Yhe2M1${id}`))));
const devices = (...ids: string[]) => xml("devices", { xmlns: OMEMO2 }, ids.map((id) => xml("device", { id, label: "Gajim on Ubuntu" })));
const bundle2 = (n: string) => xml("bundle", { xmlns: OMEMO2 },
  xml("spk", { id: "0" }, `Wa/${n}spkKw=`), xml("spks", null, "U4Oa2nNQUpk="), xml("ik", null, `i${n}k=`),
  xml("prekeys", null, ["1", "2"].map((id) => xml("pk", { id }, `p${id}k=`))));

const fixture = pepFixture({}, true);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const client = (user: string, resource: string, notify: string[] = []) => fixture.client(user, resource, notify);

describe("legacy OMEMO (eu.siacs.conversations.axolotl), as Conversations does it", () => {
  it("Alice publishes her device list and bundle open; Bob, her contact, is told; Mallory, a stranger, fetches both", async () => {
    const [alice, bob, mallory] = (await accounts(fixture.server, "alice", "bob", "mallory")) as [string, string, string];
    await given(fixture.server, alice, bob, "both");
    await given(fixture.server, bob, alice, "both");
    const a = await client(alice, "Conversations.phone", [DEVICELIST]);
    const b = await client(bob, "Conversations.tablet", [DEVICELIST]);
    const m = await client(mallory, "Conversations.x", [DEVICELIST]);

    ok(await a.ask(publish(`${AXOLOTL}.bundles:1234`, legacyBundle("A"), "current", publishOptions(OPEN))));
    ok(await a.ask(publish(DEVICELIST, legacyList("1234"), "current", publishOptions(OPEN))));

    const ev = await b.next(isEvent(DEVICELIST, `${alice}@localhost`), "Alice's device list");
    expect(itemsOf(ev)[0]!.getChild("list", AXOLOTL)!.getChildren("device").map((d) => d.attrs.id)).toEqual(["1234"]);
    await a.next(isEvent(DEVICELIST, `${alice}@localhost`), "her own device list");
    await m.nothing(isEvent(DEVICELIST));

    // A stranger fetches the list and the bundle (open access model), byte for byte as published.
    const list = ok(await m.ask(items(DEVICELIST, `${alice}@localhost`)));
    expect(itemsOf(list)[0]!.getChild("list", AXOLOTL)!.toString()).toBe(legacyList("1234").toString());
    const got = ok(await m.ask(items(`${AXOLOTL}.bundles:1234`, `${alice}@localhost`, { max_items: "1" })));
    expect(itemsOf(got)[0]!.getChild("bundle", AXOLOTL)!.toString()).toBe(legacyBundle("A").toString());
    // A device that never published a bundle: item-not-found, which the clients take as "no such device".
    expect(errorOf(await m.ask(items(`${AXOLOTL}.bundles:999`, `${alice}@localhost`)))).toBe("item-not-found");

    // A second device: the new list replaces the old (one item, id 'current').
    ok(await a.ask(publish(DEVICELIST, legacyList("1234", "5678"), "current", publishOptions(OPEN))));
    const ev2 = await b.next(isEvent(DEVICELIST, `${alice}@localhost`), "the new list");
    expect(itemsOf(ev2)[0]!.getChild("list")!.getChildren("device").map((d) => d.attrs.id)).toEqual(["1234", "5678"]);
    expect(itemsOf(ok(await m.ask(items(DEVICELIST, `${alice}@localhost`))))).toHaveLength(1);
  });

  it("a list node made earlier with the presence model: precondition-not-met, then the client reconfigures it open and publishes again", async () => {
    const [carol, mallory] = (await accounts(fixture.server, "carol", "mallory")) as [string, string];
    const c = await client(carol, "Conversations.phone");
    const m = await client(mallory, "Conversations.x");
    ok(await c.ask(publish(DEVICELIST, legacyList("42"), "current")));
    expect(errorOf(await m.ask(items(DEVICELIST, `${carol}@localhost`)))).toBe("not-authorized");

    const refused = await c.ask(publish(DEVICELIST, legacyList("42", "43"), "current", publishOptions(OPEN)));
    expect([errorOf(refused), pubsubCondition(refused)]).toEqual(["conflict", "precondition-not-met"]);
    ok(await c.ask(configure(DEVICELIST, OPEN)));
    ok(await c.ask(publish(DEVICELIST, legacyList("42", "43"), "current", publishOptions(OPEN))));
    expect(itemsOf(ok(await m.ask(items(DEVICELIST, `${carol}@localhost`))))[0]!.getChild("list")!.getChildren("device")).toHaveLength(2);
  });

  it("Bob's client logs in later: it gets Alice's current device list at once (the last item)", async () => {
    const [alice, bob] = (await accounts(fixture.server, "alice", "bob")) as [string, string];
    await given(fixture.server, alice, bob, "both");
    await given(fixture.server, bob, alice, "both");
    const a = await client(alice, "Conversations.phone");
    ok(await a.ask(publish(DEVICELIST, legacyList("777"), "current", publishOptions(OPEN))));
    const b = await client(bob, "Conversations.tablet", [DEVICELIST]);
    const ev = await b.next(isEvent(DEVICELIST, `${alice}@localhost`), "Alice's last device list");
    expect(itemsOf(ev)[0]!.getChild("list")!.getChild("device")!.attrs.id).toBe("777");
  });
});

describe("OMEMO 2 (urn:xmpp:omemo:2), as XEP-0384 §5.3 shows it", () => {
  it("bundles of several devices live in one node (max_items=max), fetched by item id", async () => {
    const [dana, erin] = (await accounts(fixture.server, "dana", "erin")) as [string, string];
    await given(fixture.server, dana, erin, "both");
    await given(fixture.server, erin, dana, "both");
    const d1 = await client(dana, "gajim", [DEVICES]);
    const d2 = await client(dana, "kaidan", [DEVICES]);
    const e = await client(erin, "dino", [DEVICES]);
    const bundleOptions = publishOptions({ "pubsub#max_items": "max", ...OPEN });

    ok(await d1.ask(publish(BUNDLES, bundle2("one"), "31415", bundleOptions)));
    ok(await d1.ask(publish(DEVICES, devices("31415"), "current", publishOptions(OPEN))));
    ok(await d2.ask(publish(BUNDLES, bundle2("two"), "27182", bundleOptions)));
    ok(await d2.ask(publish(DEVICES, devices("31415", "27182"), "current", publishOptions(OPEN))));

    // Erin hears both lists; the last one names both devices.
    await e.next(isEvent(DEVICES, `${dana}@localhost`), "the first list");
    const last = await e.next(isEvent(DEVICES, `${dana}@localhost`), "the second list");
    expect(itemsOf(last)[0]!.getChild("devices", OMEMO2)!.getChildren("device").map((x) => x.attrs.id)).toEqual(["31415", "27182"]);
    // Bundles: one item per device, by id; both kept.
    const one = ok(await e.ask(items(BUNDLES, `${dana}@localhost`, {}, "31415")));
    expect(itemsOf(one).map((i) => i.attrs.id)).toEqual(["31415"]);
    expect(itemsOf(one)[0]!.getChild("bundle", OMEMO2)!.getChildText("ik")).toBe("ionek=");
    expect(itemsOf(ok(await e.ask(items(BUNDLES, `${dana}@localhost`)))).map((i) => i.attrs.id)).toEqual(["31415", "27182"]);
    // The bundles node with a different max_items: the XEP says the publication fails (and the client reconfigures).
    const refused = await d1.ask(publish(BUNDLES, bundle2("x"), "31415", publishOptions({ "pubsub#max_items": "1", ...OPEN })));
    expect([errorOf(refused), pubsubCondition(refused)]).toEqual(["conflict", "precondition-not-met"]);
  });
});

describe("Smack's OMEMO (smack-omemo 4.5), the stanzas its integration tests exchange", () => {
  const MAM = "urn:xmpp:mam:2";
  const encrypted = (payload: boolean) => xml("encrypted", { xmlns: AXOLOTL },
    xml("header", { sid: "1116348017" }, xml("key", { rid: "598751937", prekey: "true" }, "MwgOEiEFosLmHdd="), xml("iv", null, "LWsLA+v+Aaiihp2l")),
    payload && xml("payload", null, "8oclfq/NroopXitFaNAJ/Yiqej+dqrj5T90pmIrJIIuO2wU="));
  // OmemoMessage.Sent.buildMessage: a chat message with the payload, a fallback body, <store/> and EME.
  const message = (to: string, id: string) => xml("message", { to, id, type: "chat" }, encrypted(true),
    xml("body", null, "I sent you an OMEMO encrypted message but your client doesn't seem to support that."),
    xml("store", { xmlns: "urn:xmpp:hints" }), xml("encryption", { xmlns: "urn:xmpp:eme:0", namespace: AXOLOTL, name: "OMEMO" }));
  // OmemoService.sendRatchetUpdate (completing a session): no type, no body, no hint, a key and no payload.
  const ratchetUpdate = (to: string, id: string) => xml("message", { to, id }, encrypted(false));
  const withId = (id: string) => (el: Element) => el.name === "message" && el.attrs.id === id;

  it("Bob finds Alice's device list node (disco#info), gets her message and her key transports online and offline; his archive keeps only the message", async () => {
    const [alice, bob] = (await accounts(fixture.server, "alice", "bob")) as [string, string];
    await given(fixture.server, alice, bob, "both");
    await given(fixture.server, bob, alice, "both");
    const a = await client(alice, "smack-a", [DEVICELIST]);
    let b = await client(bob, "smack-b", [DEVICELIST]);
    ok(await a.ask(publish(DEVICELIST, legacyList("1116348017"), "current")));

    // PubSubManager.getNode: the node's identity before its items (OmemoService.fetchDeviceList).
    const info = ok(await b.ask(xml("iq", { type: "get", to: `${alice}@localhost` }, xml("query", { xmlns: "http://jabber.org/protocol/disco#info", node: DEVICELIST }))));
    expect(info.getChild("query")!.getChildren("identity").map((i) => `${i.attrs.category}/${i.attrs.type}`)).toEqual(["pubsub/leaf"]);

    a.send(message(`${bob}@localhost`, "m1"));
    expect((await b.next(withId("m1"), "the message")).getChild("encrypted", AXOLOTL)!.getChild("payload")).toBeDefined();
    a.send(ratchetUpdate(`${bob}@localhost`, "k1"));
    expect((await b.next(withId("k1"), "the key transport")).getChild("encrypted", AXOLOTL)!.getChild("header")).toBeDefined();

    await b.stop();
    a.send(ratchetUpdate(`${bob}@localhost`, "k2"));
    await sleep(200);
    b = await client(bob, "smack-b2", [DEVICELIST]);
    expect((await b.next(withId("k2"), "the key transport stored offline")).getChild("delay", "urn:xmpp:delay")).toBeDefined();

    const queryid = "omemo-with-alice";
    const form = xml("x", { xmlns: "jabber:x:data", type: "submit" },
      xml("field", { var: "FORM_TYPE", type: "hidden" }, xml("value", null, MAM)),
      xml("field", { var: "with" }, xml("value", null, `${alice}@localhost`)));
    ok(await b.ask(xml("iq", { type: "set" }, xml("query", { xmlns: MAM, queryid }, form))));
    const archived = b.inbox.filter((m) => m.getChild("result", MAM)?.attrs.queryid === queryid)
      .map((r) => r.getChild("result", MAM)!.getChild("forwarded")!.getChild("message")!.attrs.id);
    expect(archived).toEqual(["m1"]);
  });
});
