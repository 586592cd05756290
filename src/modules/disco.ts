// XEP-0030: Service Discovery for the server and for accounts, with the server's XEP-0115
// capabilities hash offered as a stream feature (XEP-0115 §6.3) so clients can cache our features.
// Modules add extension forms to the server's disco#info (XEP-0128, ModuleContext.discoExtension),
// such as XEP-0157's contact addresses; the hash covers them.
// Other modules add nodes of the server (ModuleContext.hostNode), e.g. the ad-hoc command list,
// and one module may answer for the nodes of accounts (ACCOUNT_NODES: PEP's).
import { createHash } from "node:crypto";
import { clone, xml, type Element } from "../xml/element.ts";
import { NS } from "../xml/ns.ts";
import type { JID } from "../xml/jid.ts";
import type { DiscoItem, DiscoNode, DiscoView, Identity } from "../core/disco.ts";
import { defineModule, serviceKey } from "../core/module.ts";
import { StanzaError } from "../core/errors.ts";

/**
 * The nodes of an account's bare JID (XEP-0030 §3.2, §4.2), for one requester: XEP-0060 §5.2-5.5
 * on PEP's nodes. Each answer throws a StanzaError (item-not-found, or the access model's error)
 * for a node the requester may not see.
 */
export interface AccountNodes {
  info(owner: JID, node: string, requester: JID): Promise<{ identities: Identity[]; features: string[] }>;
  /** The account's nodes the requester may see (no node), or a node's items. */
  items(owner: JID, node: string | undefined, requester: JID): Promise<DiscoItem[]>;
}

/** Where the module that owns accounts' nodes registers them (one at a time), until it unloads. */
export interface AccountDisco {
  setNodes(nodes: AccountNodes): void;
}

export const ACCOUNT_DISCO = serviceKey<AccountDisco>("disco.account");

export const CAPS_NODE = "https://xmppd.dev/caps";

/**
 * XEP-0115 §5.1: the verification string over identities ("category/type/lang/name"), features
 * and extension forms (XEP-0128: FORM_TYPE first, then the fields by var, each with its values
 * sorted), SHA-1, base64.
 */
export function capsHash(identities: readonly Identity[], features: string[], forms: readonly Element[] = []): string {
  let s = "";
  const ids = identities.map((i) => `${i.category}/${i.type}/${i.lang ?? ""}/${i.name ?? ""}`).sort();
  for (const i of ids) s += i + "<";
  for (const f of [...features].sort()) s += f + "<";
  const formStrings = forms.map((form) => {
    const fields = form.getChildren("field");
    const type = fields.find((f) => f.attrs.var === "FORM_TYPE")?.getChildText("value") ?? "";
    let out = type + "<";
    for (const f of fields.filter((f) => f.attrs.var !== "FORM_TYPE").sort((a, b) => (a.attrs.var! < b.attrs.var! ? -1 : 1))) {
      out += f.attrs.var + "<";
      for (const v of f.getChildren("value").map((v) => v.getText()).sort()) out += v + "<";
    }
    return { type, out };
  }).sort((a, b) => (a.type < b.type ? -1 : 1));
  for (const f of formStrings) s += f.out;
  return createHash("sha1").update(s, "utf8").digest("base64");
}

function infoQuery(identities: readonly Identity[], features: Iterable<string>, extensions: readonly Element[], node?: string): Element {
  return xml("query", { xmlns: NS.discoInfo, node },
    identities.map((i) => xml("identity", { category: i.category, type: i.type, name: i.name, "xml:lang": i.lang })),
    [...features].sort().map((f) => xml("feature", { var: f })),
    extensions.map((e) => clone(e)));
}

/** A node registered by a module; any other node does not exist (XEP-0030 §3.3: item-not-found). */
function nodeOf(d: DiscoView, node: string): DiscoNode {
  const n = d.hostNodes.get(node);
  if (!n) throw new StanzaError("item-not-found");
  return n;
}

/** The server's features; disco#info and #items are among them (registered by this module). */
function hostFeatures(d: DiscoView): string[] {
  return [...d.hostFeatures.keys()];
}

export default defineModule({
  name: "disco",
  specs: [{ spec: "XEP-0030", version: "2.5rc3" }, { spec: "XEP-0115", version: "1.6.0" }, { spec: "XEP-0128", version: "1.0.1" }],
  setup(ctx) {
    const disco = ctx.disco;
    ctx.identity({ category: "server", type: "im", name: "xmppd" });
    ctx.feature(NS.discoInfo);
    ctx.feature(NS.discoItems);
    // Computed once per change of the lists, not at every stream's features (3% of a login).
    let cached = { revision: -1, extensions: 0, ver: "" };
    const ver = () => {
      if (cached.revision !== disco.revision || cached.extensions !== disco.extensions.length) {
        cached = { revision: disco.revision, extensions: disco.extensions.length, ver: capsHash(disco.identities, hostFeatures(disco), disco.extensions) };
      }
      return cached.ver;
    };

    ctx.iq("host", NS.discoInfo, "query", {
      get: ({ payload, from, to }) => {
        const node = payload.attrs.node;
        if (node === undefined || node === `${CAPS_NODE}#${ver()}`) return infoQuery(disco.identities, hostFeatures(disco), disco.extensions, node);
        const info = nodeOf(disco, node).info(from, to.domain);
        return infoQuery(info.identities, info.features, [], node);
      },
    });
    ctx.iq("host", NS.discoItems, "query", {
      get: ({ payload, from, to }) => {
        const node = payload.attrs.node;
        // Each host lists its own services (and those of no host in particular: external components).
        const items = node === undefined ? disco.items.filter((i) => i.host === undefined || i.host === to.domain) : nodeOf(disco, node).items(from, to.domain);
        return xml("query", { xmlns: NS.discoItems, node }, items.map((i) => xml("item", { jid: i.jid, node: i.node, name: i.name })));
      },
    });
    // Accounts: the router has already checked that the account exists.
    let accountNodes: AccountNodes | undefined;
    ctx.provideEach(ACCOUNT_DISCO, (user) => ({
      setNodes: (nodes) => {
        accountNodes = nodes;
        user.own(() => {
          if (accountNodes === nodes) accountNodes = undefined;
        });
      },
    }));
    ctx.iq("account", NS.discoInfo, "query", {
      get: async ({ payload, from, to }) => {
        const node = payload.attrs.node;
        if (node !== undefined) {
          if (!accountNodes) throw new StanzaError("item-not-found");
          const info = await accountNodes.info(to.bare, node, from);
          return infoQuery(info.identities, info.features, [], node);
        }
        const features = new Set([NS.discoInfo, NS.discoItems, ...disco.accountFeatures.keys()]);
        return infoQuery([{ category: "account", type: "registered" }, ...disco.accountIdentities], features, []);
      },
    });
    ctx.iq("account", NS.discoItems, "query", {
      get: async ({ payload, from, to }) => {
        const node = payload.attrs.node;
        if (!accountNodes && node !== undefined) throw new StanzaError("item-not-found");
        const items = accountNodes ? await accountNodes.items(to.bare, node, from) : [];
        return xml("query", { xmlns: NS.discoItems, node }, items.map((i) => xml("item", { jid: i.jid, node: i.node, name: i.name })));
      },
    });
    ctx.fold("stream/features", (v) => {
      v.features.push(xml("c", { xmlns: NS.caps, hash: "sha-1", node: CAPS_NODE, ver: ver() }));
      return v;
    });
  },
});
