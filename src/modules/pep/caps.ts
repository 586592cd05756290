// XEP-0115 on the server's side, for PEP (XEP-0163 §4.2 "filtered notifications"): the <c/> of a
// session's presence names a verification string; the server asks the client for the features
// behind it (disco#info to node#ver) once, checks the SHA-1 hash (§5.4: a ver that does not match
// is used for that session only, never cached for others) and keeps the answer by ver, so a
// thousand clients of the same version cost one query.
import { xml, type Element } from "../../xml/element.ts";
import { NS } from "../../xml/ns.ts";
import { sessionKey, type Session } from "../../core/session.ts";
import type { Identity } from "../../core/disco.ts";
import { capsHash } from "../disco.ts";

export interface Caps { readonly node: string; readonly ver: string; readonly hash: string | undefined }

/** The features of a session's client, and the ver they were read for. */
export const CLIENT_FEATURES = sessionKey<{ ver: string; features: ReadonlySet<string> }>("pep.caps");
/**
 * The nodes a session's client wants notifications of (its NODE+notify features), shared with the
 * other nodes of a cluster: a publisher's node reads it from a contact's session on another node.
 */
export const NOTIFY_NODES = sessionKey<string[]>("pep.notify", { shared: true });

/** The nodes named by the client's NODE+notify features. */
export function notifyNodes(features: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const f of features) if (f.endsWith("+notify")) out.push(f.slice(0, -"+notify".length));
  return out;
}

/** The <c xmlns='http://jabber.org/protocol/caps'/> of a presence, when it has a usable one. */
export function parseCaps(presence: Element): Caps | undefined {
  const c = presence.getChild("c", NS.caps);
  const node = c?.attrs.node;
  const ver = c?.attrs.ver;
  if (!node || !ver || node.length > 1024 || ver.length > 256) return undefined;
  return { node, ver, hash: c.attrs.hash };
}

/** Reads a disco#info result: its features, and whether it hashes to `ver` (XEP-0115 §5.4). */
export function readInfo(query: Element, caps: Caps): { features: Set<string>; verified: boolean } {
  const identities: Identity[] = query.getChildren("identity").map((i) => ({
    category: i.attrs.category ?? "", type: i.attrs.type ?? "", name: i.attrs.name, lang: i.attrs["xml:lang"],
  }));
  const features = query.getChildren("feature").map((f) => f.attrs.var ?? "");
  const forms = query.getChildren("x", NS.dataForms);
  const verified = caps.hash === "sha-1" && capsHash(identities, features, forms) === caps.ver;
  return { features: new Set(features), verified };
}

/** Asks an entity's disco#info (the server's iq request); rejects on an error or timeout. */
export type InfoQuery = (to: string, node: string) => Promise<Element>;

const EMPTY: ReadonlySet<string> = new Set();

export class CapsCache {
  private readonly known = new Map<string, ReadonlySet<string>>();
  private readonly asking = new Map<string, Promise<ReadonlySet<string>>>();
  private readonly query: InfoQuery;
  private readonly max: number;

  constructor(query: InfoQuery, max = 10_000) {
    this.query = query;
    this.max = max;
  }

  /** The features behind the caps the client at `jid` announced (none when it cannot say). */
  async features(jid: string, caps: Caps): Promise<ReadonlySet<string>> {
    const key = `${caps.hash ?? ""}/${caps.ver}`;
    const known = this.known.get(key);
    if (known) return known;
    let p = this.asking.get(key);
    if (!p) {
      p = this.ask(jid, caps, key).finally(() => this.asking.delete(key));
      this.asking.set(key, p);
    }
    return p;
  }

  private async ask(to: string, caps: Caps, key: string): Promise<ReadonlySet<string>> {
    let result: Element;
    try {
      result = await this.query(to, `${caps.node}#${caps.ver}`);
    } catch {
      return EMPTY;
    }
    const q = result.getChild("query", NS.discoInfo);
    if (!q) return EMPTY;
    const { features, verified } = readInfo(q, caps);
    if (verified) {
      if (this.known.size >= this.max) this.known.delete(this.known.keys().next().value!);
      this.known.set(key, features);
    }
    return features;
  }
}

export function infoRequest(from: string, to: string, node: string): Element {
  return xml("iq", { type: "get", from, to }, xml("query", { xmlns: NS.discoInfo, node }));
}
