// Recording messages in archives (XEP-0313 §3, §6.1.1) with their XEP-0359 stanza-ids. The
// recipient's archive is written as a message is delivered: forged ids are removed, and an
// archived message gets the archive's id before any copy of it leaves. The sender's archive gets
// a copy under its own id, and the routed stanza is not changed (§3.5: the sender's id "MUST
// NOT" reach the recipient). A message to oneself is archived once, as received. Writes only
// enter the queue: delivery waits for room in it, never for the store.
import { clone, type Element } from "../../xml/element.ts";
import type { JID } from "../../xml/jid.ts";
import { parseStored, serializeDetached } from "../../xml/stored.ts";
import type { MessageDelivery, StanzaEvent } from "../../core/events.ts";
import { type IdGenerator, idTime } from "../../core/ids.ts";
import type { LogStore } from "../../storage/types.ts";
import { stanzaIdBy } from "../shared.ts";
import { archivable, hasForged, stanzaIdElement, stripForged } from "./policy.ts";
import type { AccountPrefs } from "./prefs.ts";
import type { ArchiveQueue } from "./queue.ts";

const DAY = 86_400_000;

export interface ArchiverDeps {
  log: LogStore;
  queue: ArchiveQueue;
  prefs: AccountPrefs;
  ids: IdGenerator;
  /** The server's domain: stanza-ids by it are never taken from outside either. */
  domain: JID;
  /** Days an entry is kept; 0 archives nothing. */
  retention: number;
  accountExists(local: string): Promise<boolean>;
  /** Called when a push finds the queue full (back-pressure engages). */
  onFull(): void;
}

type Pending = Promise<void> | undefined;

export class Archiver {
  private readonly d: ArchiverDeps;

  constructor(deps: ArchiverDeps) {
    this.d = deps;
  }

  /** "message/deliver": the recipient's archive, before any copy leaves. */
  incoming(m: MessageDelivery): Pending {
    const owner = m.to.bare.toString();
    const id = m.origin ? undefined : stanzaIdBy(m.stanza, owner);
    if (id !== undefined && this.d.retention > 0) {
      return this.archivedAlready(owner, id, m).then((ours) => (ours ? undefined : this.receive(m)));
    }
    return this.receive(m);
  }

  /** "stanza/out": a copy for the sender's archive; the routed stanza stays as it is. */
  outgoing(ev: StanzaEvent): Pending {
    if (this.d.retention === 0 || ev.stanza.name !== "message" || !archivable(ev.stanza)) return;
    const owner = ev.from.bare;
    if (ev.to.bare.equals(owner)) return; // to oneself: archived once, as received
    if (ev.to.local === "" && ev.to.domain === this.d.domain.domain) return; // to the server itself
    const by = [owner.toString(), this.d.domain.toString()];
    return this.when(this.d.prefs.wanted(owner, ev.to), () => {
      let copy: Element = ev.stanza;
      if (hasForged(copy, by)) stripForged((copy = clone(copy)), by);
      return this.record(by[0]!, this.d.ids.next(), ev.to.toString(), copy);
    });
  }

  private receive(m: MessageDelivery): Pending {
    const owner = m.to.bare;
    const by = [owner.toString(), this.d.domain.toString()];
    if (hasForged(m.stanza, by)) stripForged(m.stanza, by);
    if (this.d.retention === 0 || !archivable(m.stanza)) return;
    const archive = () => {
      const id = this.d.ids.next();
      m.stanza.append(stanzaIdElement(by[0]!, id));
      return this.record(by[0]!, id, m.from.toString(), m.stanza);
    };
    if (m.targets.length > 0) return this.when(this.d.prefs.wanted(owner, m.from), archive);
    // Nobody to deliver to: the account may not exist (the router bounces then); nothing is archived for it.
    return this.d.accountExists(owner.local).then((exists) => (exists ? this.when(this.d.prefs.wanted(owner, m.from), archive) : undefined));
  }

  /** Runs `then` if `yes`, synchronously when the answer is at hand (no tick between id and write). */
  private when(yes: boolean | Promise<boolean>, then: () => Pending): Pending {
    if (typeof yes === "boolean") return yes ? then() : undefined;
    return yes.then((y) => (y ? then() : undefined));
  }

  private record(owner: string, id: string, withJid: string, message: Element): Pending {
    const at = idTime(id)!;
    const wait = this.d.queue.push({ owner, id, at, with: withJid, value: serializeDetached(message), expires: at + this.d.retention * DAY });
    if (wait) this.d.onFull();
    return wait;
  }

  /**
   * A message that carries this archive's id and comes back through the router without a
   * sending session: the offline store re-routes what a session never acknowledged. It is the
   * archived message when the entry under that id is from the same sender with the same id and
   * body; then it keeps its stanza-id and is not archived twice. Anything else is a forgery.
   */
  private async archivedAlready(owner: string, id: string, m: MessageDelivery): Promise<boolean> {
    const e = this.d.queue.find(owner, id) ?? (await this.d.log.query(owner, { ids: [id], limit: 1 })).entries[0];
    if (!e || e.with !== m.from.toString()) return false;
    const stored = parseStored(e.value);
    return stored?.attrs.id === m.stanza.attrs.id && stored?.getChildText("body") === m.stanza.getChildText("body");
  }
}
