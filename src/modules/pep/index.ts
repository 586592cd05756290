// XEP-0163: Personal Eventing Protocol, the subset of XEP-0060 (Publish-Subscribe) every account
// offers on its bare JID, with XEP-0223's publish-options. What OMEMO (XEP-0384), avatars
// (XEP-0084), bookmarks (XEP-0402) and user tune/mood/location keep on the server.
//   service.ts  the requests (publish, retract, items, create; owner: configure, default, delete, purge)
//               and PEP's policy for the node engine shared with the pubsub service (../pubsub/)
//   notify.ts   access models, who gets event notifications, the last item at presence
//   caps.ts     XEP-0115: which nodes a client wants (+notify), asked once per caps hash
import { tryParseJid } from "../../xml/jid.ts";
import { defineModule } from "../../core/module.ts";
import type { StorageProvider } from "../../storage/types.ts";
import { int } from "../../core/schema.ts";
import type { StanzaEvent } from "../../core/events.ts";
import { isAvailable } from "../../core/session.ts";
import { ACCOUNT_DISCO } from "../disco.ts";
import { ROSTER } from "../roster/service.ts";
import type { NodeConfig } from "../pubsub/config.ts";
import { PUBSUB } from "../pubsub/ns.ts";
import { NodeStore, type StoredItem } from "../pubsub/store.ts";
import { CapsCache, CLIENT_FEATURES, infoRequest, notifyNodes, NOTIFY_NODES, parseCaps } from "./caps.ts";
import { RemoteInterest } from "./remote.ts";
import { sendLastItems, sendLastItemsTo, type PepEnv } from "./notify.ts";
import { PEP, PepService } from "./service.ts";

/** The nodes of every account's PEP service, in the stores they have in storage (the import and export use them too). */
export function pepNodes(storage: Pick<StorageProvider, "map">): NodeStore {
  return new NodeStore(storage.map<NodeConfig>("pep.nodes"), storage.map<StoredItem>("pep.items"));
}

/** The XEP-0060 features that work here, each covered by test/integration/pep.test.ts. */
const FEATURES = [
  "publish", "publish-options", "retract-items", "delete-items", "retrieve-items", "auto-create", "create-nodes",
  "last-published", "config-node", "access-open", "access-presence", "access-roster", "access-whitelist",
  "delete-nodes", "purge-nodes", "item-ids", "persistent-items", "retrieve-default",
  // XEP-0163 §5: contacts with a presence subscription are subscribed implicitly, and told only
  // of the nodes their client's caps name (NODE+notify).
  "auto-subscribe", "filtered-notifications",
];

export default defineModule({
  name: "pep",
  specs: [{ spec: "XEP-0060", version: "1.30.0" }, { spec: "XEP-0163", version: "1.2.2" }, { spec: "XEP-0223", version: "1.1.1" }, { spec: "XEP-0384", version: "0.9.1" }, { spec: "XEP-0402", version: "1.2.0" },
    { spec: "XEP-0084", version: "1.1.4" }, { spec: "XEP-0172", version: "1.1" }, { spec: "XEP-0292", version: "0.12.0" }],
  depends: ["roster", "disco"],
  options: {
    maxItems: int("Items one node keeps at most (what max_items 'max' means).", 256, 1, 100_000),
    maxItemSize: int("Bytes of one item's payload (avatars are the large ones).", 262_144, 1024),
    maxNodes: int("Nodes one account may have.", 256, 1),
    capsTimeout: int("Milliseconds to wait for a client's disco#info answer (XEP-0115).", 10_000, 100),
  },
  setup(ctx) {
    const store = pepNodes(ctx);
    const remote = new RemoteInterest();
    const env: PepEnv = { hosted: (d) => ctx.hosts.has(d), sessions: ctx.sessions, send: ctx.send, ids: ctx.ids, store, roster: ctx.use(ROSTER), remote };
    const service = new PepService(env, { items: ctx.options.maxItems, itemSize: ctx.options.maxItemSize, nodes: ctx.options.maxNodes });
    // Asked from the client's own host when it is ours (a contact elsewhere: from the configuration's domain).
    const caps = new CapsCache((to, node) => {
      const domain = tryParseJid(to)?.domain;
      return ctx.request(infoRequest(domain !== undefined && ctx.hosts.has(domain) ? domain : ctx.domain.toString(), to, node), ctx.options.capsTimeout);
    });

    ctx.provideEach(PEP, (user) => service.api(user));
    ctx.accountIdentity({ category: "pubsub", type: "pep" });
    for (const f of FEATURES) ctx.accountFeature(`${PUBSUB.main}#${f}`);
    // XEP-0163 1.1 (§6.1) had clients ask their server's domain whether it supports PEP, and
    // clients still do: Smack's OmemoManager.serverSupportsOmemo and OpenPgpManager look for
    // the pubsub features there. Prosody and ejabberd answer it too. The account's bare JID
    // (1.2, §6.1) stays the place that lists them; the domain repeats them.
    ctx.identity({ category: "pubsub", type: "pep" });
    ctx.feature(PUBSUB.main);
    for (const f of FEATURES) ctx.feature(`${PUBSUB.main}#${f}`);
    ctx.iq("account", PUBSUB.main, "pubsub", { get: service.get, set: service.set });
    ctx.use(ACCOUNT_DISCO).setNodes(service.disco);
    ctx.iq("account", PUBSUB.owner, "pubsub", { get: service.ownerGet, set: service.ownerSet });

    // XEP-0163 §4.2-4.3: a client's caps say which nodes it wants; when they change (or at its
    // initial presence) it gets the last item of each. Not awaited: the disco#info answer comes
    // on the same stream, after this presence.
    ctx.handle("presence/broadcast", (ev) => {
      const session = ev.origin;
      const c = session && isAvailable(session) ? parseCaps(ev.stanza) : undefined;
      if (!session || !c || session.get(CLIENT_FEATURES)?.ver === c.ver) return;
      void (async () => {
        const features = await caps.features(session.jid.toString(), c);
        if (!isAvailable(session)) return;
        session.set(CLIENT_FEATURES, { ver: c.ver, features });
        session.set(NOTIFY_NODES, notifyNodes(features));
        await sendLastItems(env, session);
      })().catch((err: unknown) => session.log.error({ err }, "pep: last items not sent"));
    }, "late");

    // The same for a contact's resource on another server, from the presence it sends an account.
    const remotePresence = (ev: StanzaEvent): false => {
      if (ev.origin || !ctx.foreign(ev.from.domain) || ev.from.resource === "" || ev.to.local === "") return false;
      const type = ev.stanza.attrs.type;
      if (type === "unavailable") remote.delete(ev.to, ev.from);
      else if (type === undefined) {
        const c = parseCaps(ev.stanza);
        if (!c) return false;
        void (async () => {
          const nodes = notifyNodes(await caps.features(ev.from.toString(), c));
          remote.set(ev.to, ev.from, nodes);
          await sendLastItemsTo(env, ev.to.bare, ev.from, nodes);
        })().catch((err: unknown) => ctx.log.error({ err }, "pep: a remote contact's caps not read"));
      }
      return false;
    };
    ctx.handle("presence/bare", remotePresence, "early");
    ctx.handle("presence/full", remotePresence, "early");

    ctx.on("account/deleted", ({ jid }) => {
      remote.forget(jid);
      return store.deleteAll(jid.toString());
    });
  },
});
