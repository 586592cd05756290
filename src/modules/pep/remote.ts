// Contacts on other servers (XEP-0163 §4.3 across federation): their server sends each of their
// available resources' presence to the local accounts that are their contacts, with the caps
// (XEP-0115) that say which nodes the client wants. Kept here per local account and remote full
// JID while the resource is available, so that notifications reach it as they reach a local
// contact's session. Bounded per account: a contact's resources beyond it are not notified.
import { tryParseJid, type JID } from "../../xml/jid.ts";

/** Remote resources remembered per local account at most. */
const PER_OWNER = 1000;

export class RemoteInterest {
  /** Local bare JID -> remote full JID -> the nodes its client wants. */
  private readonly byOwner = new Map<string, Map<string, readonly string[]>>();

  set(owner: JID, remote: JID, nodes: readonly string[]): void {
    const key = owner.bare.toString();
    let of = this.byOwner.get(key);
    if (!of) this.byOwner.set(key, (of = new Map()));
    if (of.size >= PER_OWNER && !of.has(remote.toString())) return;
    of.set(remote.toString(), nodes);
  }

  delete(owner: JID, remote: JID): void {
    const key = owner.bare.toString();
    const of = this.byOwner.get(key);
    if (!of?.delete(remote.toString())) return;
    if (of.size === 0) this.byOwner.delete(key);
  }

  /** The remote resources that want `node`, of the contacts `isContact` accepts (by bare JID). */
  wanting(owner: JID, node: string, isContact: (bare: string) => boolean): JID[] {
    const out: JID[] = [];
    for (const [full, nodes] of this.byOwner.get(owner.bare.toString()) ?? []) {
      const jid = tryParseJid(full);
      if (jid && nodes.includes(node) && isContact(jid.bare.toString())) out.push(jid);
    }
    return out;
  }

  /** Everything of one local account goes (the account was deleted). */
  forget(owner: JID): void {
    this.byOwner.delete(owner.bare.toString());
  }
}
